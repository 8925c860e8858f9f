"""Video folders (PyAV) and bad input: one-line errors, exit code 2, nothing lost."""

from __future__ import annotations

import hashlib
import warnings

import h5py
import numpy as np
import pytest
from _worlds import generated_world

from probekit.errors import BadOptionError, FileFormatError
from probekit.extraction import ExtractConfig, run_extract
from probekit.formats.world import WORLD_SCHEMA_VERSION
from probekit.store import Store


def _write_video(path, n_frames, seed, size=64):
    import av

    rng = np.random.default_rng(seed)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("mpeg4", rate=10)
        stream.width = stream.height = size
        stream.pix_fmt = "yuv420p"
        for t in range(n_frames):
            frame = np.zeros((size, size, 3), np.uint8)
            frame[..., 0] = rng.integers(0, 255)
            frame[(4 * t) % size : (4 * t) % size + 8, 10:30] = 255
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def _decode(path):
    import av

    with av.open(str(path)) as container:
        return np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    folder = tmp_path_factory.mktemp("videos")
    _write_video(folder / "a.mp4", 20, 1)
    (folder / "sub").mkdir()
    _write_video(folder / "sub" / "b.mp4", 12, 2)
    return folder


def _cfg(data, out, **kw):
    base = dict(data=str(data), out=str(out), encoder="pixels", batch_size=3, progress=False, dtype="float32", pool="time")
    base.update(kw)
    return ExtractConfig(**base)


def test_video_folder_windows_and_families(videos, tmp_path):
    run_extract(_cfg(videos, tmp_path / "v.h5", window=8, stride=4))
    with Store(tmp_path / "v.h5") as store:
        clips = store.clips()
        assert clips.clip_id.tolist() == ["a.mp4@0", "a.mp4@4", "a.mp4@8", "a.mp4@12", "sub/b.mp4@0", "sub/b.mp4@4"]
        assert clips.family_id.tolist() == ["a.mp4"] * 4 + ["sub/b.mp4"] * 2
        frames = _decode(videos / "a.mp4").astype(np.float64) / 255  # reference decode, 64 px -> 32 px is 2 x 2 means
        small = frames.reshape(20, 32, 2, 32, 2, 3).mean(axis=(2, 4)).mean(axis=(1, 2))  # time pooling = mean colour
        np.testing.assert_allclose(store.features(0, "time")[2].mean(axis=-1), small[8:16].mean(axis=-1), atol=1e-5)
        assert store.attrs["sampling"]["window"] == 8 and store.attrs["source_format"] == "videos"


def test_frame_step_sampling(videos, tmp_path):
    run_extract(_cfg(videos, tmp_path / "s.h5", window=4, stride=2, frame_step=2))
    with Store(tmp_path / "s.h5") as store:
        # a: sampled frames 0,2,..,18 (10) -> windows at sampled 0,2,4,6; b: 0..10 step 2 (6) -> 0,2
        assert store.clips().clip_id.tolist() == ["a.mp4@0", "a.mp4@4", "a.mp4@8", "a.mp4@12", "sub/b.mp4@0", "sub/b.mp4@4"]
        np.testing.assert_array_equal(store.dataset("layout/frame_order")[0], [0, 2, 4, 6])


