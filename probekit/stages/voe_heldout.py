"""The ``voe_heldout`` stage: surprise scores and possible/impossible calls for unlabelled clips
(IntPhys 2 HeldOut), calibrated on the labelled ones of the same stores.

Per store, at the last layer with ``time`` latents: the latent dynamics surprise of the
``surprise`` stage (:func:`probekit.stages.surprise.dynamics_surprise`, ridge from ``lags``
previous steps to the next, fitted on the possible clips of the training families of
family-grouped folds, so no clip is scored by a probe that saw it); a clip's surprise is its max
over windows; the threshold is the VoE reference's absolute threshold
(:func:`probekit.metrics.voe.absolute_threshold`: the possible clips' max surprises sorted, at
0-indexed ``ceil(0.9 n)``), and a clip is called possible when its surprise does not exceed it.
Beside the table, ``tables/voe_heldout_submission.csv`` holds ``name, surprise, predicted_possible`` for
submission.
"""

from __future__ import annotations

from typing import Annotated, Any

import numpy as np
import pandas as pd
from pydantic import Field

from probekit.errors import ProbekitError
from probekit.h5io import read_strings
from probekit.metrics.voe import absolute_threshold, reduce_windows
from probekit.stages import Stage, StageContext, StageSkipped, register_stage
from probekit.stages.surprise import dynamics_surprise
from probekit.validation import StrictModel

#: File written beside the stage table.
CSV_NAME = "voe_heldout_submission.csv"


class VoeHeldoutParams(StrictModel):
    """``[stages.voe_heldout]`` of a suite."""

    lags: Annotated[int, Field(ge=1, le=100, strict=True)] = 2


def _column(store: Any, name: str, n: int) -> np.ndarray:
    return np.asarray(read_strings(store.dataset(f"clips/{name}")) if store.has(f"clips/{name}") else [""] * n)


def run(context: StageContext) -> pd.DataFrame:
    """Score the unlabelled clips of every store that also holds labelled possible clips (module docstring)."""
    from probekit.formats.atomic import atomic_write

    params = VoeHeldoutParams(**dict(context.params))
    rows: list[dict[str, Any]] = []
    reasons = []
    for item in context.inputs:
        store = item.store
        clips = store.clips()
        kind = clips["kind"].to_numpy() if "kind" in clips else np.array([""] * len(clips))
        unlabelled, possible = kind == "unlabelled", kind == "original"
        if not unlabelled.any():
            reasons.append(f"{item.label}: no unlabelled clips (kind = unlabelled, e.g. IntPhys 2 HeldOut)")
            continue
        layers = [layer for layer in store.layers if "time" in store.feature_kinds(layer)]
        if not layers:
            reasons.append(f"{item.label}: no time latents (extract with --pool time)")
            continue
        layer = layers[-1]
        try:
            surprise = dynamics_surprise(store.features(layer, "time"), clips["family_id"].to_numpy(), possible,
                                         lags=params.lags, folds=context.folds, seed=context.seed)
            per_clip = reduce_windows(surprise, "max")
            threshold = absolute_threshold(per_clip[possible])
        except (StageSkipped, ProbekitError) as exc:
            reasons.append(f"{item.label}: {' '.join(str(exc).split())}")
            continue
        split = _column(store, "split", len(clips))
        for i in np.flatnonzero(unlabelled):
            rows.append({"store": item.label, "encoder": store.attrs.get("encoder", ""), "layer": int(layer),
                         "name": clips["clip_id"].iloc[i], "split": split[i], "surprise": float(per_clip[i]),
                         "threshold": threshold, "predicted_possible": bool(per_clip[i] <= threshold)})
        context.log(f"voe_heldout: {item.label}: {int(unlabelled.sum())} unlabelled clips scored at layer {layer}")
    if not rows:
        raise StageSkipped("; ".join(reasons) or "no stores")
    table = pd.DataFrame(rows)
    tables = context.out / "tables"
    tables.mkdir(parents=True, exist_ok=True)
    atomic_write(tables / CSV_NAME, table[["name", "surprise", "predicted_possible"]].to_csv(index=False).encode())
    return table


register_stage(Stage(
    "voe_heldout", "Unlabelled clips: surprise and possible/impossible calls", run, needs=("time",),
    description="Latent dynamics surprise of unlabelled clips (IntPhys 2 HeldOut), called possible below the possible clips' 90th-percentile threshold.",
    params_model=VoeHeldoutParams,
))
