"""Progress of long steps and the end summary of a command.

On a terminal a step shows a tqdm bar; off a terminal (a log file, a pipe, a batch job) it writes
one whole line to stderr every :func:`line_interval` seconds instead (and one at the start and
the end), so logs stay readable. Every command ends with one summary line from
:func:`summary_line`: elapsed time, rate, and what it wrote.

>>> from probekit.progress import progress
>>> with progress(total=3, desc="demo", unit="step", enabled=False) as bar:
...     for _ in range(3):
...         bar.update(1)
"""

from __future__ import annotations

import os
import sys
import threading
import time
import weakref
from pathlib import Path
from typing import IO, Iterable

from tqdm import tqdm

#: Environment variable: seconds between progress lines off a terminal.
INTERVAL_ENV = "PROBEKIT_PROGRESS_INTERVAL"
#: Seconds between progress lines off a terminal, unless :data:`INTERVAL_ENV` says otherwise.
DEFAULT_INTERVAL = 30.0
#: One progress line off a terminal (tqdm's format fields).
LINE_FORMAT = "{desc}: {n_fmt}/{total_fmt} {unit} ({percentage:.0f}%), {elapsed} elapsed, ETA {remaining}{postfix}"


def line_interval() -> float:
    """Seconds between progress lines off a terminal (``PROBEKIT_PROGRESS_INTERVAL``, default 30)."""
    raw = os.environ.get(INTERVAL_ENV, "")
    try:
        value = float(raw)
    except ValueError:
        return DEFAULT_INTERVAL
    return value if value >= 0 else DEFAULT_INTERVAL


class LineProgress(tqdm):
    """A tqdm progress that writes whole lines: one every ``interval`` seconds while work goes on
    (whether or not a step finished) and one at the end; none at the start, so a command that
    stops at once on a bad input still says only its one ``error:`` line."""

    def __init__(self, *args, interval: float = DEFAULT_INTERVAL, **kwargs) -> None:
        self._interval = interval
        self._stop = threading.Event()
        self._writing = False  # tqdm displays once while it starts: that line is left out
        kwargs.setdefault("bar_format", LINE_FORMAT)
        super().__init__(*args, mininterval=interval, maxinterval=max(interval, 1.0), miniters=1, **kwargs)
        self._writing = True
        self._ticker = None
        if not self.disable and interval > 0:
            # the ticker holds the bar weakly: a bar dropped without close() (an exception) goes quiet
            self._ticker = threading.Thread(target=_tick, args=(weakref.ref(self), self._stop, interval),
                                            name="probekit-progress", daemon=True)
            self._ticker.start()

    def display(self, msg: str | None = None, pos: int | None = None) -> bool:  # noqa: D102 - tqdm's hook
        text = (self.__str__() if msg is None else msg).strip()
        if text and self._writing:
            self.fp.write(text + "\n")
            self.fp.flush()
            self._shown_n = self.n
            if msg is None:  # the next line is due an interval after this one, whoever wrote it
                self.last_print_t, self.last_print_n = self._time(), self.n
        return True

    def set_postfix(self, ordered_dict=None, refresh: bool = True, **kwargs) -> None:  # noqa: D102 - lines keep their pace
        super().set_postfix(ordered_dict, refresh=False, **kwargs)

    def set_postfix_str(self, s: str = "", refresh: bool = True) -> None:  # noqa: D102 - lines keep their pace
        super().set_postfix_str(s, refresh=False)

    def set_description(self, desc: str | None = None, refresh: bool = True) -> None:  # noqa: D102 - lines keep their pace
        super().set_description(desc, refresh=False)

    def clear(self, nolock: bool = False) -> None:  # noqa: D102 - nothing to erase in a log
        return None

    def moveto(self, n: int) -> None:  # noqa: D102 - lines, no cursor
        return None

    def __exit__(self, exc_type, exc_value, traceback):  # noqa: D105 - an error ends quietly: its message says it
        if exc_type is not None:
            self._writing = False
        return super().__exit__(exc_type, exc_value, traceback)

    def close(self) -> None:
        """Stop the periodic lines and write the last one (unless it was just written)."""
        self._stop.set()
        if self.disable:
            return
        if sys.exc_info()[0] is not None:  # closed while an error propagates (a finally: clause): its message says it
            self._writing = False
        with self._lock:
            if getattr(self, "_shown_n", None) != self.n:
                self._ema_dt = lambda: None  # overall rate in the last line
                self.display()
            self.disable = True
        self._decr_instances(self)


