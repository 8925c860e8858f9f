"""Writing the run directory of ``probekit probe``: its one home is :mod:`probekit.formats.run`."""

from probekit.formats.run import (
    COMPARISON_COLUMNS,
    RESULT_COLUMNS,
    SELECTION_COLUMNS,
    base_manifest,
    versions,
    write_manifest,
    write_tables,
)

__all__ = ["COMPARISON_COLUMNS", "RESULT_COLUMNS", "SELECTION_COLUMNS", "base_manifest", "versions", "write_manifest", "write_tables"]
