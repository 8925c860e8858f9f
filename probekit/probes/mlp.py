"""MLP probe: the non-linear, non-attentive middle step between linear and attentive readouts."""

from __future__ import annotations

from probekit.probes.torch_probe import TorchClassifierBase, TorchRegressorBase


def _mlp(n_in: int, n_out: int, hidden: int, depth: int, dropout: float):
    import torch.nn as nn

    layers: list = []
    width = n_in
    for _ in range(depth):
        layers += [nn.Linear(width, hidden), nn.GELU(), nn.Dropout(dropout)]
        width = hidden
    layers.append(nn.Linear(width, n_out))
    return nn.Sequential(nn.Flatten(), *layers)


class _MLPParams:
    def __init__(
        self,
        hidden: int = 256,
        depth: int = 2,
        dropout: float = 0.0,
        lr: float = 1e-3,
        weight_decay: float = 1e-2,
        max_epochs: int = 60,
        batch_size: int = 256,
        val_fraction: float = 0.2,
        device: str = "cpu",
        random_state: int | None = 0,
    ):
        self.hidden = hidden
        self.depth = depth
        self.dropout = dropout
        self.lr = lr
        self.weight_decay = weight_decay
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.val_fraction = val_fraction
        self.device = device
        self.random_state = random_state

    def _build_module(self, n_in, n_out, input_shape):
        import numpy as np

        return _mlp(int(np.prod(input_shape)), n_out, self.hidden, self.depth, self.dropout)


class MLPRegressorProbe(_MLPParams, TorchRegressorBase):
    """MLP regressor probe (GELU hidden layers, AdamW + cosine, best validation epoch).

    Parameters
    ----------
    hidden, depth, dropout
        Width and number of hidden layers, dropout rate.
    lr, weight_decay, max_epochs, batch_size
        AdamW recipe with a cosine learning-rate schedule over all steps.
    val_fraction
        Share of samples (of groups, when grouped) held out to pick the best epoch.
    device
        ``"cpu"`` or a torch device such as ``"cuda"``.
    random_state
        Seed of the split, initialisation and batch order.
    """


class MLPClassifierProbe(_MLPParams, TorchClassifierBase):
    """MLP classifier probe; parameters as :class:`MLPRegressorProbe`."""
