"""What the report reads beyond the run directory: the stores' own attributes and the world
file they were extracted from (frames, masks and the role of each object slot).

The run's manifest names its stores (:meth:`probekit.rundir.Run.store_path`); each store records
the file it was extracted from (``source_path``, ``source_format``). When a file is gone the
functions here say why in one line instead of failing, so the report still renders.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

#: Frames shown per scenario in the report's strip.
STRIP_FRAMES = 5


@dataclass
class ScenarioFrames:
    """A few frames of one clip of a scenario, with its objects' visible masks."""

    scenario: str
    clip_id: str
    frames: np.ndarray  # (F,) frame indices
    rgb: np.ndarray  # (F, H, W, 3) uint8
    segmentation: np.ndarray  # (F, H, W) slot index of the visible object, < 0 elsewhere
    roles: list[str]  # role of each slot in this scenario


def encoder_depths(run) -> dict[str, int]:
    """Layers of each store's encoder (``n_encoder_layers``), for stores still on disk."""
    from probekit.formats.store import Store

    found = {}
    for label in run.stores:
        path = run.store_path(label)
        if path is None:
            continue
        with Store(path) as store:
            value = store.attrs.get("n_encoder_layers")
        if isinstance(value, (int, np.integer)) and value > 0:
            found[label] = int(value)
    return found


def world_of(run) -> tuple[Path | None, str]:
    """The world file the run's stores were extracted from, or None and one line saying why."""
    from probekit.formats.store import Store

    reasons = []
    for label in run.stores:
        path = run.store_path(label)
        if path is None:
            reasons.append(f"store {label} is not on disk ({run.input(label).get('path', '?')})")
            continue
        with Store(path) as store:
            source, kind = store.attrs.get("source_path"), store.attrs.get("source_format")
        if kind != "probekit.world" or not source:
            reasons.append(f"store {label} was not extracted from a world file (source: {kind or 'not recorded'})")
            continue
        if not Path(source).is_file():
            reasons.append(f"its world file {source} is not on disk any more")
            continue
        return Path(source), ""
    return None, "; ".join(dict.fromkeys(reasons)) or "the run has no stores"


def slot_roles(world: str | Path) -> dict[str, list[str]]:
    """Per scenario, the role of each object slot (the world file's ``slot_roles``)."""
    from probekit.data import WorldFile

    with WorldFile(world) as handle:
        raw = handle.attrs.get("slot_roles", "{}")
    roles = json.loads(raw) if isinstance(raw, str) else raw
    return {str(k): [str(r) for r in v] for k, v in dict(roles or {}).items()}


def slot_role_text(roles: dict[str, list[str]], slot: int) -> str:
    """``slot 0: falling (drop), mover (collide, occlude)``; empty for scene-level targets or
    when no scenario has the slot."""
    if slot < 0:
        return ""
    by_role: dict[str, list[str]] = {}
    for scenario, names in roles.items():
        if slot < len(names):
            by_role.setdefault(names[slot], []).append(scenario)
    if not by_role:
        return ""
    return f"slot {slot}: " + ", ".join(f"{role} ({', '.join(scenarios)})" for role, scenarios in by_role.items())


def scenario_strips(world: str | Path, n_frames: int = STRIP_FRAMES) -> list[ScenarioFrames]:
    """Evenly spaced frames of the first original clip of every scenario, with visible masks."""
    from probekit.data import WorldFile

    roles = slot_roles(world)
    strips = []
    with WorldFile(world) as handle:
        clips = handle.clips()
        kinds = clips["kind"] if "kind" in clips else np.array(["original"] * len(clips))
        frames = np.unique(np.linspace(0, handle.n_frames - 1, min(n_frames, handle.n_frames)).round().astype(int))
        for scenario in dict.fromkeys(clips["scenario"]):
            rows = np.flatnonzero((clips["scenario"] == scenario).to_numpy() & (np.asarray(kinds) == "original"))
            if not len(rows):
                rows = np.flatnonzero((clips["scenario"] == scenario).to_numpy())
            i = int(rows[0])
            strips.append(ScenarioFrames(
                scenario=str(scenario), clip_id=str(clips["clip_id"].iloc[i]), frames=frames,
                rgb=np.asarray(handle.video(i, "rgb"))[frames], segmentation=np.asarray(handle.video(i, "segmentation"))[frames],
                roles=roles.get(str(scenario), [])))
    return strips


__all__ = ["STRIP_FRAMES", "ScenarioFrames", "encoder_depths", "scenario_strips", "slot_role_text", "slot_roles", "world_of"]
