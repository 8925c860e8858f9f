"""Former home of the clip sources; they live in :mod:`probekit.sources` (imports here keep working)."""

from probekit.sources import (  # noqa: F401
    PER_CLIP_OBJECTS,
    VIDEO_EXTENSIONS,
    ClipBatch,
    VideoFolderSource,
    WorldSource,
    open_source,
)

__all__ = ["PER_CLIP_OBJECTS", "VIDEO_EXTENSIONS", "ClipBatch", "VideoFolderSource", "WorldSource", "open_source"]
