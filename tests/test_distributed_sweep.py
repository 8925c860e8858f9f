"""``probekit probe --jobs N`` / ``--scheduler ADDRESS``: the fits run elsewhere, the numbers do not move.

The equality tests are marked slow (``python3 -m pytest -m slow tests/test_distributed_sweep.py``).
The reference is a serial run of the same command (one BLAS and torch thread, as in every
worker); a parallel run must reproduce its tables bit for bit, fitted probes included.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from probekit.testing import write_planted_store

from binding_suite import BINDING_SUITE

#: A small suite: ridge groups, logistic paths, control tasks and a torch readout (MLP).
SUITE = """
[suite]
name = "tiny"
readouts = ["linear", "object", "mlp"]
targets = ["position_camera", "contact", "acceleration_free"]
controls = ["control_task"]
folds = 3
seed = 0
n_boot = 20
[suite.layers]
mlp = "last"
[readouts.linear]
alphas = [1e-2, 1, 100]
Cs = [0.1, 1]
[readouts.object]
alphas = [1e-2, 1, 100]
Cs = [0.1, 1]
[readouts.mlp]
hidden = 8
depth = 1
max_epochs = 3
"""
TABLES = ("results", "selection", "comparisons", "gains")


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("dist")
    (tmp / "tiny.toml").write_text(SUITE)
    ARGS[1] = str(tmp / "tiny.toml")
    return write_planted_store(tmp / "tiny.h5", forms=("linear", "object"), dim=6, n_clips=30, n_steps=3, seed=5)


ARGS = ["--suite", "", "--quiet", "--threads", "1"]


@pytest.fixture(scope="module")
def serial(store, tmp_path_factory):
    import os
    import subprocess
    import sys
    from pathlib import Path

    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1]), "OMP_NUM_THREADS": "1"}
    out = tmp_path_factory.mktemp("serial") / "run"
    proc = subprocess.run([sys.executable, "-m", "probekit", "probe", str(store), "--out", str(out), *ARGS],
                          capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr
    return out


def _assert_same_run(a, b) -> None:
    pd.testing.assert_frame_equal(pd.read_parquet(a / "results.parquet"), pd.read_parquet(b / "results.parquet"), check_exact=True)
    for name in TABLES:
        pd.testing.assert_frame_equal(pd.read_csv(a / f"{name}.csv"), pd.read_csv(b / f"{name}.csv"), check_exact=True)
    probes_a = sorted(p.name for p in (a / "probes").glob("*.npz"))
    assert probes_a and probes_a == sorted(p.name for p in (b / "probes").glob("*.npz"))
    for name in probes_a:
        with np.load(a / "probes" / name) as x, np.load(b / "probes" / name) as y:
            assert x.files == y.files
            for key in x.files:
                np.testing.assert_array_equal(x[key], y[key], err_msg=f"{name}:{key}")


@pytest.mark.slow  # three probe runs and worker start-up: about a minute on 2 cores
def test_joblib_workers_reproduce_the_serial_run(store, serial, tmp_path, run_cli):
    out = tmp_path / "run"
    proc = run_cli("probe", store, "--out", out, *ARGS, "--jobs", "2")
    assert proc.returncode == 0, proc.stderr
    _assert_same_run(serial, out)


@pytest.mark.slow  # a LocalCluster of two worker processes: about a minute on 2 cores
def test_dask_cluster_reproduces_the_serial_run(store, serial, tmp_path, run_cli):
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None) as cluster:
        out = tmp_path / "run"
        proc = run_cli("probe", store, "--out", out, *ARGS, "--scheduler", cluster.scheduler_address)
        assert proc.returncode == 0, proc.stderr
        with distributed.Client(cluster) as client:  # the fits ran on the cluster's workers
            prefixes = client.run_on_scheduler(lambda dask_scheduler: list(dask_scheduler.task_prefixes))
        assert "run_unit" in prefixes
    _assert_same_run(serial, out)


def test_unreachable_scheduler_is_one_error_line(store, tmp_path, run_cli):
    proc = run_cli("probe", store, "--out", tmp_path / "run", *ARGS, "--scheduler", "tcp://127.0.0.1:9")
    assert proc.returncode == 2
    assert proc.stderr.strip().startswith("error: --scheduler tcp://127.0.0.1:9") and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("address", ["notanaddress", "tcp://host", "tcp://host:port", " "])
def test_malformed_scheduler_address_is_one_error_line(store, tmp_path, run_cli, address):
    """An address without a port (or empty) is refused before a dask client is made: no shutdown traceback."""
    pytest.importorskip("distributed")
    proc = run_cli("probe", store, "--out", tmp_path / "run", *ARGS, "--scheduler", address)
    assert proc.returncode == 2
    assert proc.stderr.strip().startswith("error: --scheduler") and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "run").exists()


def test_jobs_and_scheduler_together_are_refused(store, tmp_path, run_cli):
    proc = run_cli("probe", store, "--out", tmp_path / "run", *ARGS, "--jobs", "2", "--scheduler", "tcp://127.0.0.1:9")
    assert proc.returncode == 2 and proc.stderr.startswith("error: --jobs and --scheduler")



@pytest.mark.slow  # two probe runs with the binding stage and a LocalCluster: about a minute on 2 cores
def test_dask_cluster_runs_the_stage_pieces_and_reproduces_the_serial_table(tmp_path, run_cli):
    """The binding stage's clusterings and leakage fits run on the cluster's workers; its table does not move."""
    distributed = pytest.importorskip("distributed")
    from probekit.testing.planted_tokens import write_token_store

    store = write_token_store(tmp_path / "tokens.h5", n_clips=24, n_steps=3)
    (tmp_path / "binding.toml").write_text(BINDING_SUITE)
    args = ["--suite", str(tmp_path / "binding.toml"), "--quiet", "--threads", "1"]
    serial = run_cli("probe", store, "--out", tmp_path / "serial", *args)
    assert serial.returncode == 0, serial.stderr
    with distributed.LocalCluster(n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None) as cluster:
        proc = run_cli("probe", store, "--out", tmp_path / "dask", *args, "--scheduler", cluster.scheduler_address)
        assert proc.returncode == 0, proc.stderr
        with distributed.Client(cluster) as client:
            prefixes = client.run_on_scheduler(lambda dask_scheduler: list(dask_scheduler.task_prefixes))
    assert "cluster_clip" in prefixes and "oof_task" in prefixes
    for table in ("binding", "binding_frames"):
        pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "dask" / "tables" / f"{table}.parquet"),
                                      pd.read_parquet(tmp_path / "serial" / "tables" / f"{table}.parquet"), check_exact=True)
