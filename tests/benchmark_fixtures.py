"""Tiny public-benchmark folders written in the documented layouts (``docs/formats.md``): 32x32
videos of a few frames whose content and metadata plant known labels, pairs and object states."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd

SIZE = 32


def write_mp4(path: Path, frames: np.ndarray, fps: int = 25) -> Path:
    """(T, H, W, 3) uint8 frames as an mpeg4 mp4 (PyAV); the labelled-folder and benchmark fixtures share it."""
    import av

    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("mpeg4", rate=fps)
        stream.width, stream.height = frames.shape[2], frames.shape[1]
        stream.pix_fmt = "yuv420p"
        stream.bit_rate = 2_000_000
        for frame in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def square_frames(n_frames: int, xs, ys, brightness: int = 220, side: int = 8) -> np.ndarray:
    """A bright square at (x, y) per frame (top-left corner, pixels) on a dark background."""
    frames = np.full((n_frames, SIZE, SIZE, 3), 20, np.uint8)
    for t in range(n_frames):
        x, y = int(round(xs[t])), int(round(ys[t]))
        frames[t, y:y + side, x:x + side] = brightness
    return frames


def _linear(n: int, a: float, b: float) -> np.ndarray:
    return np.linspace(a, b, n)


# -- IntPhys 2 -------------------------------------------------------------------------------------
INTPHYS2_HEADER = "SceneIndex,name,file_name,game_name,condition,env,type,occluder,Difficulty,Camera"


def write_intphys2(root: Path, scenes=("0", "196_0", "12"), n_frames: int = 6) -> pd.DataFrame:
    """``Main/metadata.csv`` + ``Main/Videos`` (4 videos per scene, rows shuffled) and ``HeldOut/Videos``.

    Impossible videos have a square that vanishes halfway; of the two HeldOut videos the first is
    made like a possible video and the second like an impossible one. Returns the planted rows.
    """
    rng = np.random.default_rng(0)
    rows = []
    conditions = ["permanence", "solidity", "immutability_texture"]
    for s, scene in enumerate(scenes):
        for k in (1, 2):
            for kind in ("Possible", "Impossible"):
                name = hashlib.sha256(f"{scene}-{k}-{kind}".encode()).hexdigest()
                frames = square_frames(n_frames, _linear(n_frames, 2 + 4 * k, 20), [10] * n_frames)
                if kind == "Impossible":
                    frames[n_frames // 2:] = 20
                write_mp4(root / "Main" / "Videos" / f"{name}.mp4", frames)
                rows.append({"SceneIndex": scene, "name": name, "file_name": f"Videos/{name}.mp4", "game_name": "FixedJump",
                             "condition": conditions[s % 3], "env": "BasicLevel_0", "type": f"{k}_{kind}", "occluder": "None",
                             "Difficulty": ["Easy", "Medium", "Hard"][s % 3], "Camera": ["Fixed", "Moving"][k - 1]})
    table = pd.DataFrame(rows).iloc[rng.permutation(len(rows))]
    table.to_csv(root / "Main" / "metadata.csv", index=False, columns=INTPHYS2_HEADER.split(","))
    for i in range(2):
        frames = square_frames(n_frames, _linear(n_frames, 6, 20), [10] * n_frames)
        if i == 1:
            frames[n_frames // 2:] = 20
        write_mp4(root / "HeldOut" / "Videos" / f"{'ab' * 31}{i:02d}.mp4", frames)
    return table.reset_index(drop=True)


# -- IntPhys 2019 ----------------------------------------------------------------------------------
def write_intphys2019(root: Path, blocks=("O1", "O3"), scenes: int = 2, n_frames: int = 5, full: bool = True) -> dict:
    """``dev/O*/<scene>/<run>/{scene,depth,masks}/*.png`` + ``status.json``.

    Runs 1 and 3 are possible (labels shuffled against run order as in the release); one object
    moves right; its mask grey level and depth (mm) are planted. Returns {run path: truth}.
    """
    from PIL import Image

    truth = {}
    for block in blocks:
        for s in range(1, scenes + 1):
            for run in range(1, 5):
                folder = root / "dev" / block / f"{s:04d}" / str(run)
                for sub in ("scene", "depth", "masks"):
                    (folder / sub).mkdir(parents=True)
                possible = run in (1, 3)
                grey = 40 + 10 * run  # the object's grey level differs per run
                xs = _linear(n_frames, 2 + s, 18)
                location = [[100.0 * x, 50.0 * s, 30.0] for x in xs]
                frames_meta = []
                depth_mm = 1000 + 100 * run + 5 * s
                for t in range(n_frames):
                    image = square_frames(1, [xs[t]], [12])[0]
                    if not possible and t >= n_frames // 2:
                        image[:] = 20
                    Image.fromarray(image).save(folder / "scene" / f"scene_{t + 1:03d}.png")
                    mask = np.full((SIZE, SIZE), 7, np.uint8)  # the floor's grey level
                    x = int(round(xs[t]))
                    mask[12:20, x:x + 8] = grey
                    Image.fromarray(mask).save(folder / "masks" / f"masks_{t + 1:03d}.png")
                    depth = np.full((SIZE, SIZE), 65535 - depth_mm, np.uint16)
                    Image.fromarray(depth).save(folder / "depth" / f"depth_{t + 1:03d}.png")
                    frames_meta.append({"object_1": {"location": dict(zip("xyz", location[t])),
                                                     "velocity": {"x": 100.0 * (xs[1] - xs[0]) * 10, "y": 0.0, "z": 0.0},
                                                     "shape": "Sphere"},
                                        "occluder_1": {"location": {"x": 0, "y": 0, "z": 0}},
                                        "masks": {"floor": 7, "object_1": grey}})
                status = {"header": {"is_possible": possible, "block_name": block}}
                if full:
                    status["frames"] = frames_meta
                (folder / "status.json").write_text(json.dumps(status))
                truth[folder] = {"possible": possible, "location": np.array(location), "grey": grey, "depth_mm": depth_mm,
                                 "xs": xs}
    return truth


# -- GRASP -----------------------------------------------------------------------------------------
def write_grasp(root: Path, props=("Gravity", "ObjectPermanence2", "Collision"), n_videos: int = 2, n_frames: int = 6) -> None:
    """``<root>/P_<Prop>/<k>.mp4`` and ``IP_<Prop>/<k>.mp4``; implausible squares jump halfway."""
    for prop in props:
        for k in range(n_videos):
            xs = _linear(n_frames, 2, 18)
            write_mp4(root / f"P_{prop}" / f"{k}.mp4", square_frames(n_frames, xs, [10 + k] * n_frames))
            jumped = np.where(np.arange(n_frames) >= n_frames // 2, xs[::-1], xs)
            write_mp4(root / f"IP_{prop}" / f"{k}.mp4", square_frames(n_frames, jumped, [10 + k] * n_frames))


# -- InfLevel-lab ----------------------------------------------------------------------------------
INFLEVEL_HEADER = ("vid1_path,vid1_start_priming_1,vid1_end_priming_1,vid1_start_priming_2,vid1_end_priming_2,vid1_label,"
                   "vid2_path,vid2_start_priming_1,vid2_end_priming_1,vid2_start_priming_2,vid2_end_priming_2,vid2_label")


def write_inflevel(root: Path, props=("continuity", "gravity"), pairs: int = 2, n_frames: int = 8) -> dict:
    """``<prop>.csv`` pair CSVs + ``<prop>/<name>.mp4``; the priming frames are all white, the rest not.

    Returns {(csv stem, line): (possible video, impossible video, end_priming_2)}.
    """
    truth = {}
    for prop in props:
        lines = [INFLEVEL_HEADER]
        for p in range(pairs):
            end = 1 + p  # end_priming_2 differs per pair
            names = []
            for variant in ("vv", "vi"):
                frames = square_frames(n_frames, _linear(n_frames, 2, 18), [8 + p] * n_frames)
                frames[: end + 1] = 255  # priming frames: white, dropped by the reader
                name = f"{prop}/center__{prop}__cup{p}__clover__{variant}__LR.mp4"
                write_mp4(root / name, frames)
                names.append(name)
            possible_first = p % 2 == 0
            a, b = (names if possible_first else names[::-1])
            la, lb = ("possible", "impossible") if possible_first else ("impossible", "possible")
            lines.append(f"{a},0,{end - 1},{end - 1},{end},{la},{b},0,{end - 1},{end - 1},{end},{lb}")
            truth[(prop, p + 2)] = (names[0], names[1], end)
        (root / f"{prop}.csv").write_text("\n".join(lines) + "\n")
    return truth


# -- Physion v1.5 ----------------------------------------------------------------------------------
PHYSION_SCENARIOS = ("collision", "drop", "dominoes")


def write_physion(root: Path, per_scenario: dict[str, int] | None = None, n_frames: int = 46, seed: int = 0) -> dict:
    """``physion_mp4s/{train,test}/*.mp4`` + ``all_video_labels.json``.

    The OCP label is planted in the square's brightness at the scenario's max frame (15 for
    collision, 45 otherwise) plus noise, so a linear readout of frame features can learn it.
    Returns {split/stem: (label, scenario)}.
    """
    rng = np.random.default_rng(seed)
    per_scenario = per_scenario or {"train": 8, "test": 4}
    truth = {}
    for split, count in per_scenario.items():
        labels = {}
        for scenario in PHYSION_SCENARIOS:
            for i in range(count):
                label = bool(i % 2)
                stem = f"pilot_{scenario}_{split}_{i:04d}" if scenario != "collision" else f"pilot_it2_collision_{split}_{i:04d}"
                frames = np.full((n_frames, SIZE, SIZE, 3), 30, np.uint8)
                last = 15 if scenario == "collision" else 45
                level = int(np.clip(160 + (60 if label else -60) + rng.normal(0, 20), 70, 255))
                frames[last, 8:24, 8:24] = level
                write_mp4(root / "physion_mp4s" / split / f"{stem}.mp4", frames)
                labels[stem] = {"label": label if i % 3 else int(label), "contact_frame_label": 20 + i}
                truth[f"{split}/{stem}"] = (label, scenario)
        (root / "physion_mp4s" / split / "all_video_labels.json").write_text(json.dumps(labels))
    return truth


# -- CLEVRER ---------------------------------------------------------------------------------------
def write_clevrer(root: Path, n_videos: int = 3, n_frames: int = 8, key: str = "collision") -> dict:
    """``video_train/video_00000-01000/video_XXXXX.mp4`` + ``annotations/train/.../annotation_XXXXX.json``.

    Two objects: object 0 moves right, object 1 rests (out of view in the first two frames); they
    collide at frame 4. Returns {number: annotation dict}.
    """
    truth = {}
    for n in range(n_videos):
        xs = _linear(n_frames, 2 + n, 20)
        write_mp4(root / "video_train" / "video_00000-01000" / f"video_{n:05d}.mp4", square_frames(n_frames, xs, [10] * n_frames))
        trajectory = []
        for t in range(n_frames):
            objects = [{"object_id": 0, "location": [float(xs[t]), 1.0 + n, 0.2], "orientation": [0.0, 0.0, 0.1 * t],
                        "velocity": [float(xs[1] - xs[0]) * 25, 0.0, 0.0], "angular_velocity": [0, 0, 0], "inside_camera_view": True},
                       {"object_id": 1, "location": [25.0, 1.0, 0.2], "orientation": [0.0, 0.0, 0.0], "velocity": [0.0, 0.0, 0.0],
                        "angular_velocity": [0, 0, 0], "inside_camera_view": t >= 2}]
            trajectory.append({"frame_id": t, "objects": objects})
        annotation = {"scene_index": n, "video_filename": f"video_{n:05d}.mp4",
                      "object_property": [{"object_id": 0, "color": "blue", "material": "rubber", "shape": "sphere"},
                                          {"object_id": 1, "color": "red", "material": "metal", "shape": "cube"}],
                      "motion_trajectory": trajectory,
                      key: [{"object_ids": [0, 1], "frame_id": 4, "location": [24.0, 1.0, 0.2]}]}
        path = root / "annotations" / "train" / "annotation_00000-01000" / f"annotation_{n:05d}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(annotation))
        truth[n] = annotation
    return truth
