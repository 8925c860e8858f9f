"""``probekit generate`` and ``probekit info`` on the command line: bad input, interruption."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from probekit.data import WorldFile
from probekit.errors import FileFormatError
from probekit.store import write_store
from worlds_data import shared_world

from conftest import REPO_ROOT, _cli_env


@pytest.mark.parametrize(
    "args, needle",
    [
        (["--scenarios", "drop,fly"], "--scenarios 'fly'"),
        (["--violations", "levitation"], "--violations 'levitation'"),
        (["--violations", "solidity", "--scenarios", "drop"], "--violations solidity"),
        (["--clips", "0"], "--clips 0"),
        (["--size", "-8"], "--size -8"),
        (["--frames", "0"], "--frames 0"),
        (["--frames", "4", "--violations", "gravity"], "--frames 4"),
        (["--workers", "0"], "--workers 0"),
        (["--seed", "-1"], "--seed -1"),
    ],
)
def test_bad_options_fail_with_one_line(run_cli, tmp_path, args, needle):
    out = tmp_path / "w.h5"
    result = run_cli("generate", "--out", out, "--clips", "1", *args)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and needle in lines[0], result.stderr
    assert not out.exists() and not list(tmp_path.iterdir())


def test_unknown_scenario_lists_valid_values(run_cli, tmp_path):
    result = run_cli("generate", "--out", tmp_path / "w.h5", "--scenarios", "fly")
    assert "drop, ramp, roll, collide, occlude, stack" in result.stderr


def test_unwritable_and_existing_outputs(run_cli, tmp_path):
    missing = tmp_path / "no" / "such" / "w.h5"
    result = run_cli("generate", "--out", missing, "--clips", "1")
    assert result.returncode == 2 and "--out" in result.stderr and not missing.exists()
    existing = tmp_path / "w.h5"
    existing.write_bytes(b"keep me")
    result = run_cli("generate", "--out", existing, "--clips", "1")
    assert result.returncode == 2 and "--overwrite" in result.stderr
    assert existing.read_bytes() == b"keep me"
    if os.geteuid() != 0:
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        result = run_cli("generate", "--out", locked / "w.h5", "--clips", "1")
        assert result.returncode == 2 and "not writable" in result.stderr


def test_interrupted_generation_leaves_no_file(tmp_path):
    out = tmp_path / "w.h5"
    process = subprocess.Popen(
        [sys.executable, "-m", "probekit", "generate", "--out", str(out), "--clips", "400", "--size", "32",
         "--frames", "8"],
        cwd=REPO_ROOT, env=_cli_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        # a shell that runs the suite in the background leaves SIGINT ignored for its children, and
        # Python then installs no KeyboardInterrupt handler: give the command a default one
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.monotonic() + 60
    while not list(tmp_path.glob(".w.h5.*partial")) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert list(tmp_path.glob(".w.h5.*partial"))
    time.sleep(0.3)
    process.send_signal(signal.SIGINT)
    process.communicate(timeout=60)
    assert process.returncode != 0
    assert not out.exists() and not list(tmp_path.iterdir())


def test_reader_refuses_other_formats(tmp_path):
    store = tmp_path / "store.h5"
    write_store(store, attrs={}, clips={"clip_id": ["a"], "family_id": ["a"]},
                layers={0: {"mean": np.zeros((1, 4))}}, labels={}, token_frames=np.zeros((1, 2)))
    with pytest.raises(FileFormatError, match="probekit.world"):
        WorldFile(store)


def test_info_summarises_world_file(run_cli):
    result = run_cli("info", shared_world())
    assert result.returncode == 0, result.stderr
    text = result.stdout
    assert "probekit.world" in text and "objects/velocity_world" in text
    assert "occlude" in text and "violation" in text and "permanence" in text
