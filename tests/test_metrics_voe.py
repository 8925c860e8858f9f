"""Violation-of-expectation metrics against the reference implementation (re-stated as the oracle)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.metrics import auc, roc_curve

from probekit.errors import BadOptionError
from probekit.metrics.voe import (
    absolute_accuracy,
    relative_accuracy,
    voe_auroc,
    voe_intervals,
    voe_metrics,
)


# --- oracle -------------------------------------------------------------------------------------
# The reference's compute_metrics (facebookresearch/jepa-intuitive-physics,
# evaluation_code/evals/intuitive_physics/eval.py, commit 41fbfff6c52d5bc27c8731fa0f12250b49b34e63),
# re-stated operation by operation in torch and scikit-learn; its code is CC BY-NC 4.0 and is
# therefore not copied. Same operations: strict comparisons, percentages, the threshold at the
# 0-indexed position ceil(0.9 n) of the sorted real maxima (IndexError for n <= 9), roc_curve + auc
# with label 1 = real (possible) and the negative loss as score. Credit: Garrido et al., 2025.
def compute_metrics(losses, labels):
    real = losses[torch.where(labels == 1)]
    fake = losses[torch.where(labels == 0)]
    out = {
        "Relative Accuracy (avg)": ((real.mean(1) < fake.mean(1)).sum() / real.shape[0] * 100).item(),
        "Relative Accuracy (max)": ((real.max(1)[0] < fake.max(1)[0]).sum() / real.shape[0] * 100).item(),
    }
    real_max, fake_max = real.max(1)[0], fake.max(1)[0]
    thresh = real_max.sort()[0][int(np.ceil(0.90 * len(real_max)))]
    out["Absolute Accuracy (max)"] = (((real_max < thresh).sum() + (fake_max > thresh).sum())
                                      / (real_max.shape[0] + fake_max.shape[0]) * 100).item()
    for key, score in (("AUROC (avg)", -losses.mean(1)), ("AUROC (max)", -losses.max(1)[0])):
        fpr, tpr, _ = roc_curve(labels, score)
        out[key] = auc(fpr, tpr)
    return out
# --- end of oracle ------------------------------------------------------------------------------


def _reference(possible: np.ndarray, impossible: np.ndarray) -> dict:
    # the reference stacks matched pairs (real first) with labels 1 = possible, 0 = impossible
    losses = torch.from_numpy(np.stack([possible, impossible], axis=1).reshape(-1, possible.shape[1]))
    labels = torch.from_numpy(np.tile([1, 0], len(possible)))
    return compute_metrics(losses, labels)


@pytest.mark.parametrize("n,windows,shift,seed", [(10, 5, 0.3, 0), (11, 1, 0.0, 1), (37, 7, 0.5, 2), (200, 4, -0.2, 3)])
def test_metrics_equal_the_reference_on_tie_free_arrays(n, windows, shift, seed):
    rng = np.random.default_rng(seed)
    possible = rng.gamma(2.0, 1.0, size=(n, windows))
    impossible = rng.gamma(2.0, 1.0, size=(n, windows)) + shift * rng.uniform(size=(n, windows))
    ref = _reference(possible, impossible)
    ours = voe_metrics(possible, impossible)
    assert ours["relative_accuracy_mean"] == pytest.approx(ref["Relative Accuracy (avg)"] / 100)
    assert ours["relative_accuracy_max"] == pytest.approx(ref["Relative Accuracy (max)"] / 100)
    assert ours["absolute_accuracy_max"] == pytest.approx(ref["Absolute Accuracy (max)"] / 100)
    assert ours["auroc_mean"] == pytest.approx(ref["AUROC (avg)"])
    assert ours["auroc_max"] == pytest.approx(ref["AUROC (max)"])


@pytest.mark.parametrize("n", [1, 5, 9])
def test_nine_or_fewer_pairs_are_refused_with_one_line(n):
    rng = np.random.default_rng(n)
    possible, impossible = rng.uniform(size=(n, 3)), rng.uniform(size=(n, 3)) + 1
    with pytest.raises(IndexError):  # the reference's threshold index is out of range
        _reference(possible, impossible)
    for metric in (voe_metrics, absolute_accuracy, relative_accuracy, voe_auroc):
        with pytest.raises(BadOptionError, match=f"^{n} possible/impossible pairs: .*at least 10") as info:
            metric(possible, impossible)
        assert "\n" not in str(info.value)


def test_constant_surprise_is_chance_where_ties_count_half():
    const = np.full((30, 4), 0.7)
    assert relative_accuracy(const, const, "mean") == 0.5
    assert relative_accuracy(const, const, "max") == 0.5
    assert voe_auroc(const, const, "mean") == 0.5
    # differences within 1e-6 x the median are ties; the reference counts them as misses
    nudged = const + 1e-8
    assert relative_accuracy(const, nudged) == 0.5
    assert _reference(const, nudged)["Relative Accuracy (avg)"] == 100.0


def test_perfect_separation_and_nan_windows_left_out():
    rng = np.random.default_rng(0)
    possible = rng.uniform(0, 1, size=(20, 5))
    impossible = possible.copy()
    impossible[:, 3:] += 5.0  # the violation shows in the last two windows only
    assert relative_accuracy(possible, impossible, "max") == 1.0
    # leaving the windows after the violation out leaves only shared windows: all ties
    cut_a, cut_b = possible.copy(), impossible.copy()
    cut_a[:, 3:] = cut_b[:, 3:] = np.nan
    assert relative_accuracy(cut_a, cut_b, "mean") == 0.5


def test_family_bootstrap_interval_covers_the_estimate_and_shrinks_with_n():
    rng = np.random.default_rng(1)

    def draw(n):
        a = rng.normal(size=(n, 3))
        return a, a + rng.normal(0.5, 1.0, size=(n, 3))

    small, large = draw(20), draw(400)
    ci_small = voe_intervals(*small, n_boot=300, seed=0)
    ci_large = voe_intervals(*large, n_boot=300, seed=0)
    estimate = voe_metrics(*large)
    for name, (low, high) in ci_large.items():
        assert low <= estimate[name] <= high
        assert high - low < ci_small[name][1] - ci_small[name][0]


def test_vectorised_bootstrap_replicates_equal_the_metrics_on_the_drawn_pairs():
    rng = np.random.default_rng(3)
    possible = rng.gamma(2.0, 1.0, size=(25, 4))
    impossible = possible + rng.normal(0.3, 1.0, size=(25, 4))
    impossible[:5] = possible[:5]  # exact ties
    picks = np.random.default_rng(9).integers(0, 25, size=(1, 25))[0]
    # with one replicate and level -> 0 the interval collapses onto that replicate's value
    interval = voe_intervals(possible, impossible, n_boot=1, level=1.0, seed=9)
    from probekit.metrics.voe import tie_tolerance

    expected = voe_metrics(possible[picks], impossible[picks], tol=tie_tolerance(possible, impossible))
    for name, (low, high) in interval.items():
        assert low == pytest.approx(expected[name]) and high == pytest.approx(expected[name])
