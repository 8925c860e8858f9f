"""Hugging Face adapters: video models (V-JEPA 2, VideoMAE, any model returning ``hidden_states``)
and image models (DINOv2, CLIP/SigLIP vision, ...) applied frame by frame.

``hf:<id>`` loads exactly as ``from_pretrained(<id>)`` does: a local directory, the local HF
cache, or the hub (``HF_HUB_OFFLINE=1`` is honoured by transformers itself). Preprocessing is the
model's own processor (``AutoVideoProcessor`` for video models, ``AutoImageProcessor`` for image
models); the label geometry is read from the same processor's resize/crop settings.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import torch

from probekit.encoders.base import (
    Encoder,
    EncoderOutput,
    Geometry,
    TokenLayout,
    centre_crop_geometry,
    tubelet_frames,
)
from probekit.errors import BadOptionError

#: Model types treated as video encoders (inputs (B, T, C, H, W)); others run per frame.
VIDEO_MODEL_TYPES = {"vjepa2", "videomae", "vivit", "timesformer"}


def create_hf_encoder(
    model_id: str,
    init: str = "pretrained",
    *,
    trust_remote_code: bool = False,
    seed: int = 0,
    revision: str | None = None,
    frame_batch: int = 256,
    name: str | None = None,
    **_: Any,
) -> Encoder:
    """Factory behind the ``hf:`` prefix (see :func:`probekit.encoders.create_encoder`).

    Parameters
    ----------
    model_id
        Hub id (``facebook/vjepa2-vitl-fpc64-256``) or a local directory written by ``save_pretrained``.
    init
        ``"pretrained"`` or ``"random"`` (same config, weights from ``torch.manual_seed(seed)``).
    trust_remote_code
        Allow custom modelling code from the repository; off unless asked for explicitly.
    seed
        Seed of random weights.
    revision
        Hub revision.
    frame_batch
        Frames per forward pass for image models applied frame by frame.
    """
    from transformers import AutoConfig, AutoModel

    looks_local = model_id.startswith(("/", "./", "../", "~"))
    if looks_local and not Path(model_id).expanduser().exists():
        raise BadOptionError(f"--encoder hf:{model_id}: no such folder; give a folder written by save_pretrained, or a hub id "
                             "such as facebook/vjepa2-vitl-fpc64-256")
    if Path(model_id).expanduser().is_file():
        raise BadOptionError(f"--encoder hf:{model_id}: is a file; give the folder save_pretrained wrote (config.json and "
                             "the weights), or a hub id")
    kwargs: dict[str, Any] = {"trust_remote_code": trust_remote_code}
    if revision:
        kwargs["revision"] = revision
    try:
        config = AutoConfig.from_pretrained(model_id, **kwargs)
    except (OSError, ValueError) as exc:
        raise BadOptionError(_load_error(model_id, exc)) from None
    model_type = getattr(config, "model_type", "")
    video = model_type in VIDEO_MODEL_TYPES or hasattr(config, "tubelet_size")
    processor = _load_processor(model_id, video, kwargs)  # before any weights load: a missing one fails fast
    try:
        if init == "random":
            torch.manual_seed(seed)
            model = AutoModel.from_config(config, trust_remote_code=trust_remote_code)
        else:
            model = AutoModel.from_pretrained(model_id, **kwargs)
    except (OSError, ValueError) as exc:
        raise BadOptionError(_load_error(model_id, exc)) from None
    model.eval()
    label = name or f"hf:{model_id}"
    encoder = (HFVideoEncoder(label, model, processor, init=init, seed=seed) if video
               else HFImageEncoder(label, model, processor, init=init, seed=seed, frame_batch=frame_batch))
    encoder.label = name or display_name(model_id)
    return encoder


def display_name(model_id: str) -> str:
    """``hf:<folder name>`` for a local folder (not its full path), ``hf:<hub id>`` otherwise."""
    path = Path(model_id).expanduser()
    return f"hf:{path.resolve().name}" if path.is_dir() else f"hf:{model_id}"


def _load_error(model_id: str, exc: Exception) -> str:
    first = " ".join(str(exc).split())[:300]
    offline = " (HF_HUB_OFFLINE is set: only local files are used)" if os.environ.get("HF_HUB_OFFLINE") else ""
    return (
        f"--encoder hf:{model_id}: could not load it{offline}: {first}; give a hub id, a local folder "
        f"written by save_pretrained, or download the model first"
    )


def _load_processor(model_id: str, video: bool, kwargs: dict[str, Any]) -> Any:
    from transformers import AutoImageProcessor, AutoVideoProcessor

    folder = Path(model_id).expanduser()
    if folder.is_dir() and not any((folder / f).exists() for f in PROCESSOR_FILES):
        kind = "video processor" if video else "image processor"
        raise BadOptionError(
            f"--encoder hf:{model_id}: the folder has no saved {kind} ({' or '.join(PROCESSOR_FILES)}), so its preprocessing "
            f"is unknown; save it next to the weights: {'AutoVideoProcessor' if video else 'AutoImageProcessor'}"
            f".from_pretrained(<the model's hub id>).save_pretrained('{model_id}')"
        )
    loaders = (AutoVideoProcessor, AutoImageProcessor) if video else (AutoImageProcessor,)
    errors = []
    for loader in loaders:
        try:
            return loader.from_pretrained(model_id, **kwargs)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            errors.append(f"{loader.__name__}: {' '.join(str(exc).split())[:120]}")
    raise BadOptionError(
        f"--encoder hf:{model_id}: no {'video or image' if video else 'image'} processor found ({'; '.join(errors)}); "
        f"save the model's processor next to it with processor.save_pretrained"
    )


#: Files in which ``save_pretrained`` stores a processor's settings.
PROCESSOR_FILES = ("video_preprocessor_config.json", "preprocessor_config.json", "processor_config.json")


def _size_field(size: Any, key: str) -> int | None:
    if size is None:
        return None
    if isinstance(size, int):
        return size
    value = size.get(key) if isinstance(size, Mapping) else getattr(size, key, None)
    return int(value) if value else None


def processor_geometry(processor: Any, height: int, width: int) -> Geometry:
    """Resize and centre-crop geometry of an HF image/video processor for frames ``height x width``."""
    from transformers.image_transforms import get_resize_output_image_size

    resized = (height, width)
    if getattr(processor, "do_resize", True):
        size = processor.size
        shortest = _size_field(size, "shortest_edge")
        if shortest and not _size_field(size, "longest_edge"):
            resized = tuple(
                get_resize_output_image_size(
                    np.zeros((3, height, width), dtype=np.uint8), size=shortest, default_to_square=False,
                    input_data_format="channels_first",
                )
            )
        elif _size_field(size, "height") and _size_field(size, "width"):
            resized = (_size_field(size, "height"), _size_field(size, "width"))
        else:
            raise BadOptionError(f"processor size {size!r} is not supported; supported: shortest_edge or height/width")
    crop = None
    if getattr(processor, "do_center_crop", False):
        crop_size = processor.crop_size
        crop = (_size_field(crop_size, "height"), _size_field(crop_size, "width"))
    return centre_crop_geometry((height, width), resized, crop)


def _processor_description(processor: Any) -> dict[str, Any]:
    keys = ("do_resize", "size", "resample", "do_center_crop", "crop_size", "do_rescale", "rescale_factor",
            "do_normalize", "image_mean", "image_std")
    out = {"processor": type(processor).__name__}
    for key in keys:
        value = getattr(processor, key, None)
        if value is not None:
            out[key] = value if isinstance(value, (int, float, bool, str, list)) else str(value)
    return out


class _HFBase(Encoder):
    def __init__(self, name: str, model: torch.nn.Module, processor: Any, *, init: str, seed: int) -> None:
        self.name = name
        self.model = model
        self.processor = processor
        self.init = init
        self.weights = "random" if init == "random" else "pretrained"
        config = model.config
        self.n_layers = int(config.num_hidden_layers) + 1
        self.layer_names = ["embeddings"] + [f"layer.{i}" for i in range(int(config.num_hidden_layers))]
        # transformers returns hidden_states[-1] as the last block's output before the final norm
        # (checked in the tests against last_hidden_state for V-JEPA 2 and DINOv2).
        self.final_norm = False
        self.config = config.to_dict()
        self.extra_attrs = {"seed": seed} if init == "random" else {}

    def modules(self) -> list[torch.nn.Module]:
        return [self.model]

    def geometry(self, height: int, width: int) -> Geometry:
        return processor_geometry(self.processor, height, width)

    def preprocessing(self) -> dict[str, Any]:
        return _processor_description(self.processor)


class HFVideoEncoder(_HFBase):
    """A transformers video model whose ``hidden_states`` hold (B, S + T'H'W', D) tokens in (t, h, w) order."""

    def __init__(self, name: str, model: torch.nn.Module, processor: Any, *, init: str, seed: int) -> None:
        super().__init__(name, model, processor, init=init, seed=seed)
        config = model.config
        self.tubelet = int(getattr(config, "tubelet_size", 1))
        patch = getattr(config, "patch_size", 16)
        self.patch = (patch, patch) if isinstance(patch, int) else tuple(patch)
        if config.model_type == "videomae":
            self.frames_per_clip = int(config.num_frames)
        elif config.model_type == "vjepa2":
            self.extra_attrs["encoder_branch"] = "encoder (predictor skipped)"

    def layout(self, n_frames: int, height: int, width: int) -> TokenLayout:
        if self.frames_per_clip is not None and n_frames != self.frames_per_clip:
            raise BadOptionError(
                f"{self.name} takes clips of exactly {self.frames_per_clip} frames, got {n_frames}; "
                f"set --window {self.frames_per_clip} (or --frame-step) to match"
            )
        h, w = self.geometry(height, width).size
        grid = (n_frames // self.tubelet, h // self.patch[0], w // self.patch[1])
        return TokenLayout(grid=grid, patch=self.patch, token_frames=tubelet_frames(n_frames, self.tubelet))

    def pixel_values(self, video: np.ndarray) -> torch.Tensor:
        """The processor's output for a batch of uint8 clips (B, T, H, W, 3)."""
        out = self.processor(videos=list(video), return_tensors="pt")
        key = "pixel_values_videos" if "pixel_values_videos" in out else "pixel_values"
        return out[key]

    @torch.no_grad()
    def encode(self, video: np.ndarray, layers: list[int]) -> EncoderOutput:
        pixels = self.to_device(self.pixel_values(video))
        kwargs: dict[str, Any] = {"output_hidden_states": True}
        if self.model.config.model_type == "vjepa2":
            kwargs["skip_predictor"] = True
        with self.autocast():
            out = self.model(pixels, **kwargs)
        grid = self.layout(video.shape[1], video.shape[2], video.shape[3]).grid
        n_grid = int(np.prod(grid))
        tokens, special = {}, {}
        for i in layers:
            hidden = out.hidden_states[i]
            n_special = hidden.shape[1] - n_grid
            if n_special < 0:
                raise BadOptionError(f"{self.name}: layer {i} has {hidden.shape[1]} tokens, fewer than the grid {grid}")
            tokens[i] = hidden[:, n_special:].reshape(hidden.shape[0], *grid, hidden.shape[-1])
            if n_special:
                special[i] = hidden[:, None, :n_special]
        return EncoderOutput(tokens, special)


class HFImageEncoder(_HFBase):
    """A transformers image model applied to every frame; CLS/register tokens stored apart."""

    def __init__(self, name: str, model: torch.nn.Module, processor: Any, *, init: str, seed: int, frame_batch: int) -> None:
        vision = getattr(model, "vision_model", None)
        if vision is not None and hasattr(model.config, "vision_config"):  # CLIP, SigLIP: keep the vision tower
            config = model.config.vision_config
            model = vision
            model.config = config
        super().__init__(name, model, processor, init=init, seed=seed)
        patch = getattr(self.model.config, "patch_size", 16)
        self.patch = (patch, patch) if isinstance(patch, int) else tuple(patch)
        self.frame_batch = frame_batch

    def layout(self, n_frames: int, height: int, width: int) -> TokenLayout:
        h, w = self.geometry(height, width).size
        return TokenLayout(
            grid=(n_frames, h // self.patch[0], w // self.patch[1]),
            patch=self.patch,
            token_frames=tubelet_frames(n_frames, 1),
            per_frame=True,
        )

    def pixel_values(self, frames: np.ndarray) -> torch.Tensor:
        """The processor's output for uint8 frames (F, H, W, 3)."""
        return self.processor(images=list(frames), return_tensors="pt")["pixel_values"]

    @torch.no_grad()
    def encode(self, video: np.ndarray, layers: list[int]) -> EncoderOutput:
        b, t = video.shape[:2]
        _, gh, gw = self.layout(t, video.shape[2], video.shape[3]).grid
        frames = video.reshape(b * t, *video.shape[2:])
        per_layer: dict[int, list[torch.Tensor]] = {i: [] for i in layers}
        for start in range(0, len(frames), self.frame_batch):
            pixels = self.to_device(self.pixel_values(frames[start : start + self.frame_batch]))
            with self.autocast():
                out = self.model(pixel_values=pixels, output_hidden_states=True)
            for i in layers:
                per_layer[i].append(out.hidden_states[i])
        return EncoderOutput.from_frame_sequences({i: per_layer[i] for i in layers}, b, t, (gh, gw))
