"""Any ``torch.nn.Module`` as an encoder: layers chosen by module name (forward hooks) and a
declared token layout. This is how users probe their own JEPA checkpoints.

Example
-------
>>> enc = ModuleEncoder(my_vit, layers=["blocks.0", "blocks.5", "norm"], kind="video",
...                     input_size=224, patch=16, tubelet=2)          # doctest: +SKIP
>>> register_encoder("my-jepa", lambda name, init="pretrained", **kw: enc)  # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from probekit.encoders.base import Encoder, EncoderOutput, Geometry, TokenLayout, centre_crop_geometry, tubelet_frames
from probekit.errors import BadOptionError

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class ModuleEncoder(Encoder):
    """Wrap a module; read the outputs of named submodules with forward hooks.

    Parameters
    ----------
    module
        The model. It is called as ``module(x)`` (or ``forward(module, x)``).
    layers
        Names of submodules (as in ``module.named_modules()``) whose outputs are the layers, in order;
        layer index ``i`` is ``layers[i]``.
    kind
        ``"video"``: ``x`` is (B, C, T, H, W) (or (B, T, C, H, W) with ``input_format="BTCHW"``);
        ``"image"``: the module is applied to every frame, ``x`` is (B*T, C, H, W).
    input_size
        Side of the square input (frames are resized on the short side, bilinear, then centre cropped).
    patch, tubelet
        Patch side in input pixels; frames per token time step (video only).
    n_special
        Leading special tokens (CLS, registers) in each hooked output.
    token_format
        ``"BND"`` (tokens in (t, h, w) order after the special tokens) or ``"BDTHW"``/``"BDHW"``
        (channels-first feature maps, as convolutions return them).
    mean, std
        Normalisation after scaling to [0, 1].
    input_format
        ``"BCTHW"`` or ``"BTCHW"`` for video modules.
    forward
        Optional ``forward(module, x)`` to call instead of ``module(x)``.
    name
        Name recorded in the store.
    init
        ``"pretrained"`` (the module as given) or ``"random"`` (its :func:`random_twin`; the
        module passed in is left untouched).
    seed
        Seed of the random twin.
    """

    def __init__(
        self,
        module: torch.nn.Module,
        layers: Sequence[str],
        *,
        kind: str = "video",
        input_size: int = 224,
        patch: int = 16,
        tubelet: int = 1,
        n_special: int = 0,
        token_format: str = "BND",
        mean: Sequence[float] = IMAGENET_MEAN,
        std: Sequence[float] = IMAGENET_STD,
        input_format: str = "BCTHW",
        forward: Any = None,
        name: str = "module",
        init: str = "pretrained",
        seed: int = 0,
    ) -> None:
        if kind not in ("video", "image"):
            raise BadOptionError(f"ModuleEncoder kind {kind!r}: use 'video' or 'image'")
        names = dict(module.named_modules())
        missing = [n for n in layers if n not in names]
        if missing:
            raise BadOptionError(f"ModuleEncoder layers {missing}: no such submodules; some valid names: {list(names)[1:12]}")
        if not layers:
            raise BadOptionError("ModuleEncoder needs at least one layer name")
        if init not in ("pretrained", "random"):
            raise BadOptionError(f"ModuleEncoder init {init!r}: use 'pretrained' or 'random'")
        self.module = (random_twin(module, seed) if init == "random" else module).eval()
        names = dict(self.module.named_modules())
        self.hooked = [names[n] for n in layers]
        self.name = name
        self.kind = kind
        self.input_size, self.patch_size, self.tubelet = int(input_size), int(patch), int(tubelet if kind == "video" else 1)
        self.n_special, self.token_format, self.input_format = int(n_special), token_format, input_format
        self.mean, self.std = tuple(mean), tuple(std)
        self.forward_fn = forward
        self.init = init
        self.seed = seed
        self.options = {"kind": kind, "input_size": input_size, "patch": patch, "tubelet": tubelet, "n_special": n_special,
                        "token_format": token_format, "mean": tuple(mean), "std": tuple(std), "input_format": input_format,
                        "forward": forward, "name": name}
        self.weights = "random" if init == "random" else "pretrained"
        self.n_layers = len(layers)
        self.layer_names = list(layers)
        self.final_norm = False
        self.config = {"class": type(module).__name__, "kind": kind, "input_size": self.input_size, "patch": self.patch_size,
                       "tubelet": self.tubelet, "n_special": self.n_special, "token_format": token_format}
        self.extra_attrs = {"seed": seed} if init == "random" else {}

    def modules(self) -> list[torch.nn.Module]:
        return [self.module]

    def twin(self, seed: int = 0) -> "ModuleEncoder":
        """The random twin of this encoder (:func:`random_twin` of its module, same options)."""
        return ModuleEncoder(self.module, self.layer_names, **self.options, init="random", seed=seed)

    def geometry(self, height: int, width: int) -> Geometry:
        short = min(height, width)
        resized = (int(self.input_size * height / short), int(self.input_size * width / short))
        return centre_crop_geometry((height, width), resized, (self.input_size, self.input_size))

    def layout(self, n_frames: int, height: int, width: int) -> TokenLayout:
        g = self.input_size // self.patch_size
        return TokenLayout(grid=(n_frames // self.tubelet, g, g), patch=(self.patch_size, self.patch_size),
                           token_frames=tubelet_frames(n_frames, self.tubelet), n_special=self.n_special,
                           per_frame=self.kind == "image")

    def preprocessing(self) -> dict[str, Any]:
        return {"resize": "bilinear short side", "input_size": self.input_size, "mean": list(self.mean), "std": list(self.std)}

    def pixel_values(self, video: np.ndarray) -> torch.Tensor:
        """Resized, cropped and normalised frames (B*T, 3, S, S)."""
        b, t, h, w, _ = video.shape
        geometry = self.geometry(h, w)
        x = torch.from_numpy(np.ascontiguousarray(video)).reshape(b * t, h, w, 3).permute(0, 3, 1, 2).float() / 255.0
        if geometry.resized != (h, w):
            x = F.interpolate(x, size=geometry.resized, mode="bilinear", antialias=True, align_corners=False)
        top, left, ch, cw = geometry.crop
        x = x[..., top : top + ch, left : left + cw]
        mean = torch.tensor(self.mean).view(1, 3, 1, 1)
        std = torch.tensor(self.std).view(1, 3, 1, 1)
        return (x - mean) / std

    @torch.no_grad()
    def encode(self, video: np.ndarray, layers: list[int]) -> EncoderOutput:
        b, t = video.shape[:2]
        x = self.to_device(self.pixel_values(video))
        if self.kind == "video":
            x = x.reshape(b, t, *x.shape[1:])
            if self.input_format == "BCTHW":
                x = x.permute(0, 2, 1, 3, 4)
        captured: dict[int, torch.Tensor] = {}
        handles = [self.hooked[i].register_forward_hook(
            lambda m, args, out, i=i: captured.__setitem__(i, out if torch.is_tensor(out) else out[0])) for i in layers]
        try:
            self.forward_fn(self.module, x) if self.forward_fn else self.module(x)
        finally:
            for handle in handles:
                handle.remove()
        grid = self.layout(t, video.shape[2], video.shape[3]).grid
        tokens, special = {}, {}
        for i in layers:
            out = captured[i]
            if self.token_format in ("BDTHW", "BDHW"):
                out = out.flatten(2).transpose(1, 2)  # channels-first maps -> (B', N, D)
            if self.kind == "image":
                out = out.reshape(b, t, out.shape[1], out.shape[2])
                n_grid = grid[1] * grid[2]
                tokens[i] = out[:, :, self.n_special :].reshape(b, t, grid[1], grid[2], out.shape[-1])
                if self.n_special:
                    special[i] = out[:, :, : self.n_special]
            else:
                n_grid = int(np.prod(grid))
                if out.shape[1] != n_grid + self.n_special:
                    raise BadOptionError(f"{self.name}: layer {self.layer_names[i]} has {out.shape[1]} tokens; the declared layout "
                                         f"expects {self.n_special} special + {grid} grid tokens")
                tokens[i] = out[:, self.n_special :].reshape(b, *grid, out.shape[-1])
                if self.n_special:
                    special[i] = out[:, None, : self.n_special]
        return EncoderOutput(tokens, special)


#: Scale of the fallback initialisation for a parameter whose own spread is zero (or a scalar).
FALLBACK_STD = 0.02

#: Buffer names treated as running statistics (reset to their initial values in a random twin).
RUNNING_STATISTICS = {"running_mean": 0.0, "running_var": 1.0, "num_batches_tracked": 0}


def random_twin(module: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """The same architecture with seeded random weights; the caller's module is never touched.

    A deep copy of ``module`` in which

    - every submodule's own ``reset_parameters`` (or ``_reset_parameters``, as
      :class:`torch.nn.MultiheadAttention` names it) re-initialises the parameters it owns directly,
      children before their parent (the order of construction, so a parent's init of a child wins);
    - every other parameter (a custom positional embedding, a class token, ...) falls back to
      ``N(0, s^2)`` with ``s`` the tensor's own standard deviation (:data:`FALLBACK_STD` when that
      is zero or the tensor has one element);
    - running statistics (``reset_running_stats``, or buffers named in :data:`RUNNING_STATISTICS`)
      go back to their initial values;
    - all other buffers (position ids, RoPE frequencies, attention masks), which a fresh
      construction gives equal every time, are kept.

    Parameters
    ----------
    module
        The trained model.
    seed
        Seed of the random draws (the global torch generator is left as it was).

    Returns
    -------
    torch.nn.Module
        The twin, in eval mode.
    """
    import copy

    twin = copy.deepcopy(module)
    covered: set[int] = set()
    with torch.random.fork_rng(devices=[]), torch.no_grad():
        torch.manual_seed(seed)
        for sub in reversed(list(twin.modules())):  # children first, then their parent, as construction does
            reset = getattr(sub, "reset_parameters", None) or getattr(sub, "_reset_parameters", None)
            if callable(reset):
                reset()
                covered.update(id(p) for p in sub.parameters(recurse=False))
            running = getattr(sub, "reset_running_stats", None)
            if callable(running):
                running()
            for name, buffer in sub.named_buffers(recurse=False):
                if name in RUNNING_STATISTICS and buffer is not None:
                    buffer.fill_(RUNNING_STATISTICS[name])
        for parameter in twin.parameters():
            if id(parameter) not in covered:
                std = float(parameter.detach().float().std()) if parameter.numel() > 1 else 0.0
                parameter.normal_(0.0, std if std > 0 else FALLBACK_STD)
    return twin.eval()
