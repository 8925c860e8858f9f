"""Wall time of the whole demo (``probekit demo`` on the embedded defaults) against an earlier probekit.

Runs ``python -m probekit demo`` of this checkout and of an earlier revision (checked out with
``git worktree`` into a temporary folder, so both run the same embedded defaults on the same
machine in one invocation), one after the other, in fresh processes, and prints each run's wall
time, its per-stage seconds (the demo's own ``done (...)`` line) and their ratio. Time it on an
idle machine: the demo uses every core it is given.

Usage::

    python benchmarks/bench_demo.py [--against REV] [--threads 2]

``--against`` defaults to ``3e21cb2``, the last revision that probed the demo with two BLAS
threads in one process and ran its stages and extractions one at a time.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _demo(checkout: Path, out: Path, threads: int) -> tuple[float, str]:
    env = {**os.environ, "PYTHONPATH": str(checkout)}
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "probekit", "demo", "--out", str(out), "--threads", str(threads)],
                          capture_output=True, text=True, env=env, cwd=checkout)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"demo in {checkout} failed:\n{proc.stderr[-2000:]}")
    stages = re.search(r"demo: done \((.*?)\)", proc.stdout + proc.stderr)
    return elapsed, stages.group(1) if stages else ""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--against", default="3e21cb2", help="earlier revision to compare with")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        earlier = Path(tmp) / "earlier"
        subprocess.run(["git", "-C", str(REPO), "worktree", "add", "--detach", str(earlier), args.against],
                       check=True, capture_output=True)
        try:
            before, before_stages = _demo(earlier, Path(tmp) / "demo-earlier", args.threads)
            now, now_stages = _demo(REPO, Path(tmp) / "demo-now", args.threads)
        finally:
            subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force", str(earlier)], capture_output=True)
    print(f"demo at {args.against}: {before:.0f} s ({before_stages})")
    print(f"demo now: {now:.0f} s ({now_stages})")
    print(f"ratio now / {args.against}: {now / before:.2f} ({before / now:.2f}x faster)")


if __name__ == "__main__":
    main()
