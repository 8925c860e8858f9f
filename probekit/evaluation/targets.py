"""Probe targets built from a store's aligned labels.

A target names a label, its kind (continuous, binary, rotation), its level (per slot and token
step, whole scene per step, per clip, per clip and slot) and optionally a subset of samples
(contact-free or impulse frames, fully occluded frames) or a transform (vector norm, "any slot",
future contact within a horizon). Frames where a slot does not exist are excluded, never
zero-filled; NaN labels are excluded.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from probekit.errors import BadOptionError


@dataclass(frozen=True)
class TargetSpec:
    """One entry of the target catalogue.

    Attributes
    ----------
    name
        Name in suites, ``--targets`` and the results table.
    label
        Store label it is read from (without ``labels/``).
    kind
        ``"continuous"``, ``"binary"`` or ``"rotation"`` (6D, scored by geodesic degrees).
    level
        ``"slot"`` (clip x step x slot), ``"scene"`` (clip x step), ``"clip"`` (clip) or
        ``"clip_slot"`` (clip x slot).
    subset
        ``"all"``, ``"free"`` (no impulse in the step), ``"impulse"``, ``"occluded"``
        (existing but no visible pixel).
    transform
        ``"none"``, ``"norm"`` (vector magnitude), ``"any_slot"`` (scene-level: any existing
        slot true), ``"future"`` (true within the next ``horizon`` frames).
    horizon
        Frames ahead for ``"future"``.
    unit
        Unit of the target (for MAE).
    """

    name: str
    label: str
    kind: str
    level: str = "slot"
    subset: str = "all"
    transform: str = "none"
    horizon: int = 0
    unit: str = "1"


CATALOG: dict[str, TargetSpec] = {
    spec.name: spec
    for spec in [
        TargetSpec("position_camera", "position_camera", "continuous", unit="m"),
        TargetSpec("position_image", "position_image", "continuous", unit="px"),
        TargetSpec("velocity", "velocity_world", "continuous", unit="m/s"),
        TargetSpec("speed", "velocity_world", "continuous", transform="norm", unit="m/s"),
        TargetSpec("acceleration", "acceleration_world", "continuous", unit="m/s^2"),
        TargetSpec("acceleration_free", "acceleration_world", "continuous", subset="free", unit="m/s^2"),
        TargetSpec("acceleration_impulse", "acceleration_world", "continuous", subset="impulse", unit="m/s^2"),
        TargetSpec("acceleration_magnitude", "acceleration_world", "continuous", transform="norm", unit="m/s^2"),
        TargetSpec("acceleration_magnitude_free", "acceleration_world", "continuous", subset="free", transform="norm", unit="m/s^2"),
        TargetSpec("acceleration_magnitude_impulse", "acceleration_world", "continuous", subset="impulse", transform="norm", unit="m/s^2"),
        TargetSpec("contact", "contact_interval", "binary"),
        TargetSpec("contact_now", "contact_now", "binary"),
        TargetSpec("contact_ground", "contact_ground_interval", "binary"),
        TargetSpec("contact_ground_now", "contact_ground_now", "binary"),
        TargetSpec("contact_object", "contact_object_interval", "binary"),
        TargetSpec("contact_object_now", "contact_object_now", "binary"),
        TargetSpec("contact_scenery", "contact_scenery_interval", "binary"),
        TargetSpec("contact_any", "contact_interval", "binary", level="scene", transform="any_slot"),
        TargetSpec("future_contact", "contact_interval", "binary", transform="future", horizon=8),
        TargetSpec("pose", "rot6d_camera", "rotation", unit="deg"),
        TargetSpec("visible_fraction", "visible_fraction", "continuous"),
        TargetSpec("position_occluded", "position_camera", "continuous", subset="occluded", unit="m"),
        TargetSpec("mass", "clip/mass", "continuous", level="clip_slot", unit="kg"),
        TargetSpec("friction", "clip/friction", "continuous", level="clip_slot"),
        TargetSpec("restitution", "clip/restitution", "continuous", level="clip_slot"),
        TargetSpec("gravity", "clip/gravity", "continuous", level="clip", unit="m/s^2"),
    ]
}


#: Names of the built-in targets (stores may declare more, see :func:`register_store_targets`).
BUILTIN_TARGETS = frozenset(CATALOG)


def register_target(spec: TargetSpec) -> TargetSpec:
    """Add a target to the catalogue (e.g. one a labelled folder's store declares).

    Raises
    ------
    BadOptionError
        The name is taken by a different target.
    """
    existing = CATALOG.get(spec.name)
    if existing is not None and existing != spec:
        raise BadOptionError(f"target {spec.name!r} is declared twice with different meanings ({existing.label} vs "
                             f"{spec.label}); rename one of them")
    CATALOG[spec.name] = spec
    return spec


def register_store_targets(paths) -> list[str]:
    """Register the targets that stores declare in their ``targets`` attribute; their names.

    Stores that cannot be opened are left to the caller's own checks.
    """
    from probekit.store import Store

    names: list[str] = []
    for path in paths:
        try:
            with Store(path) as store:
                declared = store.attrs.get("targets") or []
        except Exception:  # unreadable or incomplete stores are reported where they are opened
            continue
        for entry in declared:
            spec = TargetSpec(str(entry["name"]), str(entry["label"]), str(entry["kind"]), level=str(entry.get("level", "slot")),
                              unit=str(entry.get("unit", "1")))
            register_target(spec)
            if spec.name not in names:
                names.append(spec.name)
    return names


_LEVEL_WORDS = {"slot": "per object and token step", "scene": "per token step (scene)", "clip": "per clip",
                "clip_slot": "per object and clip"}
_SUBSET_WORDS = {"all": "", "free": "; only steps with no impulse (free flight)", "impulse": "; only steps with an impulse",
                 "occluded": "; only steps where the object exists but shows no pixel"}


def target_definition(spec: TargetSpec) -> str:
    """One sentence saying what a target is, from the store label it is built from."""
    source = f"labels/{spec.label}"
    what = {
        "none": f"{source}",
        "norm": f"the magnitude (L2 norm) of {source}",
        "any_slot": f"whether {source} is true for any existing object",
        "future": f"whether {source} becomes true within the next {spec.horizon} frames",
    }.get(spec.transform, f"{spec.transform} of {source}")
    kind = {"continuous": "continuous", "binary": "binary", "rotation": "3D orientation (6D), scored by geodesic degrees"}.get(spec.kind, spec.kind)
    unit = "" if spec.unit in ("", "1") else f", in {spec.unit}"
    return f"{what}, {_LEVEL_WORDS.get(spec.level, spec.level)}; {kind}{unit}{_SUBSET_WORDS.get(spec.subset, '')}"


def targets_table() -> "pd.DataFrame":
    """Every target probekit knows (built in and declared by stores opened so far), as a table.

    Returns
    -------
    pandas.DataFrame
        One row per target: ``name``, ``label`` (the store label it is built from),
        ``kind``, ``level``, ``subset``, ``transform``, ``horizon``, ``unit``, ``definition``,
        ``builtin``.
    """
    import pandas as pd

    rows = [{"name": spec.name, "label": spec.label, "kind": spec.kind, "level": spec.level, "subset": spec.subset,
             "transform": spec.transform, "horizon": spec.horizon, "unit": spec.unit,
             "definition": target_definition(spec), "builtin": spec.name in BUILTIN_TARGETS}
            for spec in CATALOG.values()]
    return pd.DataFrame(rows)


def get_target(name: str) -> TargetSpec:
    """Catalogue lookup; an unknown name raises an error listing the catalogue."""
    if name not in CATALOG:
        raise BadOptionError(f"--targets: unknown target {name!r}; valid targets: {', '.join(CATALOG)}")
    return CATALOG[name]


@dataclass
class TargetData:
    """Samples of one target (and slot) in one aligned store.

    Attributes
    ----------
    spec, slot
        The target and slot (-1 for scene- and clip-level targets).
    clip, step
        (n,) clip index and token step of each sample (step -1 for per-clip targets).
    y
        (n, m) float targets (binary as 0/1; rotation as 6D).
    symmetry, half_extents
        For rotation targets: per-sample symmetry code and box half-extents.
    """

    spec: TargetSpec
    slot: int
    clip: np.ndarray
    step: np.ndarray
    y: np.ndarray
    symmetry: np.ndarray | None = None
    half_extents: np.ndarray | None = None


def n_slots(labels: "LabelSource") -> int:
    """Number of object slots K in the store."""
    return int(labels.get("exists").shape[2])


class LabelSource:
    """Cached access to a store's labels (loaded once per run)."""

    def __init__(self, store) -> None:
        self.store = store
        self.names = set(store.label_names)
        self._cache: dict[str, np.ndarray] = {}

    def has(self, name: str) -> bool:
        return name in self.names

    def get(self, name: str) -> np.ndarray:
        if name not in self._cache:
            self._cache[name] = self.store.labels(name)
        return self._cache[name]


def required_labels(spec: TargetSpec) -> list[str]:
    """Labels a target needs beside its own."""
    need = [spec.label]
    if spec.level in ("slot", "scene"):
        need.append("exists")
    if spec.subset in ("free", "impulse"):
        need.append("impulse")
    if spec.subset == "occluded":
        need.append("visible_fraction")
    if spec.kind == "rotation":
        need.append("clip/symmetry")
    return need


def build_target(labels: LabelSource, spec: TargetSpec, slot: int, token_frames: np.ndarray) -> TargetData:
    """Samples of ``spec`` at ``slot`` (ignored for scene/clip level)."""
    raw = labels.get(spec.label)
    if spec.level == "clip":
        y = raw.reshape(len(raw), -1).astype(np.float64)
        clip = np.arange(len(raw))
        keep = np.isfinite(y).all(axis=1)
        return TargetData(spec, -1, clip[keep], np.full(keep.sum(), -1), y[keep])
    if spec.level == "clip_slot":
        exists_any = labels.get("exists")[:, :, slot].any(axis=1) if labels.has("exists") else np.ones(len(raw), bool)
        y = raw[:, slot].reshape(len(raw), -1).astype(np.float64)
        keep = exists_any & np.isfinite(y).all(axis=1)
        clip = np.arange(len(raw))
        return TargetData(spec, slot, clip[keep], np.full(keep.sum(), -1), y[keep])
    exists = labels.get("exists")
    n, t, _ = exists.shape
    if spec.level == "scene":
        values = raw.astype(bool) & exists if spec.transform == "any_slot" else raw
        y = values.any(axis=2).astype(np.float64)[..., None]
        valid = exists.any(axis=2)
        clip, step = np.nonzero(valid)
        return TargetData(spec, -1, clip, step, y[clip, step])
    values = raw[:, :, slot].astype(np.float64)
    values = values.reshape(n, t, -1)
    valid = exists[:, :, slot] & np.isfinite(values).all(axis=2)
    if spec.transform == "norm":
        values = np.linalg.norm(values, axis=2, keepdims=True)
    elif spec.transform == "future":
        # true if the event happens in a token step starting within the next `horizon` frames
        starts = np.asarray(token_frames)[:, 0]
        future = np.zeros((n, t, 1))
        complete = np.zeros(t, bool)
        for s in range(t):
            ahead = (starts > token_frames[s][1]) & (starts <= token_frames[s][1] + spec.horizon)
            complete[s] = starts.max() >= token_frames[s][1] + spec.horizon
            if ahead.any():
                future[:, s, 0] = (raw[:, ahead, slot].astype(bool) & exists[:, ahead, slot]).any(axis=1)
        values = future
        valid = valid & complete[None, :]
    if spec.subset in ("free", "impulse"):
        impulse = labels.get("impulse")[:, :, slot].astype(bool)
        valid &= ~impulse if spec.subset == "free" else impulse
    elif spec.subset == "occluded":
        vis = labels.get("visible_fraction")[:, :, slot]
        valid &= np.nan_to_num(vis, nan=0.0) <= 0.0
    clip, step = np.nonzero(valid)
    data = TargetData(spec, slot, clip, step, values[clip, step])
    if spec.kind == "rotation":
        symmetry = labels.get("clip/symmetry")[:, slot][clip].astype(int)
        keep = symmetry != 0  # spheres: orientation unobservable
        half = labels.get("clip/half_extents")[:, slot][clip] if labels.has("clip/half_extents") else None
        data = TargetData(spec, slot, clip[keep], step[keep], data.y[keep], symmetry[keep], None if half is None else half[keep])
    return data
