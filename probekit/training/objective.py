"""The V-JEPA 2 objective on transformers' ``VJEPA2Model``.

The context encoder (the model's own encoder) sees only the context tokens; an EMA copy of it
(the target encoder) sees the whole clip; the predictor fills the masked positions from the
context; the loss is the L1 distance to the layer-normed target latents. An optional
variance-covariance regulariser (VICReg-style) on the context latents guards against collapse.
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn
from transformers import VJEPA2Model


def gather_tokens(tokens: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """Select tokens: (B, N, D) at index (B, n) -> (B, n, D)."""
    return torch.gather(tokens, 1, index.unsqueeze(-1).expand(-1, -1, tokens.size(-1)))


class JEPAObjective(nn.Module):
    """Context encoder + predictor (trained) and an EMA target encoder.

    Parameters
    ----------
    model
        A ``VJEPA2Model``; its encoder is the context encoder, its predictor the predictor.
    regularizer_weight
        Weight of the variance-covariance anti-collapse term (0 disables it).
    """

    def __init__(self, model: VJEPA2Model, regularizer_weight: float = 0.0) -> None:
        super().__init__()
        self.model = model
        self.target_encoder = copy.deepcopy(model.encoder)
        for parameter in self.target_encoder.parameters():
            parameter.requires_grad_(False)
        self.regularizer_weight = float(regularizer_weight)

    def encode_context(self, pixels: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        """Run the context encoder on the context tokens only (positions kept through RoPE)."""
        encoder = self.model.encoder
        hidden = gather_tokens(encoder.embeddings(pixels), context)
        for layer in encoder.layer:
            hidden = layer(hidden, position_mask=context)[0]
        return encoder.layernorm(hidden)

    @torch.no_grad()
    def encode_target(self, pixels: torch.Tensor) -> torch.Tensor:
        """Layer-normed target-encoder latents of the whole clip, (B, N, D)."""
        latents = self.target_encoder(pixel_values_videos=pixels).last_hidden_state
        return F.layer_norm(latents, (latents.size(-1),))

    def forward(self, pixels: torch.Tensor, context: torch.Tensor, target: torch.Tensor) -> dict[str, torch.Tensor]:
        """Compute the loss for one batch.

        Parameters
        ----------
        pixels
            (B, T, C, H, W) normalised video.
        context, target
            (B, n_context) and (B, n_target) token indices.

        Returns
        -------
        dict
            ``loss`` (total), ``prediction_loss`` and ``regularizer``.
        """
        targets = gather_tokens(self.encode_target(pixels), target)
        context_latents = self.encode_context(pixels, context)
        full = torch.zeros(
            pixels.size(0),
            self.model.encoder.embeddings.patch_embeddings.num_patches(self.model.config),
            context_latents.size(-1),
            dtype=context_latents.dtype,
            device=context_latents.device,
        )
        full = full.scatter(1, context.unsqueeze(-1).expand(-1, -1, full.size(-1)), context_latents)
        predicted = self.model.predictor(encoder_hidden_states=full, context_mask=[context], target_mask=[target])
        prediction_loss = (predicted.last_hidden_state - targets).abs().mean()
        regularizer = variance_covariance(context_latents.mean(dim=1)) if self.regularizer_weight > 0 else prediction_loss.new_zeros(())
        return {
            "loss": prediction_loss + self.regularizer_weight * regularizer,
            "prediction_loss": prediction_loss.detach(),
            "regularizer": regularizer.detach(),
        }

    @torch.no_grad()
    def update_target(self, momentum: float) -> None:
        """EMA update: target <- momentum * target + (1 - momentum) * context encoder."""
        for target_param, param in zip(self.target_encoder.parameters(), self.model.encoder.parameters()):
            target_param.mul_(momentum).add_(param.detach(), alpha=1.0 - momentum)


def variance_covariance(embeddings: torch.Tensor, eps: float = 1e-4) -> torch.Tensor:
    """VICReg's variance (hinge on per-dimension std at 1) plus off-diagonal covariance terms."""
    x = embeddings - embeddings.mean(dim=0)
    std = torch.sqrt(x.var(dim=0) + eps)
    variance = F.relu(1.0 - std).mean()
    n, d = x.shape
    cov = (x.T @ x) / max(n - 1, 1)
    off_diagonal = cov - torch.diag(torch.diag(cov))
    return variance + off_diagonal.pow(2).sum() / d
