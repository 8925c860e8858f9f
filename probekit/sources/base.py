"""What every clip source provides (:class:`ClipSource`) and the batch it returns (:class:`ClipBatch`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np

VIDEO_EXTENSIONS = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".gif")

#: Object datasets that are per clip, shape (N, K, ...), even where K equals T.
PER_CLIP_OBJECTS = {"shape", "symmetry", "half_extents", "mass", "friction", "restitution", "color"}

#: What a source can provide beside frames (see :attr:`ClipSource.provides`).
PROVISIONS = ("labels", "masks", "pairs", "families")


@dataclass
class ClipBatch:
    """Frames and labels of clips ``start .. stop - 1``.

    Attributes
    ----------
    video
        uint8 (B, T, H, W, 3).
    labels
        Raw labels with the clip axis first (``objects/<name>`` (B, T, K, ...) per frame and
        object, ``video/segmentation`` (B, T, H, W) slot index or -1, ``masks/amodal``,
        ``clips/<name>`` per clip), or None for plain videos.
    """

    start: int
    stop: int
    video: np.ndarray
    labels: dict[str, np.ndarray] | None


@runtime_checkable
class ClipSource(Protocol):
    """A source of equal-length clips for ``probekit extract``.

    Attributes
    ----------
    kind : str
        Registered name of the source type.
    n_clips, n_frames : int
        Clips (windows) and frames per clip.
    k_max : int
        Object slots in the labels (0: none).
    frame_size : tuple of int
        (H, W) of the first clip.
    sampling : dict
        How frames were sampled (provenance).
    provides : frozenset of str
        Which of :data:`PROVISIONS` the source holds; stages needing one that is absent report
        it as not available.
    """

    kind: str
    n_clips: int
    n_frames: int
    k_max: int
    frame_size: tuple[int, int]
    sampling: dict[str, Any]
    provides: frozenset[str]

    def clip_table(self) -> dict[str, list[str]]:
        """String columns per clip (``clip_id``, ``family_id``, ``scenario``, ``kind``, ...)."""
        ...

    def frame_sizes(self) -> list[tuple[int, int]]:
        """(H, W) of every clip."""
        ...

    def content_hash(self) -> str:
        """sha256 of the content used (resume checks and provenance)."""
        ...

    def attrs(self) -> dict[str, Any]:
        """Provenance written to the store (``source_path``, ``source_format``, ``source_hash``, ...)."""
        ...

    def read(self, start: int, stop: int) -> ClipBatch:
        """Frames and raw labels of clips ``start .. stop - 1``."""
        ...

    def close(self) -> None:
        """Release open files."""
        ...
