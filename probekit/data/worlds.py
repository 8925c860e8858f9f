"""Reader of world files written by ``probekit generate``; its home is :mod:`probekit.formats.world`."""

from probekit.formats.world import CLIP_COLUMNS, WorldFile

__all__ = ["CLIP_COLUMNS", "WorldFile"]
