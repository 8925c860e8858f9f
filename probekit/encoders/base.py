"""What every encoder adapter provides: token layout, input geometry and per-layer token grids.

Conventions (see ``docs/formats.md``):

- Layer index 0 is the embeddings output (the input of the first block); index ``i`` is the
  output of block ``i``. :attr:`Encoder.final_norm` says whether the last index is after the
  model's final norm.
- Patch tokens are returned as grids ``(B, T', H', W', D)``; special tokens (CLS, registers) as
  ``(B, T'_s, S, D)`` with ``T'_s = T'`` for models applied frame by frame and ``1`` for video
  models.
- :class:`Geometry` maps source pixel coordinates to the encoder's input pixels (after resize and
  centre crop), so 2D labels and masks follow the same transform as the frames.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from probekit.errors import BadOptionError

#: Values of ``--precision`` (autocast of the forward pass).
PRECISIONS = ("auto", "bf16", "fp16", "fp32")


@dataclass(frozen=True)
class Geometry:
    """Resize then centre crop, as a model's processor applies it.

    Parameters
    ----------
    source
        (H, W) of the source frames.
    resized
        (h, w) after the resize.
    crop
        (top, left, height, width) of the crop in resized pixels.
    """

    source: tuple[int, int]
    resized: tuple[int, int]
    crop: tuple[int, int, int, int]

    @property
    def size(self) -> tuple[int, int]:
        """(height, width) of the encoder input."""
        return self.crop[2], self.crop[3]

    @property
    def scale(self) -> tuple[float, float]:
        """(sy, sx): resized pixels per source pixel."""
        return self.resized[0] / self.source[0], self.resized[1] / self.source[1]

    def map_xy(self, xy: np.ndarray) -> np.ndarray:
        """Map image coordinates ``(..., 2)`` as (x, y) into input pixel coordinates."""
        sy, sx = self.scale
        out = np.array(xy, dtype=np.float32, copy=True)
        out[..., 0] = out[..., 0] * sx - self.crop[1]
        out[..., 1] = out[..., 1] * sy - self.crop[0]
        return out

    def map_boxes(self, boxes: np.ndarray) -> np.ndarray:
        """Map boxes ``(..., 4)`` as (x0, y0, x1, y1) into input pixel coordinates."""
        out = np.array(boxes, dtype=np.float32, copy=True)
        out[..., 0:2] = self.map_xy(out[..., 0:2])
        out[..., 2:4] = self.map_xy(out[..., 2:4])
        return out

    def map_masks(self, masks: torch.Tensor) -> torch.Tensor:
        """Resize (area-weighted) and crop masks ``(..., H, W)``: fraction of each input pixel covered."""
        lead = masks.shape[:-2]
        flat = masks.reshape(-1, 1, *masks.shape[-2:]).float()
        if tuple(self.resized) != tuple(self.source):
            flat = _area_resize(flat, self.resized)
        top, left, height, width = self.crop
        flat = flat[..., top : top + height, left : left + width]
        return flat.reshape(*lead, height, width)

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly description (for provenance)."""
        return {"source": list(self.source), "resized": list(self.resized), "crop": list(self.crop)}


@functools.lru_cache(maxsize=64)
def area_weights(n_in: int, n_out: int) -> torch.Tensor:
    """(n_out, n_in) matrix: share of each output pixel's footprint covered by each input pixel.

    Output pixel ``i`` covers the source interval ``[i * n_in / n_out, (i + 1) * n_in / n_out)``;
    rows sum to 1, so ``W @ mask`` is the exact covered fraction of each output pixel.
    """
    scale = n_in / n_out
    lo = torch.arange(n_out, dtype=torch.float64)[:, None] * scale
    hi = lo + scale
    left = torch.arange(n_in, dtype=torch.float64)[None, :]
    overlap = (torch.minimum(hi, left + 1) - torch.maximum(lo, left)).clamp(min=0)
    return (overlap / scale).float()


