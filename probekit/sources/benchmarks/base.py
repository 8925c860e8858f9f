"""What the public-benchmark readers share: one clip per video, its window, its labels.

A reader turns a benchmark's layout into a list of :class:`BenchmarkClip` (video file or frame
folder, string columns, per-clip values, optional per-frame object labels and masks) and hands it
to :class:`BenchmarkSource`, which does the windowing and reading that every
:class:`~probekit.sources.ClipSource` must do.

Windowing (stated per reader in its module docstring): each clip's sampled frames are
``first, first + frame_step, ...`` up to ``last`` (inclusive). With ``windows="first"`` a clip
gives one window of ``window`` sampled frames starting at ``first`` (violation-of-expectation
pairs stay one clip per video); with ``windows="end"`` one window ending at ``last`` (frame indices
below 0 are clipped to 0, i.e. the first frame repeats); with ``windows="all"`` windows start
every ``stride`` sampled frames. Per-frame labels are read at the same source frames as the
video frames, so labels and frames are aligned frame by frame before the token-grid alignment
of :mod:`probekit.extraction.align`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from probekit.errors import BadOptionError, FileFormatError
from probekit.sources.base import ClipBatch
from probekit.sources.labelled import IMAGE_EXTENSIONS, DeclaredTarget

WINDOW_MODES = ("first", "end", "all")
#: Benchmark words for the principles the surprise stage reports (other names are kept as they are).
BENCHMARK_PRINCIPLES = {
    "permanence": "permanence", "objectpermanence": "permanence", "solidity": "solidity", "gravity": "gravity",
    "continuity": "continuity", "immutability": "immutability", "unchangeableness": "immutability",
    "shapeconstancy": "immutability",
}


@dataclass
class BenchmarkClip:
    """One video of a benchmark with its labels.

    Attributes
    ----------
    name
        Clip name (``clip_id`` of its window; ``@<frame>`` is added when a clip gives several windows).
    path
        Video file, or folder of frame images sorted by name.
    strings
        String columns of the clip table (``family_id``, ``scenario``, ``kind``, ``pair_id``,
        ``violation``, ``split``, ...); every clip of a source has the same keys.
    values
        Per-clip numbers, stored as ``clips/<name>`` (NaN where unknown).
    first, last
        First and last (inclusive) source frame used; ``last`` None: the video's last frame.
    objects
        Per-frame object labels over all source frames, ``(T, K, ...)`` each, with ``exists``
        (T, K) bool among them; None when the benchmark has none for this clip.
    masks
        Callable returning (T, H, W) int16 slot index per pixel (-1: no object), or None.
    """

    name: str
    path: Path
    strings: dict[str, str]
    values: dict[str, float] = field(default_factory=dict)
    first: int = 0
    last: int | None = None
    objects: dict[str, np.ndarray] | None = None
    masks: Callable[[], np.ndarray] | None = None


@dataclass(frozen=True)
class _Window:
    clip: int
    frames: np.ndarray  # source frame indices


class BenchmarkSource:
    """Windows of a benchmark's clips with their labels, pairs and (where the benchmark has them) masks.

    Parameters
    ----------
    kind
        Registered source name (``intphys2``, ``clevrer``, ...).
    path
        The benchmark folder given as ``--data``.
    clips
        The clips, in a fixed order.
    targets
        Probe targets the store declares (per clip or per slot).
    provides
        Which of ``labels``, ``masks``, ``pairs``, ``families`` the source holds.
    unavailable
        Provision -> why the benchmark lacks it (stored in the ``not_available`` attribute).
    notes
        Reader facts stored as provenance (frame rate, windowing, label alignment).
    metadata
        The label files read (hashed with the videos).
    frame_step, window, stride, windows
        Sampling (see the module docstring).
    """

    def __init__(self, kind: str, path: Path, clips: list[BenchmarkClip], *, targets: list[DeclaredTarget],
                 provides: set[str], unavailable: dict[str, str], notes: dict[str, Any], metadata: list[Path] = (),
                 frame_step: int = 1,
                 window: int | None = None, stride: int | None = None, windows: str = "first") -> None:
        if not clips:
            raise BadOptionError(f"--data {path}: no clips found in this {kind} layout")
        if frame_step < 1 or (window is not None and window < 1) or (stride is not None and stride < 1):
            raise BadOptionError(f"--frame-step {frame_step} --window {window} --stride {stride}: use positive integers")
        if windows not in WINDOW_MODES:
            raise ValueError(f"windows={windows!r}: use one of {WINDOW_MODES}")
        self.kind, self.path, self.clips, self.targets = kind, Path(path), clips, targets
        self.provides = frozenset(provides)
        self.unavailable, self.notes, self.metadata = dict(unavailable), dict(notes), list(metadata)
        counts, self.sizes = zip(*(count_frames(c.path) for c in clips))
        sampled = []
        for clip, n in zip(clips, counts):
            last = n - 1 if clip.last is None else clip.last
            if clip.first > last or last >= n:
                raise FileFormatError(f"{clip.path}: {n} frames; the benchmark asks for frames {clip.first}..{last}")
            sampled.append(np.arange(clip.first, last + 1, frame_step) if windows != "end" else
                           last - frame_step * np.arange((last - clip.first) // frame_step + 1)[::-1])
        self.counts = counts
        if window is None:
            window = min(len(s) for s in sampled)
        stride = window if stride is None else stride
        self.windows: list[_Window] = []
        for c, frames in enumerate(sampled):
            if windows == "end":
                last = frames[-1]
                idx = np.maximum(last - frame_step * np.arange(window)[::-1], 0)
                self.windows.append(_Window(c, idx))
                continue
            if len(frames) < window:
                raise BadOptionError(f"--window {window}: clip {clips[c].name} has {len(frames)} sampled frames; lower --window")
            starts = [0] if windows == "first" else range(0, len(frames) - window + 1, stride)
            self.windows.extend(_Window(c, frames[s:s + window]) for s in starts)
        self.frame_step, self.window, self.stride = frame_step, window, stride
        self.n_clips, self.n_frames = len(self.windows), window
        self.frame_size = self.sizes[0]
        k = [c.objects["exists"].shape[1] for c in clips if c.objects is not None]
        # at least one slot: a benchmark without object states still stores ``exists`` (never true),
        # which the probes' nuisance baselines read to count objects
        self.k_max = max(k + [1])
        self.sampling = {"frame_step": frame_step, "window": window, "stride": stride, "windows_per_video": windows}
        self._many = {c: sum(1 for w in self.windows if w.clip == c) > 1 for c in range(len(clips))}
        self._cache: tuple[int, np.ndarray] | None = None

    # -- the ClipSource interface -------------------------------------------------------------------
    def clip_table(self) -> dict[str, list[str]]:
        """clip_id plus the readers' string columns (family_id, scenario, kind, pair_id, violation, ...)."""
        ids = [f"{self.clips[w.clip].name}@{int(w.frames[0])}" if self._many[w.clip] else self.clips[w.clip].name
               for w in self.windows]
        table = {"clip_id": ids}
        for key in self.clips[0].strings:
            table[key] = [self.clips[w.clip].strings[key] for w in self.windows]
        return table

    def frame_sizes(self) -> list[tuple[int, int]]:
        """(H, W) of every window."""
        return [self.sizes[w.clip] for w in self.windows]

    def content_hash(self) -> str:
        """sha256 over the names and bytes of the metadata and every video or frame file used."""
        digest = hashlib.sha256()
        for path in self.metadata + [p for c in self.clips for p in _files_of(c.path)]:
            digest.update(str(path.relative_to(self.path) if path.is_relative_to(self.path) else path.name).encode())
            with open(path, "rb") as handle:
                for block in iter(lambda: handle.read(1 << 22), b""):
                    digest.update(block)
        return digest.hexdigest()

    def attrs(self) -> dict[str, Any]:
        """Provenance: format, hash, declared targets, provisions, what is not available and why, reader notes."""
        return {"source_path": str(self.path.resolve()), "source_format": self.kind, "source_hash": self.content_hash(),
                "targets": [t.as_dict() for t in self.targets], "provides": sorted(self.provides),
                "not_available": dict(self.unavailable), "benchmark": dict(self.notes)}

    def close(self) -> None:
        """Drop the decoded clip held for the next window."""
        self._cache = None

    def read(self, start: int, stop: int) -> ClipBatch:
        """Frames and raw labels of windows ``start .. stop - 1``."""
        videos: list[np.ndarray] = []
        parts: dict[str, list[np.ndarray]] = {}
        for w in self.windows[start:stop]:
            clip = self.clips[w.clip]
            frames = self._frames(w.clip, w.frames)
            videos.append(frames)
            for name, value in clip.values.items():
                parts.setdefault(f"clips/{name}", []).append(np.asarray(value, np.float64))
            # always an ``exists`` label (see k_max)
            for name, dense in _padded_objects(clip, self.counts[w.clip], self.k_max).items():
                parts.setdefault(f"objects/{name}", []).append(dense[w.frames])
            if "masks" in self.provides:
                if clip.masks is None:
                    segmentation = np.full((len(w.frames), *self.sizes[w.clip]), -1, np.int16)
                else:
                    segmentation = clip.masks()[w.frames]
                parts.setdefault("video/segmentation", []).append(segmentation)
        labels = {key: np.stack(values) for key, values in parts.items()}
        return ClipBatch(start, stop, np.stack(videos), labels or None)

    def _frames(self, clip: int, frames: np.ndarray) -> np.ndarray:
        path = self.clips[clip].path
        if path.is_dir():
            files = frame_files(path)
            return np.stack([read_image(files[i]) for i in frames])
        if self._cache is None or self._cache[0] != clip:
            self._cache = (clip, read_video(path))
        video = self._cache[1]
        if frames.max() >= len(video):
            raise FileFormatError(f"video {path}: decoded fewer frames than when indexed; it changed or is damaged")
        return video[frames]


