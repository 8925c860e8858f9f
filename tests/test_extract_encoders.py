"""Stored latents equal a reference computed by calling each library directly.

Every encoder kind in the registry has a case here; HF models are tiny random configs saved
with ``save_pretrained`` and loaded through ``hf:<folder>``, exactly the path a hub id takes.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from _worlds import generated_world

from probekit.encoders import ModuleEncoder, list_encoders
from probekit.extraction import ExtractConfig, run_extract
from probekit.h5io import open_checked
from probekit.store import Store

N_CLIPS, N_FRAMES = 2, 8
ATOL = {"float16": 2e-3, "float32": 1e-5}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    return generated_world(N_CLIPS, seed=1)


def _video(world_path) -> np.ndarray:
    with open_checked(world_path, "world") as f:
        return f["video/rgb"][:, :N_FRAMES]


def _extract(world, tmp_path, encoder: str | None = None, obj=None, dtype="float16", **kw):
    out = tmp_path / "store.h5"
    config = ExtractConfig(data=str(world), out=str(out), encoder=encoder or "tiny-vjepa2", pool="mean,none",
                           dtype=dtype, batch_size=2, progress=False, window=N_FRAMES, **kw)
    run_extract(config, encoder=obj)
    return Store(out)


def _check(store: Store, reference: dict[int, np.ndarray], dtype="float16", special: dict[int, np.ndarray] | None = None):
    assert sorted(reference) == [i for i in store.layers if i in reference]
    for i, ref in reference.items():
        got = store.features(i, "tokens").astype(np.float32)
        assert got.shape == ref.shape, (i, got.shape, ref.shape)
        scale = max(1.0, float(np.abs(ref).max()))
        np.testing.assert_allclose(got, ref, atol=ATOL[dtype] * scale, rtol=2e-3 if dtype == "float16" else 1e-5)
        np.testing.assert_allclose(store.features(i, "mean").astype(np.float32), ref.mean(axis=(1, 2, 3)),
                                   atol=ATOL[dtype] * scale)
    layers = sorted(reference)
    for a, b in zip(layers, layers[1:]):  # the check tells neighbouring layers apart
        assert not np.allclose(reference[a], reference[b], atol=ATOL[dtype] * max(1.0, np.abs(reference[b]).max()), rtol=2e-3)
    for i, ref in (special or {}).items():
        np.testing.assert_allclose(store.features(i, "special").astype(np.float32), ref, atol=ATOL[dtype] * max(1.0, np.abs(ref).max()))


# -- Hugging Face ----------------------------------------------------------------------------------
def _save_hf(tmp_path, model, processor):
    folder = tmp_path / "model"
    model.save_pretrained(folder)
    processor.save_pretrained(folder)
    return folder


def test_hf_vjepa2_matches_processor_then_model(world, tmp_path):
    from transformers import AutoModel, AutoVideoProcessor, VJEPA2Config, VJEPA2Model, VJEPA2VideoProcessor

    torch.manual_seed(1)
    config = VJEPA2Config(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, crop_size=64, frames_per_clip=8,
                          patch_size=16, tubelet_size=2, pred_hidden_size=32, pred_num_hidden_layers=1,
                          pred_num_attention_heads=2, mlp_ratio=2)
    folder = _save_hf(tmp_path, VJEPA2Model(config), VJEPA2VideoProcessor(crop_size=64))  # resize 73, crop 64
    store = _extract(world, tmp_path, f"hf:{folder}")
    processor = AutoVideoProcessor.from_pretrained(folder)
    model = AutoModel.from_pretrained(folder).eval()
    pixels = processor(videos=list(_video(world)), return_tensors="pt")["pixel_values_videos"]
    with torch.no_grad():
        out = model(pixels, output_hidden_states=True, skip_predictor=True)
    reference = {i: h.reshape(N_CLIPS, 4, 4, 4, 32).numpy() for i, h in enumerate(out.hidden_states)}
    _check(store, reference)
    assert store.attrs["final_norm"] is False
    # the stored last index is the last block's output before the final norm
    assert not torch.allclose(out.hidden_states[-1], out.last_hidden_state)
    assert store.attrs["weights"] == "pretrained" and store.attrs["preprocessing"]["geometry"]["resized"] == [73, 73]


def test_hf_videomae_matches_processor_then_model(world, tmp_path):
    from transformers import AutoModel, AutoVideoProcessor, VideoMAEConfig, VideoMAEModel, VideoMAEVideoProcessor

    torch.manual_seed(2)
    config = VideoMAEConfig(image_size=64, patch_size=16, num_frames=8, tubelet_size=2, hidden_size=32,
                            num_hidden_layers=2, num_attention_heads=2, intermediate_size=64)
    processor = VideoMAEVideoProcessor(size={"shortest_edge": 64}, crop_size={"height": 64, "width": 64})
    folder = _save_hf(tmp_path, VideoMAEModel(config), processor)
    store = _extract(world, tmp_path, f"hf:{folder}")
    processor = AutoVideoProcessor.from_pretrained(folder)
    model = AutoModel.from_pretrained(folder).eval()
    pixels = processor(videos=list(_video(world)), return_tensors="pt")["pixel_values"]
    with torch.no_grad():
        out = model(pixels, output_hidden_states=True)
    _check(store, {i: h.reshape(N_CLIPS, 4, 4, 4, 32).numpy() for i, h in enumerate(out.hidden_states)})


def test_hf_dinov2_registers_per_frame(world, tmp_path):
    from transformers import AutoImageProcessor, AutoModel, BitImageProcessor, Dinov2WithRegistersConfig, Dinov2WithRegistersModel

    torch.manual_seed(3)
    config = Dinov2WithRegistersConfig(image_size=64, patch_size=8, hidden_size=32, num_hidden_layers=2,
                                       num_attention_heads=2, mlp_ratio=2, num_register_tokens=2)
    processor = BitImageProcessor(size={"shortest_edge": 72}, crop_size={"height": 64, "width": 64}, do_center_crop=True)
    folder = _save_hf(tmp_path, Dinov2WithRegistersModel(config), processor)
    store = _extract(world, tmp_path, f"hf:{folder}")
    processor = AutoImageProcessor.from_pretrained(folder)
    model = AutoModel.from_pretrained(folder).eval()
    frames = _video(world).reshape(-1, 64, 64, 3)
    with torch.no_grad():
        out = model(pixel_values=processor(images=list(frames), return_tensors="pt")["pixel_values"], output_hidden_states=True)
    reference = {i: h[:, 3:].reshape(N_CLIPS, N_FRAMES, 8, 8, 32).numpy() for i, h in enumerate(out.hidden_states)}
    special = {i: h[:, :3].reshape(N_CLIPS, N_FRAMES, 3, 32).numpy() for i, h in enumerate(out.hidden_states)}
    _check(store, reference, special=special)
    assert store.attrs["per_frame"] is True


def test_hf_clip_vision_per_frame(world, tmp_path):
    from transformers import AutoImageProcessor, AutoModel, CLIPImageProcessor, CLIPVisionConfig, CLIPVisionModel

    torch.manual_seed(4)
    config = CLIPVisionConfig(image_size=64, patch_size=8, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                              intermediate_size=64)
    processor = CLIPImageProcessor(size={"shortest_edge": 64}, crop_size={"height": 64, "width": 64})
    folder = _save_hf(tmp_path, CLIPVisionModel(config), processor)
    store = _extract(world, tmp_path, f"hf:{folder}", layers="0,-1")
    processor = AutoImageProcessor.from_pretrained(folder)
    model = AutoModel.from_pretrained(folder).eval()
    frames = _video(world).reshape(-1, 64, 64, 3)
    with torch.no_grad():
        out = model(pixel_values=processor(images=list(frames), return_tensors="pt")["pixel_values"], output_hidden_states=True)
    hs = out.hidden_states
    _check(store, {i: hs[i][:, 1:].reshape(N_CLIPS, N_FRAMES, 8, 8, 32).numpy() for i in (0, len(hs) - 1)},
           special={i: hs[i][:, :1].reshape(N_CLIPS, N_FRAMES, 1, 32).numpy() for i in (0, len(hs) - 1)})


def test_hf_random_init_is_seeded_and_differs(world, tmp_path):
    from transformers import VJEPA2Config, VJEPA2Model, VJEPA2VideoProcessor

    config = VJEPA2Config(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, crop_size=64, patch_size=16,
                          tubelet_size=2, pred_hidden_size=32, pred_num_hidden_layers=1, pred_num_attention_heads=2)
    folder = _save_hf(tmp_path, VJEPA2Model(config), VJEPA2VideoProcessor(crop_size=64))
    from probekit.encoders import create_encoder

    a = create_encoder(f"hf:{folder}", init="random", seed=5)
    b = create_encoder(f"hf:{folder}", init="random", seed=5)
    c = create_encoder(f"hf:{folder}")
    assert a.weight_hash() == b.weight_hash() != c.weight_hash()
    assert a.weights == "random" and c.weights == "pretrained"
    # the remembered hash follows an in-place change of the weights (and a change back)
    import hashlib

    before = a.weight_hash()
    parameter = next(a.model.parameters())
    saved = parameter.detach().clone()
    with torch.no_grad():
        parameter.add_(1.0)
    changed = a.weight_hash()
    digest = hashlib.sha256()  # the documented recipe, from scratch
    for key, tensor in sorted(a.model.state_dict().items()):
        array = tensor.detach().contiguous().reshape(-1)
        digest.update(f"{key}:{tuple(tensor.shape)}:{array.dtype}".encode())
        digest.update(array.view(torch.uint8).numpy().tobytes() if array.numel() else b"")
    assert changed == digest.hexdigest() != before
    with torch.no_grad():
        parameter.copy_(saved)
    assert a.weight_hash() == b.weight_hash()


# -- tiny-vjepa2, timm, pixels, any module ------------------------------------------------------------
def test_tiny_vjepa2_matches_model(world, tmp_path):
    from probekit.encoders.tiny import build_tiny_vjepa2, tiny_vjepa2_processor

    store = _extract(world, tmp_path, "tiny-vjepa2", init="random", seed=7)
    model = build_tiny_vjepa2(seed=7)
    pixels = tiny_vjepa2_processor()(videos=list(_video(world)), return_tensors="pt")["pixel_values_videos"]
    with torch.no_grad():
        out = model(pixels, output_hidden_states=True, skip_predictor=True)
    _check(store, {i: h.reshape(N_CLIPS, 4, 8, 8, 128).numpy() for i, h in enumerate(out.hidden_states)})
    assert store.attrs["weights"] == "random" and store.attrs["init"] == "random"


def test_timm_vit_matches_forward_intermediates(world, tmp_path):
    import timm
    from PIL import Image
    from safetensors.torch import save_file

    kwargs = {"img_size": 64, "depth": 2, "num_classes": 0, "embed_dim": 48, "num_heads": 2}
    torch.manual_seed(6)
    model = timm.create_model("vit_tiny_patch16_224", pretrained=False, **kwargs).eval()
    weights = tmp_path / "vit.safetensors"
    save_file(model.state_dict(), str(weights))
    store = _extract(world, tmp_path, "timm:vit_tiny_patch16_224", encoder_options={"weights_file": str(weights), "model_kwargs": kwargs})
    config = timm.data.resolve_model_data_config(model)
    config["input_size"] = (3, 64, 64)
    transform = timm.data.create_transform(**config)
    frames = _video(world).reshape(-1, 64, 64, 3)
    x = torch.stack([transform(Image.fromarray(f)) for f in frames])
    with torch.no_grad():
        _, inter = model.forward_intermediates(x, indices=[0, 1], return_prefix_tokens=True, norm=False, output_fmt="NLC")
    reference = {i + 1: t.reshape(N_CLIPS, N_FRAMES, 4, 4, 48).numpy() for i, (t, _) in enumerate(inter)}
    special = {i + 1: p.reshape(N_CLIPS, N_FRAMES, 1, 48).numpy() for i, (_, p) in enumerate(inter)}
    _check(store, reference, special=special)


def test_pixels_match_block_means(world, tmp_path):
    store = _extract(world, tmp_path, "pixels", dtype="float32")
    video = _video(world).astype(np.float64) / 255.0
    small = video.reshape(N_CLIPS, N_FRAMES, 32, 2, 32, 2, 3).mean(axis=(3, 5))  # area resize 64 -> 32
    tokens = small.reshape(N_CLIPS, N_FRAMES, 8, 4, 8, 4, 3).transpose(0, 1, 2, 4, 3, 5, 6).reshape(N_CLIPS, N_FRAMES, 8, 8, 48)
    _check(store, {0: tokens}, dtype="float32")


class _TinyVideoViT(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.embed = torch.nn.Conv3d(3, 24, kernel_size=(2, 16, 16), stride=(2, 16, 16))
        self.blocks = torch.nn.ModuleList([torch.nn.TransformerEncoderLayer(24, 2, 48, dropout=0.0, batch_first=True) for _ in range(2)])

    def forward(self, x):  # (B, C, T, H, W)
        h = self.embed(x).flatten(2).transpose(1, 2)
        for block in self.blocks:
            h = block(h)
        return h


def test_module_encoder_hooks_match_manual_forward(world, tmp_path):
    torch.manual_seed(8)
    module = _TinyVideoViT().eval()
    encoder = ModuleEncoder(module, ["blocks.0", "blocks.1"], kind="video", input_size=64, patch=16, tubelet=2,
                            name="tiny-video-vit")
    store = _extract(world, tmp_path, obj=encoder, dtype="float32")
    video = torch.from_numpy(_video(world)).float().permute(0, 4, 1, 2, 3) / 255.0  # (B, C, T, H, W), no resize at 64 px
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1, 1)
    with torch.no_grad():
        h = module.embed((video - mean) / std).flatten(2).transpose(1, 2)
        h0 = module.blocks[0](h)
        h1 = module.blocks[1](h0)
    _check(store, {0: h0.reshape(N_CLIPS, 4, 4, 4, 24).numpy(), 1: h1.reshape(N_CLIPS, 4, 4, 4, 24).numpy()}, dtype="float32")
    assert store.attrs["layer_names"] == ["blocks.0", "blocks.1"]


#: Registered names and prefixes and the test above that checks them against a reference.
TESTED = {"hf:": test_hf_vjepa2_matches_processor_then_model, "timm:": test_timm_vit_matches_forward_intermediates,
          "pixels": test_pixels_match_block_means, "tiny-vjepa2": test_tiny_vjepa2_matches_model,
          "py:": "test_user_encoders.py::test_py_and_entry_point_encoders_through_the_cli"}


def test_every_registered_encoder_has_a_reference_test():
    known = list_encoders()
    registered = set(known["prefixes"]) | set(known["names"])
    untested = sorted(name for name in registered - set(TESTED) if not name.startswith("planted"))
    assert not untested, f"encoders without a reference test: {untested}"


def test_hf_siglip_full_model_uses_its_vision_tower(world, tmp_path):
    from transformers import AutoImageProcessor, AutoModel, SiglipConfig, SiglipImageProcessor, SiglipModel

    torch.manual_seed(9)
    config = SiglipConfig(
        vision_config={"image_size": 64, "patch_size": 8, "hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2,
                       "intermediate_size": 64},
        text_config={"hidden_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 64,
                     "vocab_size": 100, "max_position_embeddings": 16})
    processor = SiglipImageProcessor(size={"height": 64, "width": 64})
    folder = _save_hf(tmp_path, SiglipModel(config), processor)
    store = _extract(world, tmp_path, f"hf:{folder}")
    processor = AutoImageProcessor.from_pretrained(folder)
    model = AutoModel.from_pretrained(folder).eval()
    frames = _video(world).reshape(-1, 64, 64, 3)
    with torch.no_grad():
        out = model.vision_model(pixel_values=processor(images=list(frames), return_tensors="pt")["pixel_values"],
                                 output_hidden_states=True)
    _check(store, {i: h.reshape(N_CLIPS, N_FRAMES, 8, 8, 32).numpy() for i, h in enumerate(out.hidden_states)})
    assert "special" not in store.feature_kinds(0)  # SigLIP has no CLS token
