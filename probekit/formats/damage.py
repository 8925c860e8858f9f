"""Damaged files read as one-line errors: a guard for the readers of probekit's HDF5 files.

A file can pass the format, version and completeness checks of
:func:`probekit.h5io.open_checked` and still be damaged further in: a group deleted by hand, a
dataset of the wrong shape or type, a bit flipped inside a compressed chunk. The reading
methods of a reader class decorated with :func:`guard_reader` turn the low-level exceptions
this causes (h5py's ``OSError``, ``KeyError``, ``ValueError``, ``TypeError``, ``IndexError``)
into one :class:`~probekit.errors.FileFormatError` line naming the file.
"""

from __future__ import annotations

import functools
import inspect
from typing import Any, Callable, TypeVar

from probekit.errors import FileFormatError, ProbekitError

#: What h5py, numpy and pandas raise on damaged content.
DAMAGE_ERRORS: tuple[type[BaseException], ...] = (OSError, KeyError, ValueError, TypeError, IndexError, AttributeError,
                                                  RuntimeError, UnicodeDecodeError, OverflowError, MemoryError)

ClassT = TypeVar("ClassT", bound=type)


def damaged(path: Any, exc: BaseException) -> FileFormatError:
    """The one-line error for a damaged file."""
    detail = " ".join(str(exc).split())[:120]
    return FileFormatError(f"{path}: damaged or not written by this probekit ({exc.__class__.__name__}: {detail}); "
                           "regenerate it")


def _guarded(function: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(function)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return function(self, *args, **kwargs)
        except ProbekitError:
            raise
        except DAMAGE_ERRORS as exc:
            raise damaged(getattr(self, "path", "file"), exc) from None

    return wrapper


def guard_reader(cls: ClassT) -> ClassT:
    """Wrap every public method and property of a reader class (and ``__init__``) with the damage guard.

    Returns
    -------
    type
        ``cls`` itself, changed in place.
    """
    for name, attribute in list(vars(cls).items()):
        if name.startswith("_") and name != "__init__":
            continue
        if isinstance(attribute, property) and attribute.fget is not None:
            setattr(cls, name, property(_guarded(attribute.fget), attribute.fset, attribute.fdel, attribute.__doc__))
        elif isinstance(attribute, functools.cached_property):
            guarded = functools.cached_property(_guarded(attribute.func))
            guarded.__set_name__(cls, name)
            setattr(cls, name, guarded)
        elif inspect.isfunction(attribute) and name not in ("close",):
            setattr(cls, name, _guarded(attribute))
    return cls


def guard_path_reader(function: Callable[..., Any]) -> Callable[..., Any]:
    """The damage guard for a function whose first argument is the path it reads."""
    @functools.wraps(function)
    def wrapper(path: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return function(path, *args, **kwargs)
        except ProbekitError:
            raise
        except DAMAGE_ERRORS as exc:
            raise damaged(path, exc) from None

    return wrapper
