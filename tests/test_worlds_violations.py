"""Shape-changing immutability twins, built directly from an occlude clip."""

from __future__ import annotations

import numpy as np
import pytest

from probekit.worlds.scenarios import SCENARIOS
from probekit.worlds.simulate import simulate_clip
from probekit.worlds.violations import immutability


def _occlude_with(shape: str):
    for seed in range(50):
        spec = SCENARIOS["occlude"](np.random.default_rng(seed), 14, 15.0, 48)
        if spec.objects[0].shape == shape:
            return spec
    raise AssertionError(f"no occlude clip with a {shape}")


def _reshape_twin(spec, original):
    for seed in range(50):
        twin = immutability(spec, original, np.random.default_rng(seed))
        if twin is not None and twin[2]["action"] == "reshape":
            return twin
    raise AssertionError("no reshape drawn")


def _fill(mask: np.ndarray) -> float:
    rows, cols = np.nonzero(mask)
    return mask.sum() / ((rows.max() - rows.min() + 1) * (cols.max() - cols.min() + 1))


@pytest.mark.parametrize("shape", ["sphere", "box"])
def test_shape_changes_while_hidden(shape):
    spec = _occlude_with(shape)
    original = simulate_clip(spec)
    twin_spec, frame, detail = _reshape_twin(spec, original)
    twin = simulate_clip(twin_spec)
    assert detail["shape_before"] == shape and detail["shape_after"] != shape
    # identical before, hidden in both when the shape changes
    for name in ("video/rgb", "objects/position_world", "masks/amodal"):
        np.testing.assert_array_equal(twin[name][:frame], original[name][:frame])
    assert original["objects/visible_fraction"][frame - 1, 0] == 0 == twin["objects/visible_fraction"][frame, 0]
    # the changed object re-emerges; its silhouette is a disc (fills pi/4 of its box) or a
    # square-ish box outline, whatever the original was
    seen = np.flatnonzero(twin["objects/visible_fraction"][:, 0] > 0.5)
    seen = seen[seen > frame]
    assert seen.size
    # averaged over the frames it is seen: a disc a few pixels wide fills 0.75-0.83 of its box frame to frame
    before, after = _fill(original["masks/amodal"][0, 0]), np.mean([_fill(twin["masks/amodal"][f, 0]) for f in seen])
    if detail["shape_after"] == "box":
        assert before < 0.82 < after
    else:
        assert after < 0.82 < before
    # it keeps moving: the new object travels on after the change
    x = twin["objects/position_world"][:, 0, 0]
    assert abs(x[seen[-1]] - x[frame]) > 0.1
