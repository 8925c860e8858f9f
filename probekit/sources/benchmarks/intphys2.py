"""IntPhys 2: ``{Debug,Main,HeldOut}/metadata.csv`` + ``Videos/<name>.mp4`` (``docs/formats.md``, "IntPhys 2").

- ``--data`` is one split folder (``Main``) or the root holding the splits (every split present
  is read; the ``split`` column tells them apart).
- ``metadata.csv`` columns used: ``SceneIndex`` (read as a string: ``196_0`` occurs), ``name``,
  ``file_name``, ``condition``, ``type`` (``k_Possible`` / ``k_Impossible``), ``Difficulty``,
  ``Camera`` (``game_name``, ``env``, ``occluder`` are kept when present).
- Pairs: ``k_Possible`` with ``k_Impossible`` of the same scene. This is an **inference from the
  names** (the release states no pairing); each scene's four videos form one family, so grouped
  folds keep a scene together, and ``pair_id`` = ``<split>/<scene>/<k>``.
- Labels: ``possible`` (per clip, 1/0); ``condition``, ``difficulty``, ``camera`` as per-clip
  string columns; the surprise stage's principle is the condition's head (``immutability_texture``
  -> immutability). HeldOut (no ``metadata.csv`` or no ``type`` column) gives unlabelled clips
  (kind ``unlabelled``, ``possible`` NaN).
- Windowing: one window per video from its first frame; default length the shortest video.
  The frame rate is not stated by the release; labels are per clip, so no frame-time alignment
  is needed.
- Provides labels, pairs and families; no masks nor per-object states, so object-token
  readouts, geometry, ceiling and binding are not available.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from probekit.errors import FileFormatError
from probekit.sources.benchmarks.base import (BenchmarkClip, BenchmarkSource, clip_target, principle_of, read_csv_table,
                                              require_file)

SPLITS = ("Debug", "Main", "HeldOut")
REQUIRED = ("SceneIndex", "name", "file_name", "condition", "type", "Difficulty", "Camera")
OPTIONAL = ("game_name", "env", "occluder")
_TYPE = re.compile(r"^(\d+)_(Possible|Impossible)$")
NO_MASKS = ("IntPhys 2 ships no per-frame masks or object states: object-token readouts, geometry, ceiling and "
            "binding are not available")


def _is_split(path: Path) -> bool:
    if not (path.is_dir() and (path / "Videos").is_dir()):
        return False
    meta = path / "metadata.csv"
    if meta.is_file():
        with open(meta, encoding="utf-8", errors="replace") as handle:
            return "SceneIndex" in handle.readline()
    return path.name == "HeldOut"


def is_intphys2(path: Path) -> bool:
    """A split folder (``metadata.csv`` with ``SceneIndex`` + ``Videos/``) or a root holding one."""
    return _is_split(path) or (path.is_dir() and any(_is_split(path / s) for s in SPLITS))


def _split_clips(folder: Path) -> tuple[list[BenchmarkClip], list[Path]]:
    meta = folder / "metadata.csv"
    split = folder.name
    if not meta.is_file():
        return [_unlabelled(split, p) for p in sorted((folder / "Videos").glob("*.mp4"))], []
    header = read_csv_table(meta, ("name", "file_name"))
    if "type" not in header.columns and split == "HeldOut":
        return [_unlabelled(split, require_file(folder / r["file_name"], meta, f"row {i + 2}")) for i, r in header.iterrows()], [meta]
    table = read_csv_table(meta, REQUIRED)
    clips = []
    for i, row in table.iterrows():
        where = f"row {i + 2}"
        match = _TYPE.match(row["type"].strip())
        if match is None:
            raise FileFormatError(f"{meta}: {where}: type {row['type']!r} is not k_Possible or k_Impossible")
        if not row["SceneIndex"].strip():
            raise FileFormatError(f"{meta}: {where}: empty SceneIndex")
        path = require_file(folder / row["file_name"], meta, where)
        scene, k, possible = row["SceneIndex"].strip(), match.group(1), match.group(2) == "Possible"
        strings = {"family_id": f"{split}/{scene}", "pair_id": f"{split}/{scene}/{k}",
                   "kind": "original" if possible else "violation", "violation": principle_of(row["condition"]),
                   "scenario": row["condition"], "split": split, "scene": scene, "type": row["type"],
                   "condition": row["condition"], "difficulty": row["Difficulty"], "camera": row["Camera"],
                   **{key.lower(): str(row.get(key, "")) for key in OPTIONAL}}
        clips.append(BenchmarkClip(row["name"], path, strings, {"possible": float(possible), "violation_frame": 0.0}))
    return clips, [meta]


def _unlabelled(split: str, path: Path) -> BenchmarkClip:
    strings = {"family_id": f"{split}/{path.stem}", "pair_id": "", "kind": "unlabelled", "violation": "", "scenario": "",
               "split": split, "scene": "", "type": "", "condition": "", "difficulty": "", "camera": "",
               **{key.lower(): "" for key in OPTIONAL}}
    return BenchmarkClip(path.stem, path, strings, {"possible": float("nan"), "violation_frame": float("nan")})


def open_intphys2(path: Path, *, frame_step: int = 1, window: int | None = None, stride: int | None = None,
                  **_: Any) -> BenchmarkSource:
    """Open an IntPhys 2 split or root (see the module docstring)."""
    folders = [path] if _is_split(path) else [path / s for s in SPLITS if _is_split(path / s)]
    if not folders:
        raise FileFormatError(f"--data {path}: not an IntPhys 2 layout; give a split folder holding metadata.csv and Videos/ "
                              f"or the folder holding {', '.join(SPLITS)}")
    clips, files = [], []
    for folder in folders:
        found, meta = _split_clips(folder)
        clips += found
        files += meta
    labelled = any(c.strings["kind"] != "unlabelled" for c in clips)
    return BenchmarkSource(
        "intphys2", path, clips, targets=[clip_target("possible")] if labelled else [],
        provides={"families", *(["labels", "pairs"] if labelled else [])},
        unavailable={"masks": NO_MASKS, "objects": NO_MASKS},
        notes={"fps": "not stated by the release", "windowing": "one window per video from frame 0",
               "label_alignment": "per-clip labels (possible, condition, difficulty, camera)",
               "pairing": "k_Possible with k_Impossible of one scene: inferred from the names"},
        metadata=files, frame_step=frame_step, window=window, stride=stride, windows="first")
