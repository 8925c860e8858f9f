"""Label alignment against independent computations of the truth."""

from __future__ import annotations

import numpy as np
import pytest
from _worlds import generated_world

from probekit.extraction import ExtractConfig, run_extract
from probekit.h5io import open_checked
from probekit.store import Store


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    return generated_world(3, seed=9)


def _truth(world):
    with open_checked(world, "world") as f:
        return {k: f[k][()] for k in ("video/segmentation", "objects/velocity_world", "objects/contact_interval",
                                       "objects/position_image", "objects/bbox_visible", "masks/amodal")}


def _run(world, out, encoder, **kw):
    run_extract(ExtractConfig(data=str(world), out=str(out), encoder=encoder, init="random", batch_size=2, progress=False,
                              dtype="float32", **kw))
    return Store(out)


def test_per_frame_pixels_labels(world, tmp_path):
    """pixels: 64 px -> 32 px (area), 4 px patches: each token is an 8 x 8 block of source pixels."""
    truth = _truth(world)
    with _run(world, tmp_path / "p.h5", "pixels", pool="time,object,none") as store:
        seg = truth["video/segmentation"]
        for k in range(3):
            fraction = (seg == k).reshape(3, 16, 8, 8, 8, 8).mean(axis=(3, 5))  # counted pixels per block
            np.testing.assert_allclose(store.labels("token_coverage")[:, :, k].astype(np.float64), fraction, atol=1e-3)
            amodal = truth["masks/amodal"][:, :, k].reshape(3, 16, 8, 8, 8, 8).mean(axis=(3, 5))
            np.testing.assert_allclose(store.labels("token_coverage_amodal")[:, :, k].astype(np.float64), amodal, atol=1e-3)
        # image coordinates follow the resize: x' = x / 2
        np.testing.assert_allclose(store.labels("position_image"), truth["objects/position_image"] / 2, atol=1e-6)
        np.testing.assert_allclose(store.labels("bbox_visible"), truth["objects/bbox_visible"] / 2, atol=1e-6)
        # object pooling: the coverage-weighted mean of the object's tokens, NaN where it covers none
        tokens = store.features(0, "tokens").astype(np.float64)
        cov = store.labels("token_coverage").astype(np.float64)
        for k in range(3):
            w = cov[:, :, k]
            total = w.sum(axis=(2, 3))
            expected = np.einsum("nthwd,nthw->ntd", tokens, w) / np.where(total > 0, total, np.nan)[..., None]
            np.testing.assert_allclose(store.features(0, "object")[:, :, k], expected, atol=2e-3)
        np.testing.assert_array_equal(store.labels("frame_mid"), np.arange(16, dtype=np.float32))


def test_tubelet_alignment_mid_time_and_any(world, tmp_path):
    """tiny-vjepa2: tubelets of 2 frames; continuous labels at mid-time, binary as any-within-span."""
    truth = _truth(world)
    with _run(world, tmp_path / "t.h5", "tiny-vjepa2", layers="-1") as store:
        np.testing.assert_array_equal(store.dataset("layout/token_frames")[()], np.stack([np.arange(0, 16, 2), np.arange(1, 16, 2)], 1))
        mid = np.arange(8) * 2 + 0.5
        np.testing.assert_allclose(store.labels("frame_mid"), mid)
        velocity = truth["objects/velocity_world"]  # linear interpolation at t + 0.5 = mean of the two frames
        np.testing.assert_allclose(store.labels("velocity_world"), (velocity[:, 0::2] + velocity[:, 1::2]) / 2, rtol=1e-5, atol=1e-6)
        contact = truth["objects/contact_interval"]
        np.testing.assert_array_equal(store.labels("contact_interval"), contact[:, 0::2] | contact[:, 1::2])
        seg = truth["video/segmentation"]
        for k in range(3):
            per_frame = (seg == k).reshape(3, 16, 8, 8, 8, 8).mean(axis=(3, 5))
            np.testing.assert_allclose(store.labels("token_coverage")[:, :, k].astype(np.float64),
                                       (per_frame[:, 0::2] + per_frame[:, 1::2]) / 2, atol=1e-3)
        assert store.labels("clip/mass").shape == (3, 3) and store.labels("clip/gravity").shape == (3,)
        assert store.labels("contact_interval").any()  # the check above saw contacts


def test_shuffle_frames_control(world, tmp_path):
    with _run(world, tmp_path / "a.h5", "pixels", pool="time") as plain, \
         _run(world, tmp_path / "b.h5", "pixels", pool="time", shuffle_frames=3) as shuffled:
        order = shuffled.dataset("layout/frame_order")[()]
        assert shuffled.attrs["shuffle_frames_seed"] == 3
        for row in order:
            assert sorted(row) == list(range(16)) and not np.array_equal(row, np.arange(16))
        rows = np.arange(3)[:, None]
        np.testing.assert_array_equal(shuffled.features(0, "time"), plain.features(0, "time")[rows, order])
        np.testing.assert_array_equal(shuffled.labels("velocity_world"), plain.labels("velocity_world")[rows, order])
        np.testing.assert_array_equal(plain.dataset("layout/frame_order")[()], np.tile(np.arange(16), (3, 1)))


def test_resize_and_crop_geometry_for_masks(world, tmp_path):
    """A processor that resizes 64 -> 73 and crops 64 (V-JEPA 2's 256/224 rule): coverage = the
    fraction of each token's input pixels inside the resized, cropped mask."""
    from transformers import VJEPA2VideoProcessor

    from probekit.encoders.hf import processor_geometry

    geometry = processor_geometry(VJEPA2VideoProcessor(crop_size=64), 64, 64)
    assert geometry.resized == (73, 73) and geometry.crop == (4, 4, 64, 64)
    mask = np.zeros((64, 64), bool)
    mask[10:30, 20:50] = True
    # independent: area of [10, 30) x [20, 50) scaled by 73/64, shifted by the crop, intersected with each 8 x 8 token
    s = 73 / 64
    y0, y1, x0, x1 = 10 * s - 4, 30 * s - 4, 20 * s - 4, 50 * s - 4
    edges = np.arange(0, 65, 8)
    oy = np.clip(np.minimum(edges[1:], y1) - np.maximum(edges[:-1], y0), 0, None)
    ox = np.clip(np.minimum(edges[1:], x1) - np.maximum(edges[:-1], x0), 0, None)
    expected = np.outer(oy, ox) / 64

    from probekit.encoders.base import TokenLayout
    from probekit.extraction.align import token_coverage

    layout = TokenLayout(grid=(1, 8, 8), patch=(8, 8), token_frames=np.array([[0, 0]]))
    got = token_coverage(mask[None, None, None], geometry, layout)[0, 0, 0]
    np.testing.assert_allclose(got, expected, atol=1e-6)
    xy = geometry.map_xy(np.array([[32.0, 32.0], [0.0, 0.0]]))
    np.testing.assert_allclose(xy, [[32 * s - 4, 32 * s - 4], [-4, -4]], atol=1e-5)
