"""Near-miss twins: same family, no object contact for slot 0, a gap of >= 2 px at render size."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.distance import cdist

from probekit.worlds.near_miss import MIN_GAP_PX, near_miss_twin
from probekit.worlds.scenarios import SCENARIOS
from probekit.worlds.simulate import simulate_clip


def _pixel_gap(masks_a: np.ndarray, masks_b: np.ndarray) -> float:
    """Brute force: smallest distance between pixel centres of two masks over frames, minus one."""
    best = np.inf
    for a, b in zip(masks_a, masks_b):
        if a.any() and b.any():
            best = min(best, cdist(np.argwhere(a), np.argwhere(b)).min() - 1.0)
    return best


@pytest.mark.parametrize("scenario", ["collide", "stack"])
def test_near_miss_twin_has_a_visible_gap_where_the_original_touches(scenario):
    for seed in range(30):
        spec = SCENARIOS[scenario](np.random.default_rng(seed), 14, 15.0, 48)
        original = simulate_clip(spec)
        if not original["objects/contact_pairs_interval"][:, 0].any():
            continue
        made = near_miss_twin(spec, original, len(spec.objects))
        if made is None:
            continue
        twin_spec, detail, twin = made
        assert twin_spec.scenario == spec.scenario and twin_spec.gravity == spec.gravity
        assert not twin["objects/contact_pairs_interval"][:, 0].any()
        assert not twin["objects/contact_object_interval"][:, 0].any()
        amodal = twin["masks/amodal"]
        for other in range(1, amodal.shape[1]):
            assert _pixel_gap(amodal[:, 0], amodal[:, other]) >= MIN_GAP_PX
        # the original's silhouettes do touch (no gap) at its contact
        assert _pixel_gap(original["masks/amodal"][:, 0], original["masks/amodal"][:, 1]) < MIN_GAP_PX
        return
    pytest.fail(f"no {scenario} clip with a near-miss twin in 30 seeds")
