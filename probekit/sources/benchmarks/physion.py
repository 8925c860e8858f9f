"""Physion v1.5: ``physion_mp4s/{train,test}/*.mp4`` + ``all_video_labels.json`` in each split.

- ``--data`` is the folder holding ``physion_mp4s``, ``physion_mp4s`` itself, or one split folder.
- ``all_video_labels.json``: ``{"<stem>": {"label": bool or 0/1, "contact_frame_label": int}}``.
  ``label`` is the object-contact-prediction (OCP) outcome, stored as the per-clip target
  ``physion_ocp``; ``contact_frame_label`` as ``clip/contact_frame``. A listed video that is
  absent, or a label that is not a bool or 0/1, is an error naming the file and key; a video
  without an entry is left out with a warning.
- Scenario from the file name, in this order: ``collision`` (only without ``roll``), drop,
  towers, link, roll, contain, dominoes.
- Windowing (the OCP readout protocol): one window per video ending at ``max_frame`` = 15 for
  collision and 45 otherwise. Without ``--window`` and ``--frame-step`` the window is 4 frames
  every 15 (frames 0, 15, 30, 45; collision 0, 0, 0, 15: indices below 0 repeat frame 0); with
  them, ``--window`` frames every ``--frame-step`` ending at ``max_frame``. The readout protocol
  itself is the ``physion`` suite (stage ``physion_ocp``).
- Provides labels and families (one per video); no masks nor object states.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

from probekit.errors import FileFormatError
from probekit.sources.benchmarks.base import BenchmarkClip, BenchmarkSource, clip_target, read_json

SPLITS = ("train", "test")
LABELS_FILE = "all_video_labels.json"
SCENARIOS = ("collision", "drop", "towers", "link", "roll", "contain", "dominoes")
#: Protocol defaults: 4 frames every 15 ending at the scenario's max frame.
PROTOCOL_STEP, PROTOCOL_WINDOW = 15, 4
NO_MASKS = "Physion v1.5 mp4s carry no masks or object states: object-token readouts, geometry, ceiling and binding are not available"


def scenario_of(stem: str) -> str | None:
    """The Physion scenario named in a file stem (None: none of :data:`SCENARIOS`)."""
    lowered = stem.lower()
    if "collision" in lowered and "roll" not in lowered:
        return "collision"
    return next((s for s in SCENARIOS[1:] if s in lowered), None)


def max_frame(scenario: str) -> int:
    """Last frame the OCP readout sees: 15 for collision, 45 otherwise."""
    return 15 if scenario == "collision" else 45


def _splits(path: Path) -> list[Path]:
    if (path / LABELS_FILE).is_file():
        return [path]
    base = path / "physion_mp4s" if (path / "physion_mp4s").is_dir() else path
    return [base / s for s in SPLITS if (base / s).is_dir() and ((base / s) / LABELS_FILE).is_file()]


def is_physion(path: Path) -> bool:
    """``physion_mp4s/{train,test}`` with ``all_video_labels.json``, that folder, or one split."""
    return path.is_dir() and (bool(_splits(path)) or (path / "physion_mp4s").is_dir())


def _label(entry: Any, where: str) -> tuple[float, float]:
    if not isinstance(entry, dict) or "label" not in entry:
        raise FileFormatError(f"{where}: needs {{\"label\": true/false, \"contact_frame_label\": int}}")
    label = entry["label"]
    if isinstance(label, bool) or label in (0, 1):
        value = float(bool(label))
    else:
        raise FileFormatError(f"{where}: label {label!r} is not a bool or 0/1")
    contact = entry.get("contact_frame_label")
    if contact is not None and (isinstance(contact, bool) or not isinstance(contact, int)):
        raise FileFormatError(f"{where}: contact_frame_label {contact!r} is not a frame number")
    return value, float("nan") if contact is None else float(contact)


def open_physion(path: Path, *, frame_step: int = 1, window: int | None = None, stride: int | None = None,
                 **_: Any) -> BenchmarkSource:
    """Open Physion v1.5 mp4s (see the module docstring)."""
    splits = _splits(path)
    if not splits:
        raise FileFormatError(f"--data {path}: no {LABELS_FILE} in physion_mp4s/train or physion_mp4s/test; "
                              "each split needs its labels file")
    if window is None and frame_step == 1:
        frame_step, window = PROTOCOL_STEP, PROTOCOL_WINDOW
    clips, files = [], []
    for split in splits:
        labels_path = split / LABELS_FILE
        labels = read_json(labels_path)
        if not isinstance(labels, dict):
            raise FileFormatError(f"{labels_path}: not an object of <video stem>: {{label, contact_frame_label}}")
        files.append(labels_path)
        videos = {p.stem: p for p in sorted(split.glob("*.mp4"))}
        for stem in sorted(labels):
            where = f"{labels_path}: key {stem!r}"
            if stem not in videos:
                raise FileFormatError(f"{where}: lists {split / (stem + '.mp4')}, which does not exist; restore it or drop the key")
            ocp, contact = _label(labels[stem], where)
            scenario = scenario_of(stem)
            if scenario is None:
                raise FileFormatError(f"{where}: no scenario ({', '.join(SCENARIOS)}) in the file name")
            strings = {"family_id": f"{split.name}/{stem}", "scenario": scenario, "kind": "original", "split": split.name}
            clips.append(BenchmarkClip(f"{split.name}/{stem}", videos[stem], strings,
                                       {"physion_ocp": ocp, "contact_frame": contact}, last=max_frame(scenario)))
        unlisted = sorted(set(videos) - set(labels))
        if unlisted:
            warnings.warn(f"{labels_path}: {len(unlisted)} video(s) without labels are left out ({', '.join(unlisted[:3])})", stacklevel=2)
    return BenchmarkSource(
        "physion", path, clips, targets=[clip_target("physion_ocp")], provides={"labels", "families"},
        unavailable={"masks": NO_MASKS, "objects": NO_MASKS, "pairs": "Physion has no violation pairs"},
        notes={"fps": "not stated for the v1.5 mp4s", "windowing": f"one window per video ending at max_frame (15 collision, 45 other), "
               f"{window} frames every {frame_step}", "label_alignment": "per-clip OCP label (the trial's outcome)"},
        metadata=files, frame_step=frame_step, window=window, stride=stride, windows="end")
