"""Read pooled latents and one label per point from a store, for embeddings (UMAP)."""

from __future__ import annotations

import numpy as np

from probekit.errors import BadOptionError
from probekit.formats.store import TOKEN_FRAMES


def label_for_target(target: str, labels: set[str] | list[str]) -> str | None:
    """The store label a target is read from: the target's own name (or ``clip/<name>``), else
    the probe stage's target catalogue entry (plain per-step or per-clip targets only: no subsets,
    future or any-slot transforms). None when the store has no such label."""
    labels = set(labels)
    if target in labels or f"clip/{target}" in labels:
        return target
    try:
        from probekit.evaluation.targets import get_target

        spec = get_target(target)
    except Exception:  # not in the catalogue (another probekit, a custom target)
        return None
    plain = getattr(spec, "subset", "all") == "all" and getattr(spec, "transform", "none") in ("none", "norm")
    label = str(getattr(spec, "label", ""))
    return label if plain and label in labels else None


def label_per_point(store, name: str, slot: int, kind: str) -> tuple[np.ndarray, bool]:
    """One value per point of a layer's ``kind`` features: (N*T',) for ``time``, (N,) for ``mean``.

    Parameters
    ----------
    store
        An open :class:`probekit.store.Store`.
    name
        A label name (``labels/<name>``); a name only present per clip (``clip/<name>``) is used
        per clip and repeated over steps.
    slot
        Object slot for per-object labels (ignored for scene-level ones).
    kind
        ``time`` or ``mean``.

    Returns
    -------
    values, is_norm
        Values (NaN where the slot does not exist) and whether a vector label was reduced to its norm.
    """
    resolved = label_for_target(name, store.label_names)
    if resolved is None:
        raise BadOptionError(f"{store.path}: no label for {name!r}; labels present: {', '.join(store.label_names)}")
    name = resolved
    per_clip = name not in store.label_names
    path = f"clip/{name}" if per_clip and not name.startswith("clip/") else name
    values = np.asarray(store.labels(path), dtype=float)
    n = values.shape[0]
    steps = int(store.dataset(TOKEN_FRAMES).shape[0]) if kind == "time" else 1
    if per_clip or path.startswith("clip/"):
        if values.ndim >= 2 and slot >= 0:
            values = values[:, slot]
        is_norm = values.ndim > 1
        values = np.linalg.norm(values.reshape(n, -1), axis=1) if is_norm else values.reshape(n)
        return np.repeat(values[:, None], steps, axis=1).reshape(-1), is_norm
    if values.ndim >= 3 and slot >= 0 and "exists" in store.label_names and values.shape[2] == store.labels("exists").shape[2]:
        exists = np.asarray(store.labels("exists"))[:, :, slot].astype(bool)
        values = values[:, :, slot]
        values = np.where(exists.reshape(exists.shape + (1,) * (values.ndim - 2)), values, np.nan)
    is_norm = values.ndim > 2
    if is_norm:
        values = np.linalg.norm(values.reshape(values.shape[0], values.shape[1], -1), axis=-1)
    if kind != "time":
        with np.errstate(all="ignore"):
            values = np.nanmean(values, axis=1)
    return values.reshape(-1), is_norm
