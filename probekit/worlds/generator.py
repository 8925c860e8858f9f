"""``generate_world``: plan the families, simulate them (optionally in parallel), write the file."""

from __future__ import annotations

import contextlib
import datetime
import json
import multiprocessing
import os
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np

from probekit.errors import BadOptionError
from probekit.formats.world import world_writer
from probekit.h5io import check_writable_output
from probekit.worlds.family_plan import FamilyJob, members, option_tag
from probekit.worlds.near_miss import NEAR_MISS
from probekit.worlds.spec import CONTACT_EPSILON
from probekit.worlds.scenarios import SCENARIOS, SLOT_ROLES, substeps_for
from probekit.worlds.violations import VIOLATIONS

#: Fewest frames per clip with which every violation twin can be made.
MIN_FRAMES_FOR_VIOLATIONS = 6

#: Scenarios used when none are given.
DEFAULT_SCENARIOS = tuple(SCENARIOS)

#: The violation-of-expectation world set (``probekit generate --voe``). Scenario ``i mod 3`` per
#: family, so ``clips = 180`` gives 60 possible/impossible pairs for each of the five principles
#: (occlude: permanence and immutability; collide: solidity; drop: gravity and continuity).
VOE_PRESET = {"scenarios": "occlude,collide,drop", "violations": "permanence,solidity,gravity,immutability,continuity",
              "clips": 180}


def _parse_list(value: str | Iterable[str] | None, option: str, valid: Iterable[str]) -> tuple[str, ...]:
    valid = tuple(valid)
    if value is None:
        return ()
    items = [v.strip() for v in value.split(",")] if isinstance(value, str) else [str(v).strip() for v in value]
    items = [v for v in items if v]
    for item in items:
        if item not in valid:
            raise BadOptionError(f"{option} {item!r}: unknown; valid values: {', '.join(valid)}")
    return tuple(dict.fromkeys(items))


def _positive(value: float, option: str) -> None:
    if not value > 0:
        raise BadOptionError(f"{option} {value}: must be a positive number")


def plan(
    clips: int,
    seed: int,
    scenarios: tuple[str, ...],
    frames: int,
    fps: float,
    size: int,
    violations: tuple[str, ...],
    counterfactuals: bool,
    near_miss: bool = True,
) -> list[FamilyJob]:
    """One job per family; scenario ``i mod len(scenarios)``; per-clip seeds from SeedSequence."""
    k_max = max(len(SLOT_ROLES[s]) for s in scenarios)
    tag = option_tag(frames, fps, size)
    children = np.random.SeedSequence(seed).spawn(clips)
    jobs = []
    for index, child in enumerate(children):
        clip_seed = int(child.generate_state(1, dtype=np.uint64)[0])
        jobs.append(
            FamilyJob(index, scenarios[index % len(scenarios)], clip_seed, frames, fps, size, k_max,
                      violations, counterfactuals, tag, near_miss)
        )
    return jobs


@contextlib.contextmanager
def _family_results(jobs: list[FamilyJob], workers: int) -> Iterator[Iterator[list[dict]]]:
    """Yield an iterator over the families' clips, in job order, from ``workers`` processes.

    The pool is started before the caller opens its output file. It forks where the platform
    allows (workers inherit the imported modules instead of importing them again) and spawns
    elsewhere. Every clip is simulated in fresh pybullet clients, so the results do not depend
    on which process made them.
    """
    from probekit.worlds.family import run_family  # imports pybullet

    if workers == 1 or len(jobs) == 1:
        yield (run_family(job) for job in jobs)
        return
    from probekit.worlds.textures import texture_folder, use_texture_folder

    method = "fork" if "fork" in multiprocessing.get_all_start_methods() and os.name == "posix" else "spawn"
    with multiprocessing.get_context(method).Pool(min(workers, len(jobs)), initializer=use_texture_folder,
                                                  initargs=(texture_folder(),)) as pool:
        yield pool.imap(run_family, jobs, chunksize=1)


