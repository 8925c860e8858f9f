"""Users' own encoders through the command line: ``py:package.module:factory``, an installed
``probekit.encoders`` entry point, ``--label``, and a missing HF processor caught before weights load."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch

from probekit.store import Store

REPO_ROOT = Path(__file__).resolve().parents[1]

MODEL_CODE = textwrap.dedent('''
    import torch
    from torch import nn

    class Tiny(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Conv2d(3, 8, 8, stride=8)
            self.block = nn.Sequential(nn.Conv2d(8, 8, 1), nn.ReLU())

        def forward(self, x):
            return self.block(self.embed(x))

    def small(checkpoint_scale=1.0):
        torch.manual_seed(7)
        model = Tiny()
        with torch.no_grad():
            for p in model.parameters():
                p.mul_(checkpoint_scale)
        return model, ["embed", "block"], {"kind": "image", "input_size": 32, "patch": 8, "token_format": "BDHW"}

    def not_a_model():
        return 42
''')


@pytest.fixture(scope="module")
def user_code(tmp_path_factory):
    """A package ``userpkg`` plus an installed distribution whose entry point names ``small``."""
    root = tmp_path_factory.mktemp("user")
    (root / "userpkg").mkdir()
    (root / "userpkg" / "__init__.py").write_text("")
    (root / "userpkg" / "models.py").write_text(MODEL_CODE)
    dist = root / "userpkg-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: userpkg\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[probekit.encoders]\nuser-small = userpkg.models:small\n")
    return root


@pytest.fixture(scope="module")
def frames(tmp_path_factory):
    """A folder of two short videos (PNG-free: PyAV mpeg4)."""
    import av

    folder = tmp_path_factory.mktemp("frames")
    for k in range(2):
        with av.open(str(folder / f"v{k}.mp4"), "w") as container:
            stream = container.add_stream("mpeg4", rate=10)
            stream.width = stream.height = 32
            stream.pix_fmt = "yuv420p"
            for t in range(8):
                image = np.zeros((32, 32, 3), np.uint8)
                image[:, (3 * t + 5 * k) % 24 : (3 * t + 5 * k) % 24 + 8] = 200
                for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                    container.mux(packet)
            for packet in stream.encode():
                container.mux(packet)
    return folder


def _run(args, extra_path):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO_ROOT), str(extra_path), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env["OMP_NUM_THREADS"] = "1"
    return subprocess.run([sys.executable, "-m", "probekit", *map(str, args)], capture_output=True, text=True, env=env, timeout=300)


def _reference_tokens(user_code, video_frame):
    """The factory's module run by hand on one frame: the truth the stored features must match."""
    sys.path.insert(0, str(user_code))
    try:
        from userpkg.models import small
    finally:
        sys.path.remove(str(user_code))
    model, _, _ = small()
    x = torch.from_numpy(video_frame).permute(2, 0, 1)[None].float() / 255.0
    mean = torch.tensor((0.485, 0.456, 0.406)).view(1, 3, 1, 1)
    std = torch.tensor((0.229, 0.224, 0.225)).view(1, 3, 1, 1)
    with torch.no_grad():
        return model.block(model.embed((x - mean) / std)).flatten(2).mean(-1)[0].numpy()


def test_py_and_entry_point_encoders_through_the_cli(user_code, frames, tmp_path):
    import av

    common = ["--data", frames, "--window", 4, "--pool", "mean,time", "--dtype", "float32", "--no-progress"]
    py = _run(["extract", "--encoder", "py:userpkg.models:small", "--out", tmp_path / "py.h5", *common], user_code)
    assert py.returncode == 0, py.stderr
    entry = _run(["extract", "--encoder", "user-small", "--label", "my model", "--out", tmp_path / "ep.h5", *common], user_code)
    assert entry.returncode == 0, entry.stderr
    twin = _run(["extract", "--encoder", "user-small", "--init", "random", "--out", tmp_path / "rnd.h5", *common], user_code)
    assert twin.returncode == 0, twin.stderr
    with Store(tmp_path / "py.h5") as a, Store(tmp_path / "ep.h5") as b, Store(tmp_path / "rnd.h5") as r:
        assert a.attrs["encoder"] == "py:userpkg.models:small" and a.attrs["label"] == "small:pretrained"
        assert b.attrs["encoder"] == "user-small" and b.attrs["label"] == "my model"
        assert r.attrs["weights"] == "random" and r.attrs["weight_hash"] != a.attrs["weight_hash"]
        assert a.attrs["weight_hash"] == b.attrs["weight_hash"]
        features = a.features(1, "time")  # (clips, 4 frames, 8): per-frame token means of layer "block"
        np.testing.assert_array_equal(features, b.features(1, "time"))
        with av.open(str(frames / "v0.mp4")) as container:
            first = next(container.decode(video=0)).to_ndarray(format="rgb24")
        np.testing.assert_allclose(features[0, 0], _reference_tokens(user_code, first), rtol=1e-4, atol=1e-5)
    listed = _run(["info", tmp_path / "ep.h5"], user_code)
    assert "my model" in listed.stdout


