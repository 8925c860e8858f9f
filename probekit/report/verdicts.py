"""Verdicts per store and target from the conditional gains of a run (``gains.csv``).

A gain is what the joint model [baseline + latents] adds over the baseline alone on the same
held-out families: R² for continuous targets, the reduction in cross-entropy (bits per sample)
for binary ones, each with a paired family-bootstrap 95% interval. Rules, applied in order:

``n/a``
    the target barely varies within scenarios, so the scenario fixes it and no gain means
    anything; or an object slot's target varies by less than 1% of its variance over all object
    slots (a base box that never moves), so an R² over it is a ratio of noise to noise.

When the gain is encoded (its interval above 0, clearing the margin) or a pooled readout's is:

``not improved by training``
    the trained encoder's gain is encoded, and so is its random-weight twin's, equal within the
    paired interval of their difference.
``over-invariant`` (encoded, below a baseline)
    the gain is encoded, but the random-weight twin or the pixels carry the target beyond
    nuisance and gain more (paired interval of the difference below 0): training threw away
    part of what its own architecture, or the raw frames, still show.
``entangled``
    a pooled readout's gain is encoded, but the object-token readout adds nothing beyond mask
    geometry (its gain over the geometry baseline is not encoded).
``encoded``
    otherwise: the gain over the nuisance baseline has its interval above 0 and clears the margin.

When it is not:

``too few families``
    not encoded, and fewer than 20 families per scenario or a gain interval wider than twice the
    margin: the run cannot tell a failure from noise.
``over-invariant``
    not encoded although the ceiling (ground truth on the token grid), the pixels or the twin
    carry the target beyond nuisance, and the encoder's gain is below theirs (paired interval of
    the difference below 0).
``not carried by the data``
    the ceiling adds nothing beyond nuisance (nor do pixels or twin).

Stores that stand for baselines (pixels, random twin, shuffled frames) are reported as baselines
(``baseline: carries it`` / ``baseline: adds nothing``), never given an encoder's failure verdict.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from probekit.formats.run import as_run, sentinel_indices

#: Roles of stores that are baselines, not encoders under test.
BASELINE_ROLES = ("random_twin", "pixels", "shuffled")
#: Readouts that read a pooled vector (or all tokens) rather than the object's own tokens.
POOLED = ("linear", "spatial", "mlp", "attentive")
VERDICTS = ("encoded", "entangled", "not improved by training", "too few families", "over-invariant",
            "not carried by the data", "n/a", "baseline: carries it", "baseline: adds nothing")
#: Least held-out families per scenario for a failure verdict.
MIN_FAMILIES_PER_SCENARIO = 20
METRIC_WORDS = {"r2": "ΔR²", "cross_entropy_bits": "Δbits"}


@dataclass(frozen=True)
class GainMargins:
    """Least gain that counts as encoded, per gain metric."""

    r2: float = 0.05
    cross_entropy_bits: float = 0.05

    def of(self, metric: str) -> float:
        return float(getattr(self, metric, 0.05))


@dataclass
class Gain:
    """One gain (or difference of gains) with its interval."""

    value: float
    low: float
    high: float
    metric: str = "r2"
    label: str = ""

    @property
    def interval_above_zero(self) -> bool:
        return bool(np.isfinite(self.low) and self.low > 0)

    @property
    def interval_below_zero(self) -> bool:
        return bool(np.isfinite(self.high) and self.high < 0)

    def text(self) -> str:
        if not np.isfinite(self.value):
            return "n/a"
        return f"{self.value:+.3f} [{self.low:+.3f}, {self.high:+.3f}]"


@dataclass
class Verdict:
    """The verdict on one (store, target, slot) with the number it rests on."""

    store: str
    role: str
    target: str
    slot: int
    verdict: str
    rests_on: str
    readout: str = ""
    gain: Gain | None = None
    versus: dict[str, Gain] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.target if self.slot < 0 else f"{self.target} [slot {self.slot}]"


def _clean(gains: pd.DataFrame) -> pd.DataFrame:
    gains = sentinel_indices(gains)
    for column in ("versus", "note", "role", "readout", "baseline", "store"):
        if column in gains.columns:
            gains[column] = gains[column].astype(object).where(gains[column].notna(), "").astype(str)
    return gains


def _gain(row: pd.Series) -> Gain:
    return Gain(float(row["gain"]), float(row["ci_low"]), float(row["ci_high"]), str(row["metric"]), str(row["store"]))


def encoded(g: Gain | None, margins: GainMargins) -> bool:
    """Gain interval above 0 and gain at least the margin."""
    return g is not None and g.interval_above_zero and g.value >= margins.of(g.metric)


def _difference(gains: pd.DataFrame, a: str, b: str, target: str, slot: int, readout: str) -> Gain | None:
    """Gain of ``a`` minus gain of ``b`` (from either row direction)."""
    rows = gains[(gains.target == target) & (gains.slot == slot) & (gains.readout == readout) & (gains.baseline == "nuisance")]
    direct = rows[(rows.store == a) & (rows.versus == b)]
    if len(direct):
        return _gain(direct.iloc[0])
    reverse = rows[(rows.store == b) & (rows.versus == a)]
    if len(reverse):
        r = reverse.iloc[0]
        return Gain(-float(r["gain"]), -float(r["ci_high"]), -float(r["ci_low"]), str(r["metric"]), a)
    return None


def chosen_readout(selection: pd.DataFrame, store: str, target: str, slot: int, available: list[str]) -> str:
    """The readout chosen by inner CV most often over outer folds (else the first available)."""
    if not selection.empty and {"choice", "store", "target", "slot", "per_fold"} <= set(selection.columns):
        rows = selection[(selection["choice"] == "readout") & (selection["store"].astype(str) == store)
                         & (selection["target"].astype(str) == target) & (selection["slot"] == slot)]
        if len(rows):
            picks = [p for p in json.loads(str(rows.iloc[0]["per_fold"])) if p in available]
            if picks:
                return max(dict.fromkeys(picks), key=picks.count)
    return available[0]


def judge(gains: pd.DataFrame, selection: pd.DataFrame | None = None, margins: GainMargins = GainMargins()) -> list[Verdict]:
    """Verdicts of every (store, target, slot) of a gains table (rules in the module docstring)."""
    gains = _clean(gains)
    selection = pd.DataFrame() if selection is None else sentinel_indices(selection)
    own = gains[gains.versus == ""]
    roles = dict(zip(own.store, own.role))
    out: list[Verdict] = []
    for (store, target, slot), rows in own[own.role != "ceiling"].groupby(["store", "target", "slot"], sort=False):
        role = roles.get(store, "encoder")
        nuisance = rows[rows.baseline == "nuisance"]
        if nuisance.empty:
            continue
        readouts = list(dict.fromkeys(nuisance.readout))
        readout = chosen_readout(selection, store, target, int(slot), readouts)
        main = nuisance[nuisance.readout == readout].iloc[0]
        g = _gain(main)
        verdict = Verdict(store, role, target, int(slot), "", "", readout, g)
        if str(main["note"]).startswith("n/a"):
            verdict.verdict, verdict.rests_on = "n/a", str(main["note"])[5:]
            out.append(verdict)
            continue
        metric_word = METRIC_WORDS.get(g.metric, g.metric)
        margin = margins.of(g.metric)
        if role in BASELINE_ROLES:
            verdict.verdict = "baseline: carries it" if encoded(g, margins) else "baseline: adds nothing"
            verdict.rests_on = f"{readout} {metric_word} over nuisance {g.text()}"
            out.append(verdict)
            continue
        others = _others(gains, store, target, int(slot), readout, roles)
        verdict.versus = {label: diff for label, (diff, _) in others.items()}
        by_readout = {r: _gain(nuisance[nuisance.readout == r].iloc[0]) for r in readouts}
        pooled_encoded = [r for r in POOLED if r in by_readout and encoded(by_readout[r], margins)]
        geometry = rows[(rows.baseline == "geometry") & (rows.readout == "object")]
        object_geometry = _gain(geometry.iloc[0]) if len(geometry) else None
        twin = others.get("random twin")
        if encoded(g, margins) or pooled_encoded:
            ahead = {label: pair for label, pair in others.items()
                     if label != "ceiling" and encoded(pair[1], margins) and pair[0].interval_below_zero}
            if twin is not None and encoded(twin[1], margins) and not (twin[0].interval_above_zero or twin[0].interval_below_zero):
                verdict.verdict = "not improved by training"
                verdict.rests_on = f"gain minus the random twin's {twin[0].text()} (interval includes 0)"
            elif encoded(g, margins) and ahead:
                label, (diff, carrier) = next(iter(ahead.items()))
                verdict.verdict = "over-invariant"
                verdict.rests_on = (f"encoded ({readout} {metric_word} over nuisance {g.text()}), but below the {label}: "
                                    f"gain minus the {label}'s {diff.text()}; the {label} gains {carrier.text()}")
            elif pooled_encoded and object_geometry is not None and not encoded(object_geometry, margins):
                verdict.verdict = "entangled"
                verdict.rests_on = (f"{pooled_encoded[0]} {metric_word} over nuisance {by_readout[pooled_encoded[0]].text()}, "
                                    f"object tokens over mask geometry {object_geometry.text()}")
            else:
                verdict.verdict = "encoded"
                best = readout if encoded(g, margins) else pooled_encoded[0]
                verdict.rests_on = f"{best} {metric_word} over nuisance {by_readout[best].text()} (margin {margin:.2f})"
            out.append(verdict)
            continue
        per_scenario = int(main["families_per_scenario"]) if "families_per_scenario" in main and pd.notna(main["families_per_scenario"]) else 0
        wide = np.isfinite(g.low) and (g.high - g.low) > 2 * margin
        carriers = {label: pair for label, pair in others.items() if encoded(pair[1], margins)}
        below = {label: pair for label, pair in carriers.items() if pair[0].interval_below_zero}
        if per_scenario < MIN_FAMILIES_PER_SCENARIO or wide:
            why = f"{per_scenario} families per scenario" if per_scenario < MIN_FAMILIES_PER_SCENARIO else f"interval width {g.high - g.low:.3f} > {2 * margin:.2f}"
            verdict.verdict = "too few families"
            verdict.rests_on = f"{metric_word} over nuisance {g.text()}; {why}"
        elif below:
            label, (diff, carrier) = next(iter(below.items()))
            verdict.verdict = "over-invariant"
            verdict.rests_on = f"gain minus the {label}'s {diff.text()}; the {label} gains {carrier.text()}"
        elif "ceiling" in others and not encoded(others["ceiling"][1], margins) and not carriers:
            verdict.verdict = "not carried by the data"
            verdict.rests_on = f"the ceiling adds {others['ceiling'][1].text()} over nuisance"
        elif carriers:
            label, (diff, carrier) = next(iter(carriers.items()))
            verdict.verdict = "too few families"
            verdict.rests_on = f"the {label} gains {carrier.text()}, the difference {diff.text()} is undecided"
        else:
            verdict.verdict = "not carried by the data"
            verdict.rests_on = f"{metric_word} over nuisance {g.text()}, and no ceiling, pixels or twin carry it"
        out.append(verdict)
    return out


def _others(gains: pd.DataFrame, store: str, target: str, slot: int, readout: str, roles: dict[str, str]) -> dict[str, tuple[Gain, Gain]]:
    """(difference of gains, the other's gain) against the ceiling, the random twin and pixels.

    The twin and pixels are compared on the same readout; the ceiling (ground truth read by its
    own readouts, linear by default) on the readout it has, the same one where it has it.
    """
    rows = gains[(gains.versus == "") & (gains.target == target) & (gains.slot == slot) & (gains.baseline == "nuisance")]
    found: dict[str, tuple[Gain, Gain]] = {}
    for label, role in (("ceiling", "ceiling"), ("random twin", "random_twin"), ("pixels", "pixels")):
        candidates = rows[rows.role == role]
        same = candidates[candidates.readout == readout]
        for other in dict.fromkeys(same.store.tolist() + (candidates.store.tolist() if role == "ceiling" else [])):
            diff = _difference(gains, store, other, target, slot, readout)
            if diff is not None:
                mine = same[same.store == other] if len(same[same.store == other]) else candidates[candidates.store == other]
                found[label] = (diff, _gain(mine.iloc[0]))
                break
    return found


def headline_rows(verdicts: list[Verdict], evidence: dict[tuple[str, str], list[str]] | None = None) -> pd.DataFrame:
    """Per target: each store's gain over nuisance, the encoder's paired differences, verdict.

    ``evidence`` (:func:`probekit.report.sections.verdict_evidence`): lines of the structure
    stages per (store, target), target ``""`` for a whole store, listed under the verdict
    without changing its rule (an ``evidence`` column when any line applies).
    """
    rows = []
    evidence = evidence or {}
    # a run of baseline stores alone (pixels, a random twin) still states what each of them carries
    judged = [v for v in verdicts if v.role not in BASELINE_ROLES] or list(verdicts)
    for v in judged:
        row = {"target": v.name, "store": v.store, "readout": v.readout,
               "gain over nuisance": v.gain.text() if v.gain else "n/a"}
        for label in ("random twin", "pixels"):
            row[f"minus {label}"] = v.versus[label].text() if label in v.versus else "n/a"
        row["verdict"] = v.verdict
        row["rests on"] = v.rests_on
        lines = evidence.get((v.store, v.target), []) + (evidence.get((v.store, ""), []) if v.slot >= 0 else [])
        row["evidence"] = "; ".join(lines)
        rows.append(row)
    baseline_gains = {}
    for v in verdicts:
        if v.role in BASELINE_ROLES:
            baseline_gains.setdefault(v.name, []).append(f"{v.store}: {v.gain.text() if v.gain else 'n/a'} ({v.verdict})")
    for row in rows:
        others = [text for text in baseline_gains.get(row["target"], []) if not text.startswith(f"{row['store']}: ")]
        row["baselines (gain over nuisance)"] = "; ".join(others) or "n/a"
    order = ["target", "store", "readout", "gain over nuisance", "baselines (gain over nuisance)", "minus random twin", "minus pixels", "verdict", "rests on"]
    if any(row["evidence"] for row in rows):
        order.append("evidence")
    return pd.DataFrame(rows, columns=order)


def format_gains(gains: pd.DataFrame) -> pd.DataFrame:
    """The gains table formatted for people: gains with intervals as text, 3 decimals."""
    if gains.empty:
        return gains
    gains = _clean(gains)
    out = pd.DataFrame({
        "store": gains.store, "versus": gains.versus.replace("", "—"), "target": gains.target,
        "slot": gains.slot.map(lambda s: "" if int(s) < 0 else str(int(s))), "readout": gains.readout, "baseline": gains.baseline,
        "metric": gains.metric.map(lambda m: METRIC_WORDS.get(m, m)),
        "gain [95% CI]": [Gain(float(r.gain), float(r.ci_low), float(r.ci_high)).text() for r in gains.itertuples()],
        "joint / baseline": [f"{r.joint_score:.3f} / {r.baseline_score:.3f}" if isinstance(r.joint_score, float) and math.isfinite(r.joint_score) else "" for r in gains.itertuples()],
        "families": gains.n_families, "note": gains.note,
    })
    return out.reset_index(drop=True)


def verdict_table(run) -> pd.DataFrame:
    """The report's verdicts of a run as a tidy table: one row per (store, target, slot), numbers as numbers.

    These are the verdicts the report's diagnosis states (the rules in this module's docstring):
    each store's gain over the nuisance baseline with its paired interval, and for an encoder
    its gain minus each baseline store's (random twin, pixels).

    Parameters
    ----------
    run
        A run (:func:`probekit.load_run`) or the path of a run directory.

    Returns
    -------
    pandas.DataFrame
        Columns ``store``, ``role``, ``target``, ``slot`` (-1: scene-level), ``readout``,
        ``metric``, ``gain``, ``gain_low``, ``gain_high``, then ``minus_<baseline>``,
        ``minus_<baseline>_low`` and ``minus_<baseline>_high`` per baseline store, ``verdict`` and
        ``rests_on``. Empty (with these columns) when the run has no gains table.
    """
    run = as_run(run, "verdicts")
    verdicts = judge(run.gains, run.selection) if not run.gains.empty else []
    baselines = sorted({label for v in verdicts for label in v.versus})
    rows = []
    for v in verdicts:
        g = v.gain
        row = {"store": v.store, "role": v.role, "target": v.target, "slot": v.slot, "readout": v.readout,
               "metric": g.metric if g else "", "gain": g.value if g else np.nan,
               "gain_low": g.low if g else np.nan, "gain_high": g.high if g else np.nan}
        for label in baselines:
            diff = v.versus.get(label)
            key = "minus_" + label.replace(" ", "_")
            row[key], row[f"{key}_low"], row[f"{key}_high"] = (diff.value, diff.low, diff.high) if diff else (np.nan,) * 3
        row["verdict"], row["rests_on"] = v.verdict, v.rests_on
        rows.append(row)
    columns = ["store", "role", "target", "slot", "readout", "metric", "gain", "gain_low", "gain_high",
               *[f"minus_{label.replace(' ', '_')}{suffix}" for label in baselines for suffix in ("", "_low", "_high")],
               "verdict", "rests_on"]
    return pd.DataFrame(rows, columns=columns)
