"""Structure metrics against published values, hand computations and planted codes."""

from __future__ import annotations

import math

import numpy as np
import pytest

from probekit.errors import BadOptionError
from probekit.metrics.disentanglement import (
    completeness,
    dci,
    discretise_factor,
    disentanglement,
    mig,
    mutual_information,
    random_rotation,
)
from probekit.metrics.invariance import TwinPairs, divergence_steps, family_counts, twin_distances, weighted_means
from probekit.metrics.similarity import linear_cka


# -- CKA --------------------------------------------------------------------------------------
def test_cka_reproduces_the_reference_notebook():
    # google-research representation_similarity/Demo.ipynb
    np.random.seed(1337)
    x = np.random.randn(100, 10)
    y = np.random.randn(100, 10) + x
    assert linear_cka(x, y) == pytest.approx(0.55761, abs=1e-5)
    assert linear_cka(x, y, debiased=True) == pytest.approx(0.51346, abs=1e-5)


def _notebook_gram_cka(x, y, debiased):
    """The notebook's Gram-matrix form (gram_linear, center_gram, cka), transcribed."""
    def center_gram(gram, unbiased):
        gram = gram.copy()
        if unbiased:
            n = gram.shape[0]
            np.fill_diagonal(gram, 0)
            means = np.sum(gram, 0) / (n - 2)
            means -= np.sum(means) / (2 * (n - 1))
            gram -= means[:, None]
            gram -= means[None, :]
            np.fill_diagonal(gram, 0)
        else:
            means = np.mean(gram, 0)
            means -= np.mean(means) / 2
            gram -= means[:, None]
            gram -= means[None, :]
        return gram

    gx, gy = center_gram(x @ x.T, debiased), center_gram(y @ y.T, debiased)
    scaled = gx.ravel().dot(gy.ravel())
    return scaled / (np.linalg.norm(gx) * np.linalg.norm(gy))


def test_cka_with_more_features_than_rows_matches_the_gram_form():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(12, 40))
    y = x[:, :30] @ rng.normal(size=(30, 25)) + rng.normal(size=(12, 25))
    for debiased in (False, True):
        assert linear_cka(x, y, debiased=debiased) == pytest.approx(_notebook_gram_cka(x, y, debiased), rel=1e-9)


def test_cka_is_invariant_to_rotation_and_scale_and_refuses_mismatched_rows():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(60, 5))
    assert linear_cka(x, 2.5 * x @ random_rotation(5, 3)) == pytest.approx(1.0)
    assert np.isnan(linear_cka(x, np.ones((60, 3))))
    with pytest.raises(BadOptionError, match="same examples"):
        linear_cka(x, x[:50])


# -- DCI oracles (disentanglement_lib dci_test.py) -----------------------------------------------
def test_dci_oracles_of_disentanglement_lib():
    diagonal = np.diag(5.0 * np.ones(5))
    assert disentanglement(diagonal) == pytest.approx(1.0)
    assert completeness(diagonal) == pytest.approx(1.0)
    assert disentanglement(np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]])) == pytest.approx(1.0)
    zeros = np.zeros((10, 10))
    assert disentanglement(zeros) == pytest.approx(0.0, abs=1e-9)
    assert completeness(zeros) == pytest.approx(0.0, abs=1e-9)
    duplicated = np.vstack([diagonal, diagonal])
    assert completeness(duplicated) == pytest.approx(1.0 - math.log(2) / math.log(10))
    assert disentanglement(duplicated) == pytest.approx(1.0)


# -- MIG --------------------------------------------------------------------------------------
def test_mig_equals_a_hand_computation():
    factor = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    codes = np.array([
        [0.0, 0.0], [0.0, 0.0], [0.0, 0.0], [0.0, 1.0],
        [1.0, 1.0], [1.0, 1.0], [1.0, 1.0], [1.0, 1.0],
    ])
    # latent 0 copies the factor: I = H = ln 2. Latent 1 joint counts (y, z): (0,0)=3, (0,1)=1, (1,1)=4
    second = 3 / 8 * math.log((3 / 8) / (1 / 2 * 3 / 8)) + 1 / 8 * math.log((1 / 8) / (1 / 2 * 5 / 8)) \
        + 4 / 8 * math.log((4 / 8) / (1 / 2 * 5 / 8))
    expected = (math.log(2) - second) / math.log(2)
    result = mig(codes, {"f": factor})
    assert result.per_factor["f"] == pytest.approx(expected)
    assert result.mutual_info[:, 0] == pytest.approx([math.log(2), second])


def test_mutual_information_equals_scikit_learn_for_every_column():
    from sklearn.metrics import mutual_info_score

    rng = np.random.default_rng(4)
    labels = rng.choice(np.array(["a", "b", "c"]), size=200)
    binned = rng.integers(1, 21, size=(200, 7))
    binned[:, 1] = 5  # a constant column
    binned[:, 2] = (labels == "a") * 3 + rng.integers(0, 2, 200)  # shares information with the labels
    expected = [mutual_info_score(labels, binned[:, i]) for i in range(binned.shape[1])]
    np.testing.assert_allclose(mutual_information(labels, binned), expected, rtol=1e-12, atol=1e-15)
    assert float(mutual_information(labels, labels)) == pytest.approx(mutual_info_score(labels, labels), rel=1e-12)
    assert float(mutual_information(labels, binned[:, 2])) == pytest.approx(expected[2], rel=1e-12)


