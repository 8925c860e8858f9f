"""The diagnosis: pure functions over a run's results table and inner-CV selections.

For every store (encoder) and target the evidence is read at the layer chosen by inner CV for
each readout (``selection.csv``), never at the best test layer. A readout *beats its controls*
when its score exceeds the strongest required control by at least the stated margin and the
lower end of its 95% interval lies above that control. Required controls: the nuisance baseline
for every readout, the mask-geometry baseline in addition for object-token readouts, and chance
(a control that scores below chance, such as a negative R², sets no bar).

The pattern the evidence fits, per target:

``encoded``
    some readout beats its controls and, where object-token readouts were fitted, they beat
    their mask-geometry baseline too.
``entangled``
    a pooled readout (linear, MLP, attentive) beats its controls but the object-token readout
    does not beat its mask-geometry baseline: the information is there but not bound to the
    object's own tokens.
``over-invariant``
    no readout beats its controls although the ceiling probe (ground-truth masks and depth) or
    the pixel baseline does: the data carry the property and the encoder throws it away.
``not carried``
    no readout beats its controls and neither do the ceiling or the pixels: the data as sampled
    do not show the property, so nothing can be said about the encoder.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field, replace
import numpy as np
import pandas as pd

from probekit.formats.run import as_run, sentinel_indices
from probekit.metrics.specs import DISPLAY_NAMES as METRIC_NAMES
from probekit.metrics.specs import LOWER_IS_BETTER, get_metric, primary_order
from probekit.rundir import STORE_CONTROLS

#: Readouts that read a pooled vector (or all tokens) rather than the object's own tokens.
POOLED_READOUTS = ("linear", "spatial", "mlp", "attentive")
OBJECT_READOUT = "object"
#: Readout display order.
READOUT_ORDER = ("linear", "spatial", "object", "mlp", "attentive")
PATTERNS = ("encoded", "entangled", "over-invariant", "not carried", "baseline")
#: How baseline stores are named in the text.
BASELINE_WORDS = {"random_init": "random-weight", "pixels": "pixel", "shuffled": "shuffled-frames"}
#: ``control`` values of baselines fitted beside a store's readouts.
ROW_CONTROLS = ("nuisance", "geometry", "control_task", "ceiling")


@dataclass(frozen=True)
class Thresholds:
    """Margins a score must clear to count as beating a control.

    Parameters
    ----------
    min_gain
        Least gain over the control in the metric's own units (R², balanced accuracy, AUROC,
        accuracy).
    min_gain_deg
        Least gain in degrees for the geodesic pose error (lower is better).
    min_gain_mae_fraction
        Least gain for MAE, as a fraction of the control's MAE.
    """

    min_gain: float = 0.05
    min_gain_deg: float = 5.0
    min_gain_mae_fraction: float = 0.1

    def margin(self, metric: str, control_score: float) -> float:
        """The least gain needed over ``control_score`` for ``metric``."""
        if metric == "geodesic_deg":
            return self.min_gain_deg
        if metric == "mae":
            return self.min_gain_mae_fraction * abs(control_score)
        return self.min_gain


@dataclass
class Score:
    """One score with its 95% interval, read from one results row."""

    score: float
    ci_low: float = math.nan
    ci_high: float = math.nan
    layer: int = -1
    label: str = ""

    @classmethod
    def from_row(cls, row: pd.Series, label: str = "") -> "Score":
        return cls(float(row["score"]), float(row["ci_low"]), float(row["ci_high"]), int(row["layer"]), label)


@dataclass
class ReadoutEvidence:
    """A readout at the layer chosen for it, beside its required controls.

    Attributes
    ----------
    baseline
        The strongest required control (``label`` names it: nuisance, geometry or chance).
    gain
        ``score - baseline`` (``baseline - score`` for lower-is-better metrics).
    margin
        The least gain required (see :class:`Thresholds`).
    beats
        Whether the readout beats its controls.
    layer_by_inner_cv
        False when ``selection.csv`` lacked this readout and the best test layer was used.
    controls
        Every control level found at this readout and layer, by control name.
    nested
        True when the score is the nested-selection score of ``selection.csv`` (layer chosen
        per outer fold); ``layer`` is then the layer chosen most often.
    per_fold_layers
        The layer chosen in each outer fold, when the run records it.
    per_fold_readouts
        For the readout chosen by inner CV: the readout chosen in each outer fold, when these
        differ and ``score`` is the nested score of that per-fold choice (``selection.csv``'s
        ``choice == "readout"`` row).
    """

    readout: str
    layer: int
    score: Score
    baseline: Score
    gain: float
    margin: float
    beats: bool
    layer_by_inner_cv: bool = True
    controls: dict[str, Score] = field(default_factory=dict)
    nested: bool = False
    per_fold_layers: list[int] = field(default_factory=list)
    per_fold_readouts: list[str] = field(default_factory=list)


@dataclass
class TargetDiagnosis:
    """Everything the report says about one (store, target, slot)."""

    store: str
    target: str
    slot: int
    metric: str
    unit: str
    readouts: dict[str, ReadoutEvidence]
    chosen_readout: str | None
    readout_by_inner_cv: bool
    pattern: str
    reason: str
    data_evidence: dict[str, Score] = field(default_factory=dict)
    references: dict[str, Score] = field(default_factory=dict)
    chance: float | None = None
    ceiling: Score | None = None
    note: str = ""

    @property
    def chosen(self) -> ReadoutEvidence | None:
        """Evidence of the readout chosen by inner CV."""
        return self.readouts.get(self.chosen_readout) if self.chosen_readout else None

    @property
    def name(self) -> str:
        """Display name: the target, with the slot for per-object targets."""
        return target_name(self.target, self.slot)


def target_name(target: str, slot: int) -> str:
    """``target`` for scene-level targets, ``target [slot k]`` for per-object ones."""
    return target if slot < 0 else f"{target} [slot {slot}]"


def fmt(value: float | None, signed: bool = False) -> str:
    """Format a number the way every report text and table does (3 decimals)."""
    if value is None or not np.isfinite(value):
        return "n/a"
    return f"{value:+.3f}" if signed else f"{value:.3f}"


def better(metric: str, a: float, b: float) -> float:
    """Gain of ``a`` over ``b`` for ``metric`` (positive when ``a`` is better)."""
    return (b - a) if metric in LOWER_IS_BETTER else (a - b)


def primary_metric(rows: pd.DataFrame) -> str | None:
    """The first metric of the registry's primary order scored in ``rows`` (finite scores only)."""
    present = set(rows.loc[np.isfinite(rows["score"].to_numpy(dtype=float)), "metric"])
    return next((m for m in primary_order() if m in present), None)


