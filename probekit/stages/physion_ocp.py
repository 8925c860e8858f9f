"""The ``physion_ocp`` stage: Physion's object-contact-prediction readout protocol, so numbers compare
with published ones.

Protocol (``neuroailab/physion_evaluator``, ``train_readout.py``): per store and layer, the clip
features of the ``train`` split are standardised (``StandardScaler``) and fed to an L2
``LogisticRegression`` (scikit-learn's lbfgs, ``max_iter`` 20000); C is chosen from the grid
``Cs`` by ``GridSearchCV`` with ``StratifiedKFold(folds, shuffle=True, random_state=seed)`` on
the train clips (accuracy); the refitted model is scored by accuracy on the ``test`` split,
overall and per scenario, with a percentile bootstrap interval over test clips. Features are the
store's per-step ``time`` features flattened (the frames the Physion reader took: up to frame 45,
15 for collision), else its ``mean`` features. One readout is fitted over all scenarios.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import numpy as np
import pandas as pd
from pydantic import Field

from probekit.h5io import read_strings
from probekit.stages import Stage, StageContext, StageSkipped, register_stage
from probekit.validation import FiniteFloat, StrictModel

#: The OCP label the Physion reader stores per clip.
LABEL = "clip/physion_ocp"
#: The published grid of inverse regularisation strengths.
DEFAULT_CS = (1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0, 100.0)


class PhysionOcpParams(StrictModel):
    """``[stages.physion_ocp]`` of a suite."""

    Cs: Annotated[list[Annotated[FiniteFloat, Field(gt=0)]], Field(min_length=1)] = Field(default_factory=lambda: list(DEFAULT_CS))
    folds: Annotated[int, Field(ge=2, le=100, strict=True)] = 5
    features: Literal["time", "mean"] = "time"
    layers: Literal["all", "last"] = "all"
    n_boot: Annotated[int, Field(ge=1, le=1_000_000, strict=True)] = 1000


def readout_pipeline():
    """``StandardScaler`` then L2 ``LogisticRegression`` (lbfgs, max_iter 20000), as the protocol fixes them."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), LogisticRegression(solver="lbfgs", max_iter=20000))  # L2: the default penalty


def fit_readout(x_train: np.ndarray, y_train: np.ndarray, Cs, folds: int, seed: int):
    """The protocol's grid search over C on the train clips; returns the fitted ``GridSearchCV``."""
    from sklearn.model_selection import GridSearchCV, StratifiedKFold

    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    search = GridSearchCV(readout_pipeline(), {"logisticregression__C": list(Cs)}, cv=splitter, scoring="accuracy")
    return search.fit(x_train, y_train)


def _interval(correct: np.ndarray, n_boot: int, seed: int) -> tuple[float, float]:
    rng = np.random.default_rng(seed)
    means = correct[rng.integers(0, len(correct), size=(n_boot, len(correct)))].mean(axis=1)
    return float(np.quantile(means, 0.025)), float(np.quantile(means, 0.975))


def _features(store: Any, layer: int, kind: str) -> np.ndarray:
    values = np.asarray(store.features(layer, kind), dtype=np.float64)
    return values.reshape(len(values), -1)


def run(context: StageContext) -> pd.DataFrame:
    """Score every store holding Physion OCP labels with train and test clips (module docstring)."""
    params = PhysionOcpParams(**dict(context.params))
    rows: list[dict[str, Any]] = []
    reasons = []
    for item in context.inputs:
        store = item.store
        clips = store.clips()
        if LABEL not in store.label_names or not store.has("clips/split"):
            reasons.append(f"{item.label}: no {LABEL} label with a split column (extract a Physion v1.5 physion_mp4s folder)")
            continue
        clips["split"] = read_strings(store.dataset("clips/split"))
        y = np.asarray(store.labels(LABEL), dtype=np.float64)
        train, test = (clips["split"] == "train").to_numpy(), (clips["split"] == "test").to_numpy()
        if not train.any() or not test.any():
            reasons.append(f"{item.label}: needs clips of both the train and the test split")
            continue
        if len(np.unique(y[train])) < 2 or np.bincount(y[train].astype(int)).min() < params.folds:
            reasons.append(f"{item.label}: each OCP outcome needs at least {params.folds} train clips for {params.folds}-fold stratified CV")
            continue
        scenarios = clips["scenario"].to_numpy()
        layers = store.layers if params.layers == "all" else [store.layers[-1]]
        for layer in layers:
            kinds = store.feature_kinds(layer)
            kind = params.features if params.features in kinds else "mean"
            if kind not in kinds:
                continue
            x = _features(store, layer, kind)
            search = fit_readout(x[train], y[train].astype(int), params.Cs, params.folds, context.seed)
            correct = (search.predict(x[test]) == y[test].astype(int)).astype(np.float64)
            base = {"store": item.label, "encoder": store.attrs.get("encoder", ""), "layer": int(layer), "features": kind,
                    "C": float(search.best_params_["logisticregression__C"]), "cv_accuracy": float(search.best_score_),
                    "n_train": int(train.sum()), "metric": "accuracy"}
            for scenario in ["all", *sorted(set(scenarios[test]))]:
                mask = np.ones(int(test.sum()), bool) if scenario == "all" else scenarios[test] == scenario
                low, high = _interval(correct[mask], params.n_boot, context.seed)
                rows.append({**base, "scenario": scenario, "n_test": int(mask.sum()), "score": float(correct[mask].mean()),
                             "ci_low": low, "ci_high": high})
        context.log(f"physion_ocp: {item.label}: OCP readout scored at {len(layers)} layer(s)")
    if not rows:
        raise StageSkipped("; ".join(reasons) or "no stores")
    return pd.DataFrame(rows)


register_stage(Stage(
    "physion_ocp", "Physion object-contact prediction (published readout protocol)", run, needs=("labels",),
    description="StandardScaler + L2 logistic regression (lbfgs), C by 5-fold stratified grid search on train, test accuracy per scenario.",
    params_model=PhysionOcpParams,
))
