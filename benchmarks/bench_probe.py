"""Benchmark of probekit's probe fast paths against named peers.

Ridge layer sweep (alpha per target by inner CV, nested in outer folds):
    probekit ``nested_ridge`` vs himalaya ``RidgeCV`` vs scikit-learn ``GridSearchCV(Ridge)``.
Logistic readout (C by inner CV, nested in outer folds):
    probekit ``nested_logistic`` vs the Physion readout protocol (StandardScaler +
    LogisticRegression(max_iter=20000), C grid {1e-6, 1e-5, 0.01, 0.1, 1, 5, 10, 20}).

Every method gets the same outer folds (grouped by clip), the same inner splits (the other outer
folds) and the same grids, on the same synthetic latents (a low-rank signal shared by the
targets plus noise, float32 like a store). Slow peers are timed on a subset (layers, targets,
outer folds) and extrapolated linearly; the script prints what it timed and what it extrapolated.

Usage::

    python benchmarks/bench_probe.py            # 4,000 clips x 8 steps, 1,024 dims, 24 layers, 30 targets
    python benchmarks/bench_probe.py --small    # a quick check of the script
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time

import numpy as np

ALPHAS = np.logspace(-3, 7, 11)
PHYSION_CS = np.array([1e-6, 1e-5, 0.01, 0.1, 1.0, 5.0, 10.0, 20.0])


def make_layer(rng, n_clips, steps, dim, n_targets, rank=32, noise=1.0):
    """Latents (n, dim) float32 and targets (n, n_targets) sharing a low-rank signal."""
    z = rng.normal(size=(n_clips * steps, rank))
    X = z @ rng.normal(size=(rank, dim)) / np.sqrt(rank) + noise * rng.normal(size=(n_clips * steps, dim))
    Y = z @ rng.normal(size=(rank, n_targets)) / np.sqrt(rank) + rng.normal(size=(n_clips * steps, n_targets)) * rng.uniform(0.5, 3.0, n_targets)
    return X.astype(np.float32), Y


def r2_cols(y, p):
    return 1 - ((y - p) ** 2).sum(0) / ((y - y.mean(0)) ** 2).sum(0)


def inner_splits(fold, outer, n_folds):
    """(train, val) index pairs inside the training set of ``outer``: the other outer folds."""
    train_idx = np.flatnonzero(fold != outer)
    local = fold[train_idx]
    return [(np.flatnonzero(local != held), np.flatnonzero(local == held)) for held in range(n_folds) if held != outer]


def bench_ridge_probekit(X, Y, fold, n_folds):
    from probekit.probes.ridge_path import nested_ridge

    t = time.perf_counter()
    res = nested_ridge(X, Y, fold, n_folds, ALPHAS)
    elapsed = time.perf_counter() - t
    pred = np.zeros_like(Y)
    for r in res:
        pred[r["test"]] = r["pred"]
    return elapsed, pred


def bench_ridge_himalaya(X, Y, fold, n_folds, outer_folds):
    from himalaya.backend import set_backend
    from himalaya.ridge import RidgeCV

    set_backend("numpy", on_error="raise")
    pred = np.full_like(Y, np.nan)
    t = time.perf_counter()
    for o in outer_folds:
        train, test = fold != o, fold == o
        model = RidgeCV(alphas=ALPHAS, fit_intercept=True, cv=inner_splits(fold, o, n_folds))
        model.fit(X[train].astype(np.float64), Y[train])
        pred[test] = model.predict(X[test].astype(np.float64))
    return time.perf_counter() - t, pred


def bench_ridge_sklearn(X, Y, fold, n_folds, outer_folds, targets):
    from sklearn.linear_model import Ridge
    from sklearn.model_selection import GridSearchCV

    pred = np.full((len(Y), len(targets)), np.nan)
    t = time.perf_counter()
    for o in outer_folds:
        train, test = fold != o, fold == o
        for j, target in enumerate(targets):
            search = GridSearchCV(Ridge(), {"alpha": ALPHAS}, cv=inner_splits(fold, o, n_folds), scoring="neg_mean_squared_error")
            search.fit(X[train], Y[train, target])
            pred[test, j] = search.predict(X[test])
    return time.perf_counter() - t, pred


def bench_logistic(X, y, fold, n_folds, outer_folds):
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GridSearchCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from probekit.probes.logistic_path import nested_logistic

    t = time.perf_counter()
    ours = nested_logistic(X, y, fold, n_folds, PHYSION_CS, class_weight=None, scoring="accuracy")
    t_ours = time.perf_counter() - t
    acc_ours = {int(fold[r["test"][0]]): float((r["pred"] == y[r["test"]]).mean()) for r in ours}
    t = time.perf_counter()
    acc_physion = {}
    for o in outer_folds:
        train, test = fold != o, fold == o
        pipe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=20000))
        search = GridSearchCV(pipe, {"logisticregression__C": PHYSION_CS}, cv=inner_splits(fold, o, n_folds), scoring="accuracy")
        search.fit(X[train], y[train])
        acc_physion[o] = float((search.predict(X[test]) == y[test]).mean())
    t_physion = time.perf_counter() - t
    return t_ours, acc_ours, t_physion, acc_physion


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--small", action="store_true", help="400 clips x 4 steps, 128 dims, 3 layers, 6 targets")
    parser.add_argument("--clips", type=int, default=4000)
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--dim", type=int, default=1024)
    parser.add_argument("--layers", type=int, default=24)
    parser.add_argument("--targets", type=int, default=30)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--timed-layers", type=int, default=2, help="layers actually timed (all methods); the sweep total is extrapolated")
    parser.add_argument("--himalaya-folds", type=int, default=5, help="outer folds timed for himalaya")
    parser.add_argument("--sklearn-targets", type=int, default=2, help="targets timed for sklearn GridSearchCV")
    parser.add_argument("--sklearn-folds", type=int, default=1, help="outer folds timed for sklearn GridSearchCV")
    parser.add_argument("--physion-folds", type=int, default=1, help="outer folds timed for the Physion protocol")
    parser.add_argument("--threads", type=int, default=int(os.environ.get("OMP_NUM_THREADS", 2)))
    parser.add_argument("--only", choices=["ridge", "logistic"], default=None, help="run one half of the benchmark")
    parser.add_argument("--json", default=None, help="also write the numbers to this JSON file")
    args = parser.parse_args()
    if args.small:
        args.clips, args.steps, args.dim, args.layers, args.targets, args.timed_layers = 400, 4, 128, 3, 6, 3
    from threadpoolctl import threadpool_limits

    rng = np.random.default_rng(0)
    n_folds = args.folds
    clip_fold = rng.permutation(np.arange(args.clips) % n_folds)
    fold = np.repeat(clip_fold, args.steps)  # grouped by clip: all steps of a clip in one fold
    out = {"sizes": vars(args), "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "threads": args.threads}}
    print(f"sizes: {args.clips} clips x {args.steps} steps = {args.clips * args.steps} samples, {args.dim} dims, {args.layers} layers, {args.targets} targets, {n_folds} folds, {len(ALPHAS)} alphas; BLAS threads {args.threads}")
    with threadpool_limits(limits=args.threads):
        # warm-up: first calls pay imports and BLAS/LAPACK initialisation
        Xw, Yw = make_layer(np.random.default_rng(1), 50, 2, 16, 2)
        fw = np.repeat(np.arange(50) % n_folds, 2)
        if args.only != "logistic":  # the ridge peers (himalaya) are needed only for the ridge half
            bench_ridge_probekit(Xw, Yw, fw, n_folds)
            bench_ridge_himalaya(Xw, Yw, fw, n_folds, [0])
            bench_ridge_sklearn(Xw, Yw, fw, n_folds, [0], [0])
        if args.only != "ridge":
            bench_logistic(Xw.astype(np.float64), (Yw[:, 0] > np.median(Yw[:, 0])).astype(int), fw, n_folds, [0])
        t_ours, t_him, t_sk, d_him, d_sk = [], [], [], [], []
        for layer in range(args.timed_layers if args.only != "logistic" else 0):
            X, Y = make_layer(rng, args.clips, args.steps, args.dim, args.targets)
            e_ours, p_ours = bench_ridge_probekit(X, Y, fold, n_folds)
            him_folds = list(range(min(args.himalaya_folds, n_folds)))
            e_him, p_him = bench_ridge_himalaya(X, Y, fold, n_folds, him_folds)
            mask = np.isin(fold, him_folds)
            d_him.append(float(np.max(np.abs(r2_cols(Y[mask], p_ours[mask]) - r2_cols(Y[mask], p_him[mask])))))
            sk_targets = list(range(min(args.sklearn_targets, args.targets)))
            sk_folds = list(range(min(args.sklearn_folds, n_folds)))
            e_sk, p_sk = bench_ridge_sklearn(X, Y, fold, n_folds, sk_folds, sk_targets)
            mask = np.isin(fold, sk_folds)
            d_sk.append(float(np.max(np.abs(r2_cols(Y[mask][:, sk_targets], p_ours[mask][:, sk_targets]) - r2_cols(Y[mask][:, sk_targets], p_sk[mask])))))
            t_ours.append(e_ours)
            t_him.append(e_him * n_folds / len(him_folds))
            t_sk.append(e_sk * (n_folds / len(sk_folds)) * (args.targets / len(sk_targets)))
            print(f"layer {layer}: probekit {e_ours:.1f}s | himalaya {e_him:.1f}s on {len(him_folds)} folds | sklearn {e_sk:.1f}s on {len(sk_folds)} fold(s) x {len(sk_targets)} targets")
        scale = args.layers / args.timed_layers
        if args.only == "logistic":
            t_ours = t_him = t_sk = [float("nan")]
            d_him = d_sk = [float("nan")]
        ridge = {
            "probekit_s": float(np.sum(t_ours) * scale),
            "himalaya_s": float(np.sum(t_him) * scale),
            "sklearn_s": float(np.sum(t_sk) * scale),
            "max_abs_delta_r2_vs_himalaya": max(d_him),
            "max_abs_delta_r2_vs_sklearn": max(d_sk),
        }
        ridge["speedup_vs_himalaya"] = ridge["himalaya_s"] / ridge["probekit_s"]
        ridge["speedup_vs_sklearn"] = ridge["sklearn_s"] / ridge["probekit_s"]
        if args.only != "logistic":  # nothing was timed for the ridge sweep otherwise
            out["ridge_sweep"] = ridge
            print(
                f"ridge sweep ({args.layers} layers, extrapolated from {args.timed_layers}): probekit {ridge['probekit_s']:.0f}s, "
                f"himalaya {ridge['himalaya_s']:.0f}s ({ridge['speedup_vs_himalaya']:.1f}x), sklearn {ridge['sklearn_s']:.0f}s ({ridge['speedup_vs_sklearn']:.1f}x); "
                f"max |delta R2| vs himalaya {ridge['max_abs_delta_r2_vs_himalaya']:.2e}, vs sklearn {ridge['max_abs_delta_r2_vs_sklearn']:.2e}"
            )
        if args.only == "ridge":
            _write(out, args.json)
            return
        # logistic: Physion-style per-clip readout (clip-level features, binary label)
        X, Y = make_layer(rng, args.clips, 1, args.dim, 1, noise=1.0)
        y = (Y[:, 0] > np.median(Y[:, 0])).astype(int)
        phys_folds = list(range(min(args.physion_folds, n_folds)))
        t_o, acc_o, t_p, acc_p = bench_logistic(X.astype(np.float64), y, clip_fold, n_folds, phys_folds)
        t_p_full = t_p * n_folds / len(phys_folds)
        diff = max(abs(acc_o[o] - acc_p[o]) for o in phys_folds) * 100
        out["logistic"] = {
            "probekit_s": t_o, "physion_s": t_p_full, "speedup": t_p_full / t_o,
            "accuracy_probekit": float(np.mean([acc_o[o] for o in phys_folds])), "accuracy_physion": float(np.mean([acc_p[o] for o in phys_folds])),
            "max_abs_delta_accuracy_points": diff, "physion_folds_timed": len(phys_folds),
        }
        print(
            f"logistic ({args.clips} clips x {args.dim} dims, {n_folds} folds, {len(PHYSION_CS)} Cs): probekit {t_o:.1f}s, Physion protocol {t_p_full:.1f}s "
            f"(timed on {len(phys_folds)} fold(s)) -> {t_p_full / t_o:.1f}x; accuracy {out['logistic']['accuracy_probekit']:.3f} vs {out['logistic']['accuracy_physion']:.3f} (max |delta| {diff:.2f} points)"
        )
    _write(out, args.json)


def _write(out: dict, path: str | None) -> None:
    if path:
        with open(path, "w") as f:
            json.dump(out, f, indent=2)


if __name__ == "__main__":
    main()
