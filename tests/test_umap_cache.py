"""The report's UMAP with numba's on-disk cache: kernels compiled once, loaded by later processes.

Truth: numba's own dispatcher statistics (``stats.cache_hits`` / ``cache_misses``) and index
files on disk; the embedding is compared with umap-learn imported unchanged.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

KERNEL = """
import numba


@numba.njit
def add_one(x):
    return x + 1
"""

CALL_KERNEL = """
import json, sys
sys.path.insert(0, sys.argv[1])
from probekit.report.umap_cache import cached_numba
with cached_numba():
    import kernel
value = kernel.add_one(41)
stats = kernel.add_one.stats
print(json.dumps({"value": value, "hits": sum(stats.cache_hits.values()), "misses": sum(stats.cache_misses.values())}))
"""


def _python(code: str, *args: str, env: dict[str, str]) -> dict:
    proc = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, env=env, timeout=900)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("NUMBA_CACHE_DIR", "PROBEKIT_NUMBA_CACHE")}
    return {**env, "PYTHONPATH": str(REPO), **extra}


def test_kernels_compiled_once_then_loaded_from_the_cache_dir(tmp_path):
    (tmp_path / "kernel.py").write_text(KERNEL)
    env = _env(tmp_path, NUMBA_CACHE_DIR=str(tmp_path / "cache"))
    first = _python(CALL_KERNEL, str(tmp_path), env=env)
    assert first["value"] == 42 and first["hits"] == 0 and first["misses"] == 1
    assert list((tmp_path / "cache").rglob("*.nbi"))  # numba's index of the compiled kernel
    second = _python(CALL_KERNEL, str(tmp_path), env=env)
    assert second["value"] == 42 and second["hits"] == 1 and second["misses"] == 0


EMBED = """
import json, sys
import numpy as np
from probekit.report.umap_cache import import_umap
umap = import_umap()
X = np.random.default_rng(0).normal(size=(80, 8)).astype(np.float32)
Y = umap.UMAP(n_neighbors=10, min_dist=0.2, random_state=0, n_jobs=1).fit_transform(X)
stats = umap.layouts.optimize_layout_euclidean.stats
print(json.dumps({"embedding": Y.tolist(), "hits": sum(stats.cache_hits.values()), "misses": sum(stats.cache_misses.values())}))
"""


@pytest.mark.slow  # compiles umap-learn's kernels twice (cold cache, and umap-learn unchanged): minutes on 2 cores
def test_umap_embedding_equal_with_kernels_from_the_cache(tmp_path):
    cached = _env(tmp_path, NUMBA_CACHE_DIR=str(tmp_path / "cache"))
    cold = _python(EMBED, env=cached)
    warm = _python(EMBED, env=cached)
    plain = _python(EMBED, env=_env(tmp_path, PROBEKIT_NUMBA_CACHE="0", NUMBA_CACHE_DIR=str(tmp_path / "unused")))
    assert cold["misses"] >= 1 and warm["hits"] >= 1 and warm["misses"] == 0
    assert plain["hits"] == 0  # umap-learn unchanged: its layout kernel is compiled, not loaded
    assert warm["embedding"] == plain["embedding"] == cold["embedding"]
