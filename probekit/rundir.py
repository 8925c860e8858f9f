"""Read a run directory written by ``probekit probe`` (see ``docs/formats.md``).

The run format's one home is :mod:`probekit.formats.run`; this module keeps the names the
notebook API has always imported from here.
"""

from probekit.formats.run import (
    LABEL_STORE,
    READABLE_RUN_VERSIONS,
    RESULT_COLUMNS,
    ROLES,
    RUN_FORMAT,
    RUN_SCHEMA_VERSION,
    STORE_CONTROLS,
    Run,
    load_run,
    read_manifest,
)

__all__ = [
    "LABEL_STORE",
    "READABLE_RUN_VERSIONS",
    "RESULT_COLUMNS",
    "ROLES",
    "RUN_FORMAT",
    "RUN_SCHEMA_VERSION",
    "STORE_CONTROLS",
    "Run",
    "load_run",
    "read_manifest",
]
