"""Stores of different time grids probed together: each is scored against its own labels.

A per-frame store (16 token steps) and a tubelet store (8 steps, each the average of two
frames) over the same clips each carry slot 0's camera position linearly at SNR 4, so the best
linear readout of either has R^2 = 4 / (1 + 4) = 0.8 (planted). Read against the other store's
labels, the per-frame store would score far lower; in the other order it used to crash.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from probekit.evaluation import run_probe
from probekit.testing import synthetic_labels, write_planted_store

PLANTED_R2 = 4.0 / 5.0


def _coarsen(labels: dict[str, np.ndarray], token_frames: np.ndarray) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Labels of a tubelet store: two consecutive per-frame steps per token step."""
    n, t, k = labels["exists"].shape
    out: dict[str, np.ndarray] = {}
    for name, value in labels.items():
        if name.startswith("clip/"):
            out[name] = value
        elif name == "frame_mid":
            out[name] = value.reshape(t // 2, 2).mean(axis=1).astype(value.dtype)
        elif value.dtype == bool:
            pairs = value.reshape(n, t // 2, 2, *value.shape[2:])
            out[name] = pairs.all(axis=2) if name == "exists" else pairs.any(axis=2)
        else:
            pairs = value.astype(np.float64).reshape(n, t // 2, 2, *value.shape[2:])
            out[name] = pairs.mean(axis=2).astype(value.dtype)
    frames = np.stack([token_frames[0::2, 0], token_frames[1::2, 1]], axis=1)
    return out, frames


def _suite(tmp_path):
    path = tmp_path / "align.toml"
    path.write_text(
        '[suite]\nname = "align"\ntargets = ["position_camera"]\nreadouts = ["linear"]\ncontrols = ["nuisance"]\n'
        "folds = 5\nseed = 0\nn_boot = 100\n"
    )
    return path


@pytest.fixture(scope="module")
def stores(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("align")
    labels, clips, frames = synthetic_labels(n_clips=100, n_steps=16, seed=3)
    coarse, coarse_frames = _coarsen(labels, frames)
    per_frame = write_planted_store(tmp / "per_frame.h5", labels, clips, frames, forms=("noise", "linear"), dim=16, seed=3,
                                    attrs={"encoder": "perframe", "weights": "planted"})
    tubelet = write_planted_store(tmp / "tubelet.h5", coarse, clips, coarse_frames, forms=("noise", "linear"), dim=16, seed=4,
                                  attrs={"encoder": "tubelet", "weights": "planted"})
    return tmp, per_frame, tubelet


def _linear_layer_r2(table: pd.DataFrame, encoder: str) -> pd.Series:
    rows = table[(table.encoder == encoder) & (table.target == "position_camera") & (table.slot == 0) & (table.layer == 1)
                 & (table.readout == "linear") & (table.metric == "r2") & (table.scenario == "all") & (table.control == "none")]
    assert len(rows) == 1
    return rows.iloc[0]


@pytest.mark.parametrize("order", ["per_frame_first", "tubelet_first"])
def test_each_store_scored_on_its_own_time_grid(stores, order):
    tmp, per_frame, tubelet = stores
    paths = [per_frame, tubelet] if order == "per_frame_first" else [tubelet, per_frame]
    table = run_probe(paths, tmp / f"run_{order}", suite=_suite(tmp))
    for encoder, n_steps in (("perframe", 16), ("tubelet", 8)):
        row = _linear_layer_r2(table, encoder)
        assert row.ci_low - 0.03 <= PLANTED_R2 <= row.ci_high + 0.03, (encoder, row.score, row.ci_low, row.ci_high)
        assert abs(row.score - PLANTED_R2) < 0.06
        # samples: one per token step of the store's own grid where slot 0 exists (always in these labels)
        assert row.n == 100 * n_steps
    # each grid has its own label-only baseline, scored on its own samples
    nuisance = table[(table.control == "nuisance") & (table.metric == "r2") & (table.scenario == "all") & (table.target == "position_camera") & (table.slot == 0)]
    assert sorted(nuisance.n) == [800, 1600]
    # the cross-store comparison is paired at the family level and quotes both stores
    comparisons = pd.read_csv(tmp / f"run_{order}" / "comparisons.csv")
    between = comparisons[comparisons.a.str.contains("@L") & comparisons.b.str.contains("@L") & (comparisons.slot == 0)]
    assert len(between) == 1 and np.isfinite(between.ci_low.iloc[0])


def test_store_paths_are_relative_to_the_run_directory(stores, tmp_path, monkeypatch):
    from probekit.rundir import load_run

    tmp, per_frame, tubelet = stores
    run_dir = tmp / "run_per_frame_first"
    if not (run_dir / "manifest.json").is_file():
        pytest.skip("needs the alignment run")
    monkeypatch.chdir(tmp_path)  # anywhere else
    run = load_run(run_dir)
    for label in run.stores:
        assert not Path(run.input(label)["path"]).is_absolute()
        assert run.store_path(label) is not None
