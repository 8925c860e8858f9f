"""A per-process pool of pybullet DIRECT clients.

Connecting a client costs about as much as rendering a dozen 64 px frames, so clients are
reused across clips: :func:`acquire` hands out a client emptied with ``resetSimulation``
(bodies, shapes, textures and constraints gone, ids restarting at 0), :func:`release` returns
it. Each clip sets every engine parameter it relies on, so a clip's result does not depend on
which clips the client served before (the worker-count determinism test checks this).
"""

from __future__ import annotations

from probekit.worlds.bullet import pb

_free: list[int] = []


def acquire() -> int:
    """An empty DIRECT client (new or reused)."""
    client = _free.pop() if _free else pb.connect(pb.DIRECT)
    pb.resetSimulation(physicsClientId=client)
    return client


def release(client: int) -> None:
    """Return a client to the pool."""
    _free.append(client)
