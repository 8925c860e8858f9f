"""One family: an original clip with its violation twins and counterfactuals.

A family is the unit of work of ``probekit generate`` (one task per worker call). Its clips
share the family id and the per-clip seed; each clip gets a globally unique clip id and a
content hash.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import numpy as np

from probekit.formats.world import to_storage
from probekit.worlds.counterfactuals import FACTORS
from probekit.worlds.scenarios import SCENARIOS
from probekit.worlds.simulate import simulate_clip
from probekit.worlds.family_plan import FamilyJob, members
from probekit.worlds.near_miss import near_miss_twin
from probekit.worlds.violations import VIOLATIONS

#: Attempts at sampling an original for which every requested twin is possible.
MAX_ATTEMPTS = 20

def content_hash(arrays: dict[str, np.ndarray]) -> str:
    """sha256 of a clip's arrays (names, shapes, dtypes and bytes, in name order)."""
    digest = hashlib.sha256()
    for name in sorted(arrays):
        value = np.ascontiguousarray(arrays[name])
        digest.update(f"{name}|{value.dtype.str}|{value.shape}".encode())
        digest.update(value.tobytes())
    return digest.hexdigest()


def run_family(job: FamilyJob) -> list[dict[str, Any]]:
    """Simulate and render every clip of a family.

    Returns
    -------
    list of dict
        One dict per clip (order of :func:`members`, then the near-miss twin when one was made) with ``arrays`` (see
        :func:`~probekit.worlds.simulate.simulate_clip`) and ``meta`` (clip id, family id,
        kind, violation, violation frame, factor, seed, detail).
    """
    rng = np.random.default_rng(job.seed)
    sampler = SCENARIOS[job.scenario]
    wanted = members(job)
    for attempt in range(MAX_ATTEMPTS):
        spec = sampler(rng, job.frames, job.fps, job.size)
        original = simulate_clip(spec, job.k_max)
        twins = []
        for index, (kind, violation, _) in enumerate(wanted):
            if kind == "violation":
                twins.append(VIOLATIONS[violation][1](spec, original, np.random.default_rng([job.seed, index])))
        if all(twin is not None for twin in twins):
            break
    else:
        raise RuntimeError(f"{job.family_id}: no clip allowed every requested violation in {MAX_ATTEMPTS} attempts")

    # a resampled original is another clip: its id says so (r<attempt>), keeping ids unique
    family_id = job.family_id if attempt == 0 else f"{job.family_id}r{attempt}"
    if job.near_miss:
        twin = near_miss_twin(spec, original, job.k_max)
        if twin is not None:
            wanted = [*wanted, ("near_miss", "", "")]
    clips = []
    twin_iter = iter(twins)
    for index, (kind, violation, factor) in enumerate(wanted):
        frame, detail, arrays = -1, {}, original
        if kind == "violation":
            twin_spec, frame, detail = next(twin_iter)
            arrays = simulate_clip(twin_spec, job.k_max)
        elif kind == "near_miss":
            _, detail, arrays = twin
        elif kind == "counterfactual":
            new_spec, detail = FACTORS[factor](spec, np.random.default_rng([job.seed, index]))
            arrays = simulate_clip(new_spec, job.k_max)
        suffix = {"original": "o", "near_miss": "n"}.get(kind) or (f"v.{violation}" if violation else f"c.{factor}")
        arrays = to_storage(arrays)
        clips.append(
            {
                "arrays": arrays,
                "meta": {
                    "clip_id": f"{family_id}-{suffix}",
                    "family_id": family_id,
                    "scenario": job.scenario,
                    "kind": kind,
                    "violation": violation,
                    "violation_frame": frame,
                    "counterfactual_factor": factor,
                    "seed": job.seed,
                    "detail": json.dumps(detail, sort_keys=True),
                    "content_hash": content_hash(arrays),
                },
            }
        )
    return clips