def chance_level(metric: str, rows: pd.DataFrame | None = None) -> float | None:
    """Chance level of ``metric`` from its :class:`~probekit.metrics.specs.MetricSpec` (0 for R²,
    0.5 for balanced accuracy and AUROC); the majority share (from the ``base_rate`` row) for
    accuracy; None where no fixed level exists."""
    try:
        chance = get_metric(metric).chance
    except ValueError:
        return None
    if isinstance(chance, (int, float)):
        return float(chance)
    if chance == "majority" and rows is not None:
        base = rows.loc[rows["metric"] == "base_rate", "score"]
        if len(base):
            rate = float(base.iloc[0])
            return max(rate, 1.0 - rate)
    return None


def target_unit(results: pd.DataFrame, target: str, slot: int) -> str:
    """The target's own unit (from its MAE rows, which carry it; scores such as R² are unitless)."""
    rows = results[(results["target"] == target) & (results["slot"] == slot)]
    for pool in (rows[rows["metric"] == "mae"], rows[rows["metric"] == "geodesic_deg"], rows):
        units = [u for u in pool["unit"] if u and u != "1"]
        if units:
            return str(units[0])
    return "1"


def targets_of(results: pd.DataFrame) -> list[tuple[str, int]]:
    """(target, slot) pairs in the order they first appear in the table."""
    pairs = results[["target", "slot"]].drop_duplicates()
    return [(str(t), int(s)) for t, s in pairs.itertuples(index=False)]


def main_rows(results: pd.DataFrame) -> pd.DataFrame:
    """Rows that score a store itself (control ``none`` or the store's own control kind:
    ``random_init``, ``pixels``, ``shuffled``), not a control fitted beside it."""
    return results[results["control"].isin(STORE_CONTROLS)]


