"""Every case of the hostile corpus ends in one ``error:`` line and exit code 2, or succeeds."""

from __future__ import annotations

from pathlib import Path

import pytest
from hostile_cases import CASES, build_fixtures, classify, expand, run_in_process, run_subprocess, subprocess_env

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def hostile_fixtures(tmp_path_factory):
    return build_fixtures(tmp_path_factory.mktemp("hostile-fixtures"))


def test_corpus_is_broad():
    commands = {case.command for case in CASES}
    assert len(CASES) >= 150
    assert {"generate", "info", "extract", "merge", "probe", "train", "evaluate", "report", "demo"} <= commands
    assert len({case.id for case in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_hostile_case(case, hostile_fixtures, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    argv, expect = expand(case, hostile_fixtures, tmp_path)
    if case.subprocess:
        code, stderr = run_subprocess(argv, subprocess_env(REPO_ROOT), tmp_path)
        escaped = ""
    else:
        code, stderr, escaped = run_in_process(argv)
    category = classify(case, code, stderr, expect, escaped)
    assert category == "handled", f"{category}: exit {code}; stderr: {stderr[-2000:]}{escaped[-3000:]}"
