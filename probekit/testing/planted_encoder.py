"""The planted-signal encoder as a registered encoder (``probekit extract --encoder planted``).

It ignores the pixels and writes, from each clip's world labels, token grids whose layers carry
known properties in known forms (see :mod:`probekit.testing.planted`). Signals meant for the
pooled vector are added to every token; object signals are added to each object's visible tokens
(weighted by coverage) minus their spatial mean, so they never leak into the pooled vector:

=========  ===============================================================================
form       what the layer carries (fixed scales, world units)
=========  ===============================================================================
noise      nothing
linear     slot 0's camera position (m), linear in every token, hence in the pooled vector
nonlinear  slot 0's camera position times a random sign per step, the sign in another direction
object     each object's acceleration (per 10 m/s^2), only in that object's own tokens
contact    each slot's contact within the step (+1/-1), linear in the pooled vector
=========  ===============================================================================

The layer order is given by ``forms`` (default: all five, layer ``i`` of form ``forms[i]``).
"""

from __future__ import annotations

import hashlib
from typing import Any, Mapping

import numpy as np
import torch

from probekit.encoders.base import Encoder, EncoderOutput, Geometry, TokenLayout, centre_crop_geometry, tubelet_frames
from probekit.errors import BadOptionError

FORMS = ("noise", "linear", "nonlinear", "object", "contact")