def probe_stores(results: pd.DataFrame) -> list[str]:
    """Stores with at least one finite main score, in table order (the ``labels`` pseudo-store
    that holds the label-only baselines is not one)."""
    rows = main_rows(results)
    rows = rows[np.isfinite(rows["score"].to_numpy(dtype=float)) & (rows["store"] != "")]
    return [str(s) for s in rows["store"].drop_duplicates()]


def store_kind(results: pd.DataFrame, store: str) -> str:
    """What a store stands for: ``none`` (an encoder), ``random_init``, ``pixels`` or ``shuffled``."""
    rows = main_rows(results[results["store"] == store])
    kinds = [k for k in rows["control"].drop_duplicates() if k != "none"]
    if kinds:
        return str(kinds[0])
    encoder = str(rows["encoder"].iloc[0]) if len(rows) else ""
    weights = str(rows["weights"].iloc[0]) if len(rows) else ""
    if encoder.startswith("pixel"):
        return "pixels"
    return "random_init" if weights == "random" else "none"


def _selection_rows(selection: pd.DataFrame, store: str, target: str, slot: int) -> pd.DataFrame:
    if selection.empty or not {"store", "target", "slot", "readout"} <= set(selection.columns):
        return selection.iloc[0:0]
    return selection[
        (selection["store"].astype(str) == store)
        & (selection["target"].astype(str) == target)
        & (selection["slot"] == slot)
    ]


def selection_row(selection: pd.DataFrame, store: str, target: str, slot: int, readout: str) -> pd.Series | None:
    """The ``selection.csv`` row that gives the layer chosen by inner CV for one readout."""
    rows = _selection_rows(selection, store, target, slot)
    if rows.empty:
        return None
    rows = rows[rows["readout"].astype(str) == readout]
    if "choice" in rows.columns:
        rows = rows[rows["choice"].astype(str) == "layer"]
    rows = rows[rows["layer"] >= 0] if "layer" in rows.columns else rows.iloc[0:0]
    return rows.iloc[0] if len(rows) else None


def selected_layer(selection: pd.DataFrame, store: str, target: str, slot: int, readout: str) -> int | None:
    """Layer chosen by inner CV for one readout (the most frequent over outer folds)."""
    row = selection_row(selection, store, target, slot, readout)
    return None if row is None else int(row["layer"])


def selected_readout(selection: pd.DataFrame, store: str, target: str, slot: int) -> str | None:
    """Readout chosen by inner CV for one (store, target, slot): the ``choice == "readout"`` row
    of ``selection.csv``."""
    rows = _selection_rows(selection, store, target, slot)
    if rows.empty:
        return None
    if "choice" in rows.columns:
        picked = rows[rows["choice"].astype(str) == "readout"]
        if len(picked):
            return str(picked["readout"].iloc[0])
    return None


def readout_choice_row(selection: pd.DataFrame, store: str, target: str, slot: int) -> pd.Series | None:
    """The ``choice == "readout"`` row of ``selection.csv`` for one (store, target, slot), if any."""
    rows = _selection_rows(selection, store, target, slot)
    if rows.empty or "choice" not in rows.columns:
        return None
    rows = rows[rows["choice"].astype(str) == "readout"]
    return rows.iloc[0] if len(rows) else None


def with_nested_readout_score(
    ev: ReadoutEvidence, row: pd.Series | None, metric: str, thresholds: Thresholds,
) -> ReadoutEvidence:
    """``ev`` scored by the nested readout choice of ``row`` when the outer folds chose differently.

    The probe engine chooses the readout again in every outer fold by inner CV and scores the
    held-out predictions of those choices together; that score (not the score of the readout
    chosen most often) is the honest estimate of "the readout chosen by inner CV".
    """
    if row is None or "score" not in row.index or ("metric" in row.index and str(row["metric"]) != metric):
        return ev
    picks = json.loads(row["per_fold"]) if isinstance(row.get("per_fold"), str) and str(row["per_fold"]).startswith("[") else []
    score = float(row["score"])
    if not np.isfinite(score) or len(set(picks)) <= 1:
        return ev
    nested = Score(score, float(row["ci_low"]), float(row["ci_high"]), ev.layer, ev.readout)
    if np.isfinite(ev.baseline.score):
        ok, gain, margin = beats(metric, nested, ev.baseline, thresholds)
    else:
        ok, gain, margin = False, math.nan, math.nan
    return replace(ev, score=nested, gain=gain, margin=margin, beats=ok, nested=True, per_fold_readouts=[str(p) for p in picks])


