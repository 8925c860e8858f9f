"""A labelled folder: the user's videos plus one table of labels, mapped by a small TOML.

Layout (see ``docs/formats.md``, "Labelled folders")::

    my_data/
      labels.toml              which file holds what (below)
      labels.csv               one table: per clip, per frame, or per frame and object (or .parquet)
      videos/<clip>.mp4        one video per clip, or videos/<clip>/ holding its frames as images
      masks/<clip>/<frame>.png optional: object masks (pixel value = object id, 0 = none), or masks.h5

``labels.toml``::

    table = "labels.csv"
    videos = "videos"
    fps = 10                    # only for a time column
    masks = "masks"             # optional: a folder of PNG folders, or an HDF5 file (one (T, H, W) dataset per clip)

    [columns]
    clip = "video"              # required
    frame = "frame"             # or: time = "t" (seconds); neither: one row per clip
    object = "track"            # optional (integer ids when masks are given)
    family = "scene"            # optional: clips of one family stay on one side of every split
    pair = "pair"               # optional: pairs of clips compared with each other

    [targets.position]          # any number of targets
    columns = ["x", "y"]
    kind = "continuous"         # or "binary"
    unit = "px"

Each target becomes a store label and a probe target of the same name that ``probekit probe``
uses like its built-in ones. Frames and objects without a row do not exist for the probes
(never zero-filled). Without masks the object readouts are not available.
"""

from __future__ import annotations

import hashlib
import re
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from probekit.errors import BadOptionError, FileFormatError
from probekit.sources.base import VIDEO_EXTENSIONS, ClipBatch

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


TOML_NAME = "labels.toml"
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp")
TARGET_KINDS = ("continuous", "binary")
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


def is_labelled_folder(path: Path) -> bool:
    """Whether ``path`` is a folder holding ``labels.toml``."""
    return path.is_dir() and (path / TOML_NAME).is_file()


def open_labelled_folder(path: Path, *, frame_step: int = 1, window: int | None = None, stride: int | None = None,
                         **_: Any) -> "LabelledFolderSource":
    """Open a labelled folder (see the module docstring)."""
    return LabelledFolderSource(path, frame_step=frame_step, window=window, stride=stride)