class PlantedEncoder(Encoder):
    """Token grids made from labels (a known-answer reference encoder).

    Parameters
    ----------
    forms
        Form of each layer (comma string or list) from :data:`FORMS`.
    dim
        Token width D.
    size, patch, tubelet
        Input side after resize and crop, patch side and frames per token step.
    snr
        Signal amplitude relative to unit token noise.
    seed
        Seed of the projections and of the per-clip noise.
    """

    def __init__(self, name: str = "planted", forms: str | list[str] = FORMS, dim: int = 64, size: int = 64, patch: int = 16, tubelet: int = 2, snr: float = 4.0, seed: int = 0) -> None:
        forms = [f.strip() for f in forms.split(",")] if isinstance(forms, str) else list(forms)
        bad = [f for f in forms if f not in FORMS]
        if bad:
            raise BadOptionError(f"planted encoder: unknown form {bad[0]!r}; use some of {', '.join(FORMS)}")
        if size % patch:
            raise BadOptionError(f"planted encoder: size {size} is not a multiple of patch {patch}")
        self.name = name
        self.forms = forms
        self.dim, self.size, self.patch, self.tubelet = int(dim), int(size), int(patch), int(tubelet)
        self.snr, self.seed = float(snr), int(seed)
        self.init = "pretrained"
        self.weights = "planted"
        self.n_layers = len(forms)
        self.layer_names = list(forms)
        self.final_norm = False
        self.config = {"forms": forms, "dim": self.dim, "size": self.size, "patch": self.patch, "tubelet": self.tubelet, "snr": self.snr, "seed": self.seed}
        self.extra_attrs = {}
        rng = np.random.default_rng(self.seed)
        q, _ = np.linalg.qr(rng.normal(size=(self.dim, 16)))
        self._dirs = q.T.astype(np.float32)  # 16 orthonormal directions

    def weight_hash(self) -> str:
        return hashlib.sha256(repr(sorted(self.config.items())).encode()).hexdigest()

    def geometry(self, height: int, width: int) -> Geometry:
        short = min(height, width)
        resized = (round(height * self.size / short), round(width * self.size / short))
        return centre_crop_geometry((height, width), resized, (self.size, self.size))

    def layout(self, n_frames: int, height: int, width: int) -> TokenLayout:
        g = self.size // self.patch
        return TokenLayout(grid=(n_frames // self.tubelet, g, g), patch=(self.patch, self.patch), token_frames=tubelet_frames(n_frames, self.tubelet))

    def preprocessing(self) -> dict[str, Any]:
        return {"pixels": "ignored", "labels": "world labels aligned per token step"}

    def _noise(self, video: np.ndarray, labels: Mapping[str, np.ndarray], shape: tuple[int, ...], layer: int) -> np.ndarray:
        out = np.empty(shape, np.float32)
        seeds = labels.get("clips/seed")
        for b in range(shape[0]):
            clip_seed = int(seeds[b]) if seeds is not None else int.from_bytes(hashlib.sha256(video[b].tobytes()).digest()[:8], "little")
            out[b] = np.random.default_rng([self.seed, layer, clip_seed % (1 << 63)]).normal(size=shape[1:])
        return out

    reads_labels = True

    def encode(self, video: np.ndarray, layers: list[int]) -> EncoderOutput:
        raise BadOptionError("planted encoder: needs world files (it builds its tokens from their labels), not plain videos")

    @torch.no_grad()
    def encode_labelled(self, video: np.ndarray, labels: Mapping[str, np.ndarray] | None, layers: list[int]) -> EncoderOutput:
        """Token grids built from the clips' world labels (see the module docstring)."""
        if labels is None or "objects/exists" not in labels:
            raise BadOptionError("planted encoder: needs world files (it builds its tokens from their labels), not plain videos")
        from probekit.extraction.align import align_world_labels

        b, t, h, w, _ = video.shape
        geometry = self.geometry(h, w)
        layout = self.layout(t, h, w)
        k = labels["objects/exists"].shape[2]
        aligned = align_world_labels(dict(labels), geometry, layout, k)
        tp, gh, gw = layout.grid
        exists = aligned["exists"].astype(bool)  # (B, T', K)
        coverage = np.nan_to_num(aligned.get("token_coverage", np.zeros((b, tp, k, gh, gw))).astype(np.float32))
        out: dict[int, torch.Tensor] = {}
        for layer in layers:
            form = self.forms[layer]
            tokens = self._noise(video, labels, (b, tp, gh, gw, self.dim), layer)
            amp = np.sqrt(self.snr)
            if form == "linear":
                pos = np.where(exists[..., 0, None], np.nan_to_num(aligned["position_camera"][:, :, 0]), 0.0)
                tokens += amp * (pos @ self._dirs[:3])[:, :, None, None, :]
            elif form == "nonlinear":
                pos = np.where(exists[..., 0, None], np.nan_to_num(aligned["position_camera"][:, :, 0]), 0.0)
                sign = np.random.default_rng([self.seed, 7, b, t]).choice([-1.0, 1.0], size=(b, tp, 1))
                code = np.concatenate([pos * sign, sign], axis=-1)
                tokens += amp * (code @ self._dirs[:4])[:, :, None, None, :]
            elif form == "contact":
                contact = np.where(exists, aligned["contact_interval"].astype(np.float32) * 2 - 1, 0.0)
                tokens += amp * (contact @ self._dirs[:k])[:, :, None, None, :]
            elif form == "object":
                acc = np.where(exists[..., None], np.nan_to_num(aligned["acceleration_world"]) / 10.0, 0.0)  # (B, T', K, 3)
                centred = coverage - coverage.mean(axis=(-2, -1), keepdims=True)  # no leak into the spatial mean
                # scale so that the coverage-weighted mean over the object's tokens is the signal
                total = coverage.sum(axis=(-2, -1))
                gain = (coverage * centred).sum(axis=(-2, -1)) / np.where(total > 0, total, 1.0)
                scale = np.where(total > 0, 1.0 / np.maximum(gain, 0.05), 0.0)  # (B, T', K)
                signal = (acc * scale[..., None]) @ self._dirs[:3]  # (B, T', K, D)
                tokens += amp * np.einsum("btkhw,btkd->bthwd", centred, signal)
            out[layer] = torch.from_numpy(tokens.astype(np.float32))
        return EncoderOutput(out)


def create_planted_encoder(name: str = "planted", init: str = "pretrained", **kwargs: Any) -> Encoder:
    """Factory registered as ``planted`` (``init`` has no effect: the signals are written down)."""
    allowed = {"forms", "dim", "size", "patch", "tubelet", "snr", "seed"}
    return PlantedEncoder(name, **{k: v for k, v in kwargs.items() if k in allowed})
