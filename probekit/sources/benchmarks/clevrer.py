"""CLEVRER: ``video_XXXXX.mp4`` + ``annotation_XXXXX.json`` (anywhere below ``--data``).

- Videos and annotations are matched by their number; an annotation whose video is absent is an
  error naming it; videos without annotation (the test split) are left out with a warning.
- Annotation: ``motion_trajectory`` = one entry per frame (``frame_id``, ``objects`` with
  ``object_id``, ``location`` [x, y, z], ``velocity`` [vx, vy, vz], ``orientation``,
  ``inside_camera_view``); ``collision`` (or ``collisions``, written by a re-generator) =
  ``[{"object_ids": [a, b], "frame_id": f}]``.
- Per frame and object (slot = ``object_id``): ``clevrer_location``, ``clevrer_velocity``,
  ``clevrer_orientation`` (the file's units, which CLEVRER does not document), ``clevrer_visible``
  (``inside_camera_view``) and ``clevrer_contact``: true within +-:data:`CONTACT_FRAMES` frames of
  a listed collision of the object. An object exists in the frames that list it.
- Frame-time alignment: 128 frames at 25 fps; trajectory entry ``frame_id`` f labels video frame
  f (time f / 25 s); labels are taken at the same sampled frames as the images.
- Windowing: windows of ``--window`` sampled frames every ``--stride`` (default: the whole
  video, one window); each video is one family.
- Provides labels and families; no masks, so object-token readouts, geometry, ceiling and binding
  are not available.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from probekit.errors import FileFormatError
from probekit.sources.benchmarks.base import BenchmarkClip, BenchmarkSource, read_json, slot_target

#: A frame is a contact frame of an object when a collision of that object is at most this many frames away.
CONTACT_FRAMES = 2
FPS = 25
_VIDEO = re.compile(r"^video_(\d+)\.mp4$")
_ANNOTATION = re.compile(r"^annotation_(\d+)\.json$")
NO_MASKS = "CLEVRER ships no per-frame masks: object-token readouts, geometry, ceiling and binding are not available"


def _numbered(path: Path, pattern: re.Pattern, glob: str) -> dict[int, Path]:
    found = {}
    for p in sorted(path.rglob(glob)):
        match = pattern.match(p.name)
        if match and p.is_file():
            found[int(match.group(1))] = p
    return found


def is_clevrer(path: Path) -> bool:
    """A folder with ``annotation_*.json`` and ``video_*.mp4`` files below it."""
    return (path.is_dir() and next(path.rglob("annotation_*.json"), None) is not None
            and next(path.rglob("video_*.mp4"), None) is not None)


def _vector(value: Any, width: int | None, where: str, key: str) -> list[float]:
    if not isinstance(value, list) or (width is not None and len(value) != width):
        raise FileFormatError(f"{where}: {key} must be a list of {width or 'equal-length'} numbers")
    try:
        return [float(v) for v in value]
    except (TypeError, ValueError):
        raise FileFormatError(f"{where}: {key} holds a non-number") from None


def parse_annotation(data: Any, where: Path) -> dict[str, np.ndarray]:
    """Per-frame object arrays (T, K, ...) of one annotation: exists, location, velocity, orientation, visible, contact."""
    if not isinstance(data, dict) or not isinstance(data.get("motion_trajectory"), list):
        raise FileFormatError(f"{where}: no motion_trajectory list")
    key = "collision" if "collision" in data else "collisions" if "collisions" in data else None
    if key is None:
        raise FileFormatError(f"{where}: neither collision nor collisions is present")
    trajectory = data["motion_trajectory"]
    ids = sorted({int(o.get("object_id", -1)) for f in trajectory if isinstance(f, dict) for o in f.get("objects", [])
                  if isinstance(o, dict)})
    if ids and ids[0] < 0:
        raise FileFormatError(f"{where}: an object in motion_trajectory has no object_id")
    n_frames = 1 + max((int(f.get("frame_id", i)) for i, f in enumerate(trajectory) if isinstance(f, dict)), default=-1)
    k = (ids[-1] + 1) if ids else 0
    exists = np.zeros((n_frames, k), bool)
    location = np.full((n_frames, k, 3), np.nan, np.float32)
    velocity = np.full((n_frames, k, 3), np.nan, np.float32)
    visible = np.zeros((n_frames, k, 1), bool)
    orientation: dict[tuple[int, int], list[float]] = {}
    for i, frame in enumerate(trajectory):
        if not isinstance(frame, dict) or not isinstance(frame.get("objects"), list):
            raise FileFormatError(f"{where}: motion_trajectory[{i}] needs frame_id and objects")
        t = int(frame.get("frame_id", i))
        for obj in frame["objects"]:
            here = f"{where}: frame_id {t}, object_id {obj.get('object_id')}"
            missing = [f for f in ("location", "velocity", "inside_camera_view") if f not in obj]
            if missing:
                raise FileFormatError(f"{here}: missing {', '.join(missing)}")
            o = int(obj["object_id"])
            exists[t, o] = True
            location[t, o] = _vector(obj["location"], 3, here, "location")
            velocity[t, o] = _vector(obj["velocity"], 3, here, "velocity")
            visible[t, o, 0] = bool(obj["inside_camera_view"])
            if "orientation" in obj:
                orientation[(t, o)] = _vector(obj["orientation"], None, here, "orientation")
    contact = np.zeros((n_frames, k, 1), bool)
    for j, event in enumerate(data[key]):
        if not isinstance(event, dict) or "frame_id" not in event or not isinstance(event.get("object_ids"), list):
            raise FileFormatError(f"{where}: {key}[{j}] needs object_ids and frame_id")
        f = int(event["frame_id"])
        for o in event["object_ids"]:
            if not 0 <= int(o) < k:
                raise FileFormatError(f"{where}: {key}[{j}] names object {o}, which has no trajectory")
            contact[max(0, f - CONTACT_FRAMES): f + CONTACT_FRAMES + 1, int(o), 0] = True
    out = {"exists": exists, "clevrer_location": location, "clevrer_velocity": velocity, "clevrer_visible": visible,
           "clevrer_contact": contact & exists[..., None]}
    widths = {len(v) for v in orientation.values()}
    if len(widths) > 1:
        raise FileFormatError(f"{where}: orientation lengths differ ({sorted(widths)}); give one length")
    if widths:
        values = np.full((n_frames, k, widths.pop()), np.nan, np.float32)
        for (t, o), v in orientation.items():
            values[t, o] = v
        out["clevrer_orientation"] = values
    return out


def open_clevrer(path: Path, *, frame_step: int = 1, window: int | None = None, stride: int | None = None,
                 **_: Any) -> BenchmarkSource:
    """Open a CLEVRER folder (see the module docstring)."""
    videos = _numbered(path, _VIDEO, "video_*.mp4")
    annotations = _numbered(path, _ANNOTATION, "annotation_*.json")
    clips, widths = [], set()
    for number, annotation in sorted(annotations.items()):
        data = read_json(annotation)
        name = data.get("video_filename", f"video_{number:05d}.mp4") if isinstance(data, dict) else ""
        if number not in videos:
            raise FileFormatError(f"{annotation}: its video {name} is not under {path}; restore it or remove the annotation")
        objects = parse_annotation(data, annotation)
        if "clevrer_orientation" in objects:
            widths.add(objects["clevrer_orientation"].shape[2])
        clips.append(BenchmarkClip(videos[number].stem, videos[number],
                                   {"family_id": videos[number].stem, "scenario": "clevrer", "kind": "original"},
                                   objects=objects))
    if len(widths) > 1:
        raise FileFormatError(f"--data {path}: orientation lengths differ between annotations ({sorted(widths)})")
    if widths:  # every clip needs the same labels: videos whose annotation has no orientation get NaN
        for clip in clips:
            if "clevrer_orientation" not in clip.objects:
                t, k = clip.objects["exists"].shape
                clip.objects["clevrer_orientation"] = np.full((t, k, next(iter(widths))), np.nan, np.float32)
    unannotated = sorted(set(videos) - set(annotations))
    if unannotated:
        warnings.warn(f"--data {path}: {len(unannotated)} video(s) without annotation are left out "
                      f"({', '.join(videos[n].name for n in unannotated[:3])})", stacklevel=2)
    targets = [slot_target("clevrer_location", 3), slot_target("clevrer_velocity", 3),
               slot_target("clevrer_visible", 1, kind="binary"), slot_target("clevrer_contact", 1, kind="binary")]
    if widths:
        targets.append(slot_target("clevrer_orientation", next(iter(widths))))
    return BenchmarkSource(
        "clevrer", path, clips, targets=targets, provides={"labels", "families"},
        unavailable={"masks": NO_MASKS, "pairs": "CLEVRER has no violation pairs"},
        notes={"fps": FPS, "frames": 128, "contact_frames": CONTACT_FRAMES,
               "windowing": "windows of --window sampled frames every --stride (default: the whole video)",
               "label_alignment": "motion_trajectory frame_id f labels video frame f (t = f / 25 s)"},
        metadata=sorted(annotations.values()), frame_step=frame_step, window=window, stride=stride, windows="all")
