"""Physics worlds: scenario sampling, pybullet simulation, rendering and exact ground truth.

Entry point: :func:`generate_world` (``probekit generate``). Lower levels:
:func:`~probekit.worlds.simulate.simulate_clip` runs one :class:`~probekit.worlds.spec.ClipSpec`
(imported lazily: pybullet prints a line when imported).
"""

from probekit.worlds.generator import DEFAULT_SCENARIOS, VOE_PRESET, generate_world
from probekit.worlds.scenarios import SCENARIOS, SLOT_ROLES
from probekit.worlds.spec import ClipSpec, Event, ObjectSpec
from probekit.worlds.violations import VIOLATIONS

__all__ = [
    "DEFAULT_SCENARIOS", "SCENARIOS", "SLOT_ROLES", "VIOLATIONS", "VOE_PRESET", "ClipSpec", "Event", "ObjectSpec",
    "generate_world", "simulate_clip",
]


def __getattr__(name: str):
    if name == "simulate_clip":
        from probekit.worlds.simulate import simulate_clip

        return simulate_clip
    raise AttributeError(name)