@dataclass(frozen=True)
class DeclaredTarget:
    """A target the TOML declares: its name, table columns, kind, level and unit."""

    name: str
    columns: tuple[str, ...]
    kind: str
    level: str
    unit: str

    @property
    def label(self) -> str:
        """Store label it is written to."""
        return f"clip/{self.name}" if self.level == "clip" else self.name

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly declaration (the store's ``targets`` attribute)."""
        return {"name": self.name, "label": self.label, "kind": self.kind, "level": self.level, "unit": self.unit,
                "columns": list(self.columns)}


@dataclass(frozen=True)
class _Window:
    clip: int
    first: int  # index into the clip's sampled frames


class LabelledFolderSource:
    """Clips of a labelled folder with their targets, families, pairs and (optional) masks.

    Parameters
    ----------
    folder
        Folder holding ``labels.toml``.
    frame_step, window, stride
        Sampling: every ``frame_step``-th frame; windows of ``window`` sampled frames (default:
        the whole clip, all clips of one length) starting every ``stride`` (default ``window``).
    """

    kind = "labelled"

    def __init__(self, folder: str | Path, *, frame_step: int = 1, window: int | None = None, stride: int | None = None) -> None:
        self.path = Path(folder)
        where = self.path / TOML_NAME
        try:
            spec = tomllib.loads(where.read_text())
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise BadOptionError(f"{where}: not valid TOML ({' '.join(str(exc).split())})") from None
        self._where = where
        columns = dict(spec.get("columns", {}))
        self.columns = columns
        if "clip" not in columns:
            raise BadOptionError(f"{where}: [columns] needs clip = \"<column naming each row's clip>\"")
        if "frame" in columns and "time" in columns:
            raise BadOptionError(f"{where}: [columns] gives both frame and time; keep one")
        self.per_frame = "frame" in columns or "time" in columns
        if "object" in columns and not self.per_frame:
            raise BadOptionError(f"{where}: [columns] has object but neither frame nor time; per-object rows need a frame column")
        fps = spec.get("fps")
        if fps is not None and (isinstance(fps, bool) or not isinstance(fps, (int, float)) or not np.isfinite(fps) or fps <= 0):
            raise BadOptionError(f"{where}: fps = {fps!r}: give the videos' frames per second, a number above 0")
        self.fps = float(fps or 0)
        if "time" in columns and self.fps <= 0:
            raise BadOptionError(f"{where}: a time column needs fps = <frames per second of the videos>")
        table = self._read_table(spec)
        self.targets = self._declared_targets(spec, table)
        self._check_columns(table)
        table = self._check_values(table, spec)
        self.clips = sorted(str(c) for c in pd.unique(table[columns["clip"]].astype(str)))
        self.video_paths = [self._video_of(clip, spec) for clip in self.clips]
        self._warn_unused_videos(spec)
        if frame_step < 1 or (window is not None and window < 1) or (stride is not None and stride < 1):
            raise BadOptionError(f"--frame-step {frame_step} --window {window} --stride {stride}: use positive integers")
        counts, self.sizes = zip(*(_count_frames(p) for p in self.video_paths))
        sampled = [len(range(0, n, frame_step)) for n in counts]
        if window is None:
            if len(set(sampled)) > 1:
                raise BadOptionError(f"--data {self.path}: clips have {min(sampled)} to {max(sampled)} sampled frames; give --window")
            window = sampled[0]
        stride = window if stride is None else stride
        self.windows = [_Window(c, s) for c, n in enumerate(sampled) for s in range(0, n - window + 1, stride)]
        if not self.windows:
            raise BadOptionError(f"--data {self.path}: no clip yields a window of {window} frames; lower --window or --frame-step")
        self.frame_step, self.window, self.stride = frame_step, window, stride
        self.n_clips, self.n_frames = len(self.windows), window
        self.frame_size = self.sizes[self.windows[0].clip]
        self.sampling = {"frame_step": frame_step, "window": window, "stride": stride, "windows_per_video": "all"}
        self._build_labels(table, counts)
        self.masks = self._masks_location(spec)
        if self.masks is not None:
            self._check_masks(counts)
        self.provides = frozenset({"labels", "families", *(["masks"] if self.masks else []), *(["pairs"] if "pair" in columns else [])})
        self._cache: tuple[int, np.ndarray] | None = None

    # -- reading the TOML and the table ------------------------------------------------------------
    def _read_table(self, spec: dict[str, Any]) -> pd.DataFrame:
        name = spec.get("table")
        if not name:
            raise BadOptionError(f"{self._where}: give table = \"labels.csv\" (a CSV or Parquet file in the folder)")
        path = self.path / str(name)
        if not path.is_file():
            raise BadOptionError(f"{self._where}: table {path} does not exist")
        try:
            return pd.read_parquet(path) if path.suffix.lower() in (".parquet", ".pq") else pd.read_csv(path)
        except Exception as exc:  # pandas raises many parser errors
            raise FileFormatError(f"{path}: unreadable as {'Parquet' if path.suffix.lower() in ('.parquet', '.pq') else 'CSV'} "
                                  f"({exc.__class__.__name__}: {' '.join(str(exc).split())[:120]})") from None

    def _declared_targets(self, spec: dict[str, Any], table: pd.DataFrame) -> list[DeclaredTarget]:
        from probekit.evaluation.targets import BUILTIN_TARGETS

        raw = spec.get("targets", {})
        if not raw:
            raise BadOptionError(f"{self._where}: declare at least one [targets.<name>] with columns = [...]")
        level = ("slot" if self.per_frame else "clip")
        targets = []
        for name, entry in raw.items():
            if not _NAME.match(name) or name in BUILTIN_TARGETS or name == "exists":
                taken = " (a built-in target)" if name in BUILTIN_TARGETS or name == "exists" else ""
                raise BadOptionError(f"{self._where}: target name {name!r}{taken}: use another name of letters, digits and _")
            cols = entry.get("columns", entry.get("column"))
            cols = [cols] if isinstance(cols, str) else list(cols or [])
            missing = [c for c in cols if c not in table.columns]
            if not cols or missing:
                raise BadOptionError(f"{self._where}: [targets.{name}] columns {missing or cols}: not in the table; "
                                     f"its columns: {', '.join(map(str, table.columns))}")
            kind = str(entry.get("kind", "continuous"))
            if kind not in TARGET_KINDS:
                raise BadOptionError(f"{self._where}: [targets.{name}] kind {kind!r}: use one of {', '.join(TARGET_KINDS)}")
            if kind == "binary" and len(cols) != 1:
                raise BadOptionError(f"{self._where}: [targets.{name}] a binary target takes one column")
            targets.append(DeclaredTarget(name, tuple(cols), kind, level, str(entry.get("unit", "1"))))
        return targets

    def _check_columns(self, table: pd.DataFrame) -> None:
        for role, column in self.columns.items():
            if role not in ("clip", "frame", "time", "object", "family", "pair"):
                raise BadOptionError(f"{self._where}: [columns] {role!r}: use clip, frame or time, object, family, pair")
            if column not in table.columns:
                raise BadOptionError(f"{self._where}: [columns] {role} = {column!r}: no such column; "
                                     f"the table has {', '.join(map(str, table.columns))}")

    def _check_values(self, table: pd.DataFrame, spec: dict[str, Any]) -> pd.DataFrame:
        """Refuse rows the labels cannot be read from: no rows, non-numeric or non-finite target values,
        binary values other than 0/1, empty clip/family/pair cells, duplicate rows, and object ids
        that masks cannot name. Returns the table with numeric target columns."""
        if table.empty:
            raise BadOptionError(f"{self._where}: the table has no rows; give one row per clip, frame or frame and object")
        table = table.copy()
        for role in ("clip", "object", "family", "pair"):
            column = self.columns.get(role)
            if column is not None and table[column].isna().any():
                row = int(np.flatnonzero(table[column].isna().to_numpy())[0])
                raise BadOptionError(f"{self._where}: [columns] {role} = {column!r} is empty in table row {row}; "
                                     f"give every row its {role}")
        for target in self.targets:
            for column in target.columns:
                raw = table[column]
                numbers = pd.to_numeric(raw, errors="coerce").astype(np.float64)
                bad = numbers.isna() & raw.notna()
                if bad.any():
                    row = int(np.flatnonzero(bad.to_numpy())[0])
                    raise BadOptionError(f"{self._where}: [targets.{target.name}] column {column!r} holds {raw.iloc[row]!r} "
                                         f"(table row {row}), not a number")
                values = numbers.to_numpy()
                if np.isinf(values).any():
                    row = int(np.flatnonzero(np.isinf(values))[0])
                    raise BadOptionError(f"{self._where}: [targets.{target.name}] column {column!r} holds {values[row]} "
                                         f"(table row {row}); give finite values, or leave the cell empty where it is unknown")
                if target.kind == "binary" and not np.isin(values, (0.0, 1.0)).all():
                    row = int(np.flatnonzero(~np.isin(values, (0.0, 1.0)))[0])
                    raise BadOptionError(f"{self._where}: [targets.{target.name}] is binary, but column {column!r} holds "
                                         f"{values[row]} (table row {row}); give 0 or 1 on every row (leave out a row "
                                         "where it is unknown)")
                table[column] = values
        keys = [self.columns[role] for role in ("clip", "frame", "time", "object") if role in self.columns]
        duplicated = table.duplicated(subset=keys, keep=False)
        if duplicated.any():
            row = int(np.flatnonzero(duplicated.to_numpy())[0])
            where = ", ".join(f"{k} {_plain(table[k].iloc[row])!r}" for k in keys)
            raise BadOptionError(f"{self._where}: {int(duplicated.sum())} table rows share their {' / '.join(keys)} "
                                 f"(first: row {row}, {where}); give one row per "
                                 + ("clip" if len(keys) == 1 else "clip and frame" if len(keys) == 2 else "clip, frame and object"))
        if spec.get("masks") and "object" in self.columns:
            ids = pd.to_numeric(table[self.columns["object"]], errors="coerce").to_numpy(np.float64)
            if not (np.isfinite(ids) & (ids % 1 == 0) & (ids > 0)).all():
                row = int(np.flatnonzero(~(np.isfinite(ids) & (ids % 1 == 0) & (ids > 0)))[0])
                raise BadOptionError(f"{self._where}: [columns] object = {self.columns['object']!r} holds "
                                     f"{table[self.columns['object']].iloc[row]!r} (table row {row}); with masks, object ids are "
                                     "the masks' pixel values: integers from 1")
        return table

    def _video_of(self, clip: str, spec: dict[str, Any]) -> Path:
        folder = self.path / str(spec.get("videos", "videos"))
        frames = folder / clip
        if frames.is_dir():
            return frames
        for ext in VIDEO_EXTENSIONS:
            if (folder / f"{clip}{ext}").is_file():
                return folder / f"{clip}{ext}"
        raise BadOptionError(f"{self._where}: clip {clip!r} of the table has no video {folder}/{clip}.<ext> nor frame folder {frames}/")

    def _warn_unused_videos(self, spec: dict[str, Any]) -> None:
        folder = self.path / str(spec.get("videos", "videos"))
        used = set(self.video_paths)
        unused = [p.name for p in sorted(folder.iterdir()) if p not in used] if folder.is_dir() else []
        if unused:
            warnings.warn(f"{folder}: {len(unused)} video(s) without rows in the table are left out ({', '.join(unused[:3])}...)", stacklevel=3)

    # -- labels --------------------------------------------------------------------------------------
    def _per_clip_value(self, table: pd.DataFrame, role: str) -> list[str]:
        column = self.columns.get(role)
        if column is None:
            return list(self.clips)
        values = table.groupby(table[self.columns["clip"]].astype(str))[column].agg(lambda s: set(map(str, s)))
        mixed = [c for c in self.clips if len(values[c]) != 1]
        if mixed:
            raise BadOptionError(f"{self._where}: clip {mixed[0]!r} has several {role} values; a clip belongs to one {role}")
        return [next(iter(values[c])) for c in self.clips]

    def _build_labels(self, table: pd.DataFrame, counts: tuple[int, ...]) -> None:
        self.family = self._per_clip_value(table, "family")
        self.pair = self._per_clip_value(table, "pair") if "pair" in self.columns else None
        clip_col = table[self.columns["clip"]].astype(str)
        index = {clip: i for i, clip in enumerate(self.clips)}
        self.per_clip_values: dict[str, np.ndarray] = {}
        self.dense: dict[str, list[np.ndarray]] = {}
        self.exists: list[np.ndarray] = []
        self.object_ids: list[list[Any]] = []
        if not self.per_frame:
            first = table.groupby(clip_col).first()
            for t in self.targets:
                self.per_clip_values[t.name] = first.loc[self.clips, list(t.columns)].to_numpy(np.float64)
            self.k_max = 0
            return
        if "frame" in self.columns:
            frames = table[self.columns["frame"]].to_numpy()
        else:
            frames = np.rint(table[self.columns["time"]].to_numpy(np.float64) * self.fps)
        if not np.all(np.isfinite(frames.astype(np.float64))) or np.any(frames.astype(np.float64) % 1):
            raise BadOptionError(f"{self._where}: the frame column holds non-integer values; give frame indices from 0")
        frames = frames.astype(np.int64)
        objects = table[self.columns["object"]].to_numpy() if "object" in self.columns else np.zeros(len(table), int)
        rows_of = clip_col.map(index).to_numpy()
        for c, clip in enumerate(self.clips):
            rows = np.flatnonzero(rows_of == c)
            ids = sorted(pd.unique(objects[rows]).tolist())
            self.object_ids.append(ids)
        self.k_max = max(len(ids) for ids in self.object_ids)
        for c, clip in enumerate(self.clips):
            rows = np.flatnonzero(rows_of == c)
            f = frames[rows]
            if f.min() < 0 or f.max() >= counts[c]:
                raise BadOptionError(f"{self._where}: clip {clip!r} has label rows for frame {f.max() if f.max() >= counts[c] else f.min()}, "
                                     f"outside its {counts[c]} frames (0..{counts[c] - 1})")
            slot = np.searchsorted(np.asarray(self.object_ids[c]), objects[rows]) if "object" in self.columns else np.zeros(len(rows), int)
            exists = np.zeros((counts[c], self.k_max), bool)
            exists[f, slot] = True
            self.exists.append(exists)
            for t in self.targets:
                values = table.iloc[rows][list(t.columns)].to_numpy(np.float64)
                if t.kind == "binary":
                    dense = np.zeros((counts[c], self.k_max, 1), bool)
                    dense[f, slot] = np.nan_to_num(values) > 0.5
                else:
                    dense = np.full((counts[c], self.k_max, len(t.columns)), np.nan, np.float32)
                    dense[f, slot] = values
                self.dense.setdefault(t.name, []).append(dense)

    def _masks_location(self, spec: dict[str, Any]) -> Path | None:
        name = spec.get("masks")
        if not name:
            return None
        path = self.path / str(name)
        if not path.exists():
            raise BadOptionError(f"{self._where}: masks {path} does not exist; remove the masks key or add the masks")
        if not self.per_frame:
            raise BadOptionError(f"{self._where}: masks need per-frame labels (a frame or time column)")
        return path

    def _check_masks(self, counts: tuple[int, ...]) -> None:
        """Every clip has one mask per frame, of its frames' size (file names and shapes only: no pixels read)."""
        if self.masks.is_dir():
            shapes = {}
            for c, name in enumerate(self.clips):
                files = _mask_files(self.masks / name)
                if len(files) != counts[c]:
                    raise BadOptionError(f"{self.masks / name}: {len(files)} mask images for {counts[c]} frames; give one per frame")
                shapes[name] = (len(files), *_image_size(files[0]))
        else:
            import h5py

            with h5py.File(self.masks, "r") as f:  # opened once for every clip
                shapes = {name: tuple(f[name].shape) for name in self.clips if name in f}
        for c, name in enumerate(self.clips):
            shape = shapes.get(name)
            if shape is None:
                raise BadOptionError(f"{self.masks}: no dataset {name!r}; give one (T, H, W) array per clip")
            if len(shape) != 3 or shape[0] != counts[c]:
                raise BadOptionError(f"{self.masks}: clip {name!r} has masks of shape {shape}; give ({counts[c]}, H, W)")
            if tuple(shape[1:]) != tuple(self.sizes[c]):
                raise BadOptionError(f"{self.masks}: the masks of clip {name!r} are {shape[1]} x {shape[2]} px, its frames "
                                     f"{self.sizes[c][0]} x {self.sizes[c][1]}; give masks of the frames' size")

    # -- the ClipSource interface --------------------------------------------------------------------
    def close(self) -> None:
        """Drop the decoded clip held for the next window."""
        self._cache = None

    def _window_id(self, w: _Window) -> str:
        many = sum(1 for v in self.windows if v.clip == w.clip) > 1
        clip = self.clips[w.clip]
        return f"{clip}@{w.first * self.frame_step}" if many else clip

    def clip_table(self) -> dict[str, list[str]]:
        """clip_id, family_id (the family column, else the clip), scenario ``labelled``, kind ``original``, pair_id."""
        table = {"clip_id": [self._window_id(w) for w in self.windows], "family_id": [self.family[w.clip] for w in self.windows],
                 "scenario": ["labelled"] * self.n_clips, "kind": ["original"] * self.n_clips}
        if self.pair is not None:
            table["pair_id"] = [self.pair[w.clip] for w in self.windows]
        return table

    def frame_sizes(self) -> list[tuple[int, int]]:
        """(H, W) of every window."""
        return [self.sizes[w.clip] for w in self.windows]

    def content_hash(self) -> str:
        """sha256 over the TOML, the table and every video or frame file used."""
        digest = hashlib.sha256()
        files = [self._where, *sorted(self.path.glob("*.csv")), *sorted(self.path.glob("*.parquet"))]
        for path in self.video_paths:
            files.extend(sorted(p for p in path.iterdir() if p.is_file()) if path.is_dir() else [path])
        if self.masks is not None:
            files.extend(sorted(p for p in self.masks.rglob("*") if p.is_file()) if self.masks.is_dir() else [self.masks])
        for path in files:
            digest.update(str(path.relative_to(self.path)).encode())
            digest.update(path.read_bytes())
        return digest.hexdigest()

    def attrs(self) -> dict[str, Any]:
        """Provenance, plus the declared ``targets`` and what the source ``provides``."""
        return {"source_path": str(self.path.resolve()), "source_format": "labelled", "source_hash": self.content_hash(),
                "targets": [t.as_dict() for t in self.targets], "provides": sorted(self.provides)}

    def _clip_frames(self, clip: int) -> np.ndarray:
        if self._cache is None or self._cache[0] != clip:
            self._cache = (clip, _read_frames(self.video_paths[clip]))
        return self._cache[1]

    def _mask_frames(self, clip: int, n: int) -> np.ndarray:
        """(T, H, W) slot index per pixel, -1 where no object."""
        name = self.clips[clip]
        if self.masks.is_dir():
            files = _mask_files(self.masks / name)
            if len(files) != n:
                raise FileFormatError(f"{self.masks / name}: {len(files)} mask images for {n} frames; give one per frame")
            ids = _stack_images(self.masks / name, files, grey=True).astype(np.int64)
        else:
            import h5py

            with h5py.File(self.masks, "r") as f:
                if name not in f:
                    raise FileFormatError(f"{self.masks}: no dataset {name!r}; give one (T, H, W) array per clip")
                ids = f[name][()].astype(np.int64)
        out = np.full(ids.shape, -1, np.int16)
        known = self.object_ids[clip]
        if "object" not in self.columns:
            out[ids > 0] = 0
        else:
            for slot, obj in enumerate(known):
                out[ids == int(obj)] = slot
        return out

    def read(self, start: int, stop: int) -> ClipBatch:
        """Frames and raw labels of windows ``start .. stop - 1``."""
        videos, labels = [], {}
        parts: dict[str, list[np.ndarray]] = {}
        for w in self.windows[start:stop]:
            frames = np.arange(self.window) * self.frame_step + w.first * self.frame_step
            video = self._clip_frames(w.clip)
            if frames[-1] >= len(video):
                raise FileFormatError(f"{self.video_paths[w.clip]}: decoded fewer frames than when indexed; it changed or is damaged")
            videos.append(video[frames])
            if self.per_frame:
                parts.setdefault("objects/exists", []).append(self.exists[w.clip][frames])
                for t in self.targets:
                    parts.setdefault(f"objects/{t.name}", []).append(self.dense[t.name][w.clip][frames])
                if self.masks is not None:
                    parts.setdefault("video/segmentation", []).append(self._mask_frames(w.clip, len(video))[frames])
            else:
                for t in self.targets:
                    parts.setdefault(f"clips/{t.name}", []).append(self.per_clip_values[t.name][w.clip])
        labels = {key: np.stack(values) for key, values in parts.items()}
        return ClipBatch(start, stop, np.stack(videos), labels)


def _plain(value: Any) -> Any:
    """A numpy scalar as the Python value it holds (for messages)."""
    return value.item() if isinstance(value, np.generic) else value


def _mask_files(folder: Path) -> list[Path]:
    """Mask images of one clip, sorted by name (none when the folder is missing)."""
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS) if folder.is_dir() else []


