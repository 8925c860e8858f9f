"""``run_probe``: the library entry point behind ``probekit probe``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

import pandas as pd

from probekit.errors import BadOptionError
from probekit.evaluation.cache import ProbeCache
from probekit.evaluation.executors import Executor, make_executor
from probekit.evaluation.inputs import open_inputs
from probekit.formats.run import base_manifest, store_role, write_manifest, write_tables
from probekit.evaluation.suite import Suite, check_stages, load_suite
from probekit.evaluation.sweep import Sweep
from probekit.evaluation.targets import get_target, register_store_targets
from probekit.probes.registry import get_readout


def run_probe(
    stores: list[str | os.PathLike],
    out: str | os.PathLike,
    *,
    suite: str | os.PathLike | None = None,
    readouts: list[str] | None = None,
    targets: list[str] | None = None,
    folds: int | None = None,
    seed: int | None = None,
    layers: dict[str, object] | None = None,
    n_boot: int | None = None,
    threads: int = 1,
    stages: list[str] | None = None,
    log: Callable[[str], None] | None = None,
    overwrite: bool = False,
    jobs: int = 1,
    scheduler: str | None = None,
    device: str | None = None,
) -> pd.DataFrame:
    """Probe one or more latent stores and write a run directory.

    Parameters
    ----------
    stores
        Latent store paths (several encoders or controls over the same clips share one table).
    out
        Run directory (created; reused probes under ``probes/`` make re-runs resume).
    suite
        Suite TOML path or name in ``probes/`` (default ``physics``).
    readouts, targets, folds, seed, n_boot
        Override the suite's values.
    layers
        Per readout, the layers it runs on (``"all"``, ``"last"`` or a list).
    stages
        Stages to run after the probes (override the suite's ``stages``; ``probe`` always runs).
    threads
        BLAS and torch threads while fitting (1 is fastest for many small fits on a shared
        machine; raise it for large stores on an idle machine).
    log
        Progress callback.
    overwrite
        Replace a run directory that holds a run of other stores (without it, such a directory
        is refused; a re-run over the same stores resumes).
    jobs
        Local worker processes for the fits (joblib); each fit uses ``threads`` threads.
    scheduler
        Address of a dask.distributed scheduler whose workers run the fits (instead of ``jobs``).
        Every way of running gives the same results as ``jobs=1``.
    device
        Device of the torch readouts (``mlp``, ``attentive``): ``auto``, ``cpu``, ``cuda`` or ``mps``
        (default: the suite's, else cpu). Linear readouts always fit on the CPU.

    Returns
    -------
    pandas.DataFrame
        The results table (also written to ``results.parquet`` and ``results.csv``).
    """
    declared = register_store_targets(stores)  # targets of labelled folders, declared by their stores
    parsed = load_suite(suite)
    if readouts:
        for name in readouts:
            get_readout(name)
        parsed.readouts = list(readouts)
    explicit = bool(targets)
    if targets:
        for name in targets:
            get_target(name)
        parsed.targets = list(targets)
    else:
        parsed.targets += [name for name in declared if name not in parsed.targets]
    if folds is not None:
        parsed.folds = int(folds)
    if seed is not None:
        parsed.seed = int(seed)
    if n_boot is not None:
        parsed.n_boot = int(n_boot)
    if stages is not None:
        parsed.stages = check_stages(list(stages), "--stages")
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise BadOptionError(f"--out {out}: is a file; give a folder for the run directory")
    if not out.parent.exists():
        raise BadOptionError(f"--out {out}: folder {out.parent} does not exist; create it first")
    if device is not None:
        _torch_readouts_on(parsed, device)
    executor = make_executor(jobs, scheduler)
    try:
        return _run(stores, out, parsed, explicit, layers, threads, log, overwrite, executor)
    finally:
        executor.close()


def _run(stores: list[str | os.PathLike], out: Path, parsed: Suite, explicit: bool, layers: dict[str, object] | None, threads: int,
         log: Callable[[str], None] | None, overwrite: bool, executor: Executor) -> pd.DataFrame:
    """The sweep and the stages of :func:`run_probe`, its fits run by ``executor``."""
    inputs = open_inputs([Path(p) for p in stores])
    _check_replacing(out, inputs, overwrite)
    created = not out.exists()
    out.mkdir(exist_ok=True)
    try:
        sweep_obj = Sweep(inputs, parsed, ProbeCache(out / "probes"), targets_explicit=explicit, log=log, threads=max(1, int(threads)))
    except Exception:
        if created:  # refused before anything was written (e.g. no usable target): leave no empty run directory
            _remove_if_empty(out)
        raise
    manifest = base_manifest(inputs, parsed, parsed.folds, parsed.seed, out)
    write_manifest(out, manifest, complete=False)
    import torch
    from threadpoolctl import threadpool_limits

    previous = torch.get_num_threads()
    torch.set_num_threads(max(1, int(threads)))
    try:
        with threadpool_limits(limits=max(1, int(threads))):
            result = sweep_obj.run(layers, executor)
    finally:
        torch.set_num_threads(previous)
    roles = {item.label: store_role(item.control, str(item.attrs.get("encoder", "")), item.label, str(item.attrs.get("weights", "")))
             for item in inputs}
    table = write_tables(out, result.rows, result.selection, result.comparisons, result.gains, roles=roles)
    ran, stage_skips = run_stages(parsed, inputs, out, table, log, executor)
    write_manifest(out, {**manifest, "skipped": result.skipped, "stages": ran, "stage_skips": stage_skips}, complete=True)
    for item in inputs:
        item.store.close()
    return table


def _torch_readouts_on(suite: Suite, device: str) -> None:
    """Set the ``device`` parameter of every readout whose estimators take one (the torch probes).

    CPU leaves the parameters as they are, so fitted probes cached by CPU runs stay valid.
    """
    from probekit.devices import pick_device

    resolved = pick_device(device)
    if resolved.type == "cpu":
        return
    for name in suite.readouts:
        if "device" in get_readout(name).regressor().get_params():
            suite.params.setdefault(name, {})["device"] = str(resolved)


def _remove_if_empty(folder: Path) -> None:
    """Remove ``folder`` and its empty sub-folders when no file lies anywhere inside."""
    if any(path.is_file() for path in folder.rglob("*")):
        return
    for sub in sorted((p for p in folder.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True):
        sub.rmdir()
    folder.rmdir()


def _check_replacing(out: Path, inputs, overwrite: bool) -> None:
    """Refuse to replace a run of other stores unless ``overwrite``; with it, clear the old run."""
    import json
    import shutil

    manifest_path = out / "manifest.json"
    if not manifest_path.is_file():
        return
    try:
        old = json.loads(manifest_path.read_text(encoding="utf-8")).get("inputs", [])
        old_keys = [(str(Path(item["path"]).resolve()), str(item.get("store_hash", ""))) for item in old]
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        old_keys = None
    new_keys = [(str(Path(item.path).resolve()), str(item.hash)) for item in inputs]

    def matches(key: tuple[str, str]) -> bool:
        return any(key[0] == path or key[1] == digest for path, digest in old_keys or [])

    if old_keys is not None and len(old_keys) == len(new_keys) and all(matches(key) for key in new_keys):
        return
    if not overwrite:
        before = ", ".join(Path(path).name for path, _ in old_keys or []) or "unreadable inputs"
        raise BadOptionError(f"--out {out}: holds a run of other stores ({before}); pass --overwrite to replace it "
                             "or choose another --out")
    for child in out.iterdir():
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child)
        else:
            child.unlink()


def run_stage_on_stores(stage: str, stores: list[Path], out: Path, *, seed: int, folds: int, params: dict | None = None,
                        log=None, jobs: int = 1) -> tuple[pd.DataFrame | None, list[str]]:
    """Run one stage over stores outside a probe run (e.g. surprise on a violation-of-expectation set).

    ``jobs`` > 1 runs the stage's independent pieces in that many local worker processes (the
    results equal ``jobs=1``).

    Returns
    -------
    table, labels
        The stage's table, or None when it skipped (its reason is logged), and the stores' labels
        in the order given.
    """
    from probekit.evaluation.inputs import open_inputs
    from probekit.stages import StageContext, StageSkipped, get_stage

    say = log or (lambda line: None)
    inputs = open_inputs(stores)
    executor = make_executor(jobs)
    try:
        context = StageContext(inputs=inputs, out=out, seed=seed, folds=folds, params=dict(params or {}), log=say,
                               executor=executor)
        return get_stage(stage).run(context), [item.label for item in inputs]
    except StageSkipped as exc:  # said, never hidden
        say(f"stage {stage} skipped: {' '.join(str(exc).split())}")
        return None, [item.label for item in inputs]
    finally:
        executor.close()
        for item in inputs:
            item.store.close()


def run_stages(suite, inputs, out: Path, probe_results: pd.DataFrame, log, executor: Executor | None = None
               ) -> tuple[list[str], dict[str, str]]:
    """Run the suite's stages after the probes; return the stages that wrote a table and the skips.

    ``executor`` (the probe run's) runs each stage's independent pieces (:meth:`StageContext.map`).

    Each stage writes ``tables/<name>.parquet``; a stage that raises
    :class:`probekit.stages.StageSkipped` is recorded with its reason instead.
    """
    from probekit.formats.run import write_stage_table
    from probekit.stages import PROBE_STAGE, StageContext, StageSkipped, get_stage

    ran, skips = [PROBE_STAGE], {}
    for name in suite.stages:
        if name == PROBE_STAGE or name in ran:
            continue
        stage = get_stage(name)
        context = StageContext(
            inputs=inputs, out=out, seed=suite.seed, folds=suite.folds, params=dict(suite.stage_params.get(name, {})),
            probe_results=probe_results, log=log or (lambda line: None), executor=executor,
        )
        if log:
            log(f"stage {name}: {stage.title}")
        try:
            table = stage.run(context)
        except StageSkipped as exc:
            skips[name] = " ".join(str(exc).split())
            if log:
                log(f"stage {name} skipped: {skips[name]}")
            continue
        write_stage_table(out, name, table)
        ran.append(name)
    return ran, skips
