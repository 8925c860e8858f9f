"""Predictor surprise of a V-JEPA 2 model per sliding window (``probekit extract --surprise``).

For each window of ``window`` frames (every ``stride`` frames) and each context length ``c``:

- context = the encoder on the window's first ``c`` frames only, so no context token sees a
  later frame;
- targets = ``F.layer_norm`` of the encoder's output on the whole window, at the tokens after
  the context (all tubelets from the end of the context to the end of the window);
- prediction = ``model.predictor(context, context_mask=[arange(N_c)], target_mask=[arange(N_c, N_w)])``;
- surprise = mean absolute difference over predicted tokens and dimensions.

Differences from the reference evaluation (``facebookresearch/jepa-intuitive-physics``,
``evals/intuitive_physics/eval.py::extract_losses``): one encoder serves as context and target
encoder (transformers' ``VJEPA2Model`` holds one; the shipped ``tiny-vjepa2`` encoder is its EMA
target encoder); the predictor's mask token is transformers' (``mask_tokens[1 % n]``); and the
context runs through the encoder's final norm only, while the targets get the extra
parameter-free ``F.layer_norm`` the reference applies with ``normalize_targets``.

Windows whose frames are bitwise equal (a twin before its violation frame and its original) are
encoded once: results are cached by the window's bytes.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import numpy as np

from probekit.errors import BadOptionError

#: Frames per window, frames between window starts, context lengths (frames) and the headline one.
DEFAULT_WINDOW = 8
DEFAULT_STRIDE = 2
DEFAULT_CONTEXTS = (2, 4, 6)
#: Fixed before any scoring: the context length of the headline row.
HEADLINE_CONTEXT = 4
#: Store datasets shared by all clips (the same in every shard).
SURPRISE_STATIC = ("surprise/context_frames", "surprise/window_frames", "surprise/predicted_frames")


@dataclass(frozen=True)
class SurpriseWindows:
    """Sliding-window settings of the predictor surprise."""

    window: int = DEFAULT_WINDOW
    stride: int = DEFAULT_STRIDE
    contexts: tuple[int, ...] = DEFAULT_CONTEXTS
    headline: int = HEADLINE_CONTEXT

    def starts(self, n_frames: int) -> np.ndarray:
        """First frame of every window that fits in ``n_frames``."""
        if n_frames < self.window:
            raise BadOptionError(f"--surprise: clips of {n_frames} frames are shorter than the {self.window}-frame surprise window; "
                                 f"use clips of at least {self.window} frames")
        return np.arange(0, n_frames - self.window + 1, self.stride)

    def check(self, tubelet: int) -> None:
        """Context lengths must be whole tubelets and shorter than the window."""
        for c in self.contexts:
            if c % tubelet or not 0 < c < self.window:
                raise BadOptionError(f"surprise context {c} frames: use multiples of the tubelet ({tubelet}) below the window ({self.window})")
        if self.headline not in self.contexts:
            raise BadOptionError(f"surprise headline context {self.headline}: must be one of the contexts {list(self.contexts)}")

    def describe(self) -> dict[str, Any]:
        """The store's ``surprise`` attribute."""
        return {"method": "vjepa2_predictor", "window": self.window, "stride": self.stride, "contexts": list(self.contexts),
                "headline_context": self.headline, "distance": "mean L1 over predicted tokens and dimensions",
                "targets": "F.layer_norm of the encoder on the whole window, tokens after the context",
                "context": "encoder on the window's first c frames only"}


def vjepa2_model(encoder: Any) -> Any:
    """The ``VJEPA2Model`` behind ``encoder`` (transformers' or ``tiny-vjepa2``).

    Raises
    ------
    BadOptionError
        The encoder has no V-JEPA 2 predictor.
    """
    model = getattr(encoder, "model", None)
    if getattr(getattr(model, "config", None), "model_type", None) != "vjepa2" or not hasattr(model, "predictor"):
        raise BadOptionError(f"--surprise: encoder {getattr(encoder, 'name', encoder)!r} has no V-JEPA 2 predictor; "
                             f"use an hf: V-JEPA 2 model or tiny-vjepa2 (the surprise stage scores any encoder with a latent dynamics probe)")
    return model


