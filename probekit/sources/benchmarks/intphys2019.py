"""IntPhys (2019 challenge): ``dev/O{1,2,3}/<scene>/<run>/{scene,depth,masks}/*.png`` + ``status.json``.

- ``--data`` is the ``dev`` folder (holding ``O1``..``O3``) or its parent.
- Labels: ``possible`` from ``status.json`` (``{"header": {"is_possible": ...}}``, or the 2018
  ``{"possible": ...}``). A run without ``status.json`` is an error, never "possible" by default
  (the test set ships none: it cannot be scored here).
- Pairs: the four runs of a scene are one family and one ``pair_id``; the surprise stage compares
  every possible run with every impossible run of the scene. Principle by block: O1 permanence,
  O2 immutability (shape constancy), O3 continuity.
- Full metadata (``frames`` in ``status.json``, from ``dev_metadata``): per frame and object
  ``intphys_location`` and ``intphys_velocity`` (Unreal units, cm and cm/s; ``exists`` where the
  object is listed) and masks: each frame's ``masks`` names the grey level of every actor; the
  ``object_*`` actors are the slots (occluders, floor and walls are not objects). Without the
  full file there are no per-frame labels nor masks for that run.
- Depth: 16-bit grey PNG, ``p = 65535 - 10 depth_cm``; :func:`decode_depth` gives millimetres
  (``65535 - p``); not stored in latent stores.
- Windowing: one window per run from frame 1 (``scene_001.png``); default length the shortest
  run (100 frames); per-frame labels are at the same frame indices (``frames[i]`` is
  ``scene_<i+1>.png``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from probekit.errors import FileFormatError
from probekit.sources.benchmarks.base import (BenchmarkClip, BenchmarkSource, clip_target, frame_files, read_image, read_json,
                                              slot_target)

BLOCKS = {"O1": "permanence", "O2": "immutability", "O3": "continuity"}
VECTOR = ("x", "y", "z")
NO_MASKS = ("no run holds the full status.json (frames with masks grey levels): object-token readouts, geometry, "
            "ceiling and binding are not available")


def _root(path: Path) -> Path | None:
    if path.is_dir() and any((path / b).is_dir() for b in BLOCKS):
        return path
    if (path / "dev").is_dir() and any((path / "dev" / b).is_dir() for b in BLOCKS):
        return path / "dev"
    return None


def is_intphys2019(path: Path) -> bool:
    """A folder holding ``O1``/``O2``/``O3`` block folders with ``<scene>/<run>/scene/`` inside (or its parent)."""
    root = _root(path)
    return root is not None and any(p.is_dir() for b in BLOCKS for p in (root / b).glob("*/*/scene"))


def decode_depth(path: str | Path) -> np.ndarray:
    """Distance in millimetres of a 16-bit IntPhys depth PNG (``65535 - p``)."""
    raw = read_image(Path(path), mode="raw").astype(np.int64)
    return (65535 - raw).astype(np.float32)


def _possible(status: Any, where: Path) -> bool:
    header = status.get("header") if isinstance(status, dict) else None
    value = header.get("is_possible") if isinstance(header, dict) else (status.get("possible") if isinstance(status, dict) else None)
    if not isinstance(value, bool):
        raise FileFormatError(f"{where}: no boolean header.is_possible (nor possible); the run's label is unknown")
    return value


def _objects(status: dict, where: Path, n_frames: int) -> tuple[dict[str, np.ndarray], list[dict[str, int]], list[str]] | None:
    """Per-frame object labels and grey levels from a full ``status.json``, or None for a header-only file."""
    frames = status.get("frames")
    if frames is None:
        return None
    if not isinstance(frames, list) or len(frames) != n_frames:
        raise FileFormatError(f"{where}: frames lists {len(frames) if isinstance(frames, list) else 'no'} entries for "
                              f"{n_frames} scene images; give one per frame")
    names = sorted({k for f in frames if isinstance(f, dict) for k in f if k.startswith("object_")},
                   key=lambda k: (len(k), k))
    exists = np.zeros((n_frames, len(names)), bool)
    location = np.full((n_frames, len(names), 3), np.nan, np.float32)
    velocity = np.full((n_frames, len(names), 3), np.nan, np.float32)
    greys = []
    for t, frame in enumerate(frames):
        if not isinstance(frame, dict):
            raise FileFormatError(f"{where}: frames[{t}] is not an object")
        for k, name in enumerate(names):
            entry = frame.get(name)
            if entry is None:
                continue
            try:
                location[t, k] = [float(entry["location"][a]) for a in VECTOR]
                velocity[t, k] = [float(entry["velocity"][a]) for a in VECTOR] if "velocity" in entry else np.nan
            except (KeyError, TypeError, ValueError):
                raise FileFormatError(f"{where}: frames[{t}].{name}: needs location{{x,y,z}} (and velocity{{x,y,z}})") from None
            exists[t, k] = True
        masks = frame.get("masks", {})
        if not isinstance(masks, dict):
            raise FileFormatError(f"{where}: frames[{t}].masks is not an object of actor: grey level")
        greys.append({str(actor): int(level) for actor, level in masks.items()})
    return {"exists": exists, "intphys_location": location, "intphys_velocity": velocity}, greys, names


def _mask_reader(folder: Path, greys: list[dict[str, int]], names: list[str]):
    def read() -> np.ndarray:
        files = frame_files(folder)
        if len(files) != len(greys):
            raise FileFormatError(f"{folder}: {len(files)} mask images for {len(greys)} frames of status.json")
        out = []
        for file, levels in zip(files, greys):
            grey = read_image(file, mode="raw")
            slots = np.full(grey.shape[:2], -1, np.int16)
            for k, name in enumerate(names):
                if name in levels:
                    slots[grey == levels[name]] = k
            out.append(slots)
        return np.stack(out)

    return read


def open_intphys2019(path: Path, *, frame_step: int = 1, window: int | None = None, stride: int | None = None,
                     **_: Any) -> BenchmarkSource:
    """Open an IntPhys 2019 ``dev`` folder (see the module docstring)."""
    root = _root(path)
    if root is None:
        raise FileFormatError(f"--data {path}: not an IntPhys layout; give the dev folder holding O1, O2, O3")
    clips, files, full = [], [], False
    for block in sorted(b for b in BLOCKS if (root / b).is_dir()):
        for scene in sorted(p for p in (root / block).iterdir() if p.is_dir()):
            for run in sorted((p for p in scene.iterdir() if (p / "scene").is_dir()), key=lambda p: (len(p.name), p.name)):
                status_path = run / "status.json"
                if not status_path.is_file():
                    raise FileFormatError(f"{status_path}: missing; an IntPhys run without status.json has no label "
                                          "(the test set cannot be scored); add it or remove the run")
                status = read_json(status_path)
                possible = _possible(status, status_path)
                n_frames = len(frame_files(run / "scene"))
                parsed = _objects(status, status_path, n_frames)
                objects, masks = None, None
                if parsed is not None:
                    objects, greys, names = parsed
                    if (run / "masks").is_dir():
                        masks = _mask_reader(run / "masks", greys, names)
                        full = True
                family = f"{block}/{scene.name}"
                strings = {"family_id": family, "pair_id": family, "kind": "original" if possible else "violation",
                           "violation": BLOCKS[block], "scenario": block, "block": block, "run": run.name}
                clips.append(BenchmarkClip(f"{block}/{scene.name}/{run.name}", run / "scene", strings,
                                           {"possible": float(possible), "violation_frame": 0.0}, objects=objects, masks=masks))
                files.append(status_path)
    has_objects = any(c.objects is not None for c in clips)
    targets = [clip_target("possible")]
    if has_objects:
        targets += [slot_target("intphys_location", 3, unit="cm"), slot_target("intphys_velocity", 3, unit="cm/s")]
    return BenchmarkSource(
        "intphys2019", path, clips, targets=targets,
        provides={"labels", "pairs", "families", *(["masks"] if full else [])},
        unavailable={} if full else {"masks": NO_MASKS},
        notes={"fps": "not stated (100 frames per run)", "windowing": "one window per run from scene_001.png",
               "label_alignment": "status.json frames[i] is the (i+1)-th image; labels taken at the sampled frames",
               "pairing": "the four runs of a scene (every possible run with every impossible run)",
               "depth": "distance_mm = 65535 - png value (probekit.sources.benchmarks.intphys2019.decode_depth)"},
        metadata=files, frame_step=frame_step, window=window, stride=stride, windows="first")
