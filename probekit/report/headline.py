"""The headline of a run: per store, each target's chosen readout and its gain, grouped by pattern.

One home for what the report's diagnosis box, ``probekit probe``'s end summary and ``probekit
info RUN`` say first. The numbers come from :func:`probekit.report.diagnosis.diagnose` (the
readout and layer chosen by inner CV, the score, its gain over the strongest required control)
and, when the run holds conditional gains, from :func:`probekit.report.verdicts.judge`.
"""

from __future__ import annotations

from typing import Iterable, Sequence

from probekit.report.diagnosis import PATTERNS, TargetDiagnosis, Thresholds, diagnose, fmt
from probekit.report.verdicts import headline_rows, judge

#: Short metric names for the headline.
METRIC_SHORT = {"r2": "R²", "balanced_accuracy": "bal. acc.", "auroc": "AUROC", "accuracy": "acc.", "geodesic_deg": "deg", "mae": "MAE"}


def headline_item(d: TargetDiagnosis) -> str:
    """One target in the headline: ``velocity [slot 0] (linear L3, R² 0.812, gain +0.301 over nuisance)``."""
    ev = d.chosen
    if ev is None:
        return f"{d.name} (skipped)"
    gain = f", gain {fmt(ev.gain, signed=True)} over {ev.baseline.label}" if ev.baseline.label else f", gain {fmt(ev.gain, signed=True)}"
    return f"{d.name} ({ev.readout} L{ev.layer}, {METRIC_SHORT.get(d.metric, d.metric)} {fmt(ev.score.score)}{gain})"


def headline_groups(diagnoses: Iterable[TargetDiagnosis], stores: Sequence[str]) -> list[tuple[str, list[tuple[str, list[str]]]]]:
    """Per store (in ``stores`` order), its patterns in :data:`PATTERNS` order with their targets.

    Returns
    -------
    list of (store, [(pattern, [item, ...])])
        Items as :func:`headline_item` writes them; stores without a scored target are left out.
    """
    scored = [d for d in diagnoses if d.chosen is not None]
    found = []
    for store in stores:
        parts = []
        for pattern in PATTERNS:
            names = [headline_item(d) for d in scored if d.store == store and d.pattern == pattern]
            if names:
                parts.append((pattern, names))
        if parts:
            found.append((store, parts))
    return found


def headline(diagnoses: Iterable[TargetDiagnosis], stores: Sequence[str]) -> list[tuple[str, list[tuple[str, str]]]]:
    """:func:`headline_groups` with each pattern's items joined (the report's diagnosis box)."""
    return [(store, [(pattern, ", ".join(names)) for pattern, names in parts]) for store, parts in headline_groups(diagnoses, stores)]


def headline_lines(run, thresholds: Thresholds = Thresholds()) -> list[str]:
    """The headline of a loaded run as plain text lines (for the terminal).

    Parameters
    ----------
    run
        A :class:`probekit.rundir.Run`.
    thresholds
        Margins the diagnosis uses (the report's defaults unless given).
    """
    run = run.engine_view()
    diagnoses = diagnose(run.results, run.selection, thresholds)
    lines = []
    for store, parts in headline_groups(diagnoses, run.stores):
        lines.append(f"{store}:")
        lines.extend(f"  {pattern}: {name}" for pattern, names in parts for name in names)
    if not run.gains.empty:
        verdicts = judge(run.gains, run.selection)
        table = headline_rows(verdicts) if verdicts else None
        if table is not None and len(table):
            lines.append("verdicts (gain over the nuisance baseline, paired 95% CI over families):")
            lines.extend(f"  {row.target} · {row.store} ({row.readout}): {row.verdict}, {row._3}"
                         for row in table.itertuples(index=False))
    if not lines:
        lines.append("no target has a finite score in this run" + _why_nothing_scored(run.results))
    return lines


def _why_nothing_scored(results) -> str:
    """The most frequent skip notes of a run without a finite score (what to change), as a clause."""
    if results.empty or "note" not in results:
        return ""
    notes = results["note"].astype(str)
    notes = notes[notes.str.startswith(("skipped", "n/a"))]
    if notes.empty:
        return ""
    labelled = notes[~notes.str.contains("absent from the store", regex=False)]
    notes = labelled if len(labelled) else notes  # why the targets the stores do label were not scored, first
    common = notes.value_counts().index[:3]
    return "; most often: " + "; ".join(common)


__all__ = ["METRIC_SHORT", "headline", "headline_groups", "headline_item", "headline_lines"]
