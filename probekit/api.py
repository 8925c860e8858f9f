"""The Python API: the four commands as functions with the command line's options.

>>> import probekit as pk
>>> world = pk.generate("worlds.h5", clips=16)                                    # doctest: +SKIP
>>> store = pk.extract(world, "latents.h5", encoder="tiny-vjepa2")               # doctest: +SKIP
>>> twin = pk.extract(world, "random.h5", encoder="tiny-vjepa2", init="random")  # doctest: +SKIP
>>> run = pk.probe([store, twin], "runs/x", suite="quick")                        # doctest: +SKIP
>>> run.results.head()                                                            # doctest: +SKIP
>>> pk.report(run, "reports/x.html")                                              # doctest: +SKIP

Each function writes what its command writes and returns the written path (``generate``,
``extract``, ``report``) or the loaded run (``probe``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

if TYPE_CHECKING:
    from probekit.encoders.base import Encoder
    from probekit.rundir import Run

PathLike = str | os.PathLike


def _names(value: str | Sequence[str] | None) -> list[str] | None:
    if value is None:
        return None
    items = value.split(",") if isinstance(value, str) else list(value)
    return [str(v).strip() for v in items if str(v).strip()] or None


def generate(
    out: PathLike,
    *,
    clips: int = 64,
    seed: int = 0,
    scenarios: str | Sequence[str] = "drop,ramp,roll,collide,occlude,stack",
    frames: int = 16,
    size: int = 64,
    fps: float = 15.0,
    violations: str | Sequence[str] = "",
    counterfactuals: bool = False,
    near_miss: bool = True,
    voe: bool = False,
    report_confounds: bool = False,
    workers: int = 1,
    overwrite: bool = False,
) -> Path:
    """Simulate physics clips and write a world file (``probekit generate``).

    Parameters
    ----------
    out
        World file to write (.h5), written atomically.
    clips
        Number of families (original clips); violation and counterfactual twins are added.
    seed
        Run seed; the same seed gives the same file for any ``workers``.
    scenarios
        Scenario names (comma-separated string or list).
    frames, size, fps
        Frames per clip, image side in pixels, frames per second.
    violations
        Violation-of-expectation twins: permanence, solidity, gravity, immutability, continuity.
    counterfactuals
        Add one nuisance and one physics counterfactual per family.
    near_miss
        Add a near-miss twin (no contact, a gap of at least 2 px) to collide and stack families.
    voe
        The violation-of-expectation set: occlude, collide and drop with all five violation twins
        (replaces ``scenarios`` and ``violations``).
    report_confounds
        After writing, print per target what nuisance alone predicts and what a ceiling reaches.
    workers
        Worker processes.
    overwrite
        Replace an existing ``out``.

    Returns
    -------
    pathlib.Path
        The world file.
    """
    from probekit.worlds import VOE_PRESET
    from probekit.worlds import generate_world

    join = lambda v: v if isinstance(v, str) else ",".join(v)  # noqa: E731
    if voe:
        scenarios, violations = VOE_PRESET["scenarios"], VOE_PRESET["violations"]
    path = Path(generate_world(out, clips=clips, seed=seed, scenarios=join(scenarios), frames=frames, size=size, fps=fps,
                               violations=join(violations), counterfactuals=counterfactuals, near_miss=near_miss,
                               workers=workers, overwrite=overwrite))
    if report_confounds:
        from probekit.worlds.confounds import confound_table, format_table

        print(format_table(confound_table(path)))
    return path


def extract(
    data: PathLike,
    out: PathLike,
    *,
    encoder: "str | Encoder | None" = None,
    recipe: PathLike | None = None,
    label: str | None = None,
    encoder_options: dict[str, Any] | None = None,
    **options: Any,
) -> Path:
    """Cache layer-wise latents of clips in a latent store (``probekit extract``).

    Parameters
    ----------
    data
        A world file, a labelled folder (videos + ``labels.toml``) or a folder of videos.
    out
        Latent store to write (.h5).
    encoder
        A name as on the command line (``tiny-vjepa2``, ``pixels``, ``hf:<id or folder>``,
        ``timm:<name>``, ``py:<package.module>:<factory>``, an installed entry point), or an
        :class:`~probekit.encoders.Encoder` object such as a
        :class:`~probekit.encoders.ModuleEncoder`. Default: the recipe's, else ``tiny-vjepa2``.
    recipe
        An extraction recipe (TOML); the other arguments override it.
    label
        The store's display name in tables, figures and the report.
    encoder_options
        Keywords for the encoder factory (e.g. ``{"size": 32, "patch": 32}`` for ``pixels``).
    **options
        Any other option of the command, by its long name with ``_``: ``init``, ``layers``,
        ``pool``, ``dtype``, ``batch_size``, ``device``, ``compression``, ``resume``,
        ``overwrite``, ``shuffle_frames``, ``frame_step``, ``window``, ``stride``,
        ``on_bad_video``, ``trust_remote_code``, ``seed``, ``threads``, ``max_clips``, ``progress``,
        ``format`` (a source type such as ``intphys2`` or ``clevrer``; default: detected), ``precision``.

    Returns
    -------
    pathlib.Path
        The complete store.

    Raises
    ------
    probekit.errors.BadOptionError
        An unknown option or a bad value (the message names it).
    """
    from probekit.encoders.base import Encoder
    from probekit.errors import BadOptionError
    from probekit.extraction.recipe import RECIPE_KEYS, build_config
    from probekit.extraction.run import run_extract

    unknown = sorted(set(options) - RECIPE_KEYS)
    if unknown:
        raise BadOptionError(f"extract: unknown option(s) {', '.join(unknown)}; valid: {', '.join(sorted(RECIPE_KEYS))}")
    given = encoder if isinstance(encoder, Encoder) else None
    overrides = {**options, "data": data, "out": out, "label": label,
                 "encoder": None if given is not None or encoder is None else str(encoder),
                 "encoder_options": encoder_options}
    config = build_config(recipe, overrides)
    if given is not None:
        config.encoder = given.name
    return Path(run_extract(config, encoder=given))


def probe(
    stores: PathLike | Sequence[PathLike],
    out: PathLike,
    *,
    suite: PathLike | None = None,
    readouts: str | Sequence[str] | None = None,
    targets: str | Sequence[str] | None = None,
    folds: int | None = None,
    seed: int | None = None,
    layers: dict[str, Any] | None = None,
    n_boot: int | None = None,
    stages: str | Sequence[str] | None = None,
    threads: int = 1,
    overwrite: bool = False,
    log: Callable[[str], None] | None = None,
    jobs: int = 1,
    scheduler: str | None = None,
    device: str | None = None,
) -> "Run":
    """Probe latent stores and write a run directory (``probekit probe``).

    Parameters
    ----------
    stores
        One store or several over the same clips (an encoder, its random twin, pixels, ...).
    out
        Run directory (re-running resumes from its fitted probes).
    suite
        Suite TOML path or name in ``probes/`` (default ``physics``).
    readouts, targets, stages
        Override the suite's (comma-separated string or list). Targets declared by a labelled
        folder's store are added to the suite's unless ``targets`` is given.
    folds, seed, n_boot
        Outer folds (grouped by family), seed of folds and bootstraps, bootstrap replicates.
    layers
        Per readout, the layers it runs on (``"all"``, ``"last"`` or a list), e.g. ``{"mlp": "last"}``.
    threads
        BLAS and torch threads while fitting.
    overwrite
        Replace a run directory that holds a run of other stores.
    log
        Progress callback taking one line (None: quiet).
    jobs, scheduler
        Local worker processes for the fits, or the address of a dask.distributed scheduler
        whose workers run them; the results equal a serial run's.
    device
        Device of the MLP and attentive probes (``auto``, ``cpu``, ``cuda``, ``mps``).

    Returns
    -------
    probekit.rundir.Run
        The loaded run (``.results``, ``.manifest``, ``.table(stage)``).
    """
    from probekit.evaluation import run_probe
    from probekit.rundir import load_run

    paths = [stores] if isinstance(stores, (str, os.PathLike)) else list(stores)
    run_probe(paths, out, suite=suite, readouts=_names(readouts), targets=_names(targets), folds=folds, seed=seed,
              layers=layers or {}, n_boot=n_boot, threads=threads, stages=_names(stages), overwrite=overwrite, log=log,
              jobs=jobs, scheduler=scheduler, device=device)
    return load_run(out)


def report(
    run: "PathLike | Run",
    out: PathLike | None = None,
    *,
    overwrite: bool = False,
    umap_target: str | None = None,
    min_gain: float = 0.05,
    seed: int = 0,
) -> Path:
    """Write one self-contained HTML report of a run (``probekit report``).

    Parameters
    ----------
    run
        A run directory or the :class:`~probekit.rundir.Run` that :func:`probe` returned.
    out
        HTML file (default ``reports/<run name>.html``).
    overwrite
        Replace an existing file.
    umap_target
        Target that colours the UMAP (default: the first diagnosed target with a stored label).
    min_gain
        Least gain over a control for a readout to count as beating it, in [0, 1).
    seed
        Seed of the UMAP layout.

    Returns
    -------
    pathlib.Path
        The HTML file.
    """
    from probekit.errors import BadOptionError
    from probekit.report.build import write_report
    from probekit.report.diagnosis import Thresholds

    if not 0 <= min_gain < 1:
        raise BadOptionError(f"min_gain {min_gain}: give a margin in [0, 1), e.g. 0.05")
    run_dir = Path(getattr(run, "path", run))
    target = Path(out) if out is not None else Path("reports") / f"{run_dir.resolve().name}.html"
    return Path(write_report(run_dir, target, overwrite=overwrite, umap_target=umap_target,
                             thresholds=Thresholds(min_gain=min_gain), seed=seed))
