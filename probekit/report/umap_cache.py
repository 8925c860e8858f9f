"""umap-learn with numba's on-disk cache, so a report compiles UMAP's kernels once per machine.

umap-learn compiles most of its numba kernels without ``cache=True``: every new process pays the
compilation again (seconds, most of a small report's time). :func:`import_umap` imports it with
numba's ``njit``/``jit`` defaulting to ``cache=True``. numba keeps the compiled kernels where it
keeps any cached kernel: ``$NUMBA_CACHE_DIR`` if set, else ``__pycache__`` beside umap-learn's
sources, else (not writable) numba's folder in the user's cache directory. Cached kernels are
the same machine code, so embeddings are identical. ``PROBEKIT_NUMBA_CACHE=0`` imports
umap-learn unchanged.
"""

from __future__ import annotations

import functools
import os
import sys
import warnings
from contextlib import contextmanager
from types import ModuleType
from typing import Any, Callable, Iterator


def caching_enabled() -> bool:
    """False when ``PROBEKIT_NUMBA_CACHE`` is ``0``/``off``/``false``/``no``."""
    return os.environ.get("PROBEKIT_NUMBA_CACHE", "1").strip().lower() not in ("0", "off", "false", "no")


def _cache_by_default(decorator: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(decorator)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("cache", True)
        return decorator(*args, **kwargs)

    return wrapped


@contextmanager
def cached_numba() -> Iterator[None]:
    """Inside: functions decorated with ``numba.njit``/``numba.jit`` are cached on disk.

    Restores numba's decorators on exit. Kernels numba cannot cache are compiled as before (its
    warning about them is silenced).
    """
    import numba
    from numba.core.errors import NumbaWarning

    njit, jit = numba.njit, numba.jit
    numba.njit, numba.jit = _cache_by_default(njit), _cache_by_default(jit)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NumbaWarning)
            yield
    finally:
        numba.njit, numba.jit = njit, jit


def import_umap() -> ModuleType:
    """``import umap`` with its numba kernels cached on disk (see the module's notes)."""
    if "umap" in sys.modules or not caching_enabled():
        import umap

        return umap
    with cached_numba():
        import umap

    return umap