def generate_world(
    out: str | os.PathLike,
    *,
    clips: int = 64,
    seed: int = 0,
    scenarios: str | Iterable[str] | None = None,
    frames: int = 16,
    size: int = 64,
    fps: float = 15.0,
    violations: str | Iterable[str] | None = None,
    counterfactuals: bool = False,
    near_miss: bool = True,
    workers: int = 1,
    overwrite: bool = False,
    progress: bool = True,
) -> Path:
    """Generate a world file of physics clips with exact ground truth.

    Parameters
    ----------
    out
        Output ``.h5`` path; written atomically.
    clips
        Number of families (original clips). Each adds its violation twins and, with
        ``counterfactuals``, two counterfactual clips.
    seed
        Run seed; per-clip seeds are numpy ``SeedSequence(seed).spawn(clips)`` children.
    scenarios
        Comma-separated names or a list (default: all of :data:`SCENARIOS`).
    frames, size, fps
        Frames per clip, image side in pixels, frames per second.
    violations
        Violation twins to add (see :data:`probekit.worlds.violations.VIOLATIONS`).
    counterfactuals
        Add one nuisance and one physics counterfactual per family.
    near_miss
        Add a near-miss twin to each ``collide`` and ``stack`` family whose original has
        object contact (see :mod:`probekit.worlds.near_miss`).
    workers
        Processes; the file is identical for every value.
    overwrite
        Replace an existing file.
    progress
        Show progress (a tqdm bar on a terminal, a line every 30 s elsewhere: :mod:`probekit.progress`).

    Returns
    -------
    pathlib.Path
        The written file.
    """
    scenario_list = _parse_list(scenarios, "--scenarios", SCENARIOS) if scenarios is not None else DEFAULT_SCENARIOS
    if not scenario_list:
        raise BadOptionError(f"--scenarios '': give at least one of {', '.join(SCENARIOS)}")
    violation_list = _parse_list(violations, "--violations", VIOLATIONS)
    for name in violation_list:
        needed = VIOLATIONS[name][0]
        if needed not in scenario_list:
            raise BadOptionError(
                f"--violations {name}: needs scenario {needed!r}, which --scenarios {','.join(scenario_list)} lacks; "
                f"add it to --scenarios"
            )
    for value, option in ((clips, "--clips"), (frames, "--frames"), (size, "--size"), (fps, "--fps"), (workers, "--workers")):
        _positive(value, option)
    if int(seed) < 0:
        raise BadOptionError(f"--seed {seed}: must be a non-negative integer")
    if size < 16:
        raise BadOptionError(f"--size {size}: too small; use at least 16 pixels")
    if frames < 4:
        raise BadOptionError(f"--frames {frames}: too few; use at least 4 frames")
    if violation_list and frames < MIN_FRAMES_FOR_VIOLATIONS:
        raise BadOptionError(
            f"--frames {frames}: violation twins need at least {MIN_FRAMES_FOR_VIOLATIONS} frames "
            f"(an event before the violation and its aftermath); raise --frames or drop --violations"
        )
    out = check_writable_output(out, overwrite=overwrite)

    jobs = plan(clips, seed, scenario_list, frames, fps, size, violation_list, counterfactuals, near_miss)
    n_planned = sum(len(members(job)) + (near_miss and job.scenario in NEAR_MISS) for job in jobs)
    options = {
        "clips": clips, "seed": seed, "scenarios": list(scenario_list), "frames": frames, "size": size,
        "fps": fps, "violations": list(violation_list), "counterfactuals": counterfactuals, "near_miss": near_miss,
    }
    from probekit import __version__

    attrs = {
        "probekit_version": __version__,
        "seed": int(seed),
        "options": json.dumps(options, sort_keys=True),
        "n_families": clips,
        "n_frames": frames,
        "image_size": size,
        "fps": float(fps),
        "substeps": substeps_for(fps),
        "k_max": jobs[0].k_max,
        "created_utc": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "contact_epsilon": CONTACT_EPSILON,
        "scenarios": json.dumps(list(scenario_list)),
        "slot_roles": json.dumps({s: SLOT_ROLES[s][: jobs[0].k_max] for s in scenario_list}),
    }
    from probekit.progress import progress as progress_bar

    with _family_results(jobs, int(workers)) as families:
        bar = progress_bar(total=n_planned, unit="clip", desc="generate", enabled=progress)
        try:
            with world_writer(out, attrs) as writer:
                for family in families:
                    for clip in family:
                        writer.add(clip)
                    bar.update(len(family))
        finally:
            bar.close()
    return out
