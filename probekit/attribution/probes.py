"""Per-fold linear probes for attribution, fitted exactly as the run fitted them.

Each clip is explained by the probe of the outer fold that held its family out. The probes are
refitted here from the store with the run's folds, seed and readout grid (the linear readouts are
deterministic, so these are the run's probes), which keeps ``attribute`` independent of the run's
cache layout.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from probekit.attribution.model import LinearProbe
from probekit.errors import BadOptionError

#: Readouts ``attribute`` can explain (linear maps of pooled tokens).
LINEAR_READOUTS = {"linear": "time", "object": "object"}


@dataclass
class FoldProbes:
    """The outer-fold probes of one (store, target, slot, readout, layer).

    Attributes
    ----------
    probes
        One :class:`LinearProbe` per outer fold.
    clip_fold
        ``(N,)`` outer fold of each clip.
    clip, step, y
        The target's samples (clip index, token step, value).
    binary
        Whether the target is binary (probes output the logit).
    """

    probes: list[LinearProbe]
    clip_fold: np.ndarray
    clip: np.ndarray
    step: np.ndarray
    y: np.ndarray
    binary: bool


def fit_fold_probes(store, target: str, slot: int, readout: str, layer: int, *, folds: int, seed: int,
                    params: dict | None = None) -> FoldProbes:
    """Fit the outer-fold probes of one target on one store layer.

    Raises
    ------
    BadOptionError
        A readout that is not linear, a target that is neither continuous nor binary, or too few samples.
    """
    from probekit.evaluation.splits import family_folds
    from probekit.evaluation.targets import LabelSource, build_target, get_target
    from probekit.probes.linear import LogisticProbe, RidgeProbe

    if readout not in LINEAR_READOUTS:
        raise BadOptionError(f"--readout {readout!r}: attribution explains linear readouts; use one of {', '.join(LINEAR_READOUTS)}")
    spec = get_target(target)
    if spec.kind not in ("continuous", "binary"):
        raise BadOptionError(f"--targets {target}: a {spec.kind} target has no single output to explain; choose a continuous or binary target")
    if spec.level not in ("slot", "scene"):
        raise BadOptionError(f"--targets {target}: a per-clip target has no time step to explain; choose a per-step target")
    labels = LabelSource(store)
    token_frames = store.dataset("layout/token_frames")[()]
    data = build_target(labels, spec, slot if spec.level == "slot" else -1, token_frames)
    feats = np.asarray(store.features(layer, LINEAR_READOUTS[readout]), dtype=np.float64)
    if readout == "object":
        if spec.level != "slot":
            raise BadOptionError(f"--targets {target}: object-token readouts explain per-object targets only")
        X = feats[data.clip, data.step, slot]
    else:
        X = feats[data.clip, data.step]
    keep = np.isfinite(X).all(axis=1) & np.isfinite(data.y).all(axis=1)
    clip, step, y, X = data.clip[keep], data.step[keep], data.y[keep], X[keep]
    families = np.asarray(store.clips()["family_id"])
    clip_fold = family_folds(families, folds, seed)
    params = dict(params or {})
    probes = []
    binary = spec.kind == "binary"
    for fold in range(folds):
        train = clip_fold[clip] != fold
        if train.sum() < 4:
            raise BadOptionError(f"--targets {target}: fold {fold} has {int(train.sum())} training samples; use more clips")
        groups = families[clip[train]]
        if binary:
            if len(np.unique(y[train, 0])) < 2:
                raise BadOptionError(f"--targets {target}: fold {fold}'s training samples hold one class only; use more clips")
            kw = {"Cs": params["Cs"]} if "Cs" in params else {}
            est = LogisticProbe(random_state=seed, **kw).fit(X[train], y[train, 0].astype(int), groups=groups)
            probes.append(LinearProbe(np.atleast_2d(est.coef_), np.atleast_1d(est.intercept_), LINEAR_READOUTS[readout]))
        else:
            kw = {"alphas": params["alphas"]} if "alphas" in params else {}
            est = RidgeProbe(random_state=seed, **kw).fit(X[train], y[train] if y.shape[1] > 1 else y[train, 0], groups=groups)
            probes.append(LinearProbe(np.atleast_2d(est.coef_), np.atleast_1d(est.intercept_), LINEAR_READOUTS[readout]))
    return FoldProbes(probes, clip_fold, clip, step, y, binary)


def explained_step(probes: FoldProbes, clip: int) -> int | None:
    """The token step explained for ``clip``: a binary target's onset (first positive step), else the middle sample."""
    rows = np.nonzero(probes.clip == clip)[0]
    if not len(rows):
        return None
    if probes.binary:
        positive = rows[probes.y[rows, 0] > 0.5]
        if len(positive):
            return int(probes.step[positive].min())
    steps = np.sort(probes.step[rows])
    return int(steps[len(steps) // 2])