@pytest.mark.parametrize("spec, expected", [
    ("py:userpkg.models", "py:<package.module>:<factory>"),
    ("py:userpkg.nowhere:small", "cannot import"),
    ("py:userpkg.models:missing", "has no 'missing'"),
    ("py:userpkg.models:not_a_model", "returned int"),
])
def test_bad_py_encoders_are_one_line_errors(user_code, monkeypatch, spec, expected):
    from probekit.encoders import create_encoder
    from probekit.errors import BadOptionError

    monkeypatch.syspath_prepend(str(user_code))
    with pytest.raises(BadOptionError, match=expected.replace("(", r"\(").replace("[", r"\[")) as caught:
        create_encoder(spec)
    assert "\n" not in str(caught.value)


def test_bad_py_encoder_through_the_cli_exits_2_without_output(user_code, frames, tmp_path):
    result = _run(["extract", "--encoder", "py:userpkg.models:not_a_model", "--data", frames, "--window", 4,
                   "--out", tmp_path / "x.h5"], user_code)
    assert result.returncode == 2 and result.stderr.startswith("error: ") and "Traceback" not in result.stderr
    assert not (tmp_path / "x.h5").exists()


def test_missing_processor_is_reported_before_weights_load(tmp_path, monkeypatch):
    from transformers import VJEPA2Config, VJEPA2Model

    from probekit.encoders import create_encoder
    from probekit.errors import BadOptionError

    config = VJEPA2Config(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, mlp_ratio=1, crop_size=32,
                          patch_size=8, frames_per_clip=4, pred_hidden_size=16, pred_num_hidden_layers=1,
                          pred_num_attention_heads=2)
    folder = tmp_path / "vjepa2_tiny"
    VJEPA2Model(config).save_pretrained(folder)
    loaded = []
    original = VJEPA2Model.from_pretrained.__func__
    monkeypatch.setattr(VJEPA2Model, "from_pretrained", classmethod(lambda cls, *a, **k: loaded.append(a) or original(cls, *a, **k)))
    with pytest.raises(BadOptionError, match=r"no saved video processor .*save_pretrained\('.*vjepa2_tiny'\)"):
        create_encoder(f"hf:{folder}")
    assert not loaded  # no weights were read
    from transformers import VJEPA2VideoProcessor

    VJEPA2VideoProcessor(crop_size={"height": 32, "width": 32}, size={"shortest_edge": 32}).save_pretrained(folder)
    encoder = create_encoder(f"hf:{folder}")
    assert encoder.name == f"hf:{folder}" and encoder.label == "hf:vjepa2_tiny"


@pytest.mark.parametrize("given, expect", [("{tmp}/absent", "no such folder"), ("./absent-folder", "no such folder"),
                                           ("{tmp}/weights.bin", "is a file")])
def test_hf_path_that_is_no_model_folder_names_the_path(tmp_path, given, expect):
    """A local path that does not exist (or is a file) is said as such, not as a malformed hub id."""
    from probekit.encoders import create_encoder
    from probekit.errors import BadOptionError

    (tmp_path / "weights.bin").write_bytes(b"\0")
    model_id = given.format(tmp=tmp_path)
    with pytest.raises(BadOptionError) as caught:
        create_encoder(f"hf:{model_id}")
    assert str(caught.value).startswith(f"--encoder hf:{model_id}: {expect}")
