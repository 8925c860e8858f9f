"""The command line's contract: help, version, and one-line errors with exit code 2."""

import h5py
import pytest

from probekit.errors import FileFormatError
from probekit.h5io import FORMATS, atomic_h5, open_checked


def test_help_lists_commands(run_cli):
    result = run_cli("--help")
    assert result.returncode == 0
    assert "info" in result.stdout


def test_info_on_missing_file_is_one_line_exit_2(run_cli, tmp_path):
    result = run_cli("info", str(tmp_path / "missing.h5"))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and "missing.h5" in lines[0]


def test_info_on_foreign_hdf5_is_refused(run_cli, tmp_path):
    path = tmp_path / "foreign.h5"
    with h5py.File(path, "w") as f:
        f["x"] = [1, 2, 3]
    result = run_cli("info", str(path))
    assert result.returncode == 2
    assert "not a probekit file" in result.stderr


def test_atomic_write_leaves_nothing_on_failure(tmp_path):
    path = tmp_path / "w.h5"
    with pytest.raises(RuntimeError):
        with atomic_h5(path, "world") as f:
            f["a"] = [1]
            raise RuntimeError("interrupted")
    assert not path.exists()
    assert list(tmp_path.iterdir()) == []


def test_reader_refuses_other_schema_version_and_incomplete(tmp_path):
    path = tmp_path / "w.h5"
    with atomic_h5(path, "world") as f:
        f["a"] = [1]
    open_checked(path, "world").close()
    with h5py.File(path, "r+") as f:
        f.attrs["schema_version"] = 99
    with pytest.raises(FileFormatError, match="version 99 found"):
        open_checked(path, "world")
    with h5py.File(path, "r+") as f:
        f.attrs["schema_version"] = FORMATS["world"][1]
        f.attrs["complete"] = False
    with pytest.raises(FileFormatError, match="incomplete"):
        open_checked(path, "world")
