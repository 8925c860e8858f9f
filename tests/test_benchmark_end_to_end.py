"""extract + probe + report on each benchmark fixture with its native targets or pairs, and the
Physion OCP readout protocol against scikit-learn's GridSearchCV on the same features and folds."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import benchmark_fixtures as bf
import probekit as pk
from probekit.h5io import read_strings
from probekit.store import Store

PIXELS = {"encoder": "pixels", "encoder_options": {"size": 8, "patch": 8}, "pool": "mean,time", "progress": False}
TINY_SUITE = ('[suite]\nname = "bench"\nreadouts = ["linear"]\ncontrols = []\nfolds = 2\nn_boot = 20\nstages = ["probe", "surprise"]\n'
              '[readouts.linear]\nalphas = [1.0, 100.0]\nCs = [0.1, 1.0]\n[stages.surprise]\nn_boot = 20\n')


def _suite(tmp_path, text=TINY_SUITE):
    path = tmp_path / "suite.toml"
    path.write_text(text)
    return path


@pytest.mark.parametrize("family", ["grasp", "intphys2", "intphys2019", "inflevel"])
def test_violation_pairs_run_end_to_end_through_the_surprise_stage(tmp_path, family):
    data = tmp_path / family
    if family == "grasp":
        bf.write_grasp(data, props=("Gravity", "Collision"), n_videos=2, n_frames=4)
        expected = {"gravity": 2, "collision": 2}
    elif family == "intphys2":
        bf.write_intphys2(data, scenes=("0", "196_0", "12"), n_frames=4)
        expected = {"permanence": 2, "solidity": 2, "immutability": 2}
    elif family == "intphys2019":
        bf.write_intphys2019(data, blocks=("O1",), scenes=2, n_frames=4)
        expected = {"permanence": 2 * 4}  # every possible run with every impossible run of a scene
    else:
        bf.write_inflevel(data, props=("gravity",), pairs=3, n_frames=9)
        expected = {"gravity": 3}
    store = pk.extract(data, tmp_path / "s.h5", **PIXELS)
    run = pk.probe(store, tmp_path / "run", suite=_suite(tmp_path))
    rows = run.results[(run.results.target == "possible") & (run.results.metric == "accuracy")]
    assert len(rows) and rows.score.between(0, 1).all()
    surprise = run.table("surprise")
    pairs = surprise[surprise.method == "dynamics"].groupby("principle").n_pairs.max().to_dict()
    assert {k: int(v) for k, v in pairs.items() if k in expected} == expected
    html = pk.report(run.path, tmp_path / "report.html").read_text()
    assert "Violation-of-expectation" in html


def test_clevrer_object_states_run_end_to_end_and_object_stages_say_why_not(tmp_path):
    bf.write_clevrer(tmp_path / "clevrer", n_videos=4, n_frames=8)
    store = pk.extract(tmp_path / "clevrer", tmp_path / "c.h5", window=4, stride=4, **PIXELS)
    with Store(store) as opened:
        assert {"clevrer_location", "clevrer_velocity", "clevrer_visible", "clevrer_contact", "exists"} <= set(opened.label_names)
        assert "masks" in opened.attrs["not_available"]
    suite = TINY_SUITE.replace('stages = ["probe", "surprise"]', 'stages = ["probe", "binding"]')
    run = pk.probe(store, tmp_path / "run", suite=_suite(tmp_path, suite))
    assert {"clevrer_location", "clevrer_velocity", "clevrer_visible", "clevrer_contact"} <= set(run.results.target)
    assert run.manifest["stage_skips"]["binding"].startswith("not available: ")  # with the reason, never a failure
    assert "CLEVRER ships no per-frame masks" in run.manifest["stage_skips"]["binding"]
    assert pk.report(run.path, tmp_path / "report.html").is_file()


@pytest.fixture(scope="module")
def physion_store(tmp_path_factory):
    root = tmp_path_factory.mktemp("physion")
    truth = bf.write_physion(root / "data", {"train": 8, "test": 4})
    return root, truth, pk.extract(root / "data", root / "p.h5", **PIXELS)


def test_physion_suite_reproduces_gridsearchcv_accuracy_exactly(physion_store):
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GridSearchCV, StratifiedKFold
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    root, truth, store = physion_store
    run = pk.probe(store, root / "run", suite="physion", seed=3)
    table = run.table("physion_ocp")
    with Store(store) as opened:
        clips = opened.clips()
        clips["split"] = read_strings(opened.dataset("clips/split"))
        x = np.asarray(opened.features(0, "time"), np.float64).reshape(len(clips), -1)
    y = np.array([truth[c][0] for c in clips.clip_id], int)  # the planted outcome, not the store's label
    train, test = (clips.split == "train").to_numpy(), (clips.split == "test").to_numpy()
    Cs = [1e-5, 1e-4, 1e-3, 1e-2, 0.1, 1.0, 10.0, 100.0]
    reference = GridSearchCV(Pipeline([("scale", StandardScaler()), ("lr", LogisticRegression(C=1.0, max_iter=20000))]),
                             {"lr__C": Cs}, cv=StratifiedKFold(5, shuffle=True, random_state=3)).fit(x[train], y[train])
    predicted = reference.predict(x[test])
    overall = table[(table.scenario == "all") & (table.layer == 0)].iloc[0]
    assert overall.score == np.mean(predicted == y[test]) and overall.C == reference.best_params_["lr__C"]
    assert overall.cv_accuracy == reference.best_score_
    for scenario in bf.PHYSION_SCENARIOS:
        mask = (clips.scenario[test] == scenario).to_numpy()
        row = table[(table.scenario == scenario) & (table.layer == 0)].iloc[0]
        assert row.score == np.mean(predicted[mask] == y[test][mask]) and row.n_test == mask.sum()
    assert overall.score >= 0.75  # the outcome is planted in the last frame's brightness
    assert overall.ci_low <= overall.score <= overall.ci_high
    assert "physion_ocp" in set(run.results.target)
    html = pk.report(run.path, root / "report.html").read_text()
    assert "physion_ocp" in html


def test_intphys2_heldout_gets_surprise_scores_and_calls_in_a_csv(tmp_path):
    bf.write_intphys2(tmp_path / "ip2", scenes=tuple(str(s) for s in range(5)), n_frames=6)  # 10 pairs + 2 HeldOut
    store = pk.extract(tmp_path / "ip2", tmp_path / "s.h5", **PIXELS)
    suite = TINY_SUITE.replace('stages = ["probe", "surprise"]', 'stages = ["probe", "voe_heldout"]')
    run = pk.probe(store, tmp_path / "run", suite=_suite(tmp_path, suite))
    table = run.table("voe_heldout")
    assert list(table.split) == ["HeldOut", "HeldOut"]
    csv = pd.read_csv(run.path / "tables" / "voe_heldout_submission.csv")
    assert list(csv.columns) == ["name", "surprise", "predicted_possible"] and list(csv.name) == [f"{'ab' * 31}00", f"{'ab' * 31}01"]
    # planted: the first HeldOut video moves like the possible ones, the second loses its square halfway
    assert list(csv.predicted_possible) == [True, False]
    assert csv.surprise[1] > table.threshold[0] >= csv.surprise[0]
