"""Windows of the ordinary video files in a folder, decoded with PyAV."""

from __future__ import annotations

import hashlib
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from probekit.errors import BadOptionError, FileFormatError
from probekit.sources.base import VIDEO_EXTENSIONS, ClipBatch


@dataclass(frozen=True)
class _Window:
    video: int
    first: int  # index into the video's sampled frames


class VideoFolderSource:
    """Windows of the ordinary video files in a folder, decoded with PyAV.

    Each video's frames ``0, frame_step, 2 frame_step, ...`` form its sampled sequence; windows of
    ``window`` sampled frames start every ``stride`` sampled frames. Each window's family is its
    source video.

    Parameters
    ----------
    folder
        Folder searched recursively for files ending in :data:`VIDEO_EXTENSIONS`.
    frame_step, window, stride
        Sampling; ``stride`` defaults to ``window`` (no overlap).
    on_bad_video
        ``"skip"`` (warn and leave the video out) or ``"stop"`` (raise).
    """

    kind = "videos"
    provides = frozenset({"families"})

    def __init__(self, folder: str | os.PathLike, *, frame_step: int = 1, window: int = 16, stride: int | None = None,
                 on_bad_video: str = "skip") -> None:
        self.path = Path(folder)
        if on_bad_video not in ("skip", "stop"):
            raise BadOptionError(f"--on-bad-video {on_bad_video!r}: use skip or stop")
        if frame_step < 1 or window is None or window < 1 or (stride is not None and stride < 1):
            raise BadOptionError(f"--frame-step {frame_step} --window {window} --stride {stride}: use positive integers")
        stride = window if stride is None else stride
        files = sorted(p for p in self.path.rglob("*") if p.suffix.lower() in VIDEO_EXTENSIONS and p.is_file())
        if not files:
            raise BadOptionError(f"--data {self.path}: no video files ({', '.join(VIDEO_EXTENSIONS)}) in this folder")
        self.videos: list[Path] = []
        self.sizes: list[tuple[int, int]] = []
        self.skipped: list[str] = []
        self.windows: list[_Window] = []
        unreadable, first_error, notes = 0, "", []
        for path in files:
            try:
                n, size = _probe_video(path)
                if n == 0:
                    raise ValueError("no decodable frames")
            except Exception as exc:  # PyAV raises many error types for broken files
                message = f"video {path}: unreadable ({exc.__class__.__name__}: {' '.join(str(exc).split())[:120]})"
                if on_bad_video == "stop":
                    raise BadOptionError(f"{message}; fix or remove it, or pass --on-bad-video skip") from None
                notes.append(f"{message}; skipped")
                unreadable, first_error = unreadable + 1, first_error or message
                self.skipped.append(str(path))
                continue
            sampled = len(range(0, n, frame_step))
            starts = range(0, sampled - window + 1, stride)
            if not len(starts):
                notes.append(f"video {path}: {n} frames give fewer than --window {window} sampled frames; skipped")
                self.skipped.append(str(path))
                continue
            self.videos.append(path)
            self.sizes.append(size)
            self.windows.extend(_Window(len(self.videos) - 1, s) for s in starts)
        if not self.windows and unreadable == len(files):
            raise BadOptionError(f"--data {self.path}: none of its {len(files)} video file(s) can be decoded (first: {first_error}); "
                                 "check that they are videos (re-encode them, e.g. with ffmpeg)")
        if not self.windows:
            raise BadOptionError(f"--data {self.path}: no video yields a window of {window} frames; lower --window or --frame-step")
        for note in notes:  # said once the folder is usable (a refusal is its own single line)
            warnings.warn(note, stacklevel=2)
        self.frame_step, self.window, self.stride = frame_step, window, stride
        self.n_clips = len(self.windows)
        self.n_frames = window
        self.k_max = 0
        self.frame_size = self.sizes[0]
        self.sampling = {"frame_step": frame_step, "window": window, "stride": stride, "windows_per_video": "all"}
        self._cache: _StreamingDecoder | None = None

    def close(self) -> None:
        """Close the open decoder."""
        if self._cache is not None:
            self._cache.close()
        self._cache = None

    def _relative(self, index: int) -> str:
        return str(self.videos[index].relative_to(self.path))

    def clip_table(self) -> dict[str, list[str]]:
        """clip_id = ``<video>@<first frame>``, family_id = the video, scenario ``video``, kind ``original``."""
        ids = [f"{self._relative(w.video)}@{w.first * self.frame_step}" for w in self.windows]
        return {"clip_id": ids, "family_id": [self._relative(w.video) for w in self.windows],
                "scenario": ["video"] * len(ids), "kind": ["original"] * len(ids)}

    def frame_sizes(self) -> list[tuple[int, int]]:
        """(H, W) of every window."""
        return [self.sizes[w.video] for w in self.windows]

    def content_hash(self) -> str:
        """sha256 over the names and bytes of the videos used."""
        digest = hashlib.sha256()
        for path in self.videos:
            digest.update(str(path.relative_to(self.path)).encode())
            with open(path, "rb") as handle:
                for block in iter(lambda: handle.read(1 << 22), b""):
                    digest.update(block)
        return digest.hexdigest()

    def attrs(self) -> dict[str, Any]:
        """Provenance of the source."""
        return {"source_path": str(self.path.resolve()), "source_format": "videos", "source_hash": self.content_hash(),
                "skipped_videos": list(self.skipped)}

    def _window_frames(self, video: int, first: int) -> np.ndarray:
        if self._cache is None or self._cache.video != video:
            if self._cache is not None:
                self._cache.close()
            self._cache = _StreamingDecoder(video, self.videos[video], self.frame_step)
        return self._cache.frames(first, first + self.window)

    def read(self, start: int, stop: int) -> ClipBatch:
        """Frames of windows ``start .. stop - 1`` (all of one frame size)."""
        clips = []
        for w in self.windows[start:stop]:
            clip = self._window_frames(w.video, w.first)
            if len(clip) < self.window:
                raise FileFormatError(f"video {self.videos[w.video]}: decoded fewer frames than when indexed; it changed or is damaged")
            clips.append(clip)
        return ClipBatch(start, stop, np.stack(clips), None)


