"""``timm:<name>``: timm image models (ViT family: a ``blocks`` list after a patch embedding)
applied to every frame. Layer 0 is the input of the first block, layer ``i`` the output of block
``i`` (forward hooks); prefix tokens (CLS, registers) are stored apart.

Preprocessing is timm's own eval transform (``resolve_model_data_config`` + ``create_transform``).
Weights: ``pretrained`` loads timm's pretrained weights (from the HF hub or its cache; honours
``HF_HUB_OFFLINE``) or, with ``weights_file=``, a local ``.safetensors``/``.pth`` file.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import torch

from probekit.encoders.base import Encoder, EncoderOutput, Geometry, TokenLayout, tubelet_frames
from probekit.errors import BadOptionError


def create_timm_encoder(
    model_name: str,
    init: str = "pretrained",
    *,
    seed: int = 0,
    weights_file: str | None = None,
    model_kwargs: Mapping[str, Any] | None = None,
    frame_batch: int = 256,
    **_: Any,
) -> Encoder:
    """Factory behind the ``timm:`` prefix."""
    import timm

    kwargs = dict(model_kwargs or {})
    if init == "pretrained" and weights_file:
        kwargs["pretrained_cfg_overlay"] = {"file": str(weights_file)}
    torch.manual_seed(seed)
    try:
        model = timm.create_model(model_name, pretrained=init == "pretrained", **kwargs)
    except RuntimeError as exc:
        if "Unknown model" in str(exc):
            raise BadOptionError(f"--encoder timm:{model_name}: unknown timm model; see timm.list_models()") from None
        raise BadOptionError(f"--encoder timm:{model_name}: cannot load it: {' '.join(str(exc).split())[:200]}") from None
    except (OSError, ValueError) as exc:
        raise BadOptionError(
            f"--encoder timm:{model_name}: cannot load pretrained weights ({' '.join(str(exc).split())[:200]}); "
            f"download them first, pass weights_file, or use --init random"
        ) from None
    if not hasattr(model, "blocks") or not hasattr(model, "patch_embed"):
        raise BadOptionError(
            f"--encoder timm:{model_name}: only ViT-style timm models (blocks after a patch embedding) are supported; "
            f"wrap other models with probekit.encoders.ModuleEncoder"
        )
    return TimmEncoder(f"timm:{model_name}", model, init=init, seed=seed, frame_batch=frame_batch,
                       weights_file=weights_file, model_kwargs=kwargs)


class TimmEncoder(Encoder):
    """A timm ViT applied frame by frame, layers read with forward hooks on ``blocks``."""

    def __init__(self, name: str, model: torch.nn.Module, *, init: str, seed: int, frame_batch: int,
                 weights_file: str | None, model_kwargs: Mapping[str, Any]) -> None:
        import timm

        self.name = name
        self.model = model.eval()
        self.init = init
        self.weights = "random" if init == "random" else "pretrained"
        self.n_layers = len(model.blocks) + 1
        self.layer_names = ["patch_embed+pos_embed"] + [f"blocks.{i}" for i in range(len(model.blocks))]
        self.final_norm = False
        data_config = timm.data.resolve_model_data_config(model)
        img_size = getattr(model.patch_embed, "img_size", None)
        if img_size is not None:
            data_config["input_size"] = (3, *tuple(img_size))
        self.data_config = data_config
        self.transform = timm.data.create_transform(**data_config, is_training=False)
        self.n_prefix = int(getattr(model, "num_prefix_tokens", 1))
        patch = model.patch_embed.patch_size
        self.patch = (patch, patch) if isinstance(patch, int) else tuple(patch)
        self.frame_batch = frame_batch
        self.width = int(getattr(model, "embed_dim", 0) or 0)
        self.config = {"model": name.split(":", 1)[1], "model_kwargs": {k: str(v) for k, v in model_kwargs.items()},
                       "data_config": {k: str(v) for k, v in data_config.items()}}
        self.extra_attrs = {"seed": seed} if init == "random" else {"weights_file": str(weights_file or "")}

    def modules(self) -> list[torch.nn.Module]:
        return [self.model]

    def geometry(self, height: int, width: int) -> Geometry:
        from torchvision import transforms

        resized, crop = (height, width), None
        for step in getattr(self.transform, "transforms", []):
            if isinstance(step, transforms.Resize):
                size = step.size
                if isinstance(size, int) or len(size) == 1:
                    size = size if isinstance(size, int) else size[0]
                    short, long = (height, width) if height <= width else (width, height)
                    new_long = int(size * long / short)
                    resized = (size, new_long) if height <= width else (new_long, size)
                else:
                    resized = (int(size[0]), int(size[1]))
            elif isinstance(step, transforms.CenterCrop):
                crop = tuple(step.size)
        if crop is None:
            crop = resized
        top = int(round((resized[0] - crop[0]) / 2.0))  # torchvision's CenterCrop rounding
        left = int(round((resized[1] - crop[1]) / 2.0))
        return Geometry((height, width), tuple(resized), (top, left, int(crop[0]), int(crop[1])))

    def layout(self, n_frames: int, height: int, width: int) -> TokenLayout:
        h, w = self.geometry(height, width).size
        return TokenLayout(grid=(n_frames, h // self.patch[0], w // self.patch[1]), patch=self.patch,
                           token_frames=tubelet_frames(n_frames, 1), n_special=self.n_prefix, per_frame=True)

    def preprocessing(self) -> dict[str, Any]:
        return {"transform": str(self.transform).replace("\n", " "), **{k: str(v) for k, v in self.data_config.items()}}

    def pixel_values(self, frames: np.ndarray) -> torch.Tensor:
        """timm's eval transform applied to uint8 frames (F, H, W, 3)."""
        from PIL import Image

        return torch.stack([self.transform(Image.fromarray(frame)) for frame in frames])

    @torch.no_grad()
    def encode(self, video: np.ndarray, layers: list[int]) -> EncoderOutput:
        b, t = video.shape[:2]
        _, gh, gw = self.layout(t, video.shape[2], video.shape[3]).grid
        frames = video.reshape(b * t, *video.shape[2:])
        captured: dict[int, list[torch.Tensor]] = {i: [] for i in layers}
        handles = []
        if 0 in layers:
            handles.append(self.model.blocks[0].register_forward_pre_hook(lambda m, args: captured[0].append(args[0])))
        for i in layers:
            if i > 0:
                handles.append(self.model.blocks[i - 1].register_forward_hook(
                    lambda m, args, out, i=i: captured[i].append(out if torch.is_tensor(out) else out[0])))
        try:
            for start in range(0, len(frames), self.frame_batch):
                pixels = self.to_device(self.pixel_values(frames[start : start + self.frame_batch]))
                with self.autocast():
                    self.model.forward_features(pixels)
        finally:
            for handle in handles:
                handle.remove()
        return EncoderOutput.from_frame_sequences({i: captured[i] for i in layers}, b, t, (gh, gw))
