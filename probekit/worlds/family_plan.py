"""The plan of one family (original, violation twins, counterfactuals) and its ids; no pybullet."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from probekit.worlds.counterfactuals import NUISANCE_FACTORS, PHYSICS_FACTORS
from probekit.worlds.violations import VIOLATIONS


@dataclass(frozen=True)
class FamilyJob:
    """Everything a worker needs to make one family."""

    index: int
    scenario: str
    seed: int
    frames: int
    fps: float
    size: int
    k_max: int
    violations: tuple[str, ...]
    counterfactuals: bool
    option_tag: str
    near_miss: bool = True

    @property
    def family_id(self) -> str:
        """Unique across runs: scenario, 64-bit per-clip seed and a tag of the shape options."""
        return f"{self.scenario}-{self.seed:016x}-{self.option_tag}"


def members(job: FamilyJob) -> list[tuple[str, str, str]]:
    """(kind, violation, counterfactual factor) of each clip of the family, original first.

    Violations apply to the scenarios listed in
    :data:`probekit.worlds.violations.VIOLATIONS`; with counterfactuals, family ``i`` gets
    nuisance factor ``i mod 4`` and physics factor ``i mod 3`` so that all factors are covered.
    """
    out = [("original", "", "")]
    out += [("violation", name, "") for name in job.violations if VIOLATIONS[name][0] == job.scenario]
    if job.counterfactuals:
        out.append(("counterfactual", "", NUISANCE_FACTORS[job.index % len(NUISANCE_FACTORS)]))
        out.append(("counterfactual", "", PHYSICS_FACTORS[job.index % len(PHYSICS_FACTORS)]))
    return out


def option_tag(frames: int, fps: float, size: int) -> str:
    """Short hash of the options that shape a clip (part of ids)."""
    text = json.dumps({"frames": frames, "fps": float(fps), "size": size}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:8]