class _StreamingDecoder:
    """Decodes one video front to back, keeping only the sampled frames still needed.

    Windows are read in order, so memory holds at most one window (plus the overlap with the
    next); going back restarts the decoder.
    """

    def __init__(self, video: int, path: Path, step: int) -> None:
        import av

        self.video, self.path, self.step = video, path, step
        self._container = av.open(str(path))
        self._frames = self._container.decode(video=0)
        self._raw = 0
        self._buffer: dict[int, np.ndarray] = {}
        self._lowest = 0

    def close(self) -> None:
        """Close the container."""
        self._container.close()

    def frames(self, lo: int, hi: int) -> np.ndarray:
        """Sampled frames ``lo .. hi - 1`` (fewer if the video ends first)."""
        if lo < self._lowest:
            self.close()
            self.__init__(self.video, self.path, self.step)
        self._buffer = {i: f for i, f in self._buffer.items() if i >= lo}
        self._lowest = lo
        while (hi - 1) not in self._buffer:
            try:
                frame = next(self._frames)
            except StopIteration:
                break
            raw, self._raw = self._raw, self._raw + 1
            if raw % self.step == 0 and lo <= raw // self.step < hi:
                self._buffer[raw // self.step] = frame.to_ndarray(format="rgb24")
        return np.stack([self._buffer[i] for i in range(lo, hi) if i in self._buffer])


def _probe_video(path: Path) -> tuple[int, tuple[int, int]]:
    import av

    n, size = 0, (0, 0)
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        for frame in container.decode(stream):
            n += 1
            size = (frame.height, frame.width)
    return n, size


def open_video_folder(path: Path, *, frame_step: int = 1, window: int | None = None, stride: int | None = None,
                      on_bad_video: str = "skip") -> VideoFolderSource:
    """Open a folder of videos (windows of 16 frames unless ``window`` says otherwise)."""
    return VideoFolderSource(path, frame_step=frame_step, window=window or 16, stride=stride, on_bad_video=on_bad_video)
