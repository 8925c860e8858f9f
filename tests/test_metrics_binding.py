"""Binding metrics against scikit-learn, DeepMind's and ocl's conventions and hand computations."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import adjusted_rand_score

from probekit.metrics.binding import fg_ari, identity_consistency, labels_from_coverage, mask_overlaps


def _deepmind_ari(true_labels: np.ndarray, pred_labels: np.ndarray, n_true: int, n_pred: int) -> float:
    """DeepMind ``multi_object_datasets`` ``adjusted_rand_index`` transcribed to numpy (one sample).

    ``true_labels`` -1 marks ignored points (a zero row of the one-hot truth, i.e. background).
    """
    true_oh = np.zeros((len(true_labels), n_true))
    fg = true_labels >= 0
    true_oh[np.nonzero(fg)[0], true_labels[fg]] = 1.0
    pred_oh = np.eye(n_pred)[pred_labels]
    n_points = true_oh.sum()
    nij = np.einsum("ji,jk->ki", pred_oh, true_oh)
    a, b = nij.sum(axis=1), nij.sum(axis=0)
    rindex = (nij * (nij - 1)).sum()
    aindex = (a * (a - 1)).sum()
    bindex = (b * (b - 1)).sum()
    with np.errstate(divide="ignore", invalid="ignore"):
        expected = aindex * bindex / (n_points * (n_points - 1))
        ari = (rindex - expected) / ((aindex + bindex) / 2 - expected)
    true_ids = np.argmax(true_oh, axis=1)  # the check runs over all points; a zero row argmaxes to 0
    all_equal = (true_ids == true_ids[0]).all() and (pred_labels == pred_labels[0]).all()
    return 1.0 if all_equal else float(ari)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 4), st.integers(0, 4)), min_size=2, max_size=60))
def test_fg_ari_equals_sklearn_on_foreground_points(pairs):
    true = np.array([p[0] for p in pairs])
    pred = np.array([p[1] for p in pairs])
    foreground = true != 0
    if foreground.sum() < 2:
        true[:2] = 1  # at least two foreground points
        foreground = true != 0
    assert fg_ari(true, pred) == pytest.approx(adjusted_rand_score(true[foreground], pred[foreground]), abs=1e-12)


def test_deepmind_nan_cases_give_ocl_one():
    # one object taking one cluster while the background takes another
    true = np.array([0, 0, 1, 1, 1])
    pred = np.array([0, 0, 1, 1, 1])
    assert np.isnan(_deepmind_ari(true - 1, pred, n_true=1, n_pred=2))
    assert fg_ari(true, pred) == 1.0
    # no foreground at all
    true = np.zeros(6, int)
    pred = np.array([0, 1, 0, 1, 2, 2])
    assert np.isnan(_deepmind_ari(true - 1, pred, n_true=1, n_pred=3))
    assert fg_ari(true, pred) == 1.0


def test_split_object_scores_zero_in_both_conventions():
    true = np.array([0, 0, 1, 1, 1, 1])
    pred = np.array([2, 2, 0, 0, 1, 1])
    assert fg_ari(true, pred) == 0.0
    assert _deepmind_ari(true - 1, pred, n_true=1, n_pred=3) == pytest.approx(0.0)


def test_fg_ari_is_exact_in_float64_at_video_counts():
    # two objects of 60 000 points each, perfectly clustered; float32 counts would round
    true = np.repeat([1, 2], 60_000)
    assert fg_ari(true, true + 5) == 1.0
    half = np.concatenate([np.zeros(30_000, int), np.ones(30_000, int)])
    pred = np.concatenate([half, half])  # each object split in halves across two clusters
    assert fg_ari(true, pred) == pytest.approx(adjusted_rand_score(true, pred), abs=1e-12)


def test_mbo_and_miou_by_hand_with_an_empty_cluster():
    true = np.array([[0, 1, 1], [0, 1, 2], [0, 2, 2]])
    pred = np.array([[0, 1, 1], [0, 1, 1], [0, 0, 1]])  # cluster 2 is empty
    # IoU(c0,o1)=0, IoU(c0,o2)=1/6, IoU(c1,o1)=3/5, IoU(c1,o2)=1/3, IoU(c2,.)=0
    mbo, miou = mask_overlaps(true, pred, n_clusters=3)
    assert mbo == pytest.approx((3 / 5 + 1 / 3) / 2)
    assert miou == pytest.approx((3 / 5 + 1 / 6) / 2)  # o1->c1, o2->c0 beats o1->c1, o2->c2


def test_mbo_and_miou_by_hand_with_more_objects_than_clusters():
    true = np.array([[1, 1, 2], [1, 3, 2], [3, 3, 2]])
    pred = np.array([[0, 0, 1], [0, 0, 1], [0, 0, 1]])
    # IoU(c0,o1)=IoU(c0,o3)=1/2, IoU(c1,o2)=1; mBO reuses c0, Hungarian leaves o1 or o3 at 0
    mbo, miou = mask_overlaps(true, pred, n_clusters=2)
    assert mbo == pytest.approx((0.5 + 1.0 + 0.5) / 3)
    assert miou == pytest.approx((0.5 + 1.0 + 0.0) / 3)


def test_mask_overlaps_drop_empty_objects_and_skip_samples_without_any():
    true = np.array([0, 0, 3, 3])  # slots 1 and 2 absent: only object 3 counts
    pred = np.array([0, 0, 1, 1])
    assert mask_overlaps(true, pred, n_clusters=4) == (1.0, 1.0)
    assert all(np.isnan(mask_overlaps(np.zeros(4, int), pred, n_clusters=2)))


def test_identity_consistency_by_hand():
    true = np.array([[0, 1, 1], [0, 1, 1], [0, 1, 1], [1, 1, 0]])  # one object over four frames
    kept = np.array([[0, 1, 1], [0, 1, 1], [0, 1, 1], [1, 1, 0]])
    assert identity_consistency(true, kept) == 1.0
    switched = np.array([[0, 1, 1], [0, 1, 1], [0, 1, 1], [2, 2, 0]])  # a new cluster in frame 3
    assert identity_consistency(true, switched) == pytest.approx(3 / 4)
    assert np.isnan(identity_consistency(true[:1], kept[:1]))  # one frame: nothing to compare


def test_labels_from_coverage_by_hand():
    coverage = np.zeros((2, 1, 3))  # K=2 slots over a 1 x 3 grid
    coverage[0, 0] = [0.9, 0.3, 0.0]
    coverage[1, 0] = [0.05, 0.6, 0.5]
    # token 0: object 0 (0.9); token 1: object 1 (0.6 > 0.3 > bg 0.1); token 2: bg 0.5 ties object 1
    assert labels_from_coverage(coverage).tolist() == [[1, 2, 0]]
