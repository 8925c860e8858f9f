"""The clip-source registry: each source type says which paths it opens; :func:`open_source` picks one."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from probekit.errors import BadOptionError, FileFormatError
from probekit.sources.base import ClipSource


@dataclass(frozen=True)
class SourceType:
    """A registered source type.

    Attributes
    ----------
    name
        Its name (``world``, ``videos``, ``labelled``).
    detect
        ``detect(path) -> bool``: whether this type opens ``path``.
    open
        ``open(path, frame_step=, window=, stride=, on_bad_video=) -> ClipSource``.
    description
        What ``--data`` must be for it (for error messages).
    """

    name: str
    detect: Callable[[Path], bool]
    open: Callable[..., ClipSource]
    description: str


_SOURCES: list[SourceType] = []


def register_source(name: str, detect: Callable[[Path], bool], open: Callable[..., ClipSource], *, description: str,
                    before: str | None = None) -> None:
    """Make a source type available to :func:`open_source`.

    Parameters
    ----------
    name
        Name of the type (unique; registering it again replaces it).
    detect
        Returns True for the paths this type opens; types are asked in registration order.
    open
        Opens a path with the sampling keywords ``frame_step``, ``window``, ``stride`` and ``on_bad_video``.
    description
        Short phrase for error messages (``"a folder of videos"``).
    before
        Ask this type before the named one (a labelled folder is also a folder of videos).
    """
    entry = SourceType(name, detect, open, description)
    existing = [s for s in _SOURCES if s.name != name]
    index = next((i for i, s in enumerate(existing) if s.name == before), len(existing))
    _SOURCES[:] = [*existing[:index], entry, *existing[index:]]


def list_sources() -> list[SourceType]:
    """Registered source types, in the order they are asked."""
    _load_builtins()
    return list(_SOURCES)


def open_source(path: str | os.PathLike, *, frame_step: int = 1, window: int | None = None, stride: int | None = None,
                on_bad_video: str = "skip", format: str | None = None) -> ClipSource:
    """Open ``--data``: the type named by ``format``, else the first registered type whose ``detect`` accepts the path.

    Raises
    ------
    BadOptionError
        The path does not exist, or ``format`` names no registered type (the message lists them).
    FileFormatError
        No source type opens it.
    """
    _load_builtins()
    path = Path(path)
    if format is not None and format not in {s.name for s in _SOURCES}:
        raise BadOptionError(f"--format {format!r}: unknown; known formats: {', '.join(s.name for s in _SOURCES)}")
    if not path.exists():
        raise BadOptionError(f"--data {path}: no such file or folder; give "
                             f"{', '.join(s.description for s in _SOURCES[:-1])} or {_SOURCES[-1].description}")
    sampling = {"frame_step": frame_step, "window": window, "stride": stride, "on_bad_video": on_bad_video}
    if format is not None:
        return next(s for s in _SOURCES if s.name == format).open(path, **sampling)
    for source in _SOURCES:
        if source.detect(path):
            return source.open(path, frame_step=frame_step, window=window, stride=stride, on_bad_video=on_bad_video)
    from probekit.h5io import format_of

    kind = format_of(path)
    found = "a latent store" if kind == "store" else "foreign or unreadable"
    raise FileFormatError(f"--data {path}: not a probekit world file ({found}); pass a file written by `probekit generate`, "
                          f"a folder of videos, or a labelled folder (labels.toml)")


_LOADED = False


def _load_builtins() -> None:
    global _LOADED
    if _LOADED:
        return
    _LOADED = True
    from probekit.sources import labelled, videos, world
    from probekit.sources.benchmarks import BENCHMARKS

    register_source("world", world.is_world_file, world.open_world, description="a world file (.h5)")
    register_source("videos", Path.is_dir, videos.open_video_folder, description="a folder of videos")
    register_source("labelled", labelled.is_labelled_folder, labelled.open_labelled_folder,
                    description="a labelled folder (videos + labels.toml)", before="videos")
    for name, detect, open_, description in BENCHMARKS:  # benchmark layouts are also folders of videos
        register_source(name, detect, open_, description=description, before="videos")

