"""A labelled folder (own videos + one table + labels.toml) end to end: a moving square whose true
position per frame is written in the table is recovered by pixels and tiny-vjepa2 readouts that
use no object masks; masks (PNG) give object tokens; bad tables are one-line errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from benchmark_fixtures import write_mp4

from probekit.errors import BadOptionError
from probekit.sources import ClipSource, LabelledFolderSource, open_source
from probekit.store import Store

SIZE, FRAMES, SIDE = 64, 16, 14


def _square_clips(n_clips: int, seed: int):
    """Per clip: frames (T, H, W, 3), square centres (T, 2) and masks (T, H, W) of object id 7."""
    rng = np.random.default_rng(seed)
    for c in range(n_clips):
        start = rng.uniform(SIDE / 2 + 1, SIZE - SIDE / 2 - 1, size=2)
        end = rng.uniform(SIDE / 2 + 1, SIZE - SIDE / 2 - 1, size=2)
        centres = start + (end - start) * np.linspace(0, 1, FRAMES)[:, None]
        frames = np.full((FRAMES, SIZE, SIZE, 3), 20, np.uint8)
        masks = np.zeros((FRAMES, SIZE, SIZE), np.uint8)
        for t, (x, y) in enumerate(centres):
            x0, y0 = int(round(x - SIDE / 2)), int(round(y - SIDE / 2))
            frames[t, y0 : y0 + SIDE, x0 : x0 + SIDE] = (230, 200, 60)
            masks[t, y0 : y0 + SIDE, x0 : x0 + SIDE] = 7
        yield f"clip{c:02d}", frames, centres, masks


def write_labelled_folder(root, n_clips: int = 25, seed: int = 0, masks: bool = True):
    """Videos (half mp4 via PyAV, half PNG frame folders), labels.csv, labels.toml, PNG masks."""
    from PIL import Image

    (root / "videos").mkdir(parents=True)
    rows = []
    for index, (clip, frames, centres, mask) in enumerate(_square_clips(n_clips, seed)):
        if index % 2:
            write_mp4(root / "videos" / f"{clip}.mp4", frames, fps=10)
        else:
            (root / "videos" / clip).mkdir()
            for t, frame in enumerate(frames):
                Image.fromarray(frame).save(root / "videos" / clip / f"{t:04d}.png")
        if masks:
            (root / "masks" / clip).mkdir(parents=True)
            for t, m in enumerate(mask):
                Image.fromarray(m).save(root / "masks" / clip / f"{t:04d}.png")
        for t, (x, y) in enumerate(centres):
            rows.append({"video": clip, "frame": t, "track": 7, "scene": f"s{index}", "x": x, "y": y,
                         "right_half": float(x > SIZE / 2)})
    pd.DataFrame(rows).to_csv(root / "labels.csv", index=False)
    (root / "labels.toml").write_text(
        'table = "labels.csv"\nvideos = "videos"\n' + ('masks = "masks"\n' if masks else "") +
        '[columns]\nclip = "video"\nframe = "frame"\nobject = "track"\nfamily = "scene"\n'
        '[targets.square_position]\ncolumns = ["x", "y"]\nkind = "continuous"\nunit = "px"\n'
        '[targets.right_half]\ncolumns = ["right_half"]\nkind = "binary"\n'
    )
    return root


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return write_labelled_folder(tmp_path_factory.mktemp("labelled") / "squares")


def test_the_folder_is_a_clip_source_with_labels_masks_and_families(folder):
    source = open_source(folder)
    try:
        assert isinstance(source, LabelledFolderSource) and isinstance(source, ClipSource)
        assert source.provides == {"labels", "masks", "families"}
        assert source.n_clips == 25 and source.n_frames == FRAMES and source.k_max == 1
        batch = source.read(0, 2)
        truth = list(_square_clips(2, 0))
        assert batch.video.shape == (2, FRAMES, SIZE, SIZE, 3)
        np.testing.assert_array_equal(batch.video[0], truth[0][1])  # PNG frames are lossless
        np.testing.assert_allclose(batch.labels["objects/square_position"][1, :, 0], truth[1][2], rtol=1e-6)
        assert batch.labels["video/segmentation"][0, 3][truth[0][3][3] == 7].min() == 0
        assert (batch.labels["video/segmentation"][0, 3][truth[0][3][3] == 0] == -1).all()
        assert source.clip_table()["family_id"][:2] == ["s0", "s1"]
    finally:
        source.close()


def test_square_position_recovered_end_to_end_and_aligned_for_tubelets(folder, tmp_path):
    import probekit as pk

    # pixels as one 8x8 token: the square's centroid is linear in its (area-resized) pixels
    pixels = pk.extract(folder, tmp_path / "pixels.h5", encoder="pixels", encoder_options={"size": 8, "patch": 8},
                        pool="mean,time", progress=False)
    suite = tmp_path / "suite.toml"  # no targets listed: the built-in catalogue plus the store's own
    suite.write_text('[suite]\nname = "squares"\nreadouts = ["linear"]\ncontrols = ["nuisance"]\nn_boot = 100\n'
                     '[readouts.linear]\nalphas = [1e-2, 1, 100, 1e4]\nCs = [0.1, 1]\n')
    run = pk.probe(pixels, tmp_path / "run", suite=suite)
    results = run.results
    rows = results[(results.store == "pixels:none") & (results.target == "square_position") & (results.readout == "linear")
                   & (results.metric == "r2")]
    assert rows.score.max() >= 0.9, rows
    assert "right_half" in set(results.target)  # every declared target is probed
    skipped = {entry["target"] for entry in run.manifest["skipped"]}
    assert "position_camera" in skipped  # built-in targets without labels are skipped, not errors

    tiny = pk.extract(folder, tmp_path / "tiny.h5", encoder="tiny-vjepa2", layers="0,6", pool="mean,time,object,grid",
                      label="tiny (squares)", progress=False)
    with Store(tiny) as store:
        assert store.attrs["label"] == "tiny (squares)"
        assert {"square_position", "right_half", "exists", "token_coverage"} <= set(store.label_names)
        assert {"object", "grid"} <= set(store.feature_kinds(6))
        # tubelets of two frames: the label is the true centre halfway between the two frames
        truth = np.stack([centres for _, _, centres, _ in _square_clips(25, 0)])
        expected = (truth[:, 0::2] + truth[:, 1::2]) / 2
        order = [int(c[4:]) for c in store.clips()["clip_id"]]
        np.testing.assert_allclose(store.labels("square_position")[:, :, 0], expected[order], rtol=1e-5)
    # the token grid, not its mean, says where the square is: a linear readout of the flattened
    # (pooled) grid recovers the position without any mask, where the mean-pooled readout cannot
    spatial_suite = tmp_path / "spatial.toml"
    spatial_suite.write_text('[suite]\nname = "squares"\nreadouts = ["linear", "spatial"]\ncontrols = []\nn_boot = 50\n'
                             'targets = ["square_position"]\n[readouts.spatial]\nalphas = [1e-2, 1, 100, 1e4]\n'
                             '[readouts.linear]\nalphas = [1e-2, 1, 100, 1e4]\n')
    tiny_run = pk.probe(tiny, tmp_path / "tiny_run", suite=spatial_suite)
    scores = tiny_run.results[(tiny_run.results.target == "square_position") & (tiny_run.results.metric == "r2")]
    assert scores[scores.readout == "spatial"].score.max() >= 0.9, scores
    assert scores[scores.readout == "linear"].score.max() < 0.5, scores  # the mean over tokens loses the position


def test_without_masks_object_readouts_are_not_available(tmp_path):
    root = write_labelled_folder(tmp_path / "plain", n_clips=5, masks=False)
    source = open_source(root)
    assert "masks" not in source.provides and "video/segmentation" not in source.read(0, 1).labels
    source.close()


@pytest.mark.parametrize("toml, message", [
    ('table = "labels.csv"\n[columns]\nframe = "frame"\n[targets.p]\ncolumns = ["x"]\n', "needs clip"),
    ('table = "labels.csv"\n[columns]\nclip = "video"\nframe = "frame"\n[targets.p]\ncolumns = ["nope"]\n', "not in the table"),
    ('table = "labels.csv"\n[columns]\nclip = "video"\nframe = "frame"\n[targets.velocity]\ncolumns = ["x"]\n', "built-in target"),
    ('table = "labels.csv"\n[columns]\nclip = "video"\ntime = "frame"\n[targets.p]\ncolumns = ["x"]\n', "needs fps"),
])
def test_bad_toml_is_a_one_line_error(tmp_path, toml, message):
    root = write_labelled_folder(tmp_path / "bad", n_clips=2, masks=False)
    (root / "labels.toml").write_text(toml)
    with pytest.raises(BadOptionError, match=message) as caught:
        open_source(root)
    assert "\n" not in str(caught.value)


def _edit_table(change):
    def edit(root):
        table = pd.read_csv(root / "labels.csv")
        change(table).to_csv(root / "labels.csv", index=False)
    return edit


def _edit_toml(old, new):
    def edit(root):
        (root / "labels.toml").write_text((root / "labels.toml").read_text().replace(old, new))
    return edit


def _shrink_mask(root):
    from PIL import Image

    Image.fromarray(np.zeros((10, 10), np.uint8)).save(root / "masks" / "clip00" / "0000.png")


@pytest.mark.parametrize("edit, message", [
    (_edit_table(lambda t: t.assign(x=t.x.astype(object).where(t.index != 3, "abc"))), "column 'x' holds 'abc' (table row 3), not a number"),
    (_edit_table(lambda t: t.assign(x=t.x.where(t.index != 3, np.inf))), "column 'x' holds inf (table row 3)"),
    (_edit_table(lambda t: t.assign(right_half=t.right_half.where(t.index != 3, 2.0))), "is binary, but column 'right_half' holds 2.0"),
    (_edit_table(lambda t: t.assign(right_half=t.right_half.where(t.index != 3, np.nan))), "is binary, but column 'right_half' holds nan"),
    (_edit_table(lambda t: t.iloc[:0]), "the table has no rows"),
    (_edit_table(lambda t: pd.concat([t, t.iloc[[5]]])), "2 table rows share their video / frame / track (first: row 5, video 'clip00', frame 5, track 7)"),
    (_edit_table(lambda t: t.assign(scene=t.scene.where(t.index != 3, np.nan))), "family = 'scene' is empty in table row 3"),
    (_edit_table(lambda t: t.assign(track="car")), "object = 'track' holds 'car'"),
    (_edit_table(lambda t: t.assign(track=t.track.where(t.index != 4, np.nan))), "object = 'track' is empty in table row 4"),
    (_edit_toml('videos = "videos"', 'videos = "videos"\nfps = 0'), "fps = 0: give the videos' frames per second"),
    (lambda root: (root / "masks" / "clip01" / "0003.png").unlink(), "15 mask images for 16 frames"),
    (_shrink_mask, "the masks of clip 'clip00' are 10 x 10 px, its frames 64 x 64"),
])
def test_unusable_tables_and_masks_are_refused_when_the_folder_is_opened(tmp_path, edit, message):
    """Values the labels cannot hold, duplicate rows and masks that do not fit: one line, before any clip is read."""
    root = write_labelled_folder(tmp_path / "bad", n_clips=2, masks=True)
    edit(root)
    with pytest.raises(BadOptionError) as caught:
        open_source(root)
    assert message in str(caught.value) and "\n" not in str(caught.value)


def test_an_unreadable_frame_image_is_one_error_line(tmp_path, run_cli):
    root = write_labelled_folder(tmp_path / "broken", n_clips=2, masks=False)
    (root / "videos" / "clip00" / "0002.png").write_bytes(b"not an image")
    result = run_cli("extract", "--data", root, "--out", tmp_path / "x.h5", "--encoder", "pixels", "--no-progress")
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    assert len(errors) == 1 and "clip00/0002.png: not a readable image" in errors[0]


def test_masks_in_one_hdf5_file_are_checked_against_each_clips_frames(tmp_path):
    """masks = "masks.h5": one (T, H, W) dataset per clip; a missing clip or another size is one line at opening."""
    import h5py

    root = write_labelled_folder(tmp_path / "h5masks", n_clips=2, masks=False)
    (root / "labels.toml").write_text((root / "labels.toml").read_text().replace('videos = "videos"\n', 'videos = "videos"\nmasks = "masks.h5"\n'))
    with h5py.File(root / "masks.h5", "w") as f:
        f["clip00"] = np.zeros((16, 64, 64), np.uint8)
    with pytest.raises(BadOptionError, match="no dataset 'clip01'"):
        open_source(root)
    with h5py.File(root / "masks.h5", "a") as f:
        f["clip01"] = np.zeros((16, 32, 32), np.uint8)
    with pytest.raises(BadOptionError, match="the masks of clip 'clip01' are 32 x 32 px, its frames 64 x 64"):
        open_source(root)
    with h5py.File(root / "masks.h5", "a") as f:
        del f["clip01"]
        f["clip01"] = np.zeros((16, 64, 64), np.uint8)
    assert "masks" in open_source(root).provides
