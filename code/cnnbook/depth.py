"""Depth (S1.T1(a), (c)): the degradation problem of plain networks and what residual shortcuts change.

``DepthNet(blocks, residual)`` is a stem (``3×3`` convolution, stride 2, batch normalisation, ReLU,
``2×2`` max pooling) followed by ``blocks`` blocks of two ``3×3`` convolutions with batch
normalisation (as in He et al. 2016), and a global-average-pooling linear head. With
``residual=True`` each block adds its input before the last ReLU (an identity shortcut); with
``residual=False`` it does not. Nothing else differs: same width, layers, initial weights (drawn
from one seed in the same order), data, optimiser, epochs and seed, so a difference in *training*
error between the two is caused by the shortcut.

``degradation`` trains both at several depths with ``training.fit`` (cached) and measures their
training error (that of the last epoch); ``gradient_norms`` measures, at initialisation, the norm of the loss
gradient with respect to every convolution's weights.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
from torch import nn
from torch.utils.data import TensorDataset

from cnnbook import training


class Block(nn.Module):
    """conv → BN → ReLU → conv → BN, plus the input when ``residual``, then ReLU."""

    def __init__(self, width: int, residual: bool):
        super().__init__()
        self.residual = residual
        self.conv1 = nn.Conv2d(width, width, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.bn2(self.conv2(torch.relu(self.bn1(self.conv1(x)))))
        return torch.relu(out + x if self.residual else out)


class DepthNet(nn.Module):
    """Stem, ``blocks`` blocks (plain or residual), global average pooling and a linear head."""

    def __init__(self, blocks: int, residual: bool, width: int = 16, in_channels: int = 1, classes: int = 10):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(in_channels, width, 3, stride=2, padding=1, bias=False),
                                  nn.BatchNorm2d(width), nn.ReLU(), nn.MaxPool2d(2))
        self.blocks = nn.Sequential(*[Block(width, residual) for _ in range(blocks)])
        self.head = nn.Linear(width, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.blocks(self.stem(x)).mean(dim=(2, 3)))


def conv_layers(blocks: int) -> int:
    """Weight layers of a ``DepthNet``: the stem, two per block, the head."""
    return 2 * blocks + 2


def make(blocks: int, residual: bool, seed: int = 0, width: int = 16) -> DepthNet:
    """A ``DepthNet`` with weights drawn from ``seed``: the plain and residual nets of one depth start equal."""
    training.seed_everything(seed)
    return DepthNet(blocks, residual, width)


def degradation(train: TensorDataset, validation: TensorDataset, depths: tuple[int, ...], *, epochs: int,
                lr: float = 0.05, batch_size: int = 64, seed: int = 0) -> pd.DataFrame:
    """Train plain and residual nets with ``depths`` blocks (SGD with momentum, same everything) and return per
    run: blocks, weight layers, kind, training error and loss of the last epoch (in training mode, as the
    updates saw them, so batch normalisation's running averages play no part), validation error (%), seconds,
    and the history."""
    rows = []
    for blocks in depths:
        for residual in (False, True):
            run = training.fit(make(blocks, residual, seed), train, validation, epochs=epochs, optimizer="sgd",
                               lr=lr, batch_size=batch_size, seed=seed,
                               name=f"depth-{'residual' if residual else 'plain'}-{blocks}")
            rows.append({"blocks": blocks, "layers": conv_layers(blocks), "kind": "residual" if residual else "plain",
                         "train_error": 100 * (1 - float(run.history.train_accuracy.iloc[-1])),
                         "val_error": 100 * (1 - float(run.history.val_accuracy.iloc[-1])),
                         "train_loss": float(run.history.train_loss.iloc[-1]), "seconds": run.seconds,
                         "history": run.history})
    return pd.DataFrame(rows)


def gradient_norms(model: DepthNet, images: torch.Tensor, labels: torch.Tensor) -> np.ndarray:
    """‖∂L/∂W‖ of every convolution (stem first), cross-entropy on one batch in training mode."""
    model.train()
    model.zero_grad()
    nn.functional.cross_entropy(model(images), labels).backward()
    return np.array([float(m.weight.grad.norm()) for m in model.modules() if isinstance(m, nn.Conv2d)])


def degradation_figure(table: pd.DataFrame, norms: dict[str, np.ndarray]):
    """Left: training error against weight layers, plain and residual. Right: gradient norm per convolution at
    initialisation of the deepest nets (logarithmic)."""
    from cnnbook import plots

    fig, axes = plots.figure(1, 2, panel=(4.2, 3.0))
    for kind, part in table.groupby("kind", sort=False):
        axes[0, 0].plot(part.layers, part.train_error, marker="o", label=kind)
    axes[0, 0].set_xlabel("weight layers")
    axes[0, 0].set_ylabel("training error (%)")
    axes[0, 0].legend()
    for kind, values in norms.items():
        axes[0, 1].plot(np.arange(1, len(values) + 1), values, marker=".", label=kind)
    axes[0, 1].set_yscale("log")
    axes[0, 1].set_xlabel("convolution (input side first)")
    axes[0, 1].set_ylabel("gradient norm at initialisation")
    axes[0, 1].legend()
    return fig
