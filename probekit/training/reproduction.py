"""Does a re-trained reference encoder reproduce the shipped one's held-out findings?

Training on CPU is deterministic on one machine but not across processors (other float
kernels, other rounding, another trajectory), so a re-run is a second sample of the recipe, not a
copy. The family-bootstrap intervals of an evaluation hold the held-out sampling error of *one*
model; they leave out run-to-run training variance. The reproduction check therefore asks for
the same findings, and reports (without requiring) every score that falls outside the shipped
interval:

- no collapse (effective rank at least half the random twin's);
- the same goal verdicts;
- the goal scores (object-token velocity and contact, slot 0) inside the shipped intervals;
- every slot-0 trained-minus-twin comparison with the same verdict (better, no difference, worse).
"""

from __future__ import annotations

from typing import Any

from probekit.training.evaluate import GOAL_PAIRS, RANDOM, TRAINED, comparison_verdict


def _slot0(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [item for item in items if str(item["slot"]) == "0"]


def scores_outside(shipped: dict[str, Any], again: dict[str, Any]) -> list[tuple[str, str, float, float, float]]:
    """Slot-0 scores of the trained model in ``again`` outside ``shipped``'s intervals: (target, readout, score, low, high)."""
    new = {(s["target"], s["readout"]): s for s in _slot0(again["selected"]) if s["store"] == TRAINED}
    outside = []
    for old in (s for s in _slot0(shipped["selected"]) if s["store"] == TRAINED):
        score = new[(old["target"], old["readout"])]["score"]
        if not old["ci_low"] <= score <= old["ci_high"]:
            outside.append((old["target"], old["readout"], score, old["ci_low"], old["ci_high"]))
    return outside


def reproduction_failures(shipped: dict[str, Any], again: dict[str, Any]) -> list[str]:
    """What ``again`` (a re-run's ``evaluation.json``) fails to reproduce of ``shipped`` (empty: reproduced).

    Parameters
    ----------
    shipped, again
        Evaluation summaries (:func:`probekit.training.evaluate.summarize`) of the shipped
        weights and of a re-trained model, on the same held-out set-up.

    Returns
    -------
    list of str
        One line per finding that differs (see the module docstring for the criteria).
    """
    failures = []
    ratio = again["effective_rank"]["ratio_trained_to_random"]
    if ratio < 0.5:
        failures.append(f"collapse: effective rank {ratio:.2f} x the random twin's (< 0.5)")
    met_before = {(g["target"], g["readout"]): g["met"] for g in shipped["goal"]}
    met_now = {(g["target"], g["readout"]): g["met"] for g in again["goal"]}
    for pair in GOAL_PAIRS:
        if met_before.get(pair) != met_now.get(pair):
            failures.append(f"goal {pair[0]} ({pair[1]}): {'met' if met_before.get(pair) else 'not met'} shipped, "
                            f"{'met' if met_now.get(pair) else 'not met'} now")
    for target, readout, score, low, high in scores_outside(shipped, again):
        if (target, readout) in GOAL_PAIRS:
            failures.append(f"goal score {target} ({readout}): {score:.3f} outside the shipped [{low:.3f}, {high:.3f}]")
    before = {(c["target"], c["readout"]): comparison_verdict(c) for c in _slot0(shipped["comparisons"])
              if c["a"] == TRAINED and c["b"] == RANDOM}
    now = {(c["target"], c["readout"]): comparison_verdict(c) for c in _slot0(again["comparisons"])
           if c["a"] == TRAINED and c["b"] == RANDOM}
    for key in sorted(before):
        if now.get(key) != before[key]:
            failures.append(f"trained - twin, {key[0]} ({key[1]}): {before[key]} shipped, {now.get(key, 'not compared')} now")
    return failures
