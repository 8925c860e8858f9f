"""What nuisance alone predicts about a world file's physics targets, next to a ground-truth ceiling.

A probe's score means something only where the nuisance a probe gets for free (scenario, frame
index, slot, object count, object size, scene scale) cannot reproduce it. :func:`confound_table`
measures, per target, the best of three nuisance-only models and a ceiling model on observable
ground truth, under family-grouped cross-validation:

- ``additive``: ridge (logistic for binary targets) on scenario, slot, frame, count and size;
- ``interacting``: ridge on scenario x frame and scenario x slot cells plus count and size;
- ``boosted``: histogram gradient boosting on the raw nuisance features.

The nuisance model used in each outer fold is chosen by inner family-grouped CV on the primary
metric (R² for continuous targets, balanced accuracy for binary ones). The ``ceiling`` is
gradient boosting on what the pixels show: the slot's camera-frame trajectory around the frame,
its finite-difference velocity and acceleration, the height of its lowest point above the
ground, and the pixel gap between its silhouette and every other object's. For g (clip level)
the ceiling reads what the motion implies (:func:`_implied_gravity`): |a| in free flight, and on
a slope or the ground the g that the object's acceleration, the slope (from the acceleration's
direction), its shape (sliding or rolling) and its friction imply.

Targets (slot level unless stated; samples are existing slots of original and near-miss clips):

=====================  ========  ==========================================================
target                 kind      definition
=====================  ========  ==========================================================
contact_object         binary    ``contact_object_interval``
contact_ground         binary    ``contact_ground_interval``
speed                  R²        norm of ``velocity_world``
velocity_x             R²        world x velocity (horizontal, in the image plane)
velocity_z             R²        world z velocity (vertical, in the image plane)
acceleration_free      R²        norm of ``acceleration_world`` on frames without impulse,
                                 contact or hold (free flight: equals g)
gravity                R²        ``clips/gravity`` (clip level; nuisance: scenario, object
                                 count, object size, camera distance)
=====================  ========  ==========================================================

A scenario whose base rate of a binary target lies outside [0.1, 0.9], or whose variance of a
continuous target is below 1% of its variance over all scenarios (a constant there, such as g in
a scenario that keeps g fixed), is ``n/a`` for it; the pooled score is over the other scenarios.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import ndimage

#: Binary targets are scored only in scenarios whose base rate lies in this range.
BASE_RATE_RANGE = (0.1, 0.9)
#: Clip kinds whose physics is real (violations and counterfactual duplicates are left out).
PHYSICAL_KINDS = ("original", "near_miss")
#: Nuisance model names, in the order tried.
NUISANCE_MODELS = ("additive", "interacting", "boosted")


@dataclass(frozen=True)
class ConfoundTarget:
    """One row family of the confound table: a target and how it is scored."""

    name: str
    kind: str  # "binary" or "continuous"
    level: str = "slot"  # "slot" or "clip"


TARGETS = (
    ConfoundTarget("contact_object", "binary"),
    ConfoundTarget("contact_ground", "binary"),
    ConfoundTarget("speed", "continuous"),
    ConfoundTarget("velocity_x", "continuous"),
    ConfoundTarget("velocity_z", "continuous"),
    ConfoundTarget("acceleration_free", "continuous"),
    ConfoundTarget("gravity", "continuous", level="clip"),
)


@dataclass
class Samples:
    """Samples of one target: features, target values, groups and scenario of each sample."""

    y: np.ndarray
    nuisance: np.ndarray
    nuisance_names: list[str]
    ceiling: np.ndarray
    groups: np.ndarray
    scenario: np.ndarray


# -- loading -------------------------------------------------------------------------------------
def _load(path: str | os.PathLike) -> dict[str, np.ndarray]:
    from probekit.data import WorldFile

    names = (
        "objects/exists", "objects/contact_object_interval", "objects/contact_ground_interval", "objects/contact_interval",
        "objects/velocity_world", "objects/acceleration_world", "objects/impulse", "objects/position_world",
        "objects/position_camera", "objects/quaternion_world", "objects/half_extents", "objects/shape", "objects/friction",
        "clips/gravity", "clips/extrinsics",
    )
    with WorldFile(path) as world:
        table = world.clips()
        keep = np.flatnonzero(table["kind"].isin(PHYSICAL_KINDS).to_numpy())
        data = {name.split("/")[1]: world.read(name, clips=keep) for name in names}
        data["amodal"] = world.read("masks/amodal", clips=keep)
        held = "objects/held" in world.dataset_names
        data["held"] = world.read("objects/held", clips=keep) if held else np.zeros_like(data["exists"])
        data["fps"] = np.float64(world.fps)
    data["scenario"] = table["scenario"].to_numpy()[keep].astype(str)
    data["family"] = table["family_id"].to_numpy()[keep].astype(str)
    return data


def _lowest_point_height(position: np.ndarray, quat: np.ndarray, extents: np.ndarray, shape: np.ndarray) -> np.ndarray:
    """(N, T, K) height of each object's lowest point above the ground plane z = 0."""
    from scipy.spatial.transform import Rotation

    n, t, k = position.shape[:3]
    out = np.full((n, t, k), np.nan)
    ok = np.isfinite(quat).all(-1)
    if not ok.any():
        return out
    r = Rotation.from_quat(quat[ok]).as_matrix()  # (m, 3, 3); row 2 = world z of each body axis
    e = np.broadcast_to(extents[:, None], (n, t, k, 3))[ok]
    s = np.broadcast_to(shape[:, None], (n, t, k))[ok]
    zrow = np.abs(r[:, 2, :])
    box = (zrow * e).sum(-1)
    sphere = e[:, 0]
    cylinder = e[:, 0] * np.sqrt(np.clip(1 - zrow[:, 2] ** 2, 0, 1)) + e[:, 2] * zrow[:, 2]
    reach = np.where(s == 0, sphere, np.where(s == 1, box, cylinder))
    out[ok] = position[ok][:, 2] - reach
    return out


