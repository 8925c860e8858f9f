"""GRASP: ``<root>/P_<Prop>/<k>.mp4`` (plausible) vs ``<root>/IP_<Prop>/<k>.mp4`` (implausible).

- ``--data`` is the folder holding the scene folders (``data/videos/level2`` in the release).
- Pairs: the same file name ``<k>.mp4`` in ``P_<Prop>`` and ``IP_<Prop>`` (there is no label
  file); ``pair_id`` = family = ``<Prop>/<k>``. A video without its counterpart is an error.
- Labels: ``possible`` (1 in ``P_``, 0 in ``IP_``); the property as the scenario; the surprise
  stage's principle is the property mapped to probekit's words (``ObjectPermanence2`` ->
  permanence, ``Unchangeableness`` -> immutability), else the property in lower case.
- Windowing: one window per video from its first frame; default length the shortest video. The
  frame rate is not stated by the release; labels are per clip.
- Provides labels, pairs and families; no masks nor object states.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from probekit.errors import FileFormatError
from probekit.sources.base import VIDEO_EXTENSIONS
from probekit.sources.benchmarks.base import BenchmarkClip, BenchmarkSource, clip_target, principle_of

NO_MASKS = "GRASP ships no per-frame masks or object states: object-token readouts, geometry, ceiling and binding are not available"


def _scenes(path: Path) -> dict[str, Path]:
    return {p.name: p for p in path.iterdir() if p.is_dir() and (p.name.startswith("P_") or p.name.startswith("IP_"))}


def is_grasp(path: Path) -> bool:
    """A folder holding ``P_<Prop>`` and ``IP_<Prop>`` scene folders."""
    if not path.is_dir():
        return False
    scenes = _scenes(path)
    return any(name.startswith("P_") and f"I{name}" in scenes for name in scenes)


def _videos(folder: Path) -> dict[str, Path]:
    return {p.name: p for p in sorted(folder.iterdir()) if p.is_file() and p.suffix.lower() in VIDEO_EXTENSIONS}


def open_grasp(path: Path, *, frame_step: int = 1, window: int | None = None, stride: int | None = None,
               **_: Any) -> BenchmarkSource:
    """Open a GRASP scene folder (see the module docstring)."""
    scenes = _scenes(path)
    clips = []
    for name in sorted(scenes):
        prop = name.split("_", 1)[1]
        if f"P_{prop}" not in scenes or f"IP_{prop}" not in scenes:
            raise FileFormatError(f"{scenes[name]}: no counterpart {'IP' if name.startswith('P_') else 'P'}_{prop}/; "
                                  "GRASP pairs the same file in P_<Prop> and IP_<Prop>")
        if not name.startswith("P_"):
            continue
        plausible, implausible = _videos(scenes[name]), _videos(scenes[f"IP_{prop}"])
        for one, other, folder in ((plausible, implausible, f"IP_{prop}"), (implausible, plausible, f"P_{prop}")):
            missing = sorted(set(one) - set(other))
            if missing:
                raise FileFormatError(f"{one[missing[0]]}: no counterpart {path / folder / missing[0]}; "
                                      "GRASP pairs the same file in P_<Prop> and IP_<Prop>")
        for file in sorted(plausible, key=lambda f: (len(f), f)):
            for possible, video in ((True, plausible[file]), (False, implausible[file])):
                stem = Path(file).stem
                strings = {"family_id": f"{prop}/{stem}", "pair_id": f"{prop}/{stem}",
                           "kind": "original" if possible else "violation", "violation": principle_of(prop),
                           "scenario": prop, "property": prop}
                clips.append(BenchmarkClip(f"{'P' if possible else 'IP'}_{prop}/{stem}", video, strings,
                                           {"possible": float(possible), "violation_frame": 0.0}))
    return BenchmarkSource(
        "grasp", path, clips, targets=[clip_target("possible")], provides={"labels", "pairs", "families"},
        unavailable={"masks": NO_MASKS, "objects": NO_MASKS},
        notes={"fps": "not stated by the release", "windowing": "one window per video from frame 0",
               "label_alignment": "per-clip labels (possible, property)",
               "pairing": "the same file name in P_<Prop> and IP_<Prop>"},
        frame_step=frame_step, window=window, stride=stride, windows="first")