def _best(rows: pd.DataFrame, metric: str) -> pd.Series:
    return rows.iloc[int(np.argmax([better(metric, s, 0.0) for s in rows["score"]]))]


def control_score(
    results: pd.DataFrame, store: str, target: str, slot: int, control: str, readout: str, layer: int, metric: str,
) -> Score | None:
    """A control's score beside one readout of one store.

    Looked up in the store's own rows, then in the label-only baselines (the ``labels``
    pseudo-store, layer -1); the same readout is preferred to another, the same layer to the
    strongest layer.
    """
    rows = results[(results["target"] == target) & (results["slot"] == slot) & (results["scenario"] == "all")
                   & (results["control"] == control) & (results["metric"] == metric)]
    rows = rows[np.isfinite(rows["score"].to_numpy(dtype=float))]
    if rows.empty:
        return None
    encoders = set(probe_stores(results))
    own = rows[rows["store"] == store]
    shared = rows[~rows["store"].isin(encoders)]
    for pool in (own[own["readout"] == readout], own, shared[shared["readout"] == readout], shared):
        if len(pool):
            at_layer = pool[pool["layer"] == layer]
            row = at_layer.iloc[0] if len(at_layer) else _best(pool, metric)
            label = control if row["readout"] == readout else f"{control} ({row['readout']})"
            return Score.from_row(row, label)
    return None


def beats(metric: str, score: Score, control: Score, thresholds: Thresholds) -> tuple[bool, float, float]:
    """Whether ``score`` beats ``control``: gain at least the margin and interval clear of it.

    Returns
    -------
    (beats, gain, margin)
    """
    gain = better(metric, score.score, control.score)
    margin = thresholds.margin(metric, control.score)
    bound = score.ci_high if metric in LOWER_IS_BETTER else score.ci_low
    clear = better(metric, bound, control.score) > 0 if np.isfinite(bound) else True
    return bool(gain >= margin and clear), float(gain), float(margin)


def readout_evidence(
    results: pd.DataFrame,
    selection: pd.DataFrame,
    store: str,
    target: str,
    slot: int,
    readout: str,
    metric: str,
    thresholds: Thresholds,
) -> ReadoutEvidence | None:
    """Evidence of one readout of one (store, target, slot) at its inner-CV layer.

    With a ``selection.csv`` row that carries a score (the probe engine's nested selection: the
    layer is chosen again in every outer fold by inner CV and the held-out predictions of those
    choices are scored together), that score is the readout's score and ``layer`` is the layer
    chosen most often. Without one, the results row at the selected layer is used; without any
    selection, the best test layer, flagged as such.
    """
    rows = main_rows(results)
    main = rows[(rows["store"] == store) & (rows["target"] == target) & (rows["slot"] == slot) & (rows["scenario"] == "all")
                & (rows["readout"] == readout) & (rows["metric"] == metric)]
    main = main[np.isfinite(main["score"].to_numpy(dtype=float))]
    if main.empty:
        return None
    chosen = selection_row(selection, store, target, slot, readout)
    per_fold: list[int] = []
    nested = False
    if chosen is not None:
        layer = int(chosen["layer"])
        by_cv = True
        if "per_fold" in chosen.index and isinstance(chosen["per_fold"], str) and chosen["per_fold"].startswith("["):
            per_fold = [int(v) for v in json.loads(chosen["per_fold"])]
        same_metric = "metric" not in chosen.index or str(chosen["metric"]) == metric
        if "score" in chosen.index and same_metric and np.isfinite(float(chosen["score"])):
            score = Score(float(chosen["score"]), float(chosen["ci_low"]), float(chosen["ci_high"]), layer, readout)
            nested = True
        elif (main["layer"] == layer).any():
            score = Score.from_row(main[main["layer"] == layer].iloc[0], readout)
        else:
            chosen = None
    if chosen is None:
        by_cv = False
        row = _best(main, metric)
        layer = int(row["layer"])
        score = Score.from_row(row, readout)
    controls: dict[str, Score] = {}
    for control in ROW_CONTROLS:
        found = control_score(results, store, target, slot, control, readout, layer, metric)
        if found is not None:
            controls[control] = found
    required = [controls["nuisance"]] if "nuisance" in controls else []
    if readout == OBJECT_READOUT and "geometry" in controls:
        required.append(controls["geometry"])
    level = chance_level(metric, results[(results["target"] == target) & (results["slot"] == slot)])
    if level is not None:  # a control that scores below chance (R² < 0) is no bar: chance is
        required.append(Score(level, label="chance"))
    if required:
        baseline = max(required, key=lambda s: better(metric, s.score, 0.0))  # first wins ties
    else:
        baseline = Score(math.nan, label="chance")
    if np.isfinite(baseline.score):
        ok, gain, margin = beats(metric, score, baseline, thresholds)
    else:
        ok, gain, margin = False, math.nan, math.nan
    return ReadoutEvidence(readout, layer, score, baseline, gain, margin, ok, by_cv, controls, nested, per_fold)