def _image_size(path: Path) -> tuple[int, int]:
    """(H, W) of an image from its header."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            return image.size[1], image.size[0]
    except (UnidentifiedImageError, OSError) as exc:
        raise FileFormatError(f"{path}: not a readable image ({exc.__class__.__name__}); re-save or replace it") from None


def _read_image(path: Path, grey: bool = False) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            if grey:  # object ids as stored: 8- or 16-bit greyscale or a palette index
                return np.asarray(image if image.mode in ("L", "P", "I", "I;16") else image.convert("L"))
            return np.asarray(image.convert("RGB"))
    except (UnidentifiedImageError, OSError) as exc:
        raise FileFormatError(f"{path}: not a readable image ({exc.__class__.__name__}); re-save or replace it") from None


def _stack_images(folder: Path, files: list[Path], grey: bool = False) -> np.ndarray:
    """The images of one clip's folder as one array; images of different sizes are one error line."""
    images = [_read_image(p, grey=grey) for p in files]
    if len({image.shape for image in images}) > 1:
        raise FileFormatError(f"{folder}: images of different sizes; give one size per clip")
    return np.stack(images)


def _read_frames(path: Path) -> np.ndarray:
    """(T, H, W, 3) uint8 of a video file or a folder of frame images (sorted by name)."""
    if path.is_dir():
        return _stack_images(path, sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS))
    import av

    with av.open(str(path)) as container:
        return np.stack([frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)])


def _count_frames(path: Path) -> tuple[int, tuple[int, int]]:
    """(frames, (H, W)) of a video file or frame folder."""
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS)
        if not files:
            raise BadOptionError(f"{path}: no frame images ({', '.join(IMAGE_EXTENSIONS)})")
        return len(files), tuple(_read_image(files[0]).shape[:2])
    frames = _read_frames(path)
    return len(frames), tuple(frames.shape[1:3])
