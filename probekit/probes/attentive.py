"""Attentive probe in the style of V-JEPA 2's evaluation.

Learned query tokens cross-attend over a layer's tokens after ``depth - 1`` self-attention
blocks (``AttentivePooler``), then a linear head reads the pooled queries. Tokens are first
projected to ``width`` channels so a CPU run stays cheap. Input X is (n, tokens, D); a 2D X is
treated as one token per sample.
"""

from __future__ import annotations

from probekit.probes.torch_probe import TorchClassifierBase, TorchRegressorBase


def _pooler(n_in: int, n_out: int, width: int, num_queries: int, depth: int, num_heads: int):
    import torch
    import torch.nn as nn

    class CrossBlock(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.norm_q = nn.LayerNorm(width)
            self.norm_kv = nn.LayerNorm(width)
            self.attn = nn.MultiheadAttention(width, num_heads, batch_first=True)
            self.norm_mlp = nn.LayerNorm(width)
            self.mlp = nn.Sequential(nn.Linear(width, 2 * width), nn.GELU(), nn.Linear(2 * width, width))

        def forward(self, q: torch.Tensor, kv: torch.Tensor) -> torch.Tensor:
            kvn = self.norm_kv(kv)
            q = q + self.attn(self.norm_q(q), kvn, kvn, need_weights=False)[0]
            return q + self.mlp(self.norm_mlp(q))

    class AttentivePooler(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.proj = nn.Linear(n_in, width)
            self.queries = nn.Parameter(torch.randn(1, num_queries, width) * 0.02)
            self.blocks = nn.ModuleList(
                nn.TransformerEncoderLayer(width, num_heads, 2 * width, dropout=0.0, activation="gelu", batch_first=True, norm_first=True)
                for _ in range(max(depth - 1, 0))
            )
            self.cross = CrossBlock()
            self.head = nn.Linear(num_queries * width, n_out)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            if x.dim() == 2:
                x = x[:, None, :]
            x = self.proj(x.reshape(x.shape[0], -1, x.shape[-1]))
            for block in self.blocks:
                x = block(x)
            q = self.cross(self.queries.expand(x.shape[0], -1, -1), x)
            return self.head(q.flatten(1))

    return AttentivePooler()


class _AttentiveParams:
    def __init__(
        self,
        width: int = 64,
        num_queries: int = 1,
        depth: int = 1,
        num_heads: int = 4,
        lr: float = 1e-3,
        weight_decay: float = 0.05,
        max_epochs: int = 40,
        batch_size: int = 128,
        val_fraction: float = 0.2,
        device: str = "cpu",
        random_state: int | None = 0,
    ):
        self.width = width
        self.num_queries = num_queries
        self.depth = depth
        self.num_heads = num_heads
        self.lr = lr
        self.weight_decay = weight_decay
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.val_fraction = val_fraction
        self.device = device
        self.random_state = random_state

    def _build_module(self, n_in, n_out, input_shape):
        return _pooler(n_in, n_out, self.width, self.num_queries, self.depth, self.num_heads)


class AttentiveRegressorProbe(_AttentiveParams, TorchRegressorBase):
    """Attentive regressor probe.

    Parameters
    ----------
    width
        Channels after the input projection.
    num_queries, depth, num_heads
        Learned queries, blocks (``depth - 1`` self-attention + one cross-attention), heads.
    lr, weight_decay, max_epochs, batch_size
        AdamW with a cosine learning-rate schedule (a fixed recipe).
    val_fraction
        Inner validation share (grouped when ``groups`` are passed) for the best epoch.
    device
        ``"cpu"`` or a torch device such as ``"cuda"``.
    random_state
        Seed.
    """


class AttentiveClassifierProbe(_AttentiveParams, TorchClassifierBase):
    """Attentive classifier probe; parameters as :class:`AttentiveRegressorProbe`."""