def _data_carry_evidence(
    results: pd.DataFrame,
    selection: pd.DataFrame,
    store: str,
    target: str,
    slot: int,
    metric: str,
    thresholds: Thresholds,
) -> dict[str, Score]:
    """Ceiling probes and pixel stores that beat the nuisance baseline: the data carry the target."""
    evidence: dict[str, Score] = {}
    ceiling = results[(results["target"] == target) & (results["slot"] == slot) & (results["scenario"] == "all")
                      & (results["control"] == "ceiling") & (results["metric"] == metric)]
    ceiling = ceiling[np.isfinite(ceiling["score"].to_numpy(dtype=float))]
    for readout, group in ceiling.groupby("readout", sort=False):
        best = Score.from_row(_best(group, metric), f"ceiling ({readout})")
        nuisance = control_score(results, str(group["store"].iloc[0]), target, slot, "nuisance", str(readout), -1, metric)
        if nuisance is None:
            level = chance_level(metric, results[(results["target"] == target) & (results["slot"] == slot)])
            nuisance = Score(level, label="chance") if level is not None else None
        if nuisance is not None and beats(metric, best, nuisance, thresholds)[0]:
            evidence[best.label] = best
    for pixel_store in [s for s in probe_stores(results) if s != store and store_kind(results, s) == "pixels"]:
        for readout in READOUT_ORDER:
            ev = readout_evidence(results, selection, pixel_store, target, slot, readout, metric, thresholds)
            if ev is not None and ev.beats:
                evidence[f"{pixel_store} ({readout})"] = ev.score
    return evidence


def twin_of(results: pd.DataFrame, store: str, kind: str) -> str | None:
    """The store of the same encoder that stands for control ``kind`` (``random_init`` or
    ``shuffled``) beside ``store``."""
    if store_kind(results, store) != "none":
        return None
    rows = main_rows(results[results["store"] == store])
    encoder = str(rows["encoder"].iloc[0]) if len(rows) else ""
    for other in probe_stores(results):
        if other == store or store_kind(results, other) != kind:
            continue
        other_rows = main_rows(results[results["store"] == other])
        if encoder and str(other_rows["encoder"].iloc[0]) == encoder:
            return other
    return None


