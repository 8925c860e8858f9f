"""Resource bounds checked before any work: sizes whose memory or disk would exceed the machine.

A command refuses such sizes up front, with its estimate in the message, instead of growing
until the operating system kills it or the disk fills.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from probekit.errors import BadOptionError

#: Bytes per pixel and frame a world clip keeps (RGB 3, depth 4, segmentation 1, one amodal
#: mask byte per object slot for up to 4 slots), before compression.
WORLD_BYTES_PER_PIXEL = 12
#: Bytes per pixel that pybullet's renderer and its Python buffers take during one frame.
RENDER_BYTES_PER_PIXEL = 200
#: Bytes of planning state per clip (seeds, job records) held in memory for the whole run.
PLAN_BYTES_PER_CLIP = 2048


def human_bytes(n: float) -> str:
    """``1536`` -> ``"1.5 KiB"``."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if abs(n) < 1024 or unit == "PiB":
            return f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} PiB"  # pragma: no cover


def available_memory() -> int:
    """Bytes of memory available to a new allocation now."""
    import psutil

    return int(psutil.virtual_memory().available)


def free_disk(folder: str | os.PathLike) -> int:
    """Free bytes on the file system holding ``folder`` (its nearest existing parent)."""
    folder = Path(os.path.abspath(folder))
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    return int(shutil.disk_usage(folder).free)


def check_world_bounds(out: str | os.PathLike, *, clips: int, frames: int, size: int, twins_per_family: int,
                       workers: int = 1) -> None:
    """Refuse world sizes whose memory or disk would exceed this machine.

    Parameters
    ----------
    out
        The world file to write (its folder's free disk is checked).
    clips, frames, size
        ``--clips``, ``--frames``, ``--size``.
    twins_per_family
        Clips each family adds besides its original (violation twins and counterfactuals).
    workers
        Processes simulating families at once.

    Raises
    ------
    BadOptionError
        One line with the estimate and the limit it exceeds.
    """
    members = 1 + int(twins_per_family)
    n_total = int(clips) * members
    frame_bytes = int(size) ** 2 * WORLD_BYTES_PER_PIXEL
    memory = available_memory()
    family_memory = int(workers) * (members * int(frames) * frame_bytes + int(size) ** 2 * RENDER_BYTES_PER_PIXEL)
    if family_memory > memory:
        raise BadOptionError(
            f"--frames {frames} --size {size}: simulating {workers} famil{'y' if workers == 1 else 'ies'} at once needs about "
            f"{human_bytes(family_memory)} of memory, more than the {human_bytes(memory)} available; lower --size, --frames or --workers"
        )
    plan_memory = int(clips) * PLAN_BYTES_PER_CLIP
    if plan_memory > memory:
        raise BadOptionError(
            f"--clips {clips}: planning them needs about {human_bytes(plan_memory)} of memory, more than the "
            f"{human_bytes(memory)} available; generate fewer clips (or several files)"
        )
    disk = n_total * int(frames) * frame_bytes
    free = free_disk(Path(out).parent)
    if disk > free:
        raise BadOptionError(
            f"--clips {clips}: {n_total} clips x {frames} frames x {size}x{size} px take up to {human_bytes(disk)} "
            f"(before compression), more than the {human_bytes(free)} free beside {out}; generate fewer or smaller clips"
        )
