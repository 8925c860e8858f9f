"""Atomic writes and exclusive ownership of outputs.

Every file probekit writes goes through :func:`atomic_path` (or :func:`atomic_write`): the data
is written under a temporary name unique to this process and call, flushed to disk, and renamed
over the destination in one step, so a reader sees the old file or the new one, never half of
one. Each rename is a *write boundary*: a hook installed with :func:`set_write_hook` is called
there with the destination path, which lets tests count the boundaries of a command and inject a
crash at each.

:func:`exclusive_output` takes an OS lock (``fcntl.flock``) on ``<out>.lock`` for the whole run:
a second writer to the same output fails at once with one line naming the holder's pid. The kernel
releases the lock when its holder dies, so a killed run never leaves a stale lock behind. The lock
is per host: on network file systems two hosts do not see each other's locks.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
from pathlib import Path
from typing import Callable, Iterator

from probekit.errors import BadOptionError

#: The hook called at each write boundary (after the data is on disk, before the rename).
_WRITE_HOOK: Callable[[Path], None] | None = None


class OutputBusyError(BadOptionError):
    """Another live process holds the output (its lock file is locked)."""


def set_write_hook(hook: Callable[[Path], None] | None) -> Callable[[Path], None] | None:
    """Install ``hook(destination)``, called at every write boundary; return the previous hook.

    Parameters
    ----------
    hook
        Called with the destination path just before each atomic rename (``None`` removes it).
        Tests use it to count boundaries and to raise or ``os._exit`` at one of them.

    Returns
    -------
    callable or None
        The hook installed before.
    """
    global _WRITE_HOOK
    previous, _WRITE_HOOK = _WRITE_HOOK, hook
    return previous


def write_boundary(destination: str | os.PathLike) -> None:
    """Call the installed hook (if any) for ``destination``; writers call this before committing."""
    if _WRITE_HOOK is not None:
        _WRITE_HOOK(Path(destination))


def unique_temporary_path(path: str | os.PathLike) -> Path:
    """A hidden sibling of ``path`` whose name is unique to this process and call.

    The name starts with ``.<name>.`` and ends with ``.partial``, so leftovers of killed runs are
    recognisable (and git-ignored) and never mistaken for a finished file.
    """
    path = Path(path)
    return path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.partial")


def _fsync(path: Path) -> None:
    """Flush a file or a folder to disk (best effort: some file systems refuse folders)."""
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, *, fsync: bool = True) -> Iterator[Path]:
    """Yield a temporary path to write; on success it replaces ``path`` in one rename.

    Parameters
    ----------
    path
        The destination. Its folder must exist.
    fsync
        Flush the file and its folder to disk around the rename.

    Yields
    ------
    pathlib.Path
        The temporary file (or folder) to write. It is removed if the block raises.

    Examples
    --------
    >>> with atomic_path("table.csv") as tmp:          # doctest: +SKIP
    ...     frame.to_csv(tmp)
    """
    path = Path(path)
    tmp = unique_temporary_path(path)
    try:
        yield tmp
        if fsync and tmp.is_file():
            _fsync(tmp)
        write_boundary(path)
        os.replace(tmp, path)
        if fsync:
            _fsync(path.parent)
    finally:
        if tmp.is_dir() and not tmp.is_symlink():
            import shutil

            shutil.rmtree(tmp, ignore_errors=True)
        else:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()


def atomic_write(path: str | os.PathLike, data: bytes | str | Callable[[Path], None], *, encoding: str = "utf-8") -> Path:
    """Write ``data`` to ``path`` atomically.

    Parameters
    ----------
    path
        The destination.
    data
        Bytes, text (written with ``encoding``), or a function that writes a given path.
    encoding
        Encoding of text data.

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    path = Path(path)
    with atomic_path(path) as tmp:
        if callable(data):
            data(tmp)
        elif isinstance(data, bytes):
            tmp.write_bytes(data)
        else:
            tmp.write_text(data, encoding=encoding)
    return path


def lock_path_for(out: str | os.PathLike) -> Path:
    """The lock file that guards ``out``: ``<out>.lock`` beside it."""
    out = Path(out)
    return out.with_name(f"{out.name}.lock")


def _holder(lock_file: Path) -> str:
    with contextlib.suppress(OSError, UnicodeDecodeError):
        text = lock_file.read_text(encoding="utf-8").strip()
        if text:
            return f"process {text}"
    return "another process"


@contextlib.contextmanager
def exclusive_output(out: str | os.PathLike, *, option: str = "--out") -> Iterator[Path]:
    """Own ``out`` exclusively for the duration of the block.

    Takes a non-blocking ``fcntl.flock`` on ``<out>.lock`` and writes this process's pid into it.
    A second writer fails at once. The kernel releases the lock when the holder exits or dies.

    Parameters
    ----------
    out
        The output file or folder to own.
    option
        The option that named ``out``, for the message.

    Yields
    ------
    pathlib.Path
        The lock file.

    Raises
    ------
    OutputBusyError
        Another live process holds the lock.
    BadOptionError
        The lock file cannot be created (the folder is missing or read-only).
    """
    import fcntl

    out = Path(out)
    lock_file = lock_path_for(out)
    fd = _open_locked(lock_file, out, option)
    try:
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        os.fsync(fd)
        try:
            yield lock_file
        finally:
            # Unlink while still holding the lock: a process that opened the old inode re-checks
            # the path after locking (see _open_locked) and starts again on a fresh file.
            with contextlib.suppress(OSError):
                lock_file.unlink()
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _open_locked(lock_file: Path, out: Path, option: str) -> int:
    """Open and lock ``lock_file``; retry when it was replaced between the open and the lock."""
    import fcntl

    while True:
        try:
            fd = os.open(lock_file, os.O_RDWR | os.O_CREAT, 0o644)
        except FileNotFoundError:
            raise BadOptionError(f"{option} {out}: folder {out.parent} does not exist; create it first") from None
        except PermissionError:
            raise BadOptionError(f"{option} {out}: cannot write in {out.parent} (permission denied); choose a writable folder") from None
        except OSError as exc:
            raise BadOptionError(
                f"{option} {out}: cannot create {lock_file.name} ({os.strerror(exc.errno or 0)}); choose another folder"
            ) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise OutputBusyError(
                    f"{option} {out}: {_holder(lock_file)} is writing it now (lock {lock_file.name}); "
                    "wait for it to finish or choose another output"
                ) from None
            raise
        try:
            same = os.fstat(fd).st_ino == os.stat(lock_file).st_ino
        except FileNotFoundError:
            same = False
        if same:
            return fd
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