def test_mig_refuses_a_constant_factor_with_a_reason():
    codes = np.random.default_rng(0).normal(size=(30, 3))
    result = mig(codes, {"constant": np.zeros(30, dtype=int), "half": np.arange(30) % 2})
    assert "constant" not in result.per_factor and "zero entropy" in result.refused["constant"]
    assert np.isfinite(result.value) and np.isfinite(list(result.per_factor.values())).all()
    with pytest.raises(BadOptionError, match="at least 2 latents"):
        mig(codes[:, :1], {"half": np.arange(30) % 2})


def test_discretise_factor_keeps_few_values_and_bins_many():
    assert list(discretise_factor(np.array([9.8, 9.8, 4.0]))) == [1, 1, 0]
    binned = discretise_factor(np.linspace(0, 1, 100))
    assert len(np.unique(binned)) == 10 and np.all(np.bincount(binned) == 10)


# -- planted: a rotated disentangled code ------------------------------------------------------------
def _planted_code(n=120, seed=0):
    rng = np.random.default_rng(seed)
    factors = rng.normal(size=(n, 3))
    codes = np.hstack([factors + 0.05 * rng.normal(size=(n, 3)), 0.05 * rng.normal(size=(n, 3))])
    return codes, {"a": factors[:, 0], "b": factors[:, 1], "c": factors[:, 2]}, np.arange(n) // 2


def test_rotation_loses_disentanglement_but_keeps_informativeness():
    codes, factors, groups = _planted_code()
    plain = dci(codes, factors, groups, folds=3)
    rotated = dci(codes @ random_rotation(6, seed=5), factors, groups, folds=3)
    assert plain.disentanglement > 0.9 and plain.completeness > 0.9
    assert rotated.disentanglement < plain.disentanglement - 0.3
    for name in factors:
        assert plain.informativeness_kind[name] == "nrmse"
        assert plain.informativeness[name] < 0.15 and rotated.informativeness[name] < 0.15
    discrete = {k: discretise_factor(v) for k, v in factors.items()}
    assert mig(codes @ random_rotation(6, seed=5), discrete).value < mig(codes, discrete).value - 0.2


def test_dci_names_informativeness_by_what_it_measures():
    codes, factors, groups = _planted_code(n=60)
    kinds = {"a": factors["a"], "shape": (factors["b"] > 0).astype(float), "constant": np.ones(60)}
    result = dci(codes, kinds, groups, categorical=("shape",), folds=3)
    assert result.informativeness_kind == {"a": "nrmse", "shape": "error_rate"}
    assert result.informativeness["shape"] < 0.1  # the sign of b is in code 1
    assert "constant" in result.refused and result.importance.shape == (6, 2)
    with pytest.raises(BadOptionError, match="unknown method"):
        dci(codes, kinds, groups, method="forest")


@pytest.mark.slow
def test_gradient_boosted_importance_reports_accuracy():
    codes, factors, groups = _planted_code(n=80)
    result = dci(codes, {"a": factors["a"]}, groups, method="gbt", folds=2)
    assert result.informativeness_kind["a"] == "accuracy" and 0 <= result.informativeness["a"] <= 1
    assert int(np.argmax(result.importance[:, 0])) == 0


# -- invariance -------------------------------------------------------------------------------
def _pairs(factor, family):
    n = len(factor)
    return TwinPairs(np.zeros(n, int), np.arange(1, n + 1), np.asarray(factor), np.asarray(family), np.full(n, np.nan))


def test_unrelated_pairs_score_about_one_and_copies_zero():
    rng = np.random.default_rng(0)
    latents = rng.normal(size=(401, 6, 8))  # row 0 is one original; rows 1.. are unrelated draws
    pairs = TwinPairs(np.arange(0, 400, 2), np.arange(1, 401, 2), np.array(["x"] * 200), np.arange(200).astype(str),
                      np.full(200, np.nan))
    d = twin_distances(latents, pairs, np.zeros(200, int), np.arange(0, 400, 2))
    assert d.mean() == pytest.approx(1.0, abs=0.05)
    latents[1::2] = latents[0::2][:200]
    assert np.allclose(twin_distances(latents, pairs, np.zeros(200, int), np.arange(0, 400, 2)), 0.0)


def test_only_steps_after_divergence_count():
    latents = np.zeros((2, 4, 2))
    latents[1, :2] = 10.0  # differs before divergence: ignored
    latents[1, 3] = [1.0, 0.0]
    trajectory = np.zeros((2, 4, 1, 3))
    trajectory[1, 3:] = 0.5
    pairs = _pairs(["mass"], ["f0"])
    start = divergence_steps([trajectory], pairs)
    assert list(start) == [3]
    reference = np.zeros((3, 4, 2))
    reference[:, :, 0] = np.array([[0, 1, 0, 1], [1, 0, 1, 0], [0, 0, 1, 1]])
    scale = 2 * reference.reshape(-1, 2).var(axis=0, ddof=1).sum()
    all_latents = np.concatenate([latents, reference])
    d = twin_distances(all_latents, pairs, start, np.array([2, 3, 4]))
    assert d[0] == pytest.approx(1.0 / scale)


def test_family_bootstrap_weights_whole_families():
    inverse, counts = family_counts(np.array(["a", "a", "b"]), n_boot=50, seed=0)
    assert counts.shape == (50, 2) and np.all(counts.sum(axis=1) == 2)
    means = weighted_means(np.array([1.0, 3.0, 10.0]), np.ones(3, bool), inverse, counts)
    expected = (counts[:, 0] * 4.0 + counts[:, 1] * 10.0) / (2 * counts[:, 0] + counts[:, 1])
    assert np.allclose(means, expected)
