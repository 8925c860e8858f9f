"""File formats of probekit: one home per file kind, plus the shared write discipline.

:mod:`probekit.formats.atomic` holds the two helpers every writer uses: :func:`atomic_write` /
:func:`atomic_path` (a temporary name unique per process, fsync, rename; a hook called at each
write boundary) and :func:`exclusive_output` (an OS lock on ``<out>.lock`` held for a whole run).
"""

from probekit.formats.atomic import (
    OutputBusyError,
    atomic_path,
    atomic_write,
    exclusive_output,
    set_write_hook,
    unique_temporary_path,
)

__all__ = [
    "OutputBusyError",
    "atomic_path",
    "atomic_write",
    "exclusive_output",
    "set_write_hook",
    "unique_temporary_path",
]
