"""Ownership of a command's output: inputs are never outputs, and one writer at a time.

Every writing command (``generate``, ``extract``, ``merge``, ``probe``, ``train``, ``evaluate``,
``report``) runs inside :func:`owned_output`. It first checks, on resolved paths, that no input
is the output or lies inside an output folder (so ``--overwrite`` can never destroy an input), and
then holds :func:`probekit.formats.atomic.exclusive_output` for the whole run.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Iterable, Iterator

from probekit.errors import BadOptionError
from probekit.formats.atomic import exclusive_output


def _resolved(path: str | os.PathLike) -> Path:
    return Path(os.path.abspath(os.path.expanduser(str(path)))).resolve()


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return a == b


def check_inputs_are_not_output(out: str | os.PathLike, inputs: Iterable[tuple[str, str | os.PathLike | None]],
                                *, option: str = "--out") -> None:
    """Raise when an input is the output, or lies inside it (checked on resolved paths).

    Parameters
    ----------
    out
        The output file or folder.
    inputs
        ``(option or argument name, path)`` pairs; ``None`` paths are skipped.
    option
        The option that named ``out``, for the message.

    Raises
    ------
    BadOptionError
        One line naming both options.
    """
    target = _resolved(out)
    for name, path in inputs:
        if path is None or str(path) == "":
            continue
        source = _resolved(path)
        if source == target or _same_file(source, target):
            raise BadOptionError(f"{option} {out}: is also the input {name} {path}; write the output to another path")
        if target in source.parents:
            raise BadOptionError(f"{option} {out}: holds the input {name} {path}; write the output elsewhere "
                                 "(replacing it would destroy the input)")


@contextlib.contextmanager
def owned_output(out: str | os.PathLike, inputs: Iterable[tuple[str, str | os.PathLike | None]] = (),
                 *, option: str = "--out", create_parent: bool = False) -> Iterator[Path]:
    """Check that no input is ``out``, then own ``out`` exclusively for the block.

    Parameters
    ----------
    out
        The output file or folder.
    inputs
        ``(name, path)`` pairs of the command's inputs.
    option
        The option that named ``out``.
    create_parent
        Create the folder that holds ``out`` when it is missing (commands whose default output
        lies in a folder of their own, such as ``reports/`` or ``runs/``).

    Yields
    ------
    pathlib.Path
        ``out``.

    Raises
    ------
    BadOptionError
        An input is the output, or the output's folder is missing or read-only.
    probekit.formats.atomic.OutputBusyError
        Another process is writing ``out`` (one line naming its pid).
    """
    check_inputs_are_not_output(out, inputs, option=option)
    parent = Path(os.path.abspath(out)).parent
    if create_parent and not parent.exists():
        try:
            parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise BadOptionError(f"{option} {out}: cannot create folder {parent} ({os.strerror(exc.errno or 0)}); "
                                 "choose a writable folder") from None
    with exclusive_output(out, option=option):
        yield Path(out)
