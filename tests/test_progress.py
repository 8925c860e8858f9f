"""Progress and end summaries: a bar on a terminal, whole lines elsewhere, and one summary per
command whose numbers are checked against the files the command wrote (and, for ``probe``,
against the signals planted in the store)."""

from __future__ import annotations

import fcntl
import io
import os
import re
import struct
import termios
import time

import h5py
import pytest

from tiny_cli_run import cli as _cli, planted_cli_run
from probekit.progress import LineProgress, format_duration, progress, silence, summary_line

def test_off_a_terminal_progress_is_whole_lines_with_counts_and_eta():
    out = io.StringIO()  # not a terminal
    with progress(total=4, desc="probe", unit="store x layer", file=out) as bar:
        assert isinstance(bar, LineProgress)
        for i in range(4):
            bar.set_postfix_str(f"layer {i}")
            bar.update(1)
    lines = out.getvalue().splitlines()
    assert "\r" not in out.getvalue()
    # none at the start (the default interval has not passed), one at the end, written once
    assert lines == [lines[-1]] and lines[-1].startswith("probe: 4/4 store x layer (100%)") and "ETA" in lines[-1]


def test_off_a_terminal_lines_keep_coming_while_one_step_runs():
    out = io.StringIO()
    bar = LineProgress(total=2, desc="extract", unit="clip", file=out, interval=0.05)
    try:
        time.sleep(1.0)  # one long step: the heartbeat still writes lines
    finally:
        bar.close()
    heartbeats = [line for line in out.getvalue().splitlines() if line.startswith("extract: 0/2 clip")]
    assert len(heartbeats) >= 3


def test_on_a_terminal_progress_is_a_tqdm_bar_and_quiet_writes_nothing():
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))  # a 100-column terminal
    try:
        with open(slave, "w", closefd=False) as tty:
            with progress(total=3, desc="train", unit="step", file=tty) as bar:
                assert not isinstance(bar, LineProgress)
                bar.update(3)
        os.set_blocking(master, False)
        chunks = []
        while True:
            try:
                chunk = os.read(master, 65536)
            except BlockingIOError:
                break
            if not chunk:
                break
            chunks.append(chunk)
        text = b"".join(chunks).decode()
    finally:
        os.close(master)
        os.close(slave)
    assert "\r" in text and "train" in text and "3/3" in text
    quiet = io.StringIO()
    with progress(total=3, desc="x", file=quiet, enabled=False) as bar:
        bar.update(3)
    assert quiet.getvalue() == ""


def test_summary_line_states_time_rate_and_sizes(tmp_path):
    path = tmp_path / "a.bin"
    path.write_bytes(b"x" * 3 * 2**20)
    text = summary_line("extract", 2.0, count=10, unit="clips", written=[path])
    assert text == f"extract: done in 2.0 s, 10 clips (5.0 clips/s); wrote {path} (3.0 MiB)"
    assert format_duration(125) == "2 min 05 s" and format_duration(3720) == "1 h 02 min"


def test_generate_and_extract_end_with_a_summary_off_a_terminal(tmp_path):
    world = tmp_path / "w.h5"
    result = _cli("generate", "--out", world, "--clips", "3", "--frames", "4", "--size", "32", "--scenarios", "drop",
                  "--no-near-miss")
    assert result.returncode == 0, result.stderr
    with h5py.File(world, "r") as f:
        n_clips = len(f["clips/clip_id"])
    assert re.search(rf"^generate: {n_clips}/{n_clips} clip \(100%\)", result.stderr, re.MULTILINE), result.stderr
    assert re.search(rf"^generate: done in [\d.]+ s, {n_clips} clips \([\d.]+ clips/s\); wrote {re.escape(str(world))} \(",
                     result.stderr, re.MULTILINE), result.stderr
    assert result.stdout.strip() == f"wrote {world}"

    store = tmp_path / "px.h5"
    result = _cli("extract", "--encoder", "pixels", "--data", world, "--out", store)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(store)  # stdout: the written path only
    assert re.search(rf"^extract: done in [\d.]+ s, {n_clips} clips", result.stderr, re.MULTILINE), result.stderr
    assert "encoder pixels with no weights (pixel baseline)" in result.stderr

    twin = tmp_path / "twin.h5"
    result = _cli("extract", "tiny-vjepa2", "--init", "random", "--seed", "5", "--data", world, "--out", twin, "--layers", "0,-1")
    assert result.returncode == 0, result.stderr
    with h5py.File(twin, "r") as f:
        digest = f.attrs["weight_hash"]
        digest = digest.decode() if isinstance(digest, bytes) else str(digest)
    assert "with RANDOM weights: untrained, a baseline" in result.stderr
    assert f"sha256 {digest[:16]}" in result.stderr and "2 layers" in result.stderr


def test_probe_summary_states_the_planted_answer(tmp_path_factory):
    """The planted store encodes acceleration in its object tokens at layer 3 and slot 0's position
    linearly in the pooled vector at layer 1 (probekit.testing): the summary must say so."""
    _, result = planted_cli_run(tmp_path_factory)
    err = result.stderr
    # one progress line per store x layer off a terminal (interval 0), and no old per-layer log lines
    assert re.search(r"^probe: 4/4 store x layer \(100%\)", err, re.MULTILINE), err
    assert not re.search(r"^planted\S*: layer \d", err, re.MULTILINE)
    assert re.search(r"^probe: done in [\d.]+ s, 4 store x layer", err, re.MULTILINE), err
    for slot in (0, 1, 2):
        assert re.search(rf"^    encoded: acceleration \[slot {slot}\] \(object L3, R² 0\.\d+, gain \+", err, re.MULTILINE), err
    assert re.search(r"^    entangled: position_camera \[slot 0\] \(linear L1, R² ", err, re.MULTILINE), err
    assert re.search(r"acceleration \[slot 0\] · \S+ \(object\): encoded, \+0\.\d+ \[\+", err), err
    assert "probekit report" in err


def test_off_a_terminal_steps_within_the_interval_write_no_line():
    out = io.StringIO()
    bar = LineProgress(total=50, desc="train", unit="step", file=out, interval=3600)
    for _ in range(50):
        bar.update(1)
        bar.set_postfix(loss="0.5")
    bar.close()
    lines = out.getvalue().splitlines()
    assert len(lines) == 1 and lines[0].startswith("train: 50/50 step")


def test_off_a_terminal_a_step_that_fails_at_once_writes_no_line():
    out = io.StringIO()
    with pytest.raises(ValueError):
        with progress(total=5, desc="attribute", unit="clip", file=out):
            raise ValueError("bad input")
    bar = progress(total=5, desc="extract", unit="clip", file=out)
    with pytest.raises(ValueError):
        try:
            raise ValueError("bad input")
        finally:
            bar.close()
    assert out.getvalue() == ""


def test_a_bar_kept_alive_by_an_error_is_silenced_before_the_error_line():
    """A bar dropped by an exception lives on in the traceback; after silence() its ticker writes nothing."""
    out = io.StringIO()
    bar = LineProgress(total=4, desc="report", unit="figure", file=out, interval=0.05)
    bar.update(1)
    time.sleep(0.3)
    assert out.getvalue()  # the heartbeat writes while the bar is alive
    silence()
    written = out.getvalue()
    time.sleep(0.3)
    assert out.getvalue() == written
    bar.close()
    assert out.getvalue() == written