def test_truncated_video_skipped_with_warning_or_stopped(videos, tmp_path, run_cli):
    folder = tmp_path / "mixed"
    folder.mkdir()
    (folder / "a.mp4").write_bytes((videos / "a.mp4").read_bytes())
    good = (videos / "sub" / "b.mp4").read_bytes()
    (folder / "broken.mp4").write_bytes(good[: len(good) // 2])
    with pytest.warns(UserWarning, match="broken.mp4"):
        run_extract(_cfg(folder, tmp_path / "skip.h5", window=8))
    with Store(tmp_path / "skip.h5") as store:
        assert set(store.clips().family_id) == {"a.mp4"}
        assert any("broken.mp4" in s for s in store.attrs["skipped_videos"])
    result = run_cli("extract", "--data", folder, "--out", tmp_path / "stop.h5", "--encoder", "pixels", "--window", "8",
                     "--on-bad-video", "stop", "--no-progress")
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "broken.mp4" in result.stderr and "--on-bad-video skip" in result.stderr
    assert not (tmp_path / "stop.h5").exists()
    skipped = run_cli("extract", "--data", folder, "--out", tmp_path / "cli-skip.h5", "--encoder", "pixels", "--window", "8",
                      "--no-progress")
    warned = [line for line in skipped.stderr.splitlines() if line.startswith("warning:")]
    assert skipped.returncode == 0 and len(warned) == 1 and "broken.mp4" in warned[0] and "skipped" in warned[0]
    assert "UserWarning" not in skipped.stderr and "warnings.warn" not in skipped.stderr


def test_folder_of_undecodable_videos_is_one_error_line(tmp_path, run_cli):
    folder = tmp_path / "junk"
    folder.mkdir()
    (folder / "a.mp4").write_bytes(b"not a video")
    (folder / "b.webm").write_bytes(b"")
    result = run_cli("extract", "--data", folder, "--out", tmp_path / "x.h5", "--encoder", "pixels", "--no-progress")
    assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith("error: --data") and "none of its 2 video file(s) can be decoded" in result.stderr
    assert not (tmp_path / "x.h5").exists()


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    return generated_world(4, seed=0)


def test_cli_bad_encoder_and_existing_output(world, tmp_path, run_cli):
    out = tmp_path / "keep.h5"
    out.write_bytes(b"precious")
    result = run_cli("extract", "--data", world, "--out", out, "--encoder", "hf-typo:model", "--no-progress")
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert "unknown encoder" in result.stderr and "hf:" in result.stderr and "tiny-vjepa2" in result.stderr
    result = run_cli("extract", "--data", world, "--out", out, "--encoder", "pixels", "--layers", "3", "--no-progress")
    assert result.returncode == 2 and "--layers 3" in result.stderr
    result = run_cli("extract", "--data", world, "--out", out, "--encoder", "pixels", "--no-progress")
    assert result.returncode == 2 and "--overwrite" in result.stderr
    assert out.read_bytes() == b"precious"


def test_library_bad_inputs(world, tmp_path):
    with pytest.raises(BadOptionError, match="out of range"):
        run_extract(_cfg(world, tmp_path / "a.h5", encoder="tiny-vjepa2", layers="0,7"))
    with pytest.raises(BadOptionError, match="--pool"):
        run_extract(_cfg(world, tmp_path / "a.h5", pool="mean,cls2"))
    with pytest.raises(BadOptionError, match="--window"):
        run_extract(_cfg(world, tmp_path / "a.h5", window=17))
    incomplete = tmp_path / "incomplete.h5"
    with h5py.File(incomplete, "w") as f:
        f.attrs.update({"format": "probekit.world", "schema_version": WORLD_SCHEMA_VERSION, "complete": False})
    with pytest.raises(FileFormatError, match="incomplete"):
        run_extract(_cfg(incomplete, tmp_path / "a.h5"))
    foreign = tmp_path / "foreign.h5"
    with h5py.File(foreign, "w") as f:
        f["x"] = [1]
    digest = hashlib.sha256(foreign.read_bytes()).hexdigest()
    with pytest.raises(FileFormatError, match="not a probekit world file"):
        run_extract(_cfg(foreign, tmp_path / "a.h5"))
    with pytest.raises(BadOptionError, match="not a probekit store"):
        run_extract(_cfg(world, foreign, resume=True))
    assert hashlib.sha256(foreign.read_bytes()).hexdigest() == digest
    assert not (tmp_path / "a.h5").exists()


def test_overwrite_keeps_old_store_until_the_new_one_is_complete(world, tmp_path):
    out = tmp_path / "s.h5"
    run_extract(_cfg(world, out))
    with pytest.raises(BadOptionError, match="already|--overwrite"):
        run_extract(_cfg(world, out))
    run_extract(_cfg(world, out, overwrite=True, pool="mean"))
    with Store(out) as store:
        assert store.feature_kinds(0) == ["mean"]
    with warnings.catch_warnings():
        run_extract(_cfg(world, out, resume=True, pool="mean"))  # already complete: nothing to do