def diagnose_target(
    results: pd.DataFrame,
    selection: pd.DataFrame,
    store: str,
    target: str,
    slot: int,
    thresholds: Thresholds = Thresholds(),
) -> TargetDiagnosis | None:
    """Diagnose one (store, target, slot); None when the table has no row for it."""
    rows = results[(results["store"] == store) & (results["target"] == target) & (results["slot"] == slot)
                   & (results["scenario"] == "all")]
    if rows.empty:
        return None
    main = main_rows(rows)
    unit = target_unit(results, target, slot)
    metric = primary_metric(main)
    if metric is None:
        notes = sorted({n for n in rows["note"] if n})
        return TargetDiagnosis(store, target, slot, "", unit, {}, None, False, "skipped",
                               "; ".join(notes) or "no finite score in the results table", note="; ".join(notes))
    readouts: dict[str, ReadoutEvidence] = {}
    for readout in list(dict.fromkeys(list(READOUT_ORDER) + sorted(set(main["readout"])))):
        ev = readout_evidence(results, selection, store, target, slot, readout, metric, thresholds)
        if ev is not None:
            readouts[readout] = ev
    chosen = selected_readout(selection, store, target, slot)
    by_cv = chosen in readouts
    if by_cv:
        readouts[chosen] = with_nested_readout_score(
            readouts[chosen], readout_choice_row(selection, store, target, slot), metric, thresholds)
    else:
        chosen = max(readouts, key=lambda r: better(metric, readouts[r].score.score, 0.0)) if readouts else None
    data_evidence = _data_carry_evidence(results, selection, store, target, slot, metric, thresholds)
    pattern, reason = classify(readouts, data_evidence, metric)
    kind = store_kind(results, store)
    if kind != "none":  # pixels, random weights, shuffled frames: baselines, never an encoder's failure
        carries = any(ev.beats for ev in readouts.values())
        pattern = "baseline"
        reason = (f"a {BASELINE_WORDS.get(kind, kind)} baseline, not an encoder under test: it "
                  + ("beats its controls" if carries else "does not beat its controls"))
    references: dict[str, Score] = {}
    if chosen is not None:
        ev = readouts[chosen]
        for kind in ("random_init", "shuffled"):
            twin = twin_of(results, store, kind)
            if twin is not None:
                tev = readout_evidence(results, selection, twin, target, slot, chosen, metric, thresholds)
                if tev is not None:
                    references[kind] = Score(tev.score.score, tev.score.ci_low, tev.score.ci_high, tev.layer, twin)
        sel = rows[(rows["readout"] == chosen) & (rows["metric"] == "selectivity") & (rows["layer"] == ev.layer)]
        sel = sel[np.isfinite(sel["score"].to_numpy(dtype=float))]
        if len(sel):
            references["selectivity"] = Score.from_row(sel.iloc[0], "selectivity")
    return TargetDiagnosis(
        store, target, slot, metric, unit, readouts, chosen, by_cv, pattern, reason,
        data_evidence=data_evidence, references=references,
        chance=chance_level(metric, results[(results["target"] == target) & (results["slot"] == slot)]),
        ceiling=ceiling_of(results, target, slot, metric),
    )


def ceiling_of(results: pd.DataFrame, target: str, slot: int, metric: str) -> Score | None:
    """The best ceiling score (any readout, any store: it reads the ground truth) of a target."""
    rows = results[(results["target"] == target) & (results["slot"] == slot) & (results["scenario"] == "all")
                   & (results["control"] == "ceiling") & (results["metric"] == metric)]
    rows = rows[np.isfinite(rows["score"].to_numpy(dtype=float))]
    if rows.empty:
        return None
    best = _best(rows, metric)
    return Score.from_row(best, f"ceiling ({best['readout']})")


def classify(readouts: dict[str, ReadoutEvidence], data_evidence: dict[str, Score], metric: str) -> tuple[str, str]:
    """The pattern the evidence fits (one of :data:`PATTERNS`) and why, in words."""
    name = METRIC_NAMES.get(metric, metric)
    pooled_winners = [r for r in POOLED_READOUTS if r in readouts and readouts[r].beats]
    obj = readouts.get(OBJECT_READOUT)
    if pooled_winners and obj is not None and not obj.beats:
        return "entangled", (
            f"pooled readouts ({', '.join(pooled_winners)}) beat their controls, but the object-token readout "
            f"does not beat its {obj.baseline.label} baseline ({name} {fmt(obj.score.score)} vs {fmt(obj.baseline.score)})"
        )
    winners = [r for r, ev in readouts.items() if ev.beats]
    if winners:
        bound = " and the object-token readout beats its mask-geometry baseline" if obj is not None and obj.beats else ""
        return "encoded", f"{', '.join(winners)} beat{'s' if len(winners) == 1 else ''} the controls{bound}"
    if data_evidence:
        shown = ", ".join(f"{label} {fmt(s.score)}" for label, s in data_evidence.items())
        return "over-invariant", f"no readout beats its controls, although the data carry it: {shown} beat the nuisance baseline"
    nuisance = next((ev.controls["nuisance"] for ev in readouts.values() if "nuisance" in ev.controls), None)
    level = chance_level(metric)
    if nuisance is not None and level is not None and better(metric, nuisance.score, level) >= 0.1:
        return "not carried", (
            f"no readout beats its controls, and neither the ceiling nor the pixels do; the nuisance baseline alone "
            f"reaches {name} {fmt(nuisance.score)} (chance {fmt(level)}): in these clips the target follows largely from "
            "scenario, frame index, object count and size, so they cannot show what an encoder adds"
        )
    return "not carried", "no readout beats its controls, and neither the ceiling nor the pixels do: the data as sampled do not show it"