def _padded_objects(clip: BenchmarkClip, n_frames: int, k_max: int) -> dict[str, np.ndarray]:
    """The clip's per-frame object labels padded to ``k_max`` slots (absent slots do not exist)."""
    if clip.objects is None:
        return {"exists": np.zeros((n_frames, k_max), bool)}
    out = {}
    for name, values in clip.objects.items():
        pad = np.zeros if values.dtype == bool else (lambda shape, dtype: np.full(shape, np.nan, dtype))
        dense = pad((n_frames, k_max, *values.shape[2:]), values.dtype)
        dense[: len(values), : values.shape[1]] = values[:n_frames]
        out[name] = dense
    return out


def frame_files(folder: Path) -> list[Path]:
    """Frame images of a folder, sorted by name."""
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS)


def _files_of(path: Path) -> list[Path]:
    return frame_files(path) if path.is_dir() else [path]


def read_image(path: Path, mode: str = "RGB") -> np.ndarray:
    """An image as an array: ``"RGB"`` (H, W, 3) uint8, or ``"raw"`` as stored (8/16-bit grey)."""
    from PIL import Image

    try:
        with Image.open(path) as image:
            return np.asarray(image.convert("RGB")) if mode == "RGB" else np.asarray(image)
    except (OSError, ValueError) as exc:
        raise FileFormatError(f"{path}: unreadable image ({exc.__class__.__name__}: {' '.join(str(exc).split())[:100]})") from None


