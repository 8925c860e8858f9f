"""The random twin of a user's module: every parameter and running statistic re-drawn, the caller's
model untouched, deterministic buffers kept.

Truth: two fresh constructions of the module under different seeds. A tensor equal in both is
deterministic at initialisation (LayerNorm ones, zero biases); the twin must hold exactly that
value. Every other tensor must differ from its trained value everywhere, with the spread of a
fresh construction.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from probekit.encoders import ModuleEncoder
from probekit.encoders.module import random_twin


class PositionalEmbedding(nn.Module):
    """A custom module with a learned table (an ``nn.Parameter``, no reset method) and fixed ids."""

    def __init__(self, n: int, dim: int) -> None:
        super().__init__()
        self.table = nn.Parameter(torch.randn(n, dim) * 0.02)
        self.register_buffer("position_ids", torch.arange(n))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.table[self.position_ids][None]


class SmallVideoModel(nn.Module):
    """Conv stem with batch norm, a class token, positional embedding and one attention block."""

    def __init__(self, dim: int = 16, tokens: int = 16) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, dim, 4, stride=4)
        self.norm_stem = nn.BatchNorm2d(dim)
        self.cls = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos = PositionalEmbedding(tokens, dim)
        self.attn = nn.MultiheadAttention(dim, 2, batch_first=True)
        self.norm = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, 2 * dim), nn.GELU(), nn.Linear(2 * dim, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.norm_stem(self.stem(x)).flatten(2).transpose(1, 2)
        h = self.pos(h)
        h = h + self.attn(h, h, h, need_weights=False)[0]
        return self.norm(h + self.mlp(h))


def _trained() -> SmallVideoModel:
    """A model whose every tensor moved away from its initial value (weights and running stats)."""
    torch.manual_seed(5)
    model = SmallVideoModel()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.3 + 0.1)
    model.train()
    for _ in range(3):
        model(torch.randn(4, 3, 16, 16) * 2 + 1)
    return model.eval()


def _fresh(seed: int) -> dict[str, torch.Tensor]:
    torch.manual_seed(seed)
    return {k: v.clone() for k, v in SmallVideoModel().state_dict().items()}


def test_twin_redraws_every_parameter_and_statistic_and_keeps_the_caller_model():
    model = _trained()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    fresh_a, fresh_b = _fresh(1), _fresh(2)
    twin = random_twin(model, seed=0)
    for key, value in model.state_dict().items():  # the caller's model is unchanged
        assert torch.equal(value, before[key]), key
    twin_state = twin.state_dict()
    assert set(twin_state) == set(before)
    checked = 0
    for key, trained in before.items():
        got = twin_state[key]
        deterministic = torch.equal(fresh_a[key], fresh_b[key])
        if deterministic and key != "cls":  # norm affine init, zero biases, running stats, position ids
            assert torch.equal(got.float(), fresh_a[key].float()), f"{key}: not its deterministic initial value"
            continue
        if key == "cls":  # zero at construction, but no reset method says so: the stated fallback draws it
            assert not (got == trained).any()
            continue
        checked += 1
        same = (got == trained).float().mean().item()
        assert same == 0.0, f"{key}: {same:.0%} of its trained values kept"
        if key == "pos.table":  # fallback: the tensor's own spread, not the constructor's
            assert np.isclose(got.std().item(), trained.std().item(), rtol=0.3)
            continue
        spread = fresh_a[key].float().std().item()
        assert 0.5 * spread <= got.float().std().item() <= 2.0 * spread, f"{key}: spread unlike a fresh construction"
    # the tensors that must be random: conv, MHA in-projection, custom table, MLP weights ...
    assert {"attn.in_proj_weight", "pos.table", "stem.weight", "mlp.0.weight"} <= {
        k for k in before if not torch.equal(fresh_a[k], fresh_b[k])}
    assert checked >= 8
    assert torch.equal(twin_state["pos.position_ids"], torch.arange(16))
    assert torch.equal(twin_state["norm_stem.running_mean"], torch.zeros(16))
    assert torch.equal(twin_state["norm_stem.running_var"], torch.ones(16))


def test_twin_is_seeded_and_leaves_the_global_generator_alone():
    model = _trained()
    torch.manual_seed(123)
    expected_next = torch.rand(3)
    torch.manual_seed(123)
    a, b, c = random_twin(model, 0), random_twin(model, 0), random_twin(model, 1)
    assert torch.equal(torch.rand(3), expected_next)
    sa, sb, sc = a.state_dict(), b.state_dict(), c.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert not torch.equal(sa["pos.table"], sc["pos.table"])


def test_module_encoder_random_uses_a_twin_and_cls_token_falls_back():
    model = _trained()
    trained_cls = model.cls.detach().clone()
    encoder = ModuleEncoder(model, ["norm"], kind="image", input_size=16, patch=4, init="random", seed=0)
    assert encoder.module is not model
    assert torch.equal(model.cls, trained_cls)
    assert encoder.weights == "random"
    assert not np.isclose(encoder.module.cls.detach().numpy(), trained_cls.numpy()).any()
    pretrained = ModuleEncoder(model, ["norm"], kind="image", input_size=16, patch=4)
    assert pretrained.weight_hash() != encoder.weight_hash()
    assert pretrained.twin(0).weight_hash() == encoder.weight_hash()


def test_bad_init_is_refused():
    from probekit.errors import BadOptionError

    with pytest.raises(BadOptionError, match="init"):
        ModuleEncoder(_trained(), ["norm"], kind="image", init="trained")
