"""The reproduction criteria of the reference encoder, on the shipped evaluation and a real re-run.

``tests/data/tiny-vjepa2.rerun.eval.json`` is the ``probekit evaluate`` summary of a from-scratch
re-run of the shipped recipe on another machine (other weights: CPU training is deterministic only
on one processor). It was evaluated on the worlds of an earlier generator, so it is compared with
the shipped weights' evaluation on those same worlds (``tiny-vjepa2.previous-worlds.eval.json``).
The slow test re-creates such a run; these fast checks pin what the criteria accept and reject.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from probekit.encoders.tiny import TINY_VJEPA2_WEIGHTS
from probekit.training.evaluate import RANDOM, TRAINED, comparison_verdict
from probekit.training.reproduction import reproduction_failures, scores_outside

SHIPPED = json.loads(TINY_VJEPA2_WEIGHTS.with_suffix(".eval.json").read_text())
RERUN = json.loads((Path(__file__).parent / "data" / "tiny-vjepa2.rerun.eval.json").read_text())
#: The shipped weights evaluated on the worlds the re-run was evaluated on.
SHIPPED_ON_RERUN_WORLDS = json.loads((Path(__file__).parent / "data" / "tiny-vjepa2.previous-worlds.eval.json").read_text())


def _twin_comparison(summary, target, readout):
    return next(c for c in summary["comparisons"] if str(c["slot"]) == "0" and c["a"] == TRAINED and c["b"] == RANDOM
                and c["target"] == target and c["readout"] == readout)


def _selected(summary, target, readout):
    return next(s for s in summary["selected"] if str(s["slot"]) == "0" and s["store"] == TRAINED
                and s["target"] == target and s["readout"] == readout)


def test_verdict_follows_the_interval_and_the_metric_direction():
    assert comparison_verdict({"ci_low": 0.01, "ci_high": 0.2, "higher_is_better": True}) == "better"
    assert comparison_verdict({"ci_low": -0.01, "ci_high": 0.2, "higher_is_better": True}) == "no difference"
    assert comparison_verdict({"ci_low": -4.0, "ci_high": -1.0, "higher_is_better": False}) == "better"  # degrees
    assert comparison_verdict({"ci_low": 1.0, "ci_high": 4.0, "higher_is_better": False}) == "worse"


def test_the_shipped_evaluation_reproduces_itself():
    assert reproduction_failures(SHIPPED, SHIPPED) == [] and scores_outside(SHIPPED, SHIPPED) == []


def test_the_recorded_rerun_reproduces_the_findings_though_not_every_score():
    assert reproduction_failures(SHIPPED_ON_RERUN_WORLDS, RERUN) == []
    outside = scores_outside(SHIPPED_ON_RERUN_WORLDS, RERUN)
    assert outside, "pooled-readout scores of a re-run leave the single-model intervals (run-to-run variance)"
    for target, readout, score, low, high in outside:
        assert not low <= score <= high and _selected(RERUN, target, readout)["score"] == score


@pytest.mark.parametrize("change, expected", [
    ("collapse", "collapse"),
    ("goal", "goal velocity (object): met shipped, not met now"),
    ("goal score", "goal score contact (object)"),
    ("verdict", "trained - twin, speed (linear): better shipped, no difference now"),
])
def test_each_changed_finding_is_reported(change, expected):
    again = copy.deepcopy(SHIPPED)
    if change == "collapse":
        again["effective_rank"]["ratio_trained_to_random"] = 0.3
    elif change == "goal":
        again["goal"][0]["met"] = False
    elif change == "goal score":
        selected = _selected(again, "contact", "object")
        selected["score"] = selected["ci_high"] + 0.01
    else:
        comparison = _twin_comparison(again, "speed", "linear")
        comparison["ci_low"] = -0.01
    failures = reproduction_failures(SHIPPED, again)
    assert len(failures) == 1 and failures[0].startswith(expected), failures