def silence() -> None:
    """Stop every live progress from writing again (a command that ends in an error says only its error).

    A bar dropped by an exception stays alive in the traceback's frames, and its ticker would
    otherwise add a line after the ``error:`` line.
    """
    for bar in list(getattr(LineProgress, "_instances", ())):
        if isinstance(bar, LineProgress):
            bar._writing = False
            bar._stop.set()


def _tick(ref: "weakref.ref[LineProgress]", stop: threading.Event, interval: float) -> None:
    """Refresh the bar every ``interval`` seconds until it is closed or dropped."""
    while not stop.wait(interval):
        bar = ref()
        if bar is None or bar.disable:
            return
        if time.time() - bar.last_print_t >= interval:
            bar.refresh()
        del bar


def on_terminal(file: IO | None = None) -> bool:
    """Whether ``file`` (stderr by default) is an interactive terminal."""
    file = sys.stderr if file is None else file
    try:
        return bool(file.isatty())
    except (AttributeError, ValueError):
        return False


def progress(
    iterable: Iterable | None = None,
    *,
    total: int | None = None,
    desc: str = "",
    unit: str = "it",
    enabled: bool = True,
    initial: int = 0,
    file: IO | None = None,
) -> tqdm:
    """The progress of one long step: a tqdm bar on a terminal, periodic lines elsewhere.

    Parameters
    ----------
    iterable
        Optional iterable to wrap (as ``tqdm(iterable)``).
    total
        Number of units of work (for the percentage and the ETA).
    desc
        What runs (``"extract tiny-vjepa2"``, ``"probe"``).
    unit
        Name of one unit (``"clip"``, ``"layer"``, ``"step"``).
    enabled
        False: nothing is shown (``--quiet``).
    initial
        Units already done (a resumed run).
    file
        Where to write; stderr by default.

    Returns
    -------
    tqdm.tqdm
        Use ``update(n)``, ``set_postfix_str(text)``, ``close()`` or ``with``.
    """
    file = sys.stderr if file is None else file
    common = dict(total=total, desc=desc, unit=unit, initial=initial, file=file)
    if not enabled:
        return tqdm(iterable, disable=True, **common)
    if on_terminal(file):
        return tqdm(iterable, dynamic_ncols=True, **common)
    return LineProgress(iterable, interval=line_interval(), **common)


def echo(line: str, file: IO | None = None) -> None:
    """Write one log line to stderr without breaking an active progress bar."""
    tqdm.write(line, file=sys.stderr if file is None else file)


def format_duration(seconds: float) -> str:
    """``4.2 s``, ``3 min 05 s`` or ``1 h 02 min``."""
    seconds = max(float(seconds), 0.0)
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, sec = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes} min {sec:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def format_size(path: str | os.PathLike) -> str:
    """Size on disk of a file, or of every file under a folder, in KiB / MiB / GiB."""
    path = Path(path)
    if path.is_dir():
        size = sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    elif path.exists():
        size = path.stat().st_size
    else:
        return "not on disk"
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if size >= scale:
            return f"{size / scale:.1f} {unit}"
    return f"{size} B"


def summary_line(command: str, seconds: float, *, count: int | None = None, unit: str = "",
                 written: Iterable[str | os.PathLike] = ()) -> str:
    """One line a command ends with: elapsed time, rate, what it wrote.

    Parameters
    ----------
    command
        The command's name.
    seconds
        Elapsed wall-clock time.
    count, unit
        Units of work done (``128``, ``"clips"``); the rate is ``count / seconds``.
    written
        Files or folders written (each is followed by its size on disk).

    Examples
    --------
    >>> summary_line("extract", 4.0, count=128, unit="clips")
    'extract: done in 4.0 s, 128 clips (32.0 clips/s)'
    """
    text = f"{command}: done in {format_duration(seconds)}"
    if count is not None:
        rate = f" ({count / seconds:.1f} {unit}/s)" if seconds > 0 else ""
        text += f", {count} {unit}{rate}"
    paths = [Path(p) for p in written]
    if paths:
        text += "; wrote " + ", ".join(f"{p} ({format_size(p)})" for p in paths)
    return text


__all__ = ["DEFAULT_INTERVAL", "INTERVAL_ENV", "LineProgress", "echo", "format_duration", "format_size", "line_interval",
           "on_terminal", "progress", "summary_line"]