def _mask_gaps(amodal: np.ndarray) -> np.ndarray:
    """(N, T, K) smallest pixel distance from each silhouette to any other object's (NaN if none)."""
    n, t, k = amodal.shape[:3]
    gaps = np.full((n, t, k), np.nan)
    for i in range(n):
        for f in range(t):
            masks = amodal[i, f]
            present = [j for j in range(k) if masks[j].any()]
            if len(present) < 2:
                continue
            distance = {j: ndimage.distance_transform_edt(~masks[j]) for j in present}
            for j in present:
                others = [distance[o][masks[j]].min() for o in present if o != j]
                gaps[i, f, j] = min(others)
    return gaps


def _window(values: np.ndarray, offsets=(-2, -1, 0, 1, 2)) -> np.ndarray:
    """(N, T, K, ...) -> (N, T, K, len(offsets) * ...) values at clamped neighbouring frames."""
    t = values.shape[1]
    parts = [values[:, np.clip(np.arange(t) + o, 0, t - 1)] for o in offsets]
    return np.concatenate([p.reshape(p.shape[:3] + (-1,)) for p in parts], axis=-1)


def _finite_differences(data: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """(N, T, K, 3) velocity (central difference) and acceleration (second difference) of positions."""
    fps = float(data["fps"])
    p = data["position_world"].astype(np.float64)
    t = p.shape[1]
    prev, nxt = np.clip(np.arange(t) - 1, 0, t - 1), np.clip(np.arange(t) + 1, 0, t - 1)
    span = (nxt - prev).astype(float)[None, :, None, None]
    velocity = (p[:, nxt] - p[:, prev]) / np.maximum(span, 1) * fps
    accel = (p[:, nxt] - 2 * p + p[:, prev]) * fps**2
    accel[:, [0, t - 1]] = np.nan
    return velocity, accel


def _observables(data: dict[str, np.ndarray]) -> np.ndarray:
    """(N, T, K, F) what the pixels show of each slot around each frame (the ceiling's features)."""
    p = data["position_world"].astype(np.float64)
    pc = data["position_camera"].astype(np.float64)
    velocity, accel = _finite_differences(data)
    height = _lowest_point_height(p, data["quaternion_world"].astype(np.float64),
                                  data["half_extents"].astype(np.float64), data["shape"])
    gaps = _mask_gaps(data["amodal"])
    parts = [
        _window(pc), velocity, np.linalg.norm(velocity, axis=-1, keepdims=True), _window(accel, (-1, 0, 1)),
        _window(height[..., None]), _window(gaps[..., None]),
    ]
    return np.concatenate(parts, axis=-1)


def _camera_distance(data: dict[str, np.ndarray]) -> np.ndarray:
    """(N,) distance from the camera to the mean start position of the clip's objects."""
    ext = data["extrinsics"].astype(np.float64)
    eye = -np.einsum("nji,nj->ni", ext[:, :3, :3], ext[:, :3, 3])
    start = np.nanmean(data["position_world"][:, 0].astype(np.float64), axis=1)
    return np.linalg.norm(eye - start, axis=-1)


#: Rolling objects accelerate along a slope at this fraction of g sin(slope) (solid sphere, solid cylinder).
ROLLING_FACTOR = {0: 5.0 / 7.0, 2: 2.0 / 3.0}


def _implied_gravity(data: dict[str, np.ndarray]) -> np.ndarray:
    """(N, 4) per clip: the g its motion implies, from free flight and from motion on a surface.

    Columns: the median over frames of |a| in free flight (no contact, hold or impulse); the
    median of the g implied by an object moving on the ground or a ramp only (no other object
    touching, no hold; slope angle from the acceleration's direction): a box slides
    with a = g (sin t -/+ mu cos t) (minus while speeding up, i.e. downhill; mu its friction, the
    ground's and the ramp's being 1), a sphere or cylinder rolls with a = k g sin t; and the number
    of frames behind each median. NaN where no frame shows g (a rolling object on flat ground).
    """
    n, t, k = data["exists"].shape
    velocity, accel = _finite_differences(data)
    magnitude = np.linalg.norm(accel, axis=-1)
    usable = data["exists"] & ~data["held"] & np.isfinite(magnitude)
    free = usable & ~data["contact_interval"] & ~data["impulse"]
    # on a surface the contact impulse is the normal force: frames of landing or pushing stay out
    surface = usable & data["contact_interval"] & ~data["contact_object_interval"] & (magnitude > 0.05)
    slope = np.arctan2(np.abs(accel[..., 2]), np.linalg.norm(accel[..., :2], axis=-1))
    speeding = (velocity * accel).sum(-1) > 0
    shape = np.broadcast_to(data["shape"][:, None, :], (n, t, k))
    friction = np.broadcast_to(data["friction"].astype(np.float64)[:, None, :], (n, t, k))
    with np.errstate(divide="ignore", invalid="ignore"):
        sliding = np.sin(slope) - np.where(speeding, 1.0, -1.0) * friction * np.cos(slope)
        rolling = np.where(shape == 0, ROLLING_FACTOR[0], ROLLING_FACTOR[2]) * np.sin(slope)
        factor = np.where(shape == 1, sliding, rolling)
        implied = magnitude / factor
    surface &= factor > 0.02
    out = np.full((n, 4), np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        out[:, 0] = np.nanmedian(np.where(free, magnitude, np.nan).reshape(n, -1), axis=1)
        out[:, 1] = np.nanmedian(np.where(surface, implied, np.nan).reshape(n, -1), axis=1)
    out[:, 2] = free.reshape(n, -1).sum(1)
    out[:, 3] = surface.reshape(n, -1).sum(1)
    return out


def build_samples(data: dict[str, np.ndarray], target: ConfoundTarget, observables: np.ndarray | None = None) -> Samples:
    """The samples, nuisance features and ceiling features of one target.

    ``observables`` is :func:`_observables` of ``data`` (computed when not given).
    """
    scen_names, scen_code = np.unique(data["scenario"], return_inverse=True)
    exists = data["exists"]
    n, t, k = exists.shape
    size = np.linalg.norm(np.nan_to_num(data["half_extents"].astype(np.float64)), axis=-1)  # (N, K)
    count = exists.sum(axis=2).astype(float)  # (N, T)
    if target.level == "clip":
        present = exists.any(axis=1)
        mean_size = np.where(present, size, 0).sum(1) / np.maximum(present.sum(1), 1)
        max_size = np.where(present, size, 0).max(1)
        nuisance = np.column_stack([scen_code, present.sum(1), mean_size, max_size, _camera_distance(data)])
        names = ["scenario", "count", "size_mean", "size_max", "camera_distance"]
        ceiling = np.column_stack([_implied_gravity(data), nuisance])
        return Samples(data["gravity"].astype(np.float64), nuisance, names, ceiling, data["family"], data["scenario"])

    clip, frame, slot = np.nonzero(exists)
    y: np.ndarray
    keep = np.ones(len(clip), bool)
    if target.name == "contact_object":
        y = data["contact_object_interval"][clip, frame, slot].astype(float)
    elif target.name == "contact_ground":
        y = data["contact_ground_interval"][clip, frame, slot].astype(float)
    elif target.name == "speed":
        y = np.linalg.norm(data["velocity_world"][clip, frame, slot].astype(np.float64), axis=-1)
    elif target.name == "velocity_x":
        y = data["velocity_world"][clip, frame, slot, 0].astype(np.float64)
    elif target.name == "velocity_z":
        y = data["velocity_world"][clip, frame, slot, 2].astype(np.float64)
    elif target.name == "acceleration_free":
        y = np.linalg.norm(data["acceleration_world"][clip, frame, slot].astype(np.float64), axis=-1)
        keep = ~(data["impulse"] | data["contact_interval"] | data["held"])[clip, frame, slot]
    else:
        raise ValueError(f"unknown confound target {target.name!r}")
    keep &= np.isfinite(y)
    clip, frame, slot, y = clip[keep], frame[keep], slot[keep], y[keep]
    nuisance = np.column_stack([scen_code[clip], slot, frame, count[clip, frame], size[clip, slot]])
    names = ["scenario", "slot", "frame", "count", "size"]
    obs = (_observables(data) if observables is None else observables)[clip, frame, slot]
    ceiling = np.column_stack([obs, nuisance])
    return Samples(y, nuisance, names, ceiling, data["family"][clip], data["scenario"][clip])


# -- models --------------------------------------------------------------------------------------
def _design(kind: str, x: np.ndarray, names: list[str]):
    """A fitted-on-demand sklearn pipeline of one nuisance model for features ``x``."""
    from sklearn.compose import ColumnTransformer
    from sklearn.preprocessing import OneHotEncoder, PolynomialFeatures, StandardScaler
    from sklearn.pipeline import make_pipeline

    categorical = [i for i, name in enumerate(names) if name in ("scenario", "slot")]
    numeric = [i for i, name in enumerate(names) if name not in ("scenario", "slot", "frame")]
    frame = [i for i, name in enumerate(names) if name == "frame"]
    onehot = OneHotEncoder(handle_unknown="ignore", sparse_output=False)
    if kind == "additive":
        return ColumnTransformer([("cat", onehot, categorical), ("num", StandardScaler(), numeric + frame)])
    if kind == "interacting":
        cells = categorical + frame
        return ColumnTransformer([
            ("cells", make_pipeline(OneHotEncoder(handle_unknown="ignore", sparse_output=False),
                                    PolynomialFeatures(2, interaction_only=True, include_bias=False)), cells),
            ("num", StandardScaler(), numeric),
        ])
    raise ValueError(kind)


def _model(name: str, binary: bool, names: list[str], x: np.ndarray, seed: int):
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
    from sklearn.linear_model import LogisticRegression, RidgeCV
    from sklearn.pipeline import make_pipeline

    if name == "boosted":
        categorical = [n_ in ("scenario", "slot") for n_ in names]
        if binary:
            return HistGradientBoostingClassifier(max_iter=100, learning_rate=0.1, class_weight="balanced",
                                                  categorical_features=categorical, early_stopping=False,
                                                  random_state=seed)
        return HistGradientBoostingRegressor(max_iter=100, learning_rate=0.1, categorical_features=categorical,
                                             early_stopping=False, random_state=seed)
    head = (LogisticRegression(C=1.0, class_weight="balanced", max_iter=2000) if binary
            else RidgeCV(alphas=np.logspace(-3, 3, 7)))
    return make_pipeline(_design(name, x, names), head)


def _ceiling_model(binary: bool, seed: int):
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

    if binary:
        return HistGradientBoostingClassifier(max_iter=200, class_weight="balanced", early_stopping=False,
                                              random_state=seed)
    return HistGradientBoostingRegressor(max_iter=200, early_stopping=False, random_state=seed)


def _score(binary: bool, y: np.ndarray, pred: np.ndarray) -> float:
    from sklearn.metrics import balanced_accuracy_score, r2_score

    if len(y) < 2 or (binary and len(np.unique(y)) < 2):
        return float("nan")
    return float(balanced_accuracy_score(y, pred) if binary else r2_score(y, pred))


def _folds(groups: np.ndarray, n_splits: int, seed: int):
    from sklearn.model_selection import GroupKFold

    n_groups = len(np.unique(groups))
    return GroupKFold(n_splits=min(n_splits, n_groups), shuffle=True, random_state=seed)


def _fit_predict(model, x_train, y_train, x_test, binary: bool) -> np.ndarray:
    from threadpoolctl import threadpool_limits

    if binary and len(np.unique(y_train)) < 2:
        return np.full(len(x_test), y_train[0] if len(y_train) else 0.0)
    # one thread: OpenMP workers spin-wait and slow down by orders of magnitude on a busy machine
    with warnings.catch_warnings(), threadpool_limits(limits=1):
        warnings.simplefilter("ignore")
        model.fit(x_train, y_train)
        return model.predict(x_test)


def nuisance_predictions(samples: Samples, binary: bool, folds: int = 5, inner_folds: int = 3,
                         seed: int = 0) -> tuple[np.ndarray, list[str]]:
    """Out-of-fold predictions of the nuisance model chosen by inner CV in each outer fold.

    Returns
    -------
    tuple
        (n,) predictions and the model chosen in each outer fold.
    """
    x, y, groups = samples.nuisance, samples.y, samples.groups
    pred = np.full(len(y), np.nan)
    chosen = []
    for train, test in _folds(groups, folds, seed).split(x, y, groups):
        inner = {}
        for name in NUISANCE_MODELS:
            inner_pred = np.full(len(train), np.nan)
            for itr, ite in _folds(groups[train], inner_folds, seed + 1).split(x[train], y[train], groups[train]):
                model = _model(name, binary, samples.nuisance_names, x, seed)
                inner_pred[ite] = _fit_predict(model, x[train][itr], y[train][itr], x[train][ite], binary)
            inner[name] = _score(binary, y[train], inner_pred)
        best = max(NUISANCE_MODELS, key=lambda m: -np.inf if np.isnan(inner[m]) else inner[m])
        chosen.append(best)
        model = _model(best, binary, samples.nuisance_names, x, seed)
        pred[test] = _fit_predict(model, x[train], y[train], x[test], binary)
    return pred, chosen


def ceiling_predictions(samples: Samples, binary: bool, folds: int = 5, seed: int = 0) -> np.ndarray:
    """Out-of-fold predictions of gradient boosting on the observable ground truth."""
    x, y, groups = samples.ceiling, samples.y, samples.groups
    pred = np.full(len(y), np.nan)
    for train, test in _folds(groups, folds, seed).split(x, y, groups):
        seen = np.isfinite(x[train]).sum(0) >= 2  # a feature with no values in the training fold tells nothing
        pred[test] = _fit_predict(_ceiling_model(binary, seed), x[train][:, seen], y[train], x[test][:, seen], binary)
    return pred


def applicable_scenarios(samples: Samples, binary: bool) -> dict[str, tuple[bool, float]]:
    """Per scenario: whether the target is scored there, and its base rate (binary targets; NaN otherwise).

    A binary target needs a base rate in :data:`BASE_RATE_RANGE`; a continuous one a variance of
    at least :data:`probekit.metrics.regression.VARIANCE_FLOOR` times its variance over all scenarios.
    """
    from probekit.metrics.regression import VARIANCE_FLOOR, negligible_variance

    total = float(np.var(samples.y)) if len(samples.y) else 0.0
    out = {}
    for scenario in np.unique(samples.scenario):
        y = samples.y[samples.scenario == scenario]
        if binary:
            rate = float(y.mean())
            out[str(scenario)] = (BASE_RATE_RANGE[0] <= rate <= BASE_RATE_RANGE[1], rate)
        else:
            out[str(scenario)] = (not negligible_variance(y, total, VARIANCE_FLOOR), float("nan"))
    return out


def score_table(samples: Samples, target: ConfoundTarget, nuisance_pred: np.ndarray, ceiling_pred: np.ndarray | None,
                chosen: list[str]) -> pd.DataFrame:
    """Rows per scenario and pooled: base rate (binary), nuisance and ceiling scores."""
    binary = target.kind == "binary"
    rows = []
    in_range = []
    for scenario, (ok, rate) in applicable_scenarios(samples, binary).items():
        mask = samples.scenario == scenario
        if ok:
            in_range.append(mask)
        rows.append((scenario, int(mask.sum()), rate, ok, mask))
    pooled = np.any(in_range, axis=0) if in_range else np.zeros(len(samples.y), bool)
    rows.append(("pooled", int(pooled.sum()),
                 float(samples.y[pooled].mean()) if binary and pooled.any() else float("nan"), bool(pooled.any()), pooled))
    out = []
    for scenario, count, rate, ok, mask in rows:
        out.append({
            "target": target.name,
            "metric": "balanced_accuracy" if binary else "r2",
            "scenario": scenario,
            "n": count,
            "base_rate": rate,
            "applicable": ok,
            "nuisance": _score(binary, samples.y[mask], nuisance_pred[mask]) if ok else float("nan"),
            "ceiling": (_score(binary, samples.y[mask], ceiling_pred[mask]) if ok and ceiling_pred is not None
                        else float("nan")),
            "nuisance_models": ",".join(sorted(set(chosen))),
        })
    return pd.DataFrame(out)


def confound_table(path: str | os.PathLike, *, targets: tuple[str, ...] | None = None, folds: int = 5,
                   seed: int = 0, ceiling: bool = True) -> pd.DataFrame:
    """Per target and scenario: what nuisance alone predicts and what the ground-truth ceiling reaches.

    Parameters
    ----------
    path
        A world file written by ``probekit generate``.
    targets
        Names from :data:`TARGETS` (default: all).
    folds
        Outer family-grouped folds (inner selection uses 3).
    seed
        Seed of the fold assignment and the boosted models.
    ceiling
        Also fit the ceiling model.

    Returns
    -------
    pandas.DataFrame
        Columns ``target, metric, scenario, n, base_rate, applicable, nuisance, ceiling,
        nuisance_models``; one row per scenario plus ``pooled`` (over the applicable scenarios).
    """
    from probekit.errors import BadOptionError

    known = {t.name: t for t in TARGETS}
    wanted = tuple(known) if targets is None else tuple(targets)
    for name in wanted:
        if name not in known:
            raise BadOptionError(f"confound target {name!r}: unknown; valid targets: {', '.join(known)}")
    data = _load(path)
    if len(np.unique(data["family"])) < 2 * folds:
        raise BadOptionError(
            f"{path}: {len(np.unique(data['family']))} families is too few for {folds}-fold family-grouped CV; "
            f"generate at least {2 * folds} clips"
        )
    observables = _observables(data) if any(known[name].level == "slot" for name in wanted) else None
    frames = []
    for name in wanted:
        target = known[name]
        samples = build_samples(data, target, observables)
        binary = target.kind == "binary"
        applicable = [s for s, (ok, _) in applicable_scenarios(samples, binary).items() if ok]
        keep = np.isin(samples.scenario, applicable)
        if len(np.unique(samples.groups[keep])) < 2:  # nothing to score (no scenario applies)
            frames.append(score_table(samples, target, np.full(len(samples.y), np.nan), None, []))
            continue
        samples_fit = Samples(samples.y[keep], samples.nuisance[keep], samples.nuisance_names,
                              samples.ceiling[keep], samples.groups[keep], samples.scenario[keep])
        pred = np.full(len(samples.y), np.nan)
        pred_fit, chosen = nuisance_predictions(samples_fit, binary, folds=folds, seed=seed)
        pred[keep] = pred_fit
        ceil = None
        if ceiling:
            ceil = np.full(len(samples.y), np.nan)
            ceil[keep] = ceiling_predictions(samples_fit, binary, folds=folds, seed=seed)
        frames.append(score_table(samples, target, pred, ceil, chosen))
    return pd.concat(frames, ignore_index=True)


def format_table(table: pd.DataFrame) -> str:
    """The confound table as fixed-width text (one line per target and scenario)."""
    lines = [f"{'target':<18} {'metric':<6} {'scenario':<8} {'n':>7} {'base':>5} {'nuisance':>8} {'ceiling':>7}  models"]
    for row in table.itertuples():
        metric = "bacc" if row.metric == "balanced_accuracy" else "R2"
        base = "" if np.isnan(row.base_rate) else f"{row.base_rate:.2f}"
        nuis = "n/a" if not row.applicable else f"{row.nuisance:.2f}"
        ceil = "n/a" if not row.applicable or np.isnan(row.ceiling) else f"{row.ceiling:.2f}"
        models = row.nuisance_models if row.scenario == "pooled" else ""
        lines.append(f"{row.target:<18} {metric:<6} {row.scenario:<8} {row.n:>7} {base:>5} {nuis:>8} {ceil:>7}  {models}")
    return "\n".join(lines)
