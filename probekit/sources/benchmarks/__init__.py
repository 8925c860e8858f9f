"""Readers of public physical-reasoning benchmarks, one module each, registered as clip sources.

Each reader is auto-detected from its layout by :func:`probekit.sources.open_source` and can be
forced with ``probekit extract --format NAME``. Each module's docstring states the layout, the
frame rate, the windowing, the frame-time alignment of labels and which provisions (labels,
pairs, masks) the benchmark has; stores record what is missing and why in ``not_available``.
"""

from __future__ import annotations

from probekit.sources.benchmarks import clevrer, grasp, inflevel, intphys2, intphys2019, physion
from probekit.sources.benchmarks.base import BenchmarkClip, BenchmarkSource

#: (name, detect, open, description) of every benchmark reader, in the order they are asked.
BENCHMARKS = (
    ("intphys2", intphys2.is_intphys2, intphys2.open_intphys2, "an IntPhys 2 split (metadata.csv + Videos/)"),
    ("intphys2019", intphys2019.is_intphys2019, intphys2019.open_intphys2019, "an IntPhys 2019 dev folder (O1..O3)"),
    ("grasp", grasp.is_grasp, grasp.open_grasp, "a GRASP folder (P_<Prop>/ and IP_<Prop>/)"),
    ("inflevel", inflevel.is_inflevel, inflevel.open_inflevel, "an InfLevel-lab folder (pair CSVs)"),
    ("physion", physion.is_physion, physion.open_physion, "Physion v1.5 (physion_mp4s/)"),
    ("clevrer", clevrer.is_clevrer, clevrer.open_clevrer, "a CLEVRER folder (video_*.mp4 + annotation_*.json)"),
)

__all__ = ["BENCHMARKS", "BenchmarkClip", "BenchmarkSource"]
