"""The diagnosis: pure functions over a run's results table and inner-CV selections.

For every store (encoder) and target the evidence is read at the layer chosen by inner CV for
each readout (``selection.csv``), never at the best test layer. A readout *beats its controls*
when its score exceeds the strongest required control by at least the stated margin and the
lower end of its 95% interval lies above that control. Required controls: the nuisance baseline
for every readout, and in addition the mask-geometry baseline for object-token readouts; when a
run has no control row, chance is used and the text says so.

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

import math
from dataclasses import dataclass, field
from typing import Iterable

import numpy as np
import pandas as pd

#: Metrics in the order one is chosen as a target's primary metric.
METRIC_PRIORITY = ("r2", "balanced_accuracy", "auroc", "accuracy", "geodesic_deg", "mae")
#: Metrics for which lower is better.
LOWER_IS_BETTER = frozenset({"mae", "geodesic_deg"})
#: Readouts that read a pooled vector (or all tokens) rather than the object's own tokens.
POOLED_READOUTS = ("linear", "mlp", "attentive")
OBJECT_READOUT = "object"
#: Readout display order.
READOUT_ORDER = ("linear", "object", "mlp", "attentive")
#: Human names of metrics, for text and axes.
METRIC_NAMES = {
    "r2": "R²",
    "balanced_accuracy": "balanced accuracy",
    "auroc": "AUROC",
    "auprc": "AUPRC",
    "accuracy": "accuracy",
    "geodesic_deg": "geodesic error",
    "mae": "MAE",
    "selectivity": "selectivity",
    "base_rate": "base rate",
}
PATTERNS = ("encoded", "entangled", "over-invariant", "not carried")


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
    """The first metric of :data:`METRIC_PRIORITY` scored in ``rows`` (finite scores only)."""
    present = set(rows.loc[np.isfinite(rows["score"].to_numpy(dtype=float)), "metric"])
    return next((m for m in METRIC_PRIORITY if m in present), None)


def chance_level(metric: str, rows: pd.DataFrame | None = None) -> float | None:
    """Chance level of ``metric``: 0 for R², 0.5 for balanced accuracy and AUROC, the majority
    share (from the ``base_rate`` row) for accuracy; None where no fixed level exists."""
    if metric == "r2":
        return 0.0
    if metric in ("balanced_accuracy", "auroc"):
        return 0.5
    if metric == "accuracy" and rows is not None:
        base = rows.loc[rows["metric"] == "base_rate", "score"]
        if len(base):
            rate = float(base.iloc[0])
            return max(rate, 1.0 - rate)
    return None


def targets_of(results: pd.DataFrame) -> list[tuple[str, int]]:
    """(target, slot) pairs in the order they first appear in the table."""
    pairs = results[["target", "slot"]].drop_duplicates()
    return [(str(t), int(s)) for t, s in pairs.itertuples(index=False)]


def selected_layer(selection: pd.DataFrame, store: str, target: str, slot: int, readout: str) -> int | None:
    """Layer chosen by inner CV for one readout, from ``selection.csv`` (None if absent)."""
    if selection.empty or not {"store", "target", "slot", "readout", "layer"} <= set(selection.columns):
        return None
    rows = selection[
        (selection["store"].astype(str) == store)
        & (selection["target"].astype(str) == target)
        & (selection["slot"] == slot)
        & (selection["readout"].astype(str) == readout)
    ]
    rows = rows[rows["layer"] >= 0]
    return int(rows["layer"].iloc[0]) if len(rows) else None


def selected_readout(selection: pd.DataFrame, store: str, target: str, slot: int) -> str | None:
    """Readout chosen by inner CV for one (store, target, slot), from ``selection.csv``.

    Reads the row flagged in a boolean ``chosen`` column, or a ``chosen_readout`` column.
    """
    if selection.empty or not {"store", "target", "slot"} <= set(selection.columns):
        return None
    rows = selection[
        (selection["store"].astype(str) == store)
        & (selection["target"].astype(str) == target)
        & (selection["slot"] == slot)
    ]
    if "chosen_readout" in rows.columns:
        values = [str(v) for v in rows["chosen_readout"].dropna() if str(v)]
        if values:
            return values[0]
    if "chosen" in rows.columns and "readout" in rows.columns:
        flagged = rows[rows["chosen"].astype(str).str.lower().isin(("true", "1"))]
        if len(flagged):
            return str(flagged["readout"].iloc[0])
    return None


def _control_score(rows: pd.DataFrame, control: str, layer: int, metric: str) -> Score | None:
    """A control's score for one readout: at ``layer`` if the table has it there, else the
    strongest of its rows (layer-free controls are stored once)."""
    found = rows[(rows["control"] == control) & (rows["metric"] == metric)]
    found = found[np.isfinite(found["score"].to_numpy(dtype=float))]
    if found.empty:
        return None
    at_layer = found[found["layer"] == layer]
    if len(at_layer):
        return Score.from_row(at_layer.iloc[0], control)
    best = found.iloc[int(np.argmax([better(metric, s, 0.0) for s in found["score"]]))]
    return Score.from_row(best, control)


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
    rows: pd.DataFrame,
    selection: pd.DataFrame,
    store: str,
    target: str,
    slot: int,
    readout: str,
    metric: str,
    thresholds: Thresholds,
) -> ReadoutEvidence | None:
    """Evidence of one readout of one (store, target, slot) at its inner-CV layer.

    ``rows`` holds this store's, target's and slot's rows for scenario ``all``.
    """
    main = rows[(rows["readout"] == readout) & (rows["control"] == "none") & (rows["metric"] == metric)]
    main = main[np.isfinite(main["score"].to_numpy(dtype=float))]
    if main.empty:
        return None
    layer = selected_layer(selection, store, target, slot, readout)
    by_cv = layer is not None and bool((main["layer"] == layer).any())
    if not by_cv:
        order = np.argsort([-better(metric, s, 0.0) for s in main["score"]], kind="stable")
        layer = int(main["layer"].iloc[int(order[0])])
    row = main[main["layer"] == layer].iloc[0]
    score = Score.from_row(row, readout)
    readout_rows = rows[rows["readout"] == readout]
    controls: dict[str, Score] = {}
    for control in sorted(set(readout_rows["control"]) - {"none"}):
        found = _control_score(readout_rows, control, layer, metric)
        if found is not None:
            controls[control] = found
    required = [controls[c] for c in ("nuisance", "geometry" if readout == OBJECT_READOUT else "") if c in controls]
    if required:
        baseline = max(required, key=lambda s: better(metric, s.score, 0.0))
    else:
        level = chance_level(metric, rows)
        baseline = Score(level if level is not None else math.nan, label="chance")
    if np.isfinite(baseline.score):
        ok, gain, margin = beats(metric, score, baseline, thresholds)
    else:
        ok, gain, margin = False, math.nan, math.nan
    return ReadoutEvidence(readout, layer, score, baseline, gain, margin, ok, by_cv, controls)


def _data_carry_evidence(
    results: pd.DataFrame,
    rows: pd.DataFrame,
    store: str,
    target: str,
    slot: int,
    metric: str,
    selection: pd.DataFrame,
    thresholds: Thresholds,
    pixel_stores: Iterable[str],
) -> dict[str, Score]:
    """Ceiling and pixel scores that beat the nuisance baseline (the data carry the target)."""
    evidence: dict[str, Score] = {}
    # The ceiling reads the ground truth, not the encoder: any store's ceiling rows count.
    same_target = results[(results["target"] == target) & (results["slot"] == slot) & (results["scenario"] == "all")]
    candidates = pd.concat([
        same_target[same_target["control"] == "ceiling"],
        rows[rows["control"] == "pixels"],
    ])
    candidates = candidates[candidates["metric"] == metric]
    for (control, source, readout), group in candidates.groupby(["control", "store", "readout"], sort=False):
        finite = group[np.isfinite(group["score"].to_numpy(dtype=float))]
        label = f"{control} ({readout})"
        if finite.empty or label in evidence:
            continue
        best = Score.from_row(finite.iloc[int(np.argmax([better(metric, s, 0.0) for s in finite["score"]]))], label)
        nuisance_rows = same_target[(same_target["store"] == source) & (same_target["control"] == "nuisance")
                                    & (same_target["metric"] == metric) & (same_target["readout"] == readout)]
        _record_if_beats(evidence, best, nuisance_rows, metric, thresholds)
    for pixel_store in pixel_stores:
        if pixel_store == store:
            continue
        prow = results[(results["store"] == pixel_store) & (results["target"] == target) & (results["slot"] == slot) & (results["scenario"] == "all")]
        for readout in READOUT_ORDER:
            ev = readout_evidence(prow, selection, pixel_store, target, slot, readout, metric, thresholds)
            if ev is not None and ev.beats:
                evidence[f"{pixel_store} ({readout})"] = ev.score
    return evidence


def _record_if_beats(evidence: dict[str, Score], score: Score, nuisance_rows: pd.DataFrame, metric: str, thresholds: Thresholds) -> None:
    finite = nuisance_rows[np.isfinite(nuisance_rows["score"].to_numpy(dtype=float))]
    if len(finite):
        control = Score.from_row(finite.iloc[int(np.argmax([better(metric, s, 0.0) for s in finite["score"]]))], "nuisance")
    else:
        level = chance_level(metric)
        if level is None:
            return
        control = Score(level, label="chance")
    if beats(metric, score, control, thresholds)[0]:
        evidence[score.label] = score


def pixel_stores_of(results: pd.DataFrame) -> list[str]:
    """Stores whose encoder is the pixel baseline."""
    return sorted(set(results.loc[results["encoder"].str.startswith("pixels"), "store"]))


def random_twin_of(results: pd.DataFrame, store: str) -> str | None:
    """The store with the same encoder and random weights, for a store with trained weights."""
    info = results.loc[results["store"] == store, ["encoder", "weights"]].drop_duplicates()
    if info.empty or str(info["weights"].iloc[0]) == "random":
        return None
    encoder = str(info["encoder"].iloc[0])
    twins = results[(results["encoder"] == encoder) & (results["weights"] == "random") & (results["store"] != store)]
    return str(twins["store"].iloc[0]) if len(twins) else None


def diagnose_target(
    results: pd.DataFrame,
    selection: pd.DataFrame,
    store: str,
    target: str,
    slot: int,
    thresholds: Thresholds = Thresholds(),
) -> TargetDiagnosis | None:
    """Diagnose one (store, target, slot); None when the table has no row for it."""
    rows = results[
        (results["store"] == store) & (results["target"] == target) & (results["slot"] == slot) & (results["scenario"] == "all")
    ]
    if rows.empty:
        return None
    unit = next((u for u in rows["unit"] if u), "")
    main_rows = rows[rows["control"] == "none"]
    metric = primary_metric(main_rows)
    if metric is None:
        notes = sorted({n for n in rows["note"] if n})
        return TargetDiagnosis(store, target, slot, "", unit, {}, None, False, "skipped",
                               "; ".join(notes) or "no finite score in the results table", note="; ".join(notes))
    readouts: dict[str, ReadoutEvidence] = {}
    present = list(dict.fromkeys(list(READOUT_ORDER) + sorted(set(main_rows["readout"]))))
    for readout in present:
        ev = readout_evidence(rows, selection, store, target, slot, readout, metric, thresholds)
        if ev is not None:
            readouts[readout] = ev
    chosen = selected_readout(selection, store, target, slot)
    by_cv = chosen in readouts
    if not by_cv:
        chosen = max(readouts, key=lambda r: better(metric, readouts[r].score.score, 0.0)) if readouts else None
    data_evidence = _data_carry_evidence(results, rows, store, target, slot, metric, selection, thresholds, pixel_stores_of(results))
    pattern, reason = classify(readouts, data_evidence, metric)
    references = _references(results, selection, rows, store, target, slot, chosen, readouts, metric, thresholds)
    return TargetDiagnosis(
        store, target, slot, metric, unit, readouts, chosen, by_cv, pattern, reason,
        data_evidence=data_evidence, references=references, chance=chance_level(metric, rows),
        ceiling=ceiling_of(results, target, slot, metric),
    )


def ceiling_of(results: pd.DataFrame, target: str, slot: int, metric: str) -> Score | None:
    """The best ceiling score (any readout, any store: it reads the ground truth) of a target."""
    rows = results[(results["target"] == target) & (results["slot"] == slot) & (results["scenario"] == "all")
                   & (results["control"] == "ceiling") & (results["metric"] == metric)]
    rows = rows[np.isfinite(rows["score"].to_numpy(dtype=float))]
    if rows.empty:
        return None
    best = rows.iloc[int(np.argmax([better(metric, s, 0.0) for s in rows["score"]]))]
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
    return "not carried", "no readout beats its controls, and neither the ceiling nor the pixels do: the data as sampled do not show it"


def _references(
    results: pd.DataFrame,
    selection: pd.DataFrame,
    rows: pd.DataFrame,
    store: str,
    target: str,
    slot: int,
    chosen: str | None,
    readouts: dict[str, ReadoutEvidence],
    metric: str,
    thresholds: Thresholds,
) -> dict[str, Score]:
    """Reference levels for the chosen readout: random-weight twin, pixels, shuffled frames,
    ceiling, control-task selectivity (whatever the run has)."""
    refs: dict[str, Score] = {}
    if chosen is None:
        return refs
    ev = readouts[chosen]
    for control in ("random_init", "pixels", "shuffled", "ceiling", "control_task"):
        if control in ev.controls:
            refs[control] = ev.controls[control]
    twin = random_twin_of(results, store)
    if twin is not None and "random_init" not in refs:
        trow = results[(results["store"] == twin) & (results["target"] == target) & (results["slot"] == slot) & (results["scenario"] == "all")]
        tev = readout_evidence(trow, selection, twin, target, slot, chosen, metric, thresholds)
        if tev is not None:
            refs["random_init"] = Score(tev.score.score, tev.score.ci_low, tev.score.ci_high, tev.layer, twin)
    sel = rows[(rows["readout"] == chosen) & (rows["metric"] == "selectivity") & (rows["layer"] == ev.layer)]
    sel = sel[np.isfinite(sel["score"].to_numpy(dtype=float))]
    if len(sel):
        refs["selectivity"] = Score.from_row(sel.iloc[0], "selectivity")
    return refs


def diagnose(results: pd.DataFrame, selection: pd.DataFrame | None = None, thresholds: Thresholds = Thresholds()) -> list[TargetDiagnosis]:
    """Diagnose every (store, target, slot) of a results table.

    Parameters
    ----------
    results
        The tidy results table (docs/formats.md).
    selection
        ``selection.csv``; without it the best test layer and readout are used and flagged.
    thresholds
        Margins used to decide whether a score beats a control.

    Returns
    -------
    list of TargetDiagnosis
        Stores in table order, targets in table order within each store.
    """
    selection = pd.DataFrame() if selection is None else selection
    found: list[TargetDiagnosis] = []
    for store in results["store"].drop_duplicates():
        for target, slot in targets_of(results[results["store"] == store]):
            diagnosis = diagnose_target(results, selection, str(store), target, slot, thresholds)
            if diagnosis is not None:
                found.append(diagnosis)
    return found


def sentence(d: TargetDiagnosis) -> str:
    """One sentence with the numbers of a diagnosis (every number as :func:`fmt` prints it)."""
    if d.pattern == "skipped":
        return f"{d.name}: skipped ({d.reason})."
    ev = d.chosen
    name = METRIC_NAMES.get(d.metric, d.metric)
    how = "chosen by inner CV" if d.readout_by_inner_cv and ev.layer_by_inner_cv else "best test score (no inner-CV selection in the run; optimistic)"
    text = (
        f"{d.name}: {ev.readout} readout at layer {ev.layer} ({how}), {name} {fmt(ev.score.score)} "
        f"[95% CI {fmt(ev.score.ci_low)}, {fmt(ev.score.ci_high)}]"
    )
    if np.isfinite(ev.baseline.score):
        text += f", {ev.baseline.label} baseline {fmt(ev.baseline.score)}, gain {fmt(ev.gain, signed=True)} (needs {fmt(ev.margin, signed=True)} and the interval above the baseline)"
    return text + f". Pattern: {d.pattern}; {d.reason}."
