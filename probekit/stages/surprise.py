"""The ``surprise`` stage: violation-of-expectation scores per physical principle.

Each violation twin is matched with the original of its family (identical up to the violation
frame). Two surprise signals are scored:

- ``predictor``: the V-JEPA 2 predictor surprise stored by ``probekit extract --surprise``
  (``surprise/predictor``), one row group per context length; the headline context length
  (4 frames) was fixed before scoring;
- ``dynamics``: for any encoder (pixels included), at every layer, a ridge regression from the
  pooled latents of the ``lags`` previous token steps to the next step's, fitted on the possible
  clips (originals, counterfactuals) of the training families only and scored on the held-out
  families' originals and twins (family-grouped folds); the surprise of a step is the mean
  absolute error of the standardised prediction.

Only windows (steps) whose predicted frames include or follow the violation frame enter a
clip's mean and max. Metrics: :mod:`probekit.metrics.voe`, with family-bootstrap intervals.
Curves: mean surprise of possible and impossible clips against the first predicted frame minus
the violation frame.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from probekit.errors import ProbekitError
from probekit.h5io import read_strings
from probekit.metrics.voe import VOE_METRICS, check_pairs, voe_intervals, voe_metrics
from probekit.stages import Stage, StageContext, StageSkipped, register_stage

#: The violations probekit generates, in report order.
PRINCIPLES = ("permanence", "solidity", "gravity", "continuity", "immutability")
#: Probe targets measuring the quantity each principle needs (immutability: shape and colour have no probe target).
PRINCIPLE_TARGETS: dict[str, tuple[str, ...]] = {
    "permanence": ("visible_fraction", "position_occluded"),
    "solidity": ("contact",),
    "gravity": ("acceleration",),
    "continuity": ("position_camera", "position_image"),
    "immutability": (),
}
#: Ridge penalties searched by generalised cross-validation on the training families.
ALPHAS = tuple(10.0 ** np.arange(-3, 6))


def _holds(store: Any, name: str) -> bool:
    """Whether the store has dataset ``name``."""
    return bool(store.has(name))


def violation_pairs(store: Any) -> pd.DataFrame:
    """One row per twin with its family's original: principle, family_id, possible, impossible, violation_frame.

    ``possible``/``impossible`` are clip indices in the store; ``violation_frame`` is the source
    frame number of the first frame that may differ. Clips are matched within their ``pair_id``
    when the store has one (benchmark readers: a scene's or row's videos), else within their
    family; every original is compared with every violation of its group.
    """
    clips = store.clips()
    if "kind" not in clips or not _holds(store, "clips/violation") or "clip/violation_frame" not in store.label_names:
        return pd.DataFrame(columns=["principle", "family_id", "possible", "impossible", "violation_frame"])
    clips["violation"] = read_strings(store.dataset("clips/violation"))
    clips["violation_frame"] = np.nan_to_num(np.asarray(store.labels("clip/violation_frame"), dtype=np.float64)).astype(int)
    group = read_strings(store.dataset("clips/pair_id")) if _holds(store, "clips/pair_id") else clips["family_id"]
    originals: dict[str, list[int]] = {}
    for i, (key, kind) in enumerate(zip(group, clips["kind"])):
        if kind == "original":
            originals.setdefault(key, []).append(i)
    rows = [{"principle": v, "family_id": fam, "possible": o, "impossible": i, "violation_frame": frame}
            for i, (key, fam, kind, v, frame) in enumerate(zip(group, clips["family_id"], clips["kind"], clips["violation"],
                                                                clips["violation_frame"]))
            if kind == "violation" for o in originals.get(key, [])]
    return pd.DataFrame(rows, columns=["principle", "family_id", "possible", "impossible", "violation_frame"])


def dynamics_surprise(latents: np.ndarray, families: np.ndarray, possible: np.ndarray, *, lags: int = 2,
                      folds: int = 5, seed: int = 0) -> np.ndarray:
    """Held-out surprise of a ridge latent dynamics probe, (N, T) with NaN for the first ``lags`` steps.

    Parameters
    ----------
    latents
        (N, T, D) pooled latents per token step.
    families
        (N,) family of each clip (folds never split a family).
    possible
        (N,) True for clips the probe may be fitted on (not violation twins).
    lags
        Steps of context per prediction.
    folds
        Family-grouped folds; every clip is scored by the probe fitted without its family.
    seed
        Seed of the fold assignment.
    """
    from sklearn.linear_model import RidgeCV
    from sklearn.model_selection import GroupKFold

    z = np.asarray(latents, dtype=np.float64)
    n, t, d = z.shape
    if t <= lags:
        raise StageSkipped(f"the stores hold {t} token steps; the dynamics probe needs more than {lags}")
    x = np.concatenate([z[:, i:t - lags + i] for i in range(lags)], axis=-1)  # (N, T - lags, lags * D)
    y = z[:, lags:]
    out = np.full((n, t), np.nan)
    groups = np.asarray(families)
    n_splits = min(folds, len(np.unique(groups)))
    order = np.random.default_rng(seed).permutation(n)  # GroupKFold is deterministic; shuffle the family order
    splitter = GroupKFold(n_splits=n_splits)
    for train, test in splitter.split(order, groups=groups[order]):
        train, test = order[train], order[test]
        train = train[np.asarray(possible)[train]]
        xt, yt = x[train].reshape(-1, x.shape[-1]), y[train].reshape(-1, d)
        x_mu, x_sd = xt.mean(0), xt.std(0) + 1e-8
        y_mu, y_sd = yt.mean(0), yt.std(0) + 1e-8
        model = RidgeCV(alphas=ALPHAS).fit((xt - x_mu) / x_sd, (yt - y_mu) / y_sd)
        pred = model.predict(((x[test] - x_mu) / x_sd).reshape(-1, x.shape[-1])).reshape(len(test), t - lags, d)
        out[test, lags:] = np.abs(pred - (y[test] - y_mu) / y_sd).mean(-1)
    return out


def _score(surprise: np.ndarray, first_frame: np.ndarray, last_frame: np.ndarray, pairs: pd.DataFrame,
           keys: dict[str, Any], n_boot: int, seed: int) -> list[dict[str, Any]]:
    """Metric and curve rows of one surprise signal: (N, W) per clip, windows predicting frames first..last."""
    rows = []
    others = sorted(set(pairs["principle"]) - set(PRINCIPLES))  # benchmark properties without a probekit principle
    for principle in (*PRINCIPLES, *others):
        sub = pairs[pairs["principle"] == principle]
        if sub.empty:
            continue
        base = {**keys, "principle": principle, "n_pairs": len(sub)}
        a = surprise[sub["possible"].to_numpy()].astype(np.float64)
        b = surprise[sub["impossible"].to_numpy()].astype(np.float64)
        v = sub["violation_frame"].to_numpy()[:, None]
        headline = last_frame[None, :] >= v  # windows whose predicted frames include or follow the violation
        a_head, b_head = np.where(headline, a, np.nan), np.where(headline, b, np.nan)
        try:
            check_pairs(len(sub))
            scores = voe_metrics(a_head, b_head)
            intervals = voe_intervals(a_head, b_head, n_boot=n_boot, seed=seed)
            for name in VOE_METRICS:
                rows.append({**base, "metric": name, "score": scores[name], "ci_low": intervals[name][0],
                             "ci_high": intervals[name][1], "offset": np.nan, "note": ""})
        except ProbekitError as exc:
            rows.append({**base, "metric": "", "score": np.nan, "ci_low": np.nan, "ci_high": np.nan, "offset": np.nan, "note": str(exc)})
        offsets = first_frame[None, :] - v
        for offset in np.unique(offsets):
            hit = (offsets == offset) & np.isfinite(a) & np.isfinite(b)
            if hit.any():
                for name, values in (("curve_possible", a[hit]), ("curve_impossible", b[hit])):
                    rows.append({**base, "metric": name, "score": float(values.mean()), "ci_low": np.nan, "ci_high": np.nan,
                                 "offset": float(offset), "note": "", "n_pairs": int(hit.sum())})
    return rows


def run(context: StageContext) -> pd.DataFrame:
    """Score every store that holds violation twins (see the module docstring)."""
    params = dict(context.params)
    lags = int(params.get("lags", 2))
    n_boot = int(params.get("n_boot", 500))
    rows: list[dict[str, Any]] = []
    any_pairs = False
    for item in context.inputs:
        store = item.store
        pairs = violation_pairs(store)
        if pairs.empty:
            continue
        any_pairs = True
        attrs = store.attrs
        ident = {"store": item.label, "encoder": attrs.get("encoder", ""), "weights": attrs.get("weights", ""),
                 "control": getattr(item, "control", "none") or "none"}
        if _holds(store, "surprise/predictor"):
            values = store.dataset("surprise/predictor")[()]
            contexts = store.dataset("surprise/context_frames")[()]
            predicted = store.dataset("surprise/predicted_frames")[()]
            headline = int((attrs.get("surprise") or {}).get("headline_context", -1))
            for c_index, c in enumerate(contexts):
                keys = {**ident, "method": "predictor", "layer": -1, "context": int(c), "headline": int(c) == headline}
                rows += _score(values[:, c_index], predicted[c_index, :, 0], predicted[c_index, :, 1], pairs, keys, n_boot, context.seed)
            context.log(f"surprise: {item.label}: predictor surprise scored")
        token_frames = store.dataset("layout/token_frames")[()]
        clips = store.clips()
        families = clips["family_id"].to_numpy()
        possible = (clips["kind"] != "violation").to_numpy()
        for layer in store.layers:
            if "time" not in store.feature_kinds(layer):
                continue
            surprise = dynamics_surprise(store.features(layer, "time"), families, possible, lags=lags, folds=context.folds, seed=context.seed)
            keys = {**ident, "method": "dynamics", "layer": int(layer), "context": lags, "headline": layer == store.layers[-1]}
            rows += _score(surprise, token_frames[:, 0], token_frames[:, 1], pairs, keys, n_boot, context.seed)
        context.log(f"surprise: {item.label}: dynamics probe scored at {len(store.layers)} layers")
    if not any_pairs:
        raise StageSkipped("no violation twins in these stores; generate worlds with `probekit generate --voe` "
                           "(or --violations) and extract them")
    return pd.DataFrame(rows)


register_stage(Stage(
    "surprise", "Violation-of-expectation surprise", run, needs=("pairs", "time", "surprise"),
    description="Per principle, how much more surprising impossible twins are than their possible originals (predictor and latent dynamics probe).",
))
