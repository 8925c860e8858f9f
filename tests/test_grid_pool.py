"""The ``grid`` pool kind and the ``spatial`` readout: tokens averaged over a coarse spatial grid,
checked against block means computed by hand, and derived from full tokens where a store has no grid."""

from __future__ import annotations

import numpy as np
import pytest

from probekit.extraction.pooling import GRID_CELLS, grid_pool, parse_pool, pool_tokens
from probekit.probes.registry import get_readout


def test_a_grid_at_most_the_cell_count_is_the_tokens_flattened():
    rng = np.random.default_rng(0)
    tokens = rng.normal(size=(2, 3, GRID_CELLS, GRID_CELLS - 1, 5)).astype(np.float32)
    np.testing.assert_allclose(grid_pool(tokens), tokens.reshape(2, 3, -1), rtol=1e-6)


def test_larger_grids_are_block_means():
    rng = np.random.default_rng(1)
    side = 2 * GRID_CELLS
    tokens = rng.normal(size=(3, side, side, 4)).astype(np.float32)
    blocks = tokens.reshape(3, GRID_CELLS, 2, GRID_CELLS, 2, 4).mean(axis=(2, 4))  # (3, g, g, D) by hand
    np.testing.assert_allclose(grid_pool(tokens), blocks.reshape(3, -1), rtol=1e-5, atol=1e-6)


def test_pool_tokens_writes_the_grid_and_the_pool_option_accepts_it():
    import torch

    assert parse_pool("grid,mean") == ("mean", "grid")
    tokens = torch.randn(2, 3, 8, 8, 6)
    out = pool_tokens(tokens, ("time", "grid"), None)
    assert out["grid"].shape == (2, 3, GRID_CELLS * GRID_CELLS * 6)
    # the grid's cell means average to the step mean (equal cells)
    np.testing.assert_allclose(out["grid"].reshape(2, 3, -1, 6).mean(axis=2), out["time"], rtol=1e-5, atol=1e-6)


def test_the_spatial_readout_reads_the_grid_with_a_linear_estimator():
    readout = get_readout("spatial")
    assert readout.features == "grid" and readout.fast


def test_a_store_with_full_tokens_only_is_probed_through_a_derived_grid(tmp_path):
    """A store holding only full tokens gets the same spatial scores as one that stored the grid at
    extraction; on planted tokens that carry each object's code where it lies, the grid reads the
    object's position far better than the mean over tokens."""
    import probekit as pk
    from probekit.store import Store, write_store
    from probekit.testing.planted_tokens import write_token_store

    tokens_only = write_token_store(tmp_path / "tokens.h5", forms=("bound",), n_clips=30)
    with Store(tokens_only) as store:
        attrs = dict(store.attrs)
        layer = {kind: store.features(0, kind) for kind in store.feature_kinds(0)}
        labels = {name: store.labels(name) for name in store.label_names if name != "frame_mid"}
        clips = {name: list(values) for name, values in store.clips().items()}
        token_frames = store.dataset("layout/token_frames")[()]
    layer["grid"] = grid_pool(layer.pop("tokens"))
    with_grid = write_store(tmp_path / "grid.h5", attrs=attrs, clips=clips, layers={0: layer}, labels=labels,
                            token_frames=token_frames, dtype="float32")
    suite = tmp_path / "suite.toml"
    suite.write_text('[suite]\nname = "grid"\nreadouts = ["linear", "spatial"]\ncontrols = []\nn_boot = 20\n'
                     'targets = ["position_camera"]\n')
    scores = []
    for store, out in ((tokens_only, "a"), (with_grid, "b")):
        results = pk.probe(store, tmp_path / out, suite=suite).results
        rows = results[(results.metric == "r2") & (results.slot == 0)].set_index("readout").score
        scores.append(rows)
    np.testing.assert_allclose(scores[0]["spatial"], scores[1]["spatial"], rtol=1e-6)
    assert scores[0]["spatial"] >= 0.5 and scores[0]["linear"] < 0.2, scores[0]


@pytest.mark.parametrize("dtype", ["float16", "float32"])
def test_full_tokens_in_the_store_dtype_equal_numpy_rounding(dtype):
    """Full tokens are converted by torch; the values are numpy's ``astype`` (round to nearest even),
    including overflow to inf, subnormals and NaN."""
    import torch

    rng = np.random.default_rng(2)
    values = rng.normal(scale=3.0, size=(2, 3, 4, 4, 16)).astype(np.float32)
    values.flat[:6] = [7e4, -7e4, 1e-6, -3e-8, np.nan, 65519.0]
    out = pool_tokens(torch.from_numpy(values), ("tokens",), None, dtype)
    expected = values.astype(dtype)
    assert out["tokens"].dtype == np.dtype(dtype)
    np.testing.assert_array_equal(out["tokens"], expected)  # exact values; NaN where NaN