def _area_resize(masks: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Exact area-weighted resize of (N, 1, H, W) coverage maps to ``size`` (separable)."""
    h, w = masks.shape[-2:]
    wy, wx = area_weights(h, size[0]), area_weights(w, size[1])
    return torch.einsum("yh,nchw,xw->ncyx", wy, masks, wx)


def centre_crop_geometry(source: tuple[int, int], resized: tuple[int, int], crop: tuple[int, int] | None) -> Geometry:
    """Geometry of a resize to ``resized`` then a centre crop of size ``crop`` (HF/torchvision rounding)."""
    if crop is None:
        crop = resized
    top = int((resized[0] - crop[0]) / 2.0)
    left = int((resized[1] - crop[1]) / 2.0)
    if top < 0 or left < 0:
        raise BadOptionError(
            f"frames of {source[0]}x{source[1]} px resize to {resized[0]}x{resized[1]}, smaller than the "
            f"{crop[0]}x{crop[1]} crop; use larger frames"
        )
    return Geometry(tuple(source), tuple(resized), (top, left, int(crop[0]), int(crop[1])))


@dataclass(frozen=True)
class TokenLayout:
    """Where the tokens sit in space and time.

    Parameters
    ----------
    grid
        (T', H', W') of the patch-token grid.
    patch
        (ph, pw) patch size in input pixels.
    token_frames
        (T', 2) first and last input frame (inclusive) of each token time step.
    n_special
        Number of special tokens (CLS, registers) per token set.
    per_frame
        True for image models applied frame by frame (special tokens per frame).
    """

    grid: tuple[int, int, int]
    patch: tuple[int, int]
    token_frames: np.ndarray
    n_special: int = 0
    per_frame: bool = False

    @property
    def frame_mid(self) -> np.ndarray:
        """(T',) mid-time of each token step, in frames."""
        return self.token_frames.mean(axis=1).astype(np.float32)


def tubelet_frames(n_frames: int, tubelet: int) -> np.ndarray:
    """(T', 2) first/last frame of consecutive tubelets of ``tubelet`` frames."""
    if n_frames % tubelet:
        raise BadOptionError(f"clips of {n_frames} frames do not split into tubelets of {tubelet}; use a --window that is a multiple of {tubelet}")
    starts = np.arange(0, n_frames, tubelet, dtype=np.int32)
    return np.stack([starts, starts + tubelet - 1], axis=1)


@dataclass
class EncoderOutput:
    """Per-layer outputs of one batch.

    Attributes
    ----------
    tokens
        ``{layer: (B, T', H', W', D)}`` patch-token grids.
    special
        ``{layer: (B, T'_s, S, D)}`` special tokens, empty when the model has none.
    """

    tokens: dict[int, torch.Tensor]
    special: dict[int, torch.Tensor] = field(default_factory=dict)

    @classmethod
    def from_frame_sequences(
        cls, per_layer: dict[int, list[torch.Tensor]], batch: int, frames: int, grid: tuple[int, int]
    ) -> "EncoderOutput":
        """Split per-frame token sequences (special tokens first, then the patch grid) by layer.

        Parameters
        ----------
        per_layer
            ``{layer: [chunk, ...]}`` of (frames in chunk, S + H' * W', D) sequences, in frame order.
        batch, frames
            Clips and frames per clip of the batch (B * T frames in all).
        grid
            Patch grid (H', W').
        """
        gh, gw = grid
        tokens, special = {}, {}
        for layer, chunks in per_layer.items():
            hidden = torch.cat(chunks)
            n_special = hidden.shape[1] - gh * gw
            tokens[layer] = hidden[:, n_special:].reshape(batch, frames, gh, gw, hidden.shape[-1])
            if n_special:
                special[layer] = hidden[:, :n_special].reshape(batch, frames, n_special, hidden.shape[-1])
        return cls(tokens, special)


class Encoder:
    """Base class of encoder adapters.

    Subclasses set the attributes below in ``__init__`` and implement :meth:`geometry`,
    :meth:`layout` and :meth:`encode`. Register a factory with
    :func:`probekit.encoders.register_encoder` to make one available by name.

    Attributes
    ----------
    name : str
        Name as given to :func:`probekit.encoders.create_encoder` (provenance; a trained model
        and its random twin share it).
    label : str
        Short display name for tables and figures (``""``: :attr:`name`), e.g. a local folder's
        name instead of its full path; ``probekit extract --label`` replaces it.
    init : str
        ``"pretrained"`` or ``"random"``.
    weights : str
        ``"trained"``, ``"pretrained"`` or ``"random"``: what the weights actually are.
    n_layers : int
        Number of layer indices (``0 .. n_layers - 1``).
    layer_names : list of str
        Name of each layer index.
    final_norm : bool
        Whether the last layer index is after the model's final norm.
    config : dict
        JSON-friendly configuration (provenance).
    extra_attrs : dict
        More provenance written to the store (e.g. which encoder of a checkpoint was used).
    """

    name: str = ""
    label: str = ""
    init: str = "pretrained"
    weights: str = "pretrained"
    n_layers: int = 1
    layer_names: list[str]
    final_norm: bool = False
    config: dict[str, Any]
    extra_attrs: dict[str, Any]
    device: torch.device = torch.device("cpu")
    #: Autocast precision of the forward pass (one of :data:`PRECISIONS`; see :meth:`autocast`).
    precision: str = "auto"

    #: Required frames per clip, or None for any (multiple of the tubelet).
    frames_per_clip: int | None = None

    def modules(self) -> list[torch.nn.Module]:
        """The torch modules holding the weights (for hashing and moving to a device)."""
        return []

    def to(self, device: str | torch.device) -> "Encoder":
        """Move the weights to ``device``."""
        self.device = torch.device(device)
        for module in self.modules():
            module.to(self.device)
        return self

    def autocast(self) -> torch.autocast:
        """The autocast context of the forward pass on this encoder's device.

        ``precision`` ``auto``: bfloat16 on CUDA where supported (else float16), off elsewhere;
        ``bf16`` / ``fp16``: that dtype on any device (CPU autocast included); ``fp32``: off.
        """
        kind = self.device.type if self.device.type in ("cuda", "cpu", "mps") else "cpu"
        if self.precision not in PRECISIONS:
            raise BadOptionError(f"--precision {self.precision!r}: use one of {', '.join(PRECISIONS)}")
        if self.precision == "fp32" or (self.precision == "auto" and kind != "cuda"):
            return torch.autocast(kind, enabled=False)
        if self.precision == "auto":
            dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        else:
            dtype = torch.bfloat16 if self.precision == "bf16" else torch.float16
        return torch.autocast(kind, dtype=dtype)

    def to_device(self, batch: torch.Tensor) -> torch.Tensor:
        """An input batch on this encoder's device: from pinned memory, copied without blocking, on CUDA.

        The host goes on (the reader and writer threads, the next Python work) while the copy
        runs; the forward pass on the same stream waits for it.
        """
        if self.device.type == "cuda":
            return batch.pin_memory().to(self.device, non_blocking=True)
        return batch.to(self.device)

    def weight_hash(self) -> str:
        """sha256 over the state dicts of :meth:`modules` (names, shapes, dtypes and values).

        Remembered while no tensor changes: the key is each tensor's storage address and torch's
        version counter (bumped by every in-place write), so a model used for several runs is
        hashed once (1.3 GB of ViT-L weights take about a second) and a modified one again.
        """
        states = [sorted(module.state_dict().items()) for module in self.modules()]
        key = tuple((name, tensor.data_ptr(), tensor._version, tuple(tensor.shape), str(tensor.dtype))
                    for state in states for name, tensor in state)
        cached = getattr(self, "_weight_hash_cache", None)
        if cached is not None and cached[0] == key:
            return cached[1]
        digest = hashlib.sha256()
        for state in states:
            for name, tensor in state:
                array = tensor.detach().to("cpu").contiguous().reshape(-1)  # 0-d tensors (batch counters) too
                digest.update(f"{name}:{tuple(tensor.shape)}:{array.dtype}".encode())
                if array.numel():
                    digest.update(memoryview(array.view(torch.uint8).numpy()))
        self._weight_hash_cache = (key, digest.hexdigest())
        return self._weight_hash_cache[1]

    def geometry(self, height: int, width: int) -> Geometry:
        """How source frames of ``height x width`` map into the encoder's input."""
        raise NotImplementedError

    def layout(self, n_frames: int, height: int, width: int) -> TokenLayout:
        """Token layout for clips of ``n_frames`` frames of ``height x width``."""
        raise NotImplementedError

    def preprocessing(self) -> dict[str, Any]:
        """JSON-friendly description of the preprocessing (provenance)."""
        return {}

    def check_layers(self, layers: list[int]) -> None:
        """Raise :class:`BadOptionError` if a layer index is out of range."""
        bad = [i for i in layers if not 0 <= i < self.n_layers]
        if bad:
            raise BadOptionError(
                f"--layers {','.join(map(str, bad))}: out of range for {self.name}, which has layer indices "
                f"0..{self.n_layers - 1} (negative values count from the end)"
            )

    #: True only for known-answer encoders (``probekit.testing``) that build their tokens from a
    #: world file's labels: extraction then calls ``encode_labelled(video, labels, layers)``
    #: instead of :meth:`encode`. A real encoder sees pixels only.
    reads_labels: bool = False

    @torch.no_grad()
    def encode(self, video: np.ndarray, layers: list[int]) -> EncoderOutput:
        """Run the encoder on a batch.

        Parameters
        ----------
        video
            uint8 frames ``(B, T, H, W, 3)``.
        layers
            Layer indices to return.
        """
        raise NotImplementedError


def resolve_layers(spec: str | list[int] | None, n_layers: int) -> list[int]:
    """Turn ``all``, ``"0,4,8"``, ``"-1"`` or a list into sorted, unique, non-negative indices."""
    if spec is None or (isinstance(spec, str) and spec.strip().lower() == "all"):
        return list(range(n_layers))
    if isinstance(spec, str):
        try:
            values = [int(v) for v in spec.replace(" ", "").split(",") if v]
        except ValueError:
            raise BadOptionError(f"--layers {spec!r}: give 'all' or comma-separated integers such as 0,4,8 or -1") from None
    else:
        values = [int(v) for v in spec]
    if not values:
        raise BadOptionError(f"--layers {spec!r}: no layer given; use 'all' or indices such as 0,4,-1")
    out = []
    for v in values:
        if not -n_layers <= v < n_layers:
            raise BadOptionError(
                f"--layers {v}: out of range; this encoder has layer indices 0..{n_layers - 1} "
                f"(or -{n_layers}..-1 from the end)"
            )
        out.append(v % n_layers)
    return sorted(set(out))
