"""Ctrl-C that cannot be lost.

Python turns SIGINT into ``KeyboardInterrupt`` at the next bytecode; when that happens to be
inside a finaliser (a weakref callback, ``__del__``), Python prints "Exception ignored" and the
interrupt is gone, so a long command runs on and finishes as if never stopped. The command line
installs :func:`install`, which records the signal before raising; long loops call :func:`check`
between units of work, which raises again if a recorded interrupt was swallowed.
"""

from __future__ import annotations

import signal
import threading

_interrupted = threading.Event()


def _on_sigint(signum: int, frame: object) -> None:
    _interrupted.set()
    raise KeyboardInterrupt


def install() -> None:
    """Record SIGINT before raising ``KeyboardInterrupt`` (main thread, default handler only)."""
    if threading.current_thread() is threading.main_thread() and signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signal.signal(signal.SIGINT, _on_sigint)


def check() -> None:
    """Raise ``KeyboardInterrupt`` if an interrupt was recorded (even one Python swallowed)."""
    if _interrupted.is_set():
        raise KeyboardInterrupt
