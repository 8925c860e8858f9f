"""Clip sources: where ``probekit extract`` reads clips and their labels.

A source type is registered once (:func:`register_source`) and chosen by :func:`open_source`
from the path: world files (``probekit generate``), labelled folders (videos + a table mapped by
``labels.toml``), public benchmarks (:mod:`probekit.sources.benchmarks`: IntPhys 2, IntPhys 2019,
GRASP, InfLevel-lab, Physion v1.5, CLEVRER), and folders of plain videos. Every source follows
:class:`ClipSource` and says which labels, masks and pairs it ``provides``.
"""

from probekit.sources.base import PER_CLIP_OBJECTS, PROVISIONS, VIDEO_EXTENSIONS, ClipBatch, ClipSource
from probekit.sources.labelled import LabelledFolderSource
from probekit.sources.registry import list_sources, open_source, register_source
from probekit.sources.videos import VideoFolderSource
from probekit.sources.world import WorldSource

__all__ = [
    "PER_CLIP_OBJECTS",
    "PROVISIONS",
    "VIDEO_EXTENSIONS",
    "ClipBatch",
    "ClipSource",
    "LabelledFolderSource",
    "VideoFolderSource",
    "WorldSource",
    "list_sources",
    "open_source",
    "register_source",
]
