"""Attribution methods (captum), each a function of the explained model, one input and a baseline.

Every method returns an attribution tensor shaped like the input ``(1, T, C, h, w)`` and, where
captum gives one, the completeness gap (``convergence delta`` of integrated gradients).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch

from probekit.errors import BadOptionError


@dataclass(frozen=True)
class MethodOptions:
    """Knobs of the methods (captum's names).

    Attributes
    ----------
    n_steps
        Integrated-gradients steps.
    internal_batch_size
        Integrated-gradients batch of interpolated inputs.
    nt_samples, stdevs
        SmoothGrad samples and noise standard deviation (in input units).
    occlusion_window
        ``(frames, pixels)`` of the occlusion window; default one tubelet by one patch.
    seed
        Seed of SmoothGrad's noise.
    """

    n_steps: int = 32
    internal_batch_size: int = 8
    nt_samples: int = 8
    stdevs: float = 0.15
    occlusion_window: tuple[int, int] | None = None
    seed: int = 0


def integrated_gradients(model, x, baseline, options: MethodOptions, groups=None):
    from captum.attr import IntegratedGradients

    attr, delta = IntegratedGradients(model).attribute(
        x, baselines=baseline, n_steps=options.n_steps, internal_batch_size=options.internal_batch_size,
        return_convergence_delta=True)
    return attr, float(delta.abs().max())


def saliency(model, x, baseline, options: MethodOptions, groups=None):
    from captum.attr import Saliency

    return Saliency(model).attribute(x, abs=False), float("nan")


def smoothgrad(model, x, baseline, options: MethodOptions, groups=None):
    from captum.attr import NoiseTunnel, Saliency

    torch.manual_seed(options.seed)
    attr = NoiseTunnel(Saliency(model)).attribute(x, nt_type="smoothgrad", nt_samples=options.nt_samples,
                                                  nt_samples_batch_size=options.internal_batch_size,
                                                  stdevs=options.stdevs, abs=False)
    return attr, float("nan")


def occlusion(model, x, baseline, options: MethodOptions, groups=None, *, tubelet: int = 1, patch: int = 8):
    from captum.attr import Occlusion

    frames, pixels = options.occlusion_window or (tubelet, patch)
    window = (min(frames, x.shape[1]), x.shape[2], min(pixels, x.shape[3]), min(pixels, x.shape[4]))
    attr = Occlusion(model).attribute(x, sliding_window_shapes=window, strides=window, baselines=baseline)
    return attr, float("nan")


def feature_ablation(model, x, baseline, options: MethodOptions, groups=None):
    from captum.attr import FeatureAblation

    if groups is None:
        raise BadOptionError("--method ablation needs the clip's object masks (one group per object and frame)")
    attr = FeatureAblation(model).attribute(x, baselines=baseline, feature_mask=groups)
    return attr, float("nan")


#: Method name -> function(model, input, baseline, options, groups) -> (attribution, delta).
METHODS: dict[str, Callable] = {
    "ig": integrated_gradients,
    "saliency": saliency,
    "smoothgrad": smoothgrad,
    "occlusion": occlusion,
    "ablation": feature_ablation,
}


def get_method(name: str) -> Callable:
    """The method ``name``; an unknown name lists the valid ones."""
    if name not in METHODS:
        raise BadOptionError(f"--method {name!r}: use one of {', '.join(METHODS)}")
    return METHODS[name]


def ablation_groups(masks: np.ndarray, shape: tuple[int, ...]) -> torch.Tensor:
    """Feature groups for FeatureAblation: one group per (object, frame), background per frame.

    Parameters
    ----------
    masks
        ``(T, K, h, w)`` bool, the objects' visible masks in encoder-input pixels.
    shape
        The input's shape ``(1, T, C, h, w)``.

    Returns
    -------
    torch.Tensor
        Long ``(1, T, C, h, w)``: group ``t * (K + 1) + k`` for object ``k`` in frame ``t``, ``t * (K + 1) + K``
        for the background of frame ``t``.
    """
    t, k = masks.shape[:2]
    label = np.full((t, *masks.shape[2:]), k, dtype=np.int64)
    for slot in range(k - 1, -1, -1):  # lower slots win where masks overlap
        label[masks[:, slot]] = slot
    label = label + (np.arange(t) * (k + 1))[:, None, None]
    groups = torch.from_numpy(label)[None, :, None].expand(shape)
    return groups.contiguous()
