"""The structure stage on planted twin stores (known answers) and on a real world file."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from probekit.errors import BadOptionError
from probekit.evaluation import run_probe
from probekit.evaluation.inputs import open_inputs
from probekit.rundir import load_run
from probekit.stages import StageContext, get_stage, stage_names
from probekit.store import write_store

N_FAMILIES, N_STEPS, DIVERGE = 16, 6, 2
NUISANCE, PHYSICS = ("color", "texture"), ("mass", "velocity")
SUITE = """[suite]
name = "structure-test"
targets = ["gravity"]
readouts = ["linear"]
controls = []
folds = 3
n_boot = 50
stages = ["structure"]
[stages.structure]
n_boot = 200
"""


def _world(seed: int = 0):
    """Hidden variables of planted twins: appearance a (4), physics trajectory p_t (4).

    A nuisance twin draws a new appearance; a physics twin adds ``c * w`` to the trajectory from
    step ``DIVERGE`` on, with ``c = log(scale)`` and one fixed direction ``w``.
    """
    rng = np.random.default_rng(seed)
    w = rng.normal(size=4)
    w /= np.linalg.norm(w)
    clips, appearance, trajectory, change, mass, gravity = [], [], [], [], [], []
    for i in range(N_FAMILIES):
        family = f"fam{i:02d}"
        a = rng.normal(size=4)
        base = rng.normal(size=(N_STEPS, 4))
        m, g = float(rng.uniform(0.5, 2.0)), float(rng.uniform(8.0, 11.0))
        scale = float(rng.choice([0.5, 0.7, 1.4, 2.0]) * rng.uniform(0.9, 1.1))
        nuisance, physics = NUISANCE[i % 2], PHYSICS[(i // 2) % 2]
        members = [("o", "original", "", {}, a, 0.0, m),
                   (f"c.{nuisance}", "counterfactual", nuisance, {"colors": []}, rng.normal(size=4), 0.0, m),
                   (f"c.{physics}", "counterfactual", physics, {"factor": scale}, a, np.log(scale),
                    m * scale if physics == "mass" else m)]
        for suffix, kind, factor, detail, app, c, mass_value in members:
            clips.append({"clip_id": f"{family}-{suffix}", "family_id": family, "scenario": "drop", "kind": kind,
                          "counterfactual_factor": factor, "detail": json.dumps(detail)})
            appearance.append(app)
            steps = np.arange(N_STEPS)[:, None] >= DIVERGE
            trajectory.append(base + steps * c * w)
            change.append(c)
            mass.append(mass_value)
            gravity.append(g)
    return clips, np.array(appearance), np.array(trajectory), np.array(mass), np.array(gravity)


def _write(path: Path, clips, layers: dict[int, np.ndarray], trajectory, mass, gravity, encoder: str) -> Path:
    n = len(clips)
    labels = {
        "position_world": np.ascontiguousarray(trajectory[:, :, None, :3]).astype(np.float32),
        "exists": np.ones((n, N_STEPS, 1), dtype=bool),
        "frame_mid": np.arange(N_STEPS, dtype=np.float32),
        "clip/mass": mass[:, None].astype(np.float32),
        "clip/gravity": gravity.astype(np.float32),
    }
    feature_layers = {layer: {"time": z, "mean": z.mean(axis=1), "object": z[:, :, None, :]} for layer, z in layers.items()}
    columns = {key: [c[key] for c in clips] for key in clips[0]}
    attrs = {"encoder": encoder, "weights": "none" if encoder == "pixels" else "trained", "init": "pretrained",
             "weight_hash": encoder, "config": {}, "shuffle_frames_seed": -1, "token_grid": [N_STEPS, 1, 1]}
    return write_store(path, attrs=attrs, clips=columns, layers=feature_layers, labels=labels,
                       token_frames=np.stack([np.arange(N_STEPS)] * 2, axis=1), dtype="float32")


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    """A pixels store (appearance and physics alike) and an encoder whose layer 0 erases physics
    (over-invariant) and whose layer 1 amplifies it (sensitive)."""
    tmp = tmp_path_factory.mktemp("structure")
    clips, a, p, mass, gravity = _world()
    rng = np.random.default_rng(1)
    a_t = np.repeat(a[:, None, :], N_STEPS, axis=1)

    def noisy(z):
        return z + 0.01 * rng.normal(size=z.shape)

    pixels = _write(tmp / "pixels.h5", clips, {0: noisy(np.concatenate([a_t, p], axis=-1))}, p, mass, gravity, "pixels")
    encoder = _write(tmp / "planted.h5", clips, {0: noisy(np.concatenate([a_t, 0.02 * p], axis=-1)),
                                                  1: noisy(np.concatenate([0.1 * a_t, 5.0 * p], axis=-1))},
                     p, mass, gravity, "planted-encoder")
    return tmp, encoder, pixels


def _stage_table(paths, params=None, folds=3) -> pd.DataFrame:
    inputs = open_inputs(list(paths))
    try:
        return get_stage("structure").run(StageContext(inputs=inputs, out=Path("."), seed=0, folds=folds,
                                                       params=params or {"n_boot": 200}))
    finally:
        for item in inputs:
            item.store.close()


def _cells(table, metric, store, layer=None):
    rows = table[(table["metric"] == metric) & (table["store"] == store) & (table["pooling"] == "token_mean")]
    return rows if layer is None else rows[rows["layer"] == layer]


def test_planted_over_invariant_layer_is_below_pixels_and_sensitive_layer_above(planted):
    _, encoder, pixels = planted
    table = _stage_table([encoder, pixels])
    assert "structure" in stage_names()
    evidence = table[table["metric"] == "sensitivity_vs_pixels"]
    store = "planted-encoder:trained"
    erased, sensitive = _cells(evidence, "sensitivity_vs_pixels", store, 0), _cells(evidence, "sensitivity_vs_pixels", store, 1)
    assert len(erased) == len(PHYSICS) * len(NUISANCE) == len(sensitive)
    assert (erased["value"] < 0.05).all() and (erased["ci_high"] < 1).all()
    assert erased["note"].str.startswith("over-invariant").all()
    assert (sensitive["value"] > 5).all() and (sensitive["ci_low"] > 1).all()
    # an unrelated pair scores about 1 and physics twins in the erased layer about 0
    distances = _cells(table, "twin_distance", store, 0).set_index("factor")["value"]
    assert distances["mass"] < 0.01 and 0.5 < distances["color"] < 1.5
    # the pixels store has S rows but no ratio against itself
    assert _cells(table, "sensitivity_vs_pixels", "pixels:none").empty and len(_cells(table, "sensitivity_ratio", "pixels:none"))
    # equivariance: the planted layer carries log(scale) along one direction
    r2 = _cells(table, "equivariance_r2", store, 1).set_index("factor")
    assert (r2["value"] > 0.8).all(), r2


def test_factor_that_does_not_move_pixels_is_not_applicable(planted, tmp_path):
    tmp, _, _ = planted
    clips, a, p, mass, gravity = _world()
    is_mass = np.array([c["counterfactual_factor"] == "mass" for c in clips])
    originals = {c["family_id"]: i for i, c in enumerate(clips) if c["kind"] == "original"}
    frozen = p.copy()
    for i in np.flatnonzero(is_mass):  # the mass change moves nothing on the pixels
        frozen[i] = p[originals[clips[i]["family_id"]]]
    frozen[is_mass, DIVERGE:, 3] += 1e-4  # ... except a trace, so the twins still diverge
    frozen[is_mass, DIVERGE:, 0] += 1e-4
    a_t = np.repeat(a[:, None, :], N_STEPS, axis=1)
    pixels = _write(tmp_path / "pixels.h5", clips, {0: np.concatenate([a_t, frozen], axis=-1)}, frozen, mass, gravity, "pixels")
    encoder = _write(tmp_path / "enc.h5", clips, {0: np.concatenate([a_t, frozen], axis=-1) + 1e-3}, frozen, mass, gravity, "enc")
    table = _stage_table([encoder, pixels])
    mass_rows = table[(table["metric"] == "sensitivity_vs_pixels") & (table["factor"] == "mass")]
    assert len(mass_rows) and mass_rows["value"].isna().all()
    assert mass_rows["note"].str.contains("n/a: the mass change moves the pixels").all()
    velocity = table[(table["metric"] == "sensitivity_vs_pixels") & (table["factor"] == "velocity")]
    assert np.isfinite(velocity["value"]).all()


def test_disentanglement_and_similarity_rows(planted):
    _, encoder, pixels = planted
    table = _stage_table([encoder, pixels], {"n_boot": 50, "layers": [1]})
    store = "planted-encoder:trained"
    dci_rows = table[(table["store"] == store) & table["metric"].str.startswith("dci_")]
    assert set(dci_rows["control"]) == {"none", "rotation"} and set(dci_rows["layer"]) >= {1}
    info = dci_rows[dci_rows["metric"] == "dci_informativeness_nrmse"]
    assert set(info["factor"]) == {"mass", "gravity"}
    # factors the store does not label are n/a rows with the reason
    friction = table[(table["store"] == store) & (table["factor"] == "friction")]
    assert friction["value"].isna().all() and friction["note"].str.contains("no clip/friction label").all()
    mig_rows = table[(table["metric"] == "mig") & (table["store"] == store) & (table["factor"] == "")]
    assert len(mig_rows) == 2 and np.isfinite(mig_rows["value"]).all()
    # CKA: a store against itself at the same layer is 1; against pixels it is below 1
    cka = table[table["metric"] == "cka_linear"]
    same = cka[(cka["store"] == store) & (cka["versus"] == store) & (cka["versus_layer"] == 1)]
    assert same["value"].iloc[0] == pytest.approx(1.0)
    cross = cka[(cka["store"] == store) & (cka["versus"] == "pixels:none")]
    assert len(cross) == 1 and 0 < cross["value"].iloc[0] < 1
    assert list(table.columns)[:5] == ["store", "layer", "pooling", "control", "metric"]


def test_store_without_twins_gives_not_applicable_rows(tmp_path):
    clips, a, p, mass, gravity = _world()
    plain = [dict(c, kind="original", counterfactual_factor="") for c in clips]
    for c in plain:
        c["family_id"] = c["clip_id"]
    a_t = np.repeat(a[:, None, :], N_STEPS, axis=1)
    store = _write(tmp_path / "plain.h5", plain, {0: np.concatenate([a_t, p], axis=-1)}, p, mass, gravity, "enc")
    table = _stage_table([store], {"n_boot": 20})
    assert not table["metric"].isin(["twin_distance", "sensitivity_ratio"]).any()
    note = table.loc[table["metric"] == "structure", "note"]
    assert note.str.contains("no counterfactual twins").any()


def test_bad_parameters_are_refused(planted):
    _, encoder, _ = planted
    with pytest.raises(BadOptionError, match="dci_method"):
        _stage_table([encoder], {"dci_method": "forest"})
    with pytest.raises(BadOptionError, match="unknown key 'nboot'"):
        _stage_table([encoder], {"nboot": 3})
    with pytest.raises(BadOptionError, match="parts"):
        _stage_table([encoder], {"parts": ["everything"]})


def test_parts_choose_the_measurements(planted):
    _, encoder, _ = planted
    table = _stage_table([encoder], {"parts": ["similarity"], "layers": "last"})
    assert set(table["metric"]) == {"cka_linear", "cka_debiased"} and set(table["layer"]) == {1}


def test_probe_run_writes_the_table_and_the_report_section(planted, tmp_path):
    from probekit.report.sections import stage_sections

    _, encoder, pixels = planted
    suite = tmp_path / "suite.toml"
    suite.write_text(SUITE)
    run_probe([encoder, pixels], tmp_path / "run", suite=suite)
    run = load_run(tmp_path / "run")
    assert "structure" in run.stages
    table = run.table("structure")
    assert {"twin_distance", "sensitivity_ratio", "sensitivity_vs_pixels", "equivariance_r2", "dci_disentanglement",
            "mig", "cka_linear", "cka_debiased"} <= set(table["metric"])
    section = next(s for s in stage_sections(run) if s.key == "structure")
    assert [f.kind for f in section.figures] == ["invariance", "equivariance", "disentanglement", "cka"]
    assert all(f.uri.startswith("data:image/svg") for f in section.figures)
    assert "Over-invariance evidence" in section.intro
    # the S table: one row per (store, layer, physics factor), nuisance factors as columns
    assert {"color: S", "color: S/S_pixels", "texture: S"} <= set(section.table.columns)
    assert set(section.table["physics factor"]) == set(PHYSICS)
    # evidence under the verdicts: the deepest layer (1, planted sensitive) is far above the pixels
    import re

    from probekit.report.sections import verdict_evidence

    (line,) = verdict_evidence(run)[("planted-encoder:trained", "velocity")]
    ratio = float(re.search(r"sensitivity vs pixels (\d+\.\d+)", line).group(1))
    assert "layer 1" in line and ratio > 5


@pytest.mark.slow
def test_real_world_file_with_twins_end_to_end(tmp_path, run_cli):
    """probekit generate --counterfactuals -> extract tiny-vjepa2 and pixels -> probe --stages structure -> report."""
    world, run_dir = tmp_path / "w.h5", tmp_path / "run"
    assert run_cli("generate", "--out", str(world), "--clips", "8", "--frames", "8", "--size", "32",
                   "--counterfactuals", "--seed", "3").returncode == 0
    stores = []
    for name, encoder in (("tiny", "tiny-vjepa2"), ("pixels", "pixels")):
        out = tmp_path / f"{name}.h5"
        result = run_cli("extract", "--data", str(world), "--out", str(out), "--encoder", encoder, "--layers", "all",
                         "--pool", "mean,time,object", "--dtype", "float32", "--device", "cpu", "--no-progress")
        assert result.returncode == 0, result.stderr
        stores.append(str(out))
    suite = tmp_path / "suite.toml"
    suite.write_text(SUITE.replace("n_boot = 200", "n_boot = 100\nlayers = \"last\""))
    result = run_cli("probe", *stores, "--out", str(run_dir), "--suite", str(suite), "--stages", "structure")
    assert result.returncode == 0, result.stderr
    table = load_run(run_dir).table("structure")
    pairs = table[(table["metric"] == "twin_distance") & (table["pooling"] == "token_mean")]
    assert set(pairs["factor"]) <= {"color", "texture", "light", "camera", "mass", "velocity", "gravity"}
    assert len(set(pairs["factor"]) & {"color", "texture", "light", "camera"}) >= 2
    # every nuisance twin differs in its pixels, so its pixel distance is positive
    nuisance = pairs[(pairs["store"] == "pixels:none") & pairs["factor"].isin(["color", "texture", "light", "camera"])]
    assert (nuisance["value"] > 0).all()
    assert table.loc[table["metric"] == "cka_linear", "versus"].nunique() == 2  # between layers and between stores
    report = tmp_path / "report.html"
    assert run_cli("report", str(run_dir), "--out", str(report)).returncode == 0
    html = report.read_text(encoding="utf-8")
    assert 'id="structure"' in html and 'data-kind="cka"' in html


def test_worker_processes_reproduce_the_serial_table(planted):
    """DCI and MIG tasks run by two joblib workers give the serial table bit for bit."""
    from probekit.evaluation.executors import JoblibExecutor

    _, encoder, pixels = planted
    params = {"n_boot": 50, "parts": ["disentanglement"]}
    serial = _stage_table([encoder, pixels], params)
    inputs = open_inputs([encoder, pixels])
    try:
        with JoblibExecutor(2) as executor:
            parallel = get_stage("structure").run(StageContext(inputs=inputs, out=Path("."), seed=0, folds=3, params=params,
                                                               executor=executor))
    finally:
        for item in inputs:
            item.store.close()
    assert (serial["metric"] == "dci_disentanglement").any()
    pd.testing.assert_frame_equal(parallel, serial, check_exact=True)
