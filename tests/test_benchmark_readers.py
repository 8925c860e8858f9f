"""Public-benchmark readers on tiny folders written in each documented layout: the labels, pairs,
masks and object states they return are the ones the fixtures planted; malformed metadata is one
line naming the file and row."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import benchmark_fixtures as bf
from probekit.errors import BadOptionError, FileFormatError
from probekit.sources import ClipSource, open_source
from probekit.store import Store

BACKGROUND = 20


def _open(path, **kwargs):
    source = open_source(path, **kwargs)
    assert isinstance(source, ClipSource)
    return source


def _all(source):
    batch = source.read(0, source.n_clips)
    return batch, pd.DataFrame(source.clip_table())


# -- IntPhys 2 -------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def intphys2(tmp_path_factory):
    root = tmp_path_factory.mktemp("intphys2")
    return root, bf.write_intphys2(root)


def test_intphys2_labels_pairs_and_per_clip_columns(intphys2):
    root, planted = intphys2
    source = _open(root / "Main")
    assert source.kind == "intphys2" and source.provides == {"labels", "pairs", "families"}
    batch, table = _all(source)
    truth = planted.set_index("name")
    assert sorted(table.clip_id) == sorted(truth.index)
    for i, row in table.iterrows():
        planted_row = truth.loc[row.clip_id]
        k, kind = planted_row["type"].split("_")
        assert batch.labels["clips/possible"][i] == (kind == "Possible")
        assert row.kind == ("original" if kind == "Possible" else "violation")
        assert row.scene == planted_row.SceneIndex and row.pair_id == f"Main/{planted_row.SceneIndex}/{k}"
        assert (row.condition, row.difficulty, row.camera) == (planted_row.condition, planted_row.Difficulty, planted_row.Camera)
        # the video read is the one the row names: impossible videos go dark halfway
        assert (batch.video[i, -1].max() > 120) == (kind == "Possible")
    assert "196_0" in set(table.scene)  # SceneIndex stays a string
    assert set(table.violation) == {"permanence", "solidity", "immutability"}  # immutability_texture -> immutability
    every_pair = table.groupby("pair_id").kind.agg(sorted)
    assert all(kinds == ["original", "violation"] for kinds in every_pair)
    attrs = source.attrs()
    assert "masks" in attrs["not_available"] and "not available" in attrs["not_available"]["masks"]
    assert "inferred" in attrs["benchmark"]["pairing"]
    source.close()


def test_intphys2_root_reads_heldout_without_labels(intphys2):
    root, planted = intphys2
    source = _open(root)
    batch, table = _all(source)
    held = table.split == "HeldOut"
    assert held.sum() == 2 and (~held).sum() == len(planted)
    assert set(table.kind[held]) == {"unlabelled"} and np.isnan(batch.labels["clips/possible"][held.to_numpy()]).all()
    assert not np.isnan(batch.labels["clips/possible"][~held.to_numpy()]).any()
    source.close()


@pytest.mark.parametrize("mutate, message", [
    (lambda t: t.drop(columns=["type"]), r"missing column\(s\) type"),
    (lambda t: t.assign(type=["1_Possible"] * 3 + ["3_Maybe"] + ["1_Possible"] * (len(t) - 4)), "row 5: type '3_Maybe'"),
    (lambda t: t.assign(file_name=["Videos/absent.mp4"] + list(t.file_name[1:])), "row 2 lists .*absent.mp4, which does not exist"),
])
def test_intphys2_malformed_metadata_is_one_line_naming_file_and_row(tmp_path, mutate, message):
    planted = bf.write_intphys2(tmp_path, scenes=("0",), n_frames=2)
    meta = tmp_path / "Main" / "metadata.csv"
    mutate(planted).to_csv(meta, index=False)
    with pytest.raises(FileFormatError, match=message) as caught:
        open_source(tmp_path / "Main")
    assert str(meta) in str(caught.value) and "\n" not in str(caught.value)


# -- IntPhys 2019 ----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def intphys2019(tmp_path_factory):
    root = tmp_path_factory.mktemp("intphys2019")
    return root, bf.write_intphys2019(root)


def test_intphys2019_possible_masks_positions_and_depth(intphys2019):
    from probekit.sources.benchmarks.intphys2019 import decode_depth

    root, truth = intphys2019
    source = _open(root)
    assert source.kind == "intphys2019" and source.provides == {"labels", "pairs", "families", "masks"}
    batch, table = _all(source)
    assert len(table) == len(truth)
    for i, row in table.iterrows():
        folder = root / "dev" / row.clip_id
        planted = truth[folder]
        assert batch.labels["clips/possible"][i] == planted["possible"]
        assert row.kind == ("original" if planted["possible"] else "violation") and row.pair_id == row.family_id
        np.testing.assert_allclose(batch.labels["objects/intphys_location"][i, :, 0], planted["location"], rtol=1e-6)
        assert batch.labels["objects/exists"][i].all()
        segmentation = batch.labels["video/segmentation"][i]
        for t, x in enumerate(planted["xs"]):  # slot 0 exactly where the object's grey level was painted
            expected = np.full((bf.SIZE, bf.SIZE), -1)
            expected[12:20, int(round(x)):int(round(x)) + 8] = 0
            np.testing.assert_array_equal(segmentation[t], expected)
        depth = decode_depth(folder / "depth" / "depth_001.png")
        assert depth.dtype == np.float32 and (depth == planted["depth_mm"]).all()
    assert dict(zip(table.block, table.violation)) == {"O1": "permanence", "O3": "continuity"}
    source.close()


def test_intphys2019_header_only_status_has_labels_but_no_masks(tmp_path):
    bf.write_intphys2019(tmp_path, blocks=("O2",), scenes=1, n_frames=2, full=False)
    source = _open(tmp_path / "dev")
    batch, table = _all(source)
    assert "masks" not in source.provides and "masks" in source.attrs()["not_available"]
    assert list(batch.labels["clips/possible"]) == [1.0, 0.0, 1.0, 0.0] and set(table.violation) == {"immutability"}
    assert "video/segmentation" not in batch.labels
    source.close()


def test_intphys2019_missing_status_json_is_an_error_never_possible(tmp_path):
    bf.write_intphys2019(tmp_path, blocks=("O1",), scenes=1, n_frames=2, full=False)
    missing = tmp_path / "dev" / "O1" / "0001" / "3" / "status.json"
    missing.unlink()
    with pytest.raises(FileFormatError, match="status.json: missing") as caught:
        open_source(tmp_path / "dev")
    assert str(missing) in str(caught.value)
    (missing).write_text(json.dumps({"header": {"block_name": "O1"}}))
    with pytest.raises(FileFormatError, match="no boolean header.is_possible"):
        open_source(tmp_path / "dev")


# -- GRASP -----------------------------------------------------------------------------------------
def test_grasp_pairs_same_file_in_p_and_ip(tmp_path):
    bf.write_grasp(tmp_path)
    source = _open(tmp_path)
    assert source.kind == "grasp" and source.provides == {"labels", "pairs", "families"}
    batch, table = _all(source)
    assert len(table) == 3 * 2 * 2
    possible = batch.labels["clips/possible"]
    assert (possible == table.clip_id.str.startswith("P_").to_numpy()).all()
    for pair, group in table.groupby("pair_id"):
        prop, k = pair.split("/")
        assert sorted(group.clip_id) == sorted([f"P_{prop}/{k}", f"IP_{prop}/{k}"])
        p, ip = group.index[group.kind == "original"][0], group.index[group.kind == "violation"][0]
        # the same first half, a jump in the second (planted)
        assert np.abs(batch.video[p, 0].astype(int) - batch.video[ip, 0]).mean() < 5
        assert np.abs(batch.video[p, -1].astype(int) - batch.video[ip, -1]).mean() > 20
    assert dict(zip(table.property, table.violation)) == {"Gravity": "gravity", "ObjectPermanence2": "permanence",
                                                          "Collision": "collision"}
    source.close()


def test_grasp_video_without_counterpart_is_an_error(tmp_path):
    bf.write_grasp(tmp_path, props=("Gravity",), n_videos=2, n_frames=2)
    (tmp_path / "IP_Gravity" / "1.mp4").unlink()
    with pytest.raises(FileFormatError, match=r"P_Gravity/1.mp4: no counterpart .*IP_Gravity/1.mp4"):
        open_source(tmp_path)


# -- InfLevel-lab ----------------------------------------------------------------------------------
def test_inflevel_pairs_labels_and_dropped_priming(tmp_path):
    truth = bf.write_inflevel(tmp_path)
    source = _open(tmp_path)
    assert source.kind == "inflevel" and source.provides == {"labels", "pairs", "families"}
    batch, table = _all(source)
    assert len(table) == 2 * len(truth)
    for (prop, line), (vv, vi, end) in truth.items():
        rows = table[table.pair_id == f"{prop}:{line}"]
        by_video = dict(zip(rows.video, rows.index))
        assert batch.labels["clips/possible"][by_video[vv]] == 1 and batch.labels["clips/possible"][by_video[vi]] == 0
        assert batch.labels["clips/priming_end"][by_video[vv]] == end
    assert set(table.violation) == {"continuity", "gravity"}
    # priming frames are white; every frame read comes after them
    assert batch.video.reshape(len(table), source.n_frames, -1).mean(axis=2).max() < 150
    assert source.n_frames == 8 - (2 + 1)  # the shortest remainder: 8 frames minus frames 0..end_priming_2 = 2
    source.close()


@pytest.mark.parametrize("mutate, message", [
    (lambda lines: [lines[0].replace("vid2_label", "label2"), *lines[1:]], r"missing column\(s\) vid2_label"),
    (lambda lines: [lines[0], lines[1].replace(",possible", ",maybe"), *lines[2:]], "row 2: vid1_label 'maybe'"),
    (lambda lines: [lines[0], lines[1], lines[2].replace("cup1", "cupX", 1)], "row 3 lists .*cupX.*which does not exist"),
])
def test_inflevel_malformed_csv_is_one_line_naming_file_and_row(tmp_path, mutate, message):
    bf.write_inflevel(tmp_path, props=("gravity",), pairs=2, n_frames=4)
    csv = tmp_path / "gravity.csv"
    csv.write_text("\n".join(mutate(csv.read_text().splitlines())) + "\n")
    with pytest.raises(FileFormatError, match=message) as caught:
        open_source(tmp_path)
    assert str(csv) in str(caught.value) and "\n" not in str(caught.value)


# -- Physion v1.5 ----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def physion(tmp_path_factory):
    root = tmp_path_factory.mktemp("physion")
    return root, bf.write_physion(root, {"train": 2, "test": 2})


def test_physion_labels_scenarios_and_protocol_frames(physion):
    root, truth = physion
    source = _open(root)
    assert source.kind == "physion" and source.provides == {"labels", "families"}
    assert source.n_frames == 4 and source.frame_step == 15
    batch, table = _all(source)
    assert sorted(table.clip_id) == sorted(truth)
    for i, row in table.iterrows():
        label, scenario = truth[row.clip_id]
        assert batch.labels["clips/physion_ocp"][i] == label and row.scenario == scenario
        assert row.split == row.clip_id.split("/")[0]
        # the window ends at max_frame (15 collision, 45 otherwise), where the fixture painted the square
        assert batch.video[i, -1, 16, 16].max() > 50 and batch.video[i, :-1, 16, 16].max() < 50
    windows = {table.clip_id[i]: list(w.frames) for i, w in enumerate(source.windows)}
    assert windows["train/pilot_drop_train_0000"] == [0, 15, 30, 45]
    assert windows["train/pilot_it2_collision_train_0000"] == [0, 0, 0, 15]
    source.close()


def test_physion_scenario_from_the_file_name():
    from probekit.sources.benchmarks.physion import scenario_of

    assert scenario_of("pilot_it2_collision_simple_box_0001") == "collision"
    assert scenario_of("pilot_it2_rollingSliding_collision_0001") == "roll"  # collision only without roll
    assert scenario_of("pilot_towers_nb4_fr015") == "towers" and scenario_of("pilot_dominoes_0mid") == "dominoes"
    assert scenario_of("drape_0001") is None


@pytest.mark.parametrize("mutate, message", [
    (lambda labels: {**labels, "pilot_drop_gone": {"label": True, "contact_frame_label": 3}}, "key 'pilot_drop_gone'.*does not exist"),
    (lambda labels: {**labels, next(iter(labels)): {"label": "yes"}}, "label 'yes' is not a bool or 0/1"),
])
def test_physion_malformed_labels_are_one_line_naming_file_and_key(tmp_path, mutate, message):
    bf.write_physion(tmp_path, {"test": 1}, n_frames=46)
    path = tmp_path / "physion_mp4s" / "test" / "all_video_labels.json"
    path.write_text(json.dumps(mutate(json.loads(path.read_text()))))
    with pytest.raises(FileFormatError, match=message) as caught:
        open_source(tmp_path)
    assert str(path) in str(caught.value)


# -- CLEVRER ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("key", ["collision", "collisions"])
def test_clevrer_per_object_position_velocity_visibility_and_contact(tmp_path, key):
    from probekit.sources.benchmarks.clevrer import CONTACT_FRAMES

    truth = bf.write_clevrer(tmp_path, key=key)
    source = _open(tmp_path)
    assert source.kind == "clevrer" and source.provides == {"labels", "families"} and source.k_max == 2
    batch, table = _all(source)
    for i, clip in enumerate(table.clip_id):
        annotation = truth[int(clip.split("_")[1])]
        for frame in annotation["motion_trajectory"]:
            t = frame["frame_id"]
            for obj in frame["objects"]:
                o = obj["object_id"]
                np.testing.assert_allclose(batch.labels["objects/clevrer_location"][i, t, o], obj["location"], rtol=1e-6)
                np.testing.assert_allclose(batch.labels["objects/clevrer_velocity"][i, t, o], obj["velocity"], rtol=1e-6)
                assert batch.labels["objects/clevrer_visible"][i, t, o, 0] == obj["inside_camera_view"]
        collision = annotation[key][0]["frame_id"]
        near = np.abs(np.arange(source.n_frames) - collision) <= CONTACT_FRAMES
        np.testing.assert_array_equal(batch.labels["objects/clevrer_contact"][i, :, :, 0], np.stack([near, near], axis=1))
    assert "masks" in source.attrs()["not_available"] and source.attrs()["benchmark"]["fps"] == 25
    source.close()


def test_clevrer_windows_keep_labels_on_their_frames(tmp_path):
    truth = bf.write_clevrer(tmp_path, n_videos=1)
    source = _open(tmp_path, window=4, stride=2)
    assert source.n_clips == 3 and source.clip_table()["clip_id"] == ["video_00000@0", "video_00000@2", "video_00000@4"]
    batch = source.read(0, 3)
    x = [f["objects"][0]["location"][0] for f in truth[0]["motion_trajectory"]]
    np.testing.assert_allclose(batch.labels["objects/clevrer_location"][2, :, 0, 0], x[4:8], rtol=1e-6)
    source.close()


def test_clevrer_missing_field_names_file_and_frame(tmp_path):
    bf.write_clevrer(tmp_path, n_videos=1)
    path = next(tmp_path.rglob("annotation_00000.json"))
    data = json.loads(path.read_text())
    del data["motion_trajectory"][3]["objects"][1]["inside_camera_view"]
    path.write_text(json.dumps(data))
    with pytest.raises(FileFormatError, match=r"frame_id 3, object_id 1: missing inside_camera_view") as caught:
        open_source(tmp_path)
    assert str(path) in str(caught.value)
    next(tmp_path.rglob("video_00000.mp4")).unlink()
    bf.write_mp4(tmp_path / "video_00009.mp4", bf.square_frames(2, [1, 2], [1, 1]))
    with pytest.raises(FileFormatError, match="video_00000.mp4 is not under"):
        open_source(tmp_path)


# -- the registry ----------------------------------------------------------------------------------
def test_format_forces_a_reader_and_an_unknown_format_lists_the_known_ones(tmp_path):
    bf.write_grasp(tmp_path, props=("Gravity",), n_videos=1, n_frames=2)
    assert open_source(tmp_path).kind == "grasp"
    assert open_source(tmp_path, format="videos", window=2).kind == "videos"
    with pytest.raises(BadOptionError, match="--format 'nope': unknown; known formats: .*intphys2.*clevrer") as caught:
        open_source(tmp_path, format="nope")
    assert "\n" not in str(caught.value)


def test_extract_format_option_unknown_name_is_one_error_line(tmp_path, run_cli):
    bf.write_grasp(tmp_path / "g", props=("Gravity",), n_videos=1, n_frames=2)
    result = run_cli("extract", "--data", tmp_path / "g", "--out", tmp_path / "x.h5", "--encoder", "pixels", "--format", "physion2")
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: --format 'physion2': unknown; known formats:")
    assert "grasp" in lines[0] and "physion" in lines[0] and "Traceback" not in result.stderr
    result = run_cli("extract", "--data", tmp_path / "g", "--out", tmp_path / "x.h5", "--encoder", "pixels", "--pool", "mean",
                     "--format", "grasp", "--no-progress")
    assert result.returncode == 0, result.stderr
    with Store(tmp_path / "x.h5") as store:
        assert store.attrs["source_format"] == "grasp" and list(store.clips().kind) == ["original", "violation"]


def test_an_undecodable_benchmark_video_is_one_line_naming_it(tmp_path):
    bf.write_grasp(tmp_path, props=("Gravity",), n_videos=1, n_frames=2)
    broken = tmp_path / "IP_Gravity" / "0.mp4"
    broken.write_bytes(b"not a video" * 10)
    with pytest.raises(FileFormatError, match="unreadable") as caught:
        open_source(tmp_path)
    assert str(broken) in str(caught.value) and "\n" not in str(caught.value)
