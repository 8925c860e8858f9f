"""Readers of world files (and, later, external video datasets)."""

from probekit.data.worlds import WorldFile

__all__ = ["WorldFile"]
