"""Atomic writes and exclusive ownership (probekit.formats.atomic), checked with real processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from probekit.formats.atomic import (
    OutputBusyError,
    atomic_path,
    atomic_write,
    exclusive_output,
    lock_path_for,
    set_write_hook,
    unique_temporary_path,
)


def test_temporary_names_are_unique_per_call_and_hidden(tmp_path):
    out = tmp_path / "same.h5"
    names = {unique_temporary_path(out) for _ in range(50)}
    assert len(names) == 50
    assert all(p.name.startswith(".same.h5.") and p.name.endswith(".partial") for p in names)
    assert all(str(os.getpid()) in p.name for p in names)


def test_atomic_write_replaces_whole_or_not_at_all(tmp_path):
    out = tmp_path / "table.csv"
    atomic_write(out, "old\n")

    class Boom(RuntimeError):
        pass

    def hook(path: Path) -> None:
        raise Boom(str(path))

    previous = set_write_hook(hook)
    try:
        with pytest.raises(Boom):
            atomic_write(out, "new\n")
    finally:
        set_write_hook(previous)
    assert out.read_text() == "old\n"
    assert not list(tmp_path.glob(".*.partial"))  # the temporary is removed


def test_hook_sees_each_boundary_once(tmp_path):
    seen: list[Path] = []
    previous = set_write_hook(seen.append)
    try:
        atomic_write(tmp_path / "a", b"1")
        with atomic_path(tmp_path / "b") as tmp:
            tmp.write_text("2")
    finally:
        set_write_hook(previous)
    assert seen == [tmp_path / "a", tmp_path / "b"]
    assert (tmp_path / "b").read_text() == "2"


HOLDER = textwrap.dedent(
    """
    import sys, time
    from probekit.formats.atomic import exclusive_output
    with exclusive_output(sys.argv[1]):
        print("locked", flush=True)
        time.sleep(60)
    """
)


def _start_holder(out: Path) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(out)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "locked"
    return proc


def test_second_writer_is_refused_with_the_holders_pid(tmp_path):
    out = tmp_path / "o.h5"
    holder = _start_holder(out)
    try:
        with pytest.raises(OutputBusyError, match=rf"process {holder.pid} is writing it now"):
            with exclusive_output(out):
                pass
    finally:
        holder.kill()
        holder.wait()


def test_a_killed_holder_releases_the_lock(tmp_path):
    out = tmp_path / "o.h5"
    holder = _start_holder(out)
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()
    deadline = time.monotonic() + 10
    while True:  # the kernel drops the lock with the process
        try:
            with exclusive_output(out) as lock:
                assert lock.read_text().strip() == str(os.getpid())
            break
        except OutputBusyError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
    assert not lock_path_for(out).exists()  # released and removed


def test_lock_in_a_missing_folder_is_one_line(tmp_path):
    with pytest.raises(Exception, match="does not exist") as info:
        with exclusive_output(tmp_path / "nope" / "o.h5"):
            pass
    assert "\n" not in str(info.value)