def diagnose(results, selection: pd.DataFrame | None = None, thresholds: Thresholds = Thresholds()) -> list[TargetDiagnosis]:
    """Diagnose every (store, target, slot) of a results table: each readout's score against its controls.

    This is the per-readout evidence behind the report's figures. The report's verdicts (what an
    encoder adds beyond its nuisance baseline and its baseline stores, from the run's gains
    table) are :func:`probekit.report.verdicts.verdict_table` (``pk.verdicts(run)``); where the
    run has gains, read those.

    Parameters
    ----------
    results
        The tidy results table (docs/formats.md), or a run (:func:`probekit.load_run`'s ``Run``, or
        the path of a run directory), whose results and selection are then used.
    selection
        ``selection.csv``; without it the best test layer and readout are used and flagged (a
        run's own selection is used when ``results`` is a run and this is left out).
    thresholds
        Margins used to decide whether a score beats a control.

    Returns
    -------
    list of TargetDiagnosis
        Stores in table order (label-only baselines excluded), targets in table order.
    """
    if not isinstance(results, pd.DataFrame):
        run = as_run(results, "diagnose")
        results, selection = run.results, run.selection if selection is None else selection
    results = sentinel_indices(results)
    selection = pd.DataFrame() if selection is None else sentinel_indices(selection)
    found: list[TargetDiagnosis] = []
    stores = probe_stores(results)
    for store in stores:
        for target, slot in targets_of(results[results["store"] == store]):
            diagnosis = diagnose_target(results, selection, store, target, slot, thresholds)
            if diagnosis is not None:
                found.append(diagnosis)
    skipped = results[~results["store"].isin(stores) & (results["note"] != "") & ~np.isfinite(results["score"].to_numpy(dtype=float))]
    for (store, target, slot), group in skipped.groupby(["store", "target", "slot"], sort=False):
        notes = "; ".join(sorted(set(group["note"])))
        found.append(TargetDiagnosis(str(store) or "all stores", str(target), int(slot), "", "", {}, None, False, "skipped", notes, note=notes))
    return found


def sentence(d: TargetDiagnosis) -> str:
    """One sentence with the numbers of a diagnosis (every number as :func:`fmt` prints it)."""
    if d.pattern == "skipped":
        return f"{d.name}: skipped ({d.reason})."
    ev = d.chosen
    name = METRIC_NAMES.get(d.metric, d.metric)
    if not (d.readout_by_inner_cv and ev.layer_by_inner_cv):
        how = "best test score (no inner-CV selection in the run; optimistic)"
    elif ev.per_fold_readouts:
        how = (f"readout chosen by inner CV in each outer fold: {', '.join(ev.per_fold_readouts)}; "
               "nested score of those choices")
    elif ev.nested and len(set(ev.per_fold_layers)) > 1:
        how = f"chosen by inner CV in each outer fold: layers {', '.join(str(v) for v in ev.per_fold_layers)}; nested score"
    elif ev.nested:
        how = "chosen by inner CV in every outer fold; nested score"
    else:
        how = "chosen by inner CV"
    text = (
        f"{d.name}: {ev.readout} readout at layer {ev.layer} ({how}), {name} {fmt(ev.score.score)} "
        f"[95% CI {fmt(ev.score.ci_low)}, {fmt(ev.score.ci_high)}]"
    )
    if np.isfinite(ev.baseline.score):
        text += f", {ev.baseline.label} baseline {fmt(ev.baseline.score)}, gain {fmt(ev.gain, signed=True)} (needs {fmt(ev.margin, signed=True)} and the interval above the baseline)"
    return text + f". Pattern: {d.pattern}; {d.reason}."
