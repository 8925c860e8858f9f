"""Count the hostile corpus's outcomes by category for a probekit source tree.

    python3 tests/hostile/tally.py [TREE]    # TREE: a probekit checkout (default: this one)

probekit is imported once from TREE; each case then runs in a forked child (allowed 4 GiB of
memory beyond the parent's, 120 s), so the counts of an older tree, whose mistakes may allocate without bound or
destroy their inputs, are safe to take. A case that changed a shared fixture file is counted as
"lost data" (and the fixture restored).
"""

from __future__ import annotations

import collections
import os
import resource
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from hostile_cases import CASES, CATEGORIES, classify, expand, run_in_process  # noqa: E402

LOST = "lost data"


def run_forked(argv: list[str], cwd: Path, timeout: float = 120) -> tuple[int | None, str, str]:
    """Run ``probekit.cli.main(argv)`` in a forked child; (exit code or None on timeout/kill, stderr, traceback)."""
    err_path, tb_path = cwd / ".stderr", cwd / ".traceback"
    pid = os.fork()
    if pid == 0:  # child
        try:
            os.chdir(cwd)
            import psutil

            limit = psutil.Process().memory_info().vms + (4 << 30)  # 4 GiB beyond what is mapped already
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
            code, stderr, escaped = run_in_process(argv)
            err_path.write_text(stderr)
            tb_path.write_text(escaped)
            os._exit(code if 0 <= code < 256 else 1)
        except BaseException:
            os._exit(101)
    deadline = time.monotonic() + timeout
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            return None, "", ""
        time.sleep(0.02)
    if os.WIFSIGNALED(status) or os.WEXITSTATUS(status) == 101:
        return None, "", ""
    read = lambda p: p.read_text() if p.exists() else ""  # noqa: E731
    return os.WEXITSTATUS(status), read(err_path), read(tb_path)


def _state(fixtures: dict[str, Path]) -> dict[str, tuple]:
    def stat(path: Path) -> tuple:
        if path.is_dir():
            return tuple(sorted((p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in path.rglob("*") if p.is_file()))
        return (path.stat().st_size, path.stat().st_mtime_ns) if path.exists() else ()
    return {name: stat(path) for name, path in fixtures.items()}


def main() -> None:
    tree = Path(sys.argv[1]).resolve() if len(sys.argv) > 1 else Path(__file__).resolve().parents[2]
    sys.path.insert(0, str(tree))
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import probekit.cli  # noqa: F401  (imported once, before the children fork)
    from hostile_cases import build_fixtures

    counts: collections.Counter = collections.Counter()
    by_command: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    with tempfile.TemporaryDirectory() as folder:
        fixtures = build_fixtures(Path(folder) / "fixtures")
        pristine = Path(folder) / "pristine"
        shutil.copytree(Path(folder) / "fixtures", pristine)
        before = _state(fixtures)
        for index, case in enumerate(CASES):
            tmp = Path(folder) / f"case{index}"
            tmp.mkdir()
            argv, expect = expand(case, fixtures, tmp)
            code, stderr, escaped = run_forked(argv, tmp)
            category = classify(case, code, stderr, expect, escaped)
            if _state(fixtures) != before:
                category = LOST
                shutil.rmtree(Path(folder) / "fixtures")
                shutil.copytree(pristine, Path(folder) / "fixtures")
                before = _state(fixtures)
            counts[category] += 1
            by_command[case.command][category] += 1
            if category != "handled":
                last = ((escaped or stderr).strip().splitlines() or [""])[-1][:150]
                print(f"{case.id}: {category} (exit {code}) {last}", flush=True)
    names = (*CATEGORIES, LOST)
    print(f"\n{len(CASES)} cases: " + ", ".join(f"{name} {counts[name]}" for name in names))
    for command, counter in sorted(by_command.items()):
        print(f"  {command}: " + ", ".join(f"{name} {counter[name]}" for name in names if counter[name]))


if __name__ == "__main__":
    main()
