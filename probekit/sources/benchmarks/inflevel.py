"""InfLevel-lab: pair CSVs (``continuity.csv``, ``gravity.csv``, ``solidity.csv``) + ``<property>/<name>.mp4``.

- ``--data`` is the folder holding the pair CSVs and the property folders; every CSV with the pair
  header below is read.
- Header: ``vid1_path, vid1_start_priming_1, vid1_end_priming_1, vid1_start_priming_2,
  vid1_end_priming_2, vid1_label, vid2_path, ...`` (the same for ``vid2``); paths are relative
  to the folder; labels are ``possible`` or ``impossible``, one of each per row.
- Pairs: each row is one pair (``pair_id`` = family = ``<csv stem>:<line>``); a video listed in
  several rows is read once per row, so each pair stays in one family.
- Windowing: the priming frames are dropped (frames up to ``end_priming_2`` of each video, as in
  the published evaluation without priming); one window from ``end_priming_2 + 1``, default length
  the shortest remainder. The frame rate is not stated; labels are per clip.
- Labels: ``possible`` (1/0), ``priming_end`` (the last dropped frame); principle = the property
  (the first folder of the video path). Provides labels, pairs and families; no masks.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from probekit.errors import FileFormatError
from probekit.sources.benchmarks.base import (BenchmarkClip, BenchmarkSource, clip_target, principle_of, read_csv_table,
                                              require_file)

FIELDS = ("path", "start_priming_1", "end_priming_1", "start_priming_2", "end_priming_2", "label")
HEADER = tuple(f"vid{v}_{f}" for v in (1, 2) for f in FIELDS)
LABELS = {"possible": True, "impossible": False}
NO_MASKS = ("InfLevel-lab ships no per-frame masks or object states: object-token readouts, geometry, ceiling and "
            "binding are not available")


def _pair_csvs(path: Path) -> list[Path]:
    found = []
    for csv in sorted(path.glob("*.csv")):
        with open(csv, encoding="utf-8", errors="replace") as handle:
            if handle.readline().startswith("vid1_path"):
                found.append(csv)
    return found


def is_inflevel(path: Path) -> bool:
    """A folder holding at least one pair CSV whose header starts with ``vid1_path``."""
    return path.is_dir() and bool(_pair_csvs(path))


def open_inflevel(path: Path, *, frame_step: int = 1, window: int | None = None, stride: int | None = None,
                  **_: Any) -> BenchmarkSource:
    """Open an InfLevel-lab folder (see the module docstring)."""
    csvs = _pair_csvs(path)
    clips = []
    for csv in csvs:
        table = read_csv_table(csv, HEADER)
        for i, row in table.iterrows():
            where = f"row {i + 2}"
            labels = []
            for v in (1, 2):
                label = row[f"vid{v}_label"].strip().lower()
                if label not in LABELS:
                    raise FileFormatError(f"{csv}: {where}: vid{v}_label {row[f'vid{v}_label']!r}: use possible or impossible")
                labels.append(LABELS[label])
            if labels[0] == labels[1]:
                raise FileFormatError(f"{csv}: {where}: both videos are {row['vid1_label']}; a pair is one possible and one impossible video")
            for v, possible in zip((1, 2), labels):
                relative = row[f"vid{v}_path"].strip()
                video = require_file(path / relative, csv, where)
                try:
                    end = int(row[f"vid{v}_end_priming_2"])
                except ValueError:
                    raise FileFormatError(f"{csv}: {where}: vid{v}_end_priming_2 {row[f'vid{v}_end_priming_2']!r} is not a frame number") from None
                prop = Path(relative).parts[0] if len(Path(relative).parts) > 1 else csv.stem
                strings = {"family_id": f"{csv.stem}:{i + 2}", "pair_id": f"{csv.stem}:{i + 2}",
                           "kind": "original" if possible else "violation", "violation": principle_of(prop),
                           "scenario": prop, "video": relative}
                clips.append(BenchmarkClip(f"{csv.stem}:{i + 2}:vid{v}", video, strings,
                                           {"possible": float(possible), "violation_frame": 0.0,
                                            "priming_end": float(end)}, first=end + 1))
    return BenchmarkSource(
        "inflevel", path, clips, targets=[clip_target("possible")], provides={"labels", "pairs", "families"},
        unavailable={"masks": NO_MASKS, "objects": NO_MASKS},
        notes={"fps": "not stated by the release", "windowing": "one window per video from end_priming_2 + 1 (priming dropped)",
               "label_alignment": "per-clip labels (possible, priming_end); every window counts for surprise (violation_frame 0 of the window)",
               "pairing": "one pair per CSV row"},
        metadata=csvs, frame_step=frame_step, window=window, stride=stride, windows="first")
