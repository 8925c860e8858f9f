"""Time of the report step with umap-learn's numba kernels cached on disk against compiling them.

Builds a small run (a planted store, a short probe suite), then times ``probekit report`` in
fresh processes, alternating: the previous behaviour (``PROBEKIT_NUMBA_CACHE=0``: umap-learn as
shipped, its kernels compiled in every process) and the cached one (``NUMBA_CACHE_DIR`` in a
temporary folder, filled by one priming run whose time is printed as the one-off cost).

Usage::

    python benchmarks/bench_report.py [--repeat 3] [--clips 64]

Prints the median wall time of each and their ratio. The embeddings are the same machine code:
the script also checks that both reports hold the same UMAP figure.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

SUITE = """
[suite]
name = "bench-report"
readouts = ["linear", "object"]
targets = ["position_camera", "contact"]
controls = ["nuisance"]
folds = 3
seed = 0
n_boot = 50
"""


def _env(**extra: str) -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1", **extra}
    return env


def _probekit(*args: str, env: dict[str, str]) -> float:
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "probekit", *args], capture_output=True, text=True, env=env)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"probekit {' '.join(args)} failed:\n{proc.stderr}")
    return elapsed


def _umap_figure(html: Path) -> str:
    text = html.read_text(encoding="utf-8")
    found = re.search(r'id="umap".*?(data:image/[^"]+)', text, re.S)
    return found.group(1) if found else ""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--clips", type=int, default=64)
    args = parser.parse_args()
    sys.path.insert(0, str(REPO))
    from probekit.testing import write_planted_store

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        store = write_planted_store(tmp / "store.h5", forms=("noise", "linear", "object"), dim=32, n_clips=args.clips, n_steps=8, seed=1)
        (tmp / "suite.toml").write_text(SUITE)
        _probekit("probe", str(store), "--out", str(tmp / "run"), "--suite", str(tmp / "suite.toml"), "--quiet", env=_env())
        cached_env = _env(NUMBA_CACHE_DIR=str(tmp / "numba"))
        plain_env = _env(PROBEKIT_NUMBA_CACHE="0")
        prime = _probekit("report", str(tmp / "run"), "--out", str(tmp / "prime.html"), env=cached_env)
        times: dict[str, list[float]] = {"compiled every run (previous)": [], "numba cache on disk": []}
        for i in range(args.repeat):
            times["compiled every run (previous)"].append(
                _probekit("report", str(tmp / "run"), "--out", str(tmp / f"plain{i}.html"), env=plain_env))
            times["numba cache on disk"].append(_probekit("report", str(tmp / "run"), "--out", str(tmp / f"cached{i}.html"), env=cached_env))
        same = _umap_figure(tmp / "plain0.html") == _umap_figure(tmp / "cached0.html") != ""
        load = os.getloadavg()[0]
    print(f"report of a {args.clips}-clip run ({args.clips * 8} UMAP points); load average {load:.1f} on {os.cpu_count()} cores")
    print(f"  priming run (fills the cache once): {prime:.1f} s")
    for name, values in times.items():
        print(f"  {name}: median {statistics.median(values):.1f} s of {', '.join(f'{v:.1f}' for v in values)}")
    ratio = statistics.median(times["compiled every run (previous)"]) / statistics.median(times["numba cache on disk"])
    print(f"  speed-up of the report step: {ratio:.2f}x; same UMAP figure: {same}")


if __name__ == "__main__":
    main()
