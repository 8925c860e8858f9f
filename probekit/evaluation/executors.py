"""Where the sweep's fits run: in this process, in joblib workers, or on a dask.distributed cluster.

Each executor maps a pure function over a batch of work items and returns the results in the
batch's order, so the sweep records them exactly as a serial run does. The sweep hands over
batches of :attr:`Executor.batch` units: one layer at a time in this process, a few layers per
worker otherwise (memory stays bounded by the batch).
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

from probekit.errors import BadOptionError


class Executor:
    """Runs batches of independent work items in this process (the serial reference)."""

    #: Units handed over at once.
    batch = 1

    def map(self, fn: Callable[[Any], Any], items: Sequence[Any]) -> list[Any]:
        """``[fn(item) for item in items]``, in order."""
        return [fn(item) for item in items]

    def close(self) -> None:
        """Release workers or connections (nothing in this process)."""

    def __enter__(self) -> "Executor":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class JoblibExecutor(Executor):
    """``n_jobs`` local worker processes through joblib (its default loky backend)."""

    def __init__(self, n_jobs: int) -> None:
        from joblib import Parallel

        self.n_jobs = int(n_jobs)
        self.batch = 2 * self.n_jobs
        self._parallel = Parallel(n_jobs=self.n_jobs)
        self._parallel.__enter__()  # one pool for every batch

    def map(self, fn: Callable[[Any], Any], items: Sequence[Any]) -> list[Any]:
        from joblib import delayed

        return list(self._parallel(delayed(fn)(item) for item in items))

    def close(self) -> None:
        self._parallel.__exit__(None, None, None)


def _check_address(address: str) -> None:
    """Refuse an address a dask client cannot parse, before a client is made.

    A client made from an unparsable address fails inside its own event loop and then spends its
    close timeout (20 s) and a traceback on shutdown; parsing first keeps the refusal to one line.
    """
    from distributed.comm.addressing import parse_address, parse_host_port

    try:
        scheme, location = parse_address(address)
        if scheme in ("tcp", "tls", "ws", "wss", "ucx"):
            parse_host_port(location)
    except ValueError as exc:
        raise BadOptionError(f"--scheduler {address!r}: not a scheduler address ({exc}); give tcp://host:port, "
                             "as 'dask scheduler' prints it") from None


class DaskExecutor(Executor):
    """The workers of a running dask.distributed scheduler at ``address``."""

    def __init__(self, address: str, timeout: float = 10.0) -> None:
        try:
            from distributed import Client
        except ImportError:
            raise BadOptionError(f"--scheduler {address}: dask.distributed is not installed; install it with pip install 'probekit[dist]'") from None
        _check_address(address)
        try:
            self.client = Client(address, timeout=timeout, set_as_default=False)
        except Exception as exc:  # distributed raises OSError, TimeoutError or ValueError by cause
            detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise BadOptionError(f"--scheduler {address}: cannot reach a dask scheduler there ({detail}); start one (dask scheduler) or give its tcp://host:port") from None
        workers = sum(self.client.nthreads().values())
        if workers == 0:
            self.client.close()
            raise BadOptionError(f"--scheduler {address}: the scheduler has no workers; start some (dask worker {address})")
        self.batch = 2 * workers

    def map(self, fn: Callable[[Any], Any], items: Sequence[Any]) -> list[Any]:
        scattered = self.client.scatter(list(items))
        futures = self.client.map(fn, scattered, pure=False)
        return self.client.gather(futures)

    def close(self) -> None:
        self.client.close()


def make_executor(jobs: int = 1, scheduler: str | None = None) -> Executor:
    """The executor for ``--jobs`` / ``--scheduler`` (one of them; serial when neither is given).

    Parameters
    ----------
    jobs
        Local worker processes (1: fit in this process).
    scheduler
        Address of a dask.distributed scheduler (``tcp://host:port``).
    """
    if scheduler is not None and not scheduler.strip():
        raise BadOptionError("--scheduler: the address is empty; give tcp://host:port, as 'dask scheduler' prints it")
    if scheduler and jobs > 1:
        raise BadOptionError("--jobs and --scheduler: give one of them (--scheduler runs on the cluster's workers)")
    if scheduler:
        return DaskExecutor(scheduler)
    if jobs > 1:
        return JoblibExecutor(jobs)
    return Executor()