def _token_count(model: Any, frames: int, height: int, width: int) -> int:
    config = model.config
    return (frames // config.tubelet_size) * (height // config.patch_size) * (width // config.patch_size)


def predictor_surprise(model: Any, windows: "torch.Tensor", contexts: tuple[int, ...]) -> "torch.Tensor":
    """Surprise of every window for every context length.

    Parameters
    ----------
    model
        A transformers ``VJEPA2Model``.
    windows
        (B, W, C, H, W) processed frames of B windows.
    contexts
        Context lengths in frames (multiples of the tubelet).

    Returns
    -------
    torch.Tensor
        (B, len(contexts)) float32 surprises.
    """
    import torch
    import torch.nn.functional as F

    with torch.no_grad():
        return _predictor_surprise(model, windows, contexts, torch, F)


def _predictor_surprise(model: Any, windows: Any, contexts: tuple[int, ...], torch: Any, F: Any) -> Any:
    batch, _, _, height, width = windows.shape
    targets = model.encoder(pixel_values_videos=windows).last_hidden_state
    targets = F.layer_norm(targets, (targets.size(-1),))
    n_window = targets.size(1)
    out = []
    for c in contexts:
        context = model.encoder(pixel_values_videos=windows[:, :c]).last_hidden_state
        n_context = _token_count(model, c, height, width)
        context_mask = [torch.arange(n_context, device=windows.device).expand(batch, -1)]
        target_mask = [torch.arange(n_context, n_window, device=windows.device).expand(batch, -1)]
        predicted = model.predictor(encoder_hidden_states=context, context_mask=context_mask, target_mask=target_mask).last_hidden_state
        out.append((predicted.float() - targets[:, n_context:].float()).abs().mean(dim=(1, 2)))
    return torch.stack(out, dim=1)


def frame_difference_surprise(video: np.ndarray, windows: SurpriseWindows = SurpriseWindows()) -> np.ndarray:
    """A pixel baseline: mean absolute frame-to-frame change over each window's predicted frames.

    Parameters
    ----------
    video
        (N, T, H, W, 3) uint8 clips.
    windows
        Window settings; frame ``f`` of a window counts when ``f >= c`` for each context ``c``.

    Returns
    -------
    np.ndarray
        (N, n_contexts, n_windows) float64: motion energy, not a prediction error; a clip in which
        a moving object vanishes has less of it (a known-sign check for permanence).
    """
    frames = np.asarray(video, dtype=np.float32)
    change = np.abs(np.diff(frames, axis=1)).mean(axis=(2, 3, 4))  # (N, T - 1): change into frame t + 1
    starts = windows.starts(frames.shape[1])
    out = np.empty((len(frames), len(windows.contexts), len(starts)))
    for j, s in enumerate(starts):
        for i, c in enumerate(windows.contexts):
            out[:, i, j] = change[:, s + c - 1:s + windows.window - 1].mean(axis=1)
    return out


class WindowSurprise:
    """Per-window predictor surprise of whole clips, with windows of equal bytes computed once.

    Parameters
    ----------
    encoder
        A probekit encoder wrapping a ``VJEPA2Model`` (``tiny-vjepa2``, ``hf:`` V-JEPA 2).
    windows
        Window settings.
    cache_size
        Windows remembered (a family's clips are adjacent in a world file).
    """

    def __init__(self, encoder: Any, windows: SurpriseWindows = SurpriseWindows(), cache_size: int = 4096) -> None:
        self.encoder = encoder
        self.model = vjepa2_model(encoder)
        self.windows = windows
        windows.check(int(self.model.config.tubelet_size))
        self.cache_size = cache_size
        self._cache: OrderedDict[bytes, np.ndarray] = OrderedDict()
        self.computed = 0  # windows run through the model (the rest came from the cache)

    def static_arrays(self, frames: np.ndarray) -> dict[str, np.ndarray]:
        """Store datasets shared by all clips, given the source frame number of each clip frame."""
        frames = np.asarray(frames)
        starts = self.windows.starts(len(frames))
        last = starts + self.windows.window - 1
        predicted = np.stack([np.stack([frames[starts + c], frames[last]], axis=1) for c in self.windows.contexts])
        return {"surprise/context_frames": np.asarray(self.windows.contexts, dtype=np.int32),
                "surprise/window_frames": np.stack([frames[starts], frames[last]], axis=1).astype(np.int32),
                "surprise/predicted_frames": predicted.astype(np.int32)}

    def __call__(self, video: np.ndarray) -> np.ndarray:
        """(B, n_contexts, n_windows) float32 surprise of uint8 clips ``video`` (B, T, H, W, 3)."""
        starts = self.windows.starts(video.shape[1])
        size = self.windows.window
        keys = [[hashlib.sha1(np.ascontiguousarray(clip[s:s + size]).tobytes()).digest() for s in starts] for clip in video]
        todo = list(dict.fromkeys(k for row in keys for k in row if k not in self._cache))
        if todo:
            import torch

            where = {k: (b, j) for b, row in enumerate(keys) for j, k in enumerate(row)}
            pixels = self.encoder.to_device(self.encoder.pixel_values(video))
            batch = torch.stack([pixels[where[k][0], starts[where[k][1]]:starts[where[k][1]] + size] for k in todo])
            with self.encoder.autocast():
                values = predictor_surprise(self.model, batch, self.windows.contexts).cpu().numpy()
            self.computed += len(todo)
            for k, v in zip(todo, values):
                self._cache[k] = v
        out = np.stack([np.stack([self._cache[k] for k in row], axis=1) for row in keys]).astype(np.float32)
        for row in keys:
            for k in row:
                self._cache.move_to_end(k)
        while len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)
        return out


__all__ = ["DEFAULT_CONTEXTS", "DEFAULT_STRIDE", "DEFAULT_WINDOW", "HEADLINE_CONTEXT", "SURPRISE_STATIC", "SurpriseWindows", "WindowSurprise", "frame_difference_surprise",
           "predictor_surprise", "vjepa2_model"]