def read_video(path: Path) -> np.ndarray:
    """(T, H, W, 3) uint8 frames of a video file, decoded with PyAV."""
    import av

    try:
        with av.open(str(path)) as container:
            return np.stack([frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)])
    except (av.error.FFmpegError, ValueError) as exc:
        raise FileFormatError(f"video {path}: unreadable ({exc.__class__.__name__}: {' '.join(str(exc).split())[:100]})") from None


def count_frames(path: Path) -> tuple[int, tuple[int, int]]:
    """(frames, (H, W)) of a frame folder, or of a video file from its stream header (decoded to
    count when the header gives no frame count; a wrong count is caught when the clip is read)."""
    if path.is_dir():
        files = frame_files(path)
        if not files:
            raise FileFormatError(f"{path}: no frame images ({', '.join(IMAGE_EXTENSIONS)})")
        return len(files), tuple(read_image(files[0]).shape[:2])
    import av

    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            if stream.frames > 0 and stream.codec_context.height > 0:
                return int(stream.frames), (int(stream.codec_context.height), int(stream.codec_context.width))
    except (av.error.FFmpegError, IndexError, ValueError) as exc:
        raise FileFormatError(f"video {path}: unreadable ({exc.__class__.__name__}: {' '.join(str(exc).split())[:100]})") from None
    frames = read_video(path)
    return len(frames), tuple(frames.shape[1:3])


def require_file(path: Path, listed_in: Path, row: str) -> Path:
    """``path`` if it is a file, else a one-line error naming the metadata file and row that list it."""
    if not path.is_file():
        raise FileFormatError(f"{listed_in}: {row} lists {path}, which does not exist; restore the file or drop the row")
    return path


def read_csv_table(path: Path, required: tuple[str, ...]):
    """A CSV read as strings, with every column of ``required``; one-line errors naming the file.

    Row ``i`` of the returned frame is line ``i + 2`` of the file (line 1 is the header).
    """
    import pandas as pd

    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False)
    except Exception as exc:  # pandas raises many parser errors
        raise FileFormatError(f"{path}: unreadable as CSV ({exc.__class__.__name__}: {' '.join(str(exc).split())[:120]})") from None
    missing = [c for c in required if c not in table.columns]
    if missing:
        raise FileFormatError(f"{path}: missing column(s) {', '.join(missing)}; the header has {', '.join(map(str, table.columns))}")
    return table


def read_json(path: Path) -> Any:
    """A JSON file, or a one-line error naming it."""
    import json

    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise FileFormatError(f"{path}: unreadable as JSON ({exc.__class__.__name__}: {' '.join(str(exc).split())[:120]})") from None


def principle_of(name: str) -> str:
    """The probekit principle a benchmark's condition or property names, else the name in lower case.

    ``immutability_texture`` -> ``immutability``; GRASP's ``ObjectPermanence2`` -> ``permanence``,
    ``Unchangeableness`` -> ``immutability``; names without a probekit principle (``Collision``,
    ``GravityInertia``) keep their own (the surprise stage scores them after the five principles).
    """
    import re

    lowered = re.sub(r"\d+$", "", name.strip()).lower()
    return BENCHMARK_PRINCIPLES.get(lowered, BENCHMARK_PRINCIPLES.get(lowered.split("_")[0], lowered))


def clip_target(name: str, kind: str = "binary", unit: str = "1") -> DeclaredTarget:
    """A per-clip target declared by a benchmark store (read from ``clip/<name>``)."""
    return DeclaredTarget(name, (name,), kind, "clip", unit)


def slot_target(name: str, width: int, kind: str = "continuous", unit: str = "1") -> DeclaredTarget:
    """A per-frame, per-object target declared by a benchmark store (read from ``<name>``)."""
    return DeclaredTarget(name, tuple(f"{name}_{i}" for i in range(width)) if width > 1 else (name,), kind, "slot", unit)
