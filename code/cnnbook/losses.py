"""Losses for imbalanced classification: focal loss and class-weighted cross-entropy.

``FocalLoss`` is Lin et al.'s (2017) ``FL(p_t) = -α_t (1 - p_t)^γ log p_t`` on logits and class
indices, averaged over the batch: ``γ = 0`` gives (α-weighted) cross-entropy, a larger ``γ``
down-weights examples the model already classifies well, so that the many easy negatives stop
dominating the gradient. ``class_weights`` gives the inverse-frequency weights that
``nn.CrossEntropyLoss(weight=...)`` takes. Both are checked against hand computations in
``tests/test_losses.py``.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
from torch import nn


class FocalLoss(nn.Module):
    """Focal loss on logits ``N×K`` and class indices ``N``; ``alpha`` weights each class
    (``None``: all 1), ``gamma`` focuses on hard examples. Mean over the batch."""

    def __init__(self, gamma: float = 2.0, alpha: Sequence[float] | None = None):
        super().__init__()
        if gamma < 0:
            raise ValueError(f"gamma must be non-negative, not {gamma}")
        self.gamma = float(gamma)
        self.register_buffer("alpha", None if alpha is None else torch.as_tensor(alpha, dtype=torch.float32))

    def forward(self, logits: torch.Tensor, targets: torch.Tensor, *extra: torch.Tensor) -> torch.Tensor:
        log_p = torch.log_softmax(logits, dim=1).gather(1, targets[:, None]).squeeze(1)  # log p_t
        weight = (1 - log_p.exp()).clamp(min=0) ** self.gamma
        if self.alpha is not None:
            weight = weight * self.alpha.to(logits.device)[targets]
        return -(weight * log_p).mean()

    def extra_repr(self) -> str:
        alpha = None if self.alpha is None else [round(float(a), 6) for a in self.alpha]
        return f"gamma={self.gamma}, alpha={alpha}"


def class_weights(labels: np.ndarray, n_classes: int = 2) -> torch.Tensor:
    """Inverse-frequency weights ``N / (K · N_k)``: every class contributes equally to the loss."""
    counts = np.bincount(np.asarray(labels), minlength=n_classes).astype(np.float64)
    if (counts == 0).any():
        raise ValueError(f"every class needs at least one example, counts are {counts.tolist()}")
    return torch.as_tensor(counts.sum() / (n_classes * counts), dtype=torch.float32)
