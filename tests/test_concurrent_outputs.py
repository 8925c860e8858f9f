"""Two writers on one output: the second exits 2 with one line naming the first; the first's
output equals a clean run. Both writers are real ``probekit`` processes; the first is paused at its
first write boundary (a hook that waits for a file) so the two overlap on every machine."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np

from conftest import _cli_env

PAUSED_RUN = """
import sys, time
from pathlib import Path
from probekit.formats.atomic import set_write_hook
go = Path(sys.argv[1])
def wait(path):
    Path(str(go) + ".paused").write_text("1")
    while not go.exists():
        time.sleep(0.05)
set_write_hook(wait)
from probekit.cli import main
main(sys.argv[2:])
"""


def start_paused(go: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", PAUSED_RUN, str(go), *map(str, args)], env=_cli_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_paused(go: Path, first: subprocess.Popen, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while not Path(str(go) + ".paused").exists():
        assert first.poll() is None, first.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.1)


def datasets(path: Path) -> dict[str, np.ndarray]:
    found: dict[str, np.ndarray] = {}
    with h5py.File(path, "r") as f:
        f.visititems(lambda name, obj: found.__setitem__(name, obj[()]) if isinstance(obj, h5py.Dataset) else None)
    return found


def assert_second_refused(second: subprocess.CompletedProcess, first: subprocess.Popen) -> None:
    lines = second.stderr.strip().splitlines()
    assert second.returncode == 2, second.stderr
    assert len(lines) == 1 and lines[0].startswith("error:"), second.stderr
    assert f"process {first.pid}" in lines[0]


def test_two_generates_on_one_output(tmp_path, run_cli):
    out, go = tmp_path / "same.h5", tmp_path / "go"
    args = ("generate", "--out", out, "--clips", "2", "--frames", "4", "--size", "16", "--scenarios", "drop")
    first = start_paused(go, *args, "--seed", "1")
    wait_paused(go, first)
    second = run_cli(*args, "--seed", "2", "--overwrite")
    assert_second_refused(second, first)
    go.write_text("go")
    assert first.wait(timeout=600) == 0, first.communicate()
    clean = tmp_path / "clean.h5"
    assert run_cli(*args[:2], clean, *args[3:], "--seed", "1").returncode == 0
    a, b = datasets(out), datasets(clean)
    assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)


def test_extract_and_a_resume_on_one_output(tmp_path, run_cli):
    world, go = tmp_path / "w.h5", tmp_path / "go"
    assert run_cli("generate", "--out", world, "--clips", "3", "--frames", "4", "--size", "16", "--scenarios", "drop").returncode == 0
    args = ("extract", "--data", world, "--encoder", "pixels", "--batch-size", "1", "--no-progress")
    first = start_paused(go, *args, "--out", tmp_path / "o.h5")
    wait_paused(go, first)
    second = run_cli(*args, "--out", tmp_path / "o.h5", "--resume")
    assert_second_refused(second, first)
    go.write_text("go")
    assert first.wait(timeout=600) == 0, first.communicate()
    assert run_cli(*args, "--out", tmp_path / "clean.h5").returncode == 0
    a, b = datasets(tmp_path / "o.h5"), datasets(tmp_path / "clean.h5")
    assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)
    assert not (tmp_path / "o.h5.lock").exists()
