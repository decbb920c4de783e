"""Seconds-long training experiments of Chapter 2, on the scikit-learn digits (real handwritten
digits, 1,797 images of 8×8 pixels) and on a procedural position task.

The training loop here is deliberately minimal (Adam on mini-batches, fixed
seed, CPU); it is self-contained so that a general training library can replace it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Sequence

import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from cnnbook.equivariance import LocallyConnected2d
from cnnbook.provenance import DataSource

DIGITS_SOURCE = DataSource("scikit-learn digits (handwritten, 8×8 grey)", real=True, size="1,797 images")
BLOBS_SOURCE = DataSource("blobs in the left or right half, generated with a fixed seed", real=False,
                          size="2,000 images, 16×16")

Transform = Callable[[torch.Tensor, torch.Generator], torch.Tensor]


@dataclass(frozen=True)
class Split:
    """Train and test tensors: images ``N × 1 × H × W`` in [0, 1] and integer labels."""

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor


def digits(test_share: float = 0.3, seed: int = 0) -> Split:
    """The scikit-learn digits, scaled to [0, 1], split at random (fixed seed) into train and test."""
    from sklearn.datasets import load_digits

    data = load_digits()
    x = torch.tensor(data.images / 16.0, dtype=torch.float32)[:, None]
    y = torch.tensor(data.target, dtype=torch.long)
    order = torch.randperm(len(y), generator=torch.Generator().manual_seed(seed))
    cut = int(round(len(y) * (1 - test_share)))
    train, test = order[:cut], order[cut:]
    return Split(x[train], y[train], x[test], y[test])


def blobs(count: int = 2000, size: int = 16, sigma: float = 1.0, seed: int = 0, test_share: float = 0.3) -> Split:
    """A task only an absolute position can solve: one Gaussian blob at a random pixel of a
    ``size × size`` image; the label says whether it lies in the left (0) or right (1) half.
    Shifting an image cyclically by half the width flips its label."""
    generator = torch.Generator().manual_seed(seed)
    cy, cx = (torch.randint(0, size, (count,), generator=generator) for _ in range(2))
    grid = torch.arange(size, dtype=torch.float32)

    def ring(d: torch.Tensor) -> torch.Tensor:  # cyclic distance, so every position is alike
        return torch.minimum(d.abs(), size - d.abs())

    dy = ring(grid[None, :, None] - cy[:, None, None].float())
    dx = ring(grid[None, None, :] - cx[:, None, None].float())
    x = torch.exp(-(dx ** 2 + dy ** 2) / (2 * sigma ** 2))[:, None]
    y = (cx >= size // 2).long()
    cut = int(round(count * (1 - test_share)))
    return Split(x[:cut], y[:cut], x[cut:], y[cut:])


# --------------------------------------------------------------------------- models
def cnn(width: int = 16, classes: int = 10) -> nn.Sequential:
    """Two 3×3 convolutions (``width`` and ``2 width`` channels) with ReLU and 2×2 max pools,
    then a linear classifier on the flattened 2×2 map of an 8×8 input."""
    return nn.Sequential(
        nn.Conv2d(1, width, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(width, 2 * width, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(8 * width, classes),
    )


def mlp(hidden: int = 64, pixels: int = 64, classes: int = 10) -> nn.Sequential:
    """A fully connected network: flatten, ``hidden`` ReLU units, linear classifier."""
    return nn.Sequential(nn.Flatten(), nn.Linear(pixels, hidden), nn.ReLU(), nn.Linear(hidden, classes))


def position_model(kind: str, size: int = 16, channels: int = 8) -> nn.Sequential:
    """One 3×3 layer, ReLU, global average pooling and a linear classifier; the layer is a
    convolution with circular or zero padding (``conv_circular``, ``conv_zeros``) or a locally
    connected layer (``local``)."""
    if kind == "local":
        layer: nn.Module = LocallyConnected2d(1, channels, (size, size), 3, padding=1, padding_mode="circular")
    elif kind in ("conv_circular", "conv_zeros"):
        layer = nn.Conv2d(1, channels, 3, padding=1, padding_mode=kind.split("_")[1])
    else:
        raise ValueError(f"unknown kind {kind!r}; use conv_circular, conv_zeros or local")
    return nn.Sequential(layer, nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(channels, 2))


def parameters(model: nn.Module) -> int:
    """Trainable parameters of ``model``."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


# --------------------------------------------------------------------------- training
def train(model: nn.Module, split: Split, epochs: int = 30, lr: float = 1e-2, batch: int = 64,
          seed: int = 0, transform: Transform | None = None) -> nn.Module:
    """Adam on cross-entropy for ``epochs`` passes over the training set (``transform``: a
    random augmentation applied to each mini-batch). Deterministic for a given ``seed``.

    Runs on one CPU thread: for models this small, extra threads mostly wait on each other, and
    on a shared machine they can make training many times slower."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _train(model, split, epochs, lr, batch, seed, transform)
    finally:
        torch.set_num_threads(threads)


def _train(model: nn.Module, split: Split, epochs: int, lr: float, batch: int, seed: int,
           transform: Transform | None) -> nn.Module:
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    for module in model.modules():
        if hasattr(module, "reset_parameters"):
            module.reset_parameters()
    optimiser = torch.optim.Adam(model.parameters(), lr=lr)
    model.train()
    for _ in range(epochs):
        order = torch.randperm(len(split.y_train), generator=generator)
        for start in range(0, len(order), batch):
            index = order[start:start + batch]
            x = split.x_train[index]
            if transform is not None:
                x = transform(x, generator)
            loss = F.cross_entropy(model(x), split.y_train[index])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
    return model.eval()


def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """Share of correctly classified images."""
    with torch.no_grad():
        return float((model(x).argmax(dim=1) == y).float().mean())


# --------------------------------------------------------------------------- transformations
def aspect(x: torch.Tensor, ratio: float) -> torch.Tensor:
    """Distort the aspect ratio by ``ratio`` (width scale over height scale) without cropping:
    ``ratio < 1`` squeezes the content horizontally, ``ratio > 1`` vertically (bilinear, zero fill)."""
    sx, sy = min(1.0, ratio), min(1.0, 1.0 / ratio)
    theta = torch.tensor([[1 / sx, 0.0, 0.0], [0.0, 1 / sy, 0.0]], dtype=x.dtype).expand(len(x), 2, 3)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def random_aspect(low: float = 0.5, high: float = 2.0) -> Transform:
    """Augmentation: each mini-batch distorted by one ratio drawn log-uniformly from [low, high]."""
    def transform(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        u = float(torch.rand((), generator=generator))
        return aspect(x, math.exp(math.log(low) + u * (math.log(high) - math.log(low))))
    return transform


def translate(x: torch.Tensor, dx: int) -> torch.Tensor:
    """Move the content ``dx`` pixels right (left if negative), filling with zeros."""
    out = torch.zeros_like(x)
    if dx >= 0:
        out[..., dx:] = x[..., : x.shape[-1] - dx]
    else:
        out[..., :dx] = x[..., -dx:]
    return out


# --------------------------------------------------------------------------- experiments
def digits_models(split: Split, epochs: int = 30, seed: int = 0) -> dict[str, nn.Module]:
    """The digits models of the chapter, keyed by label: the fully connected network, the CNN,
    and the same CNN trained with random aspect-ratio distortion."""
    return {
        "model_mlp": train(mlp(), split, epochs, seed=seed),
        "model_cnn": train(cnn(), split, epochs, seed=seed),
        "model_cnn_aspect": train(cnn(), split, epochs, seed=seed, transform=random_aspect()),
    }


def aspect_accuracy(models: dict[str, nn.Module], split: Split, ratios: Sequence[float]) -> pd.DataFrame:
    """Test accuracy of each model on test images distorted by each aspect ``ratio``."""
    return pd.DataFrame([{"key": key, "ratio": ratio, "accuracy": accuracy(model, aspect(split.x_test, ratio),
                                                                           split.y_test)}
                         for key, model in models.items() for ratio in ratios])


def aspect_table(accuracies: pd.DataFrame) -> pd.DataFrame:
    """``aspect_accuracy`` with one row per model and one column ``r<100 r>`` per ratio."""
    table = accuracies.pivot_table(index="key", columns="ratio", values="accuracy", sort=False)
    table.columns = [f"r{round(100 * ratio)}" for ratio in table.columns]
    return table.reset_index()


def shift_accuracy(models: dict[str, nn.Module], split: Split, shifts: Sequence[int]) -> pd.DataFrame:
    """Test accuracy of each model on test digits moved ``dx`` pixels sideways, with its parameters."""
    return pd.DataFrame([{"key": key, "shift": dx, "params": parameters(model),
                          "accuracy": accuracy(model, translate(split.x_test, dx), split.y_test)}
                         for key, model in models.items() for dx in shifts])


def shift_table(shifted: pd.DataFrame) -> pd.DataFrame:
    """``shift_accuracy`` per model: parameters and accuracy at each shift size (both directions
    averaged). Columns ``key, params, acc_<|dx|>``."""
    table = shifted.assign(size=shifted["shift"].abs()).pivot_table(index=["key", "params"], columns="size",
                                                                   values="accuracy", sort=False)
    table.columns = [f"acc_{size}" for size in table.columns]
    return table.reset_index()


def consistent_distortion(ratio: float, split: Split, epochs: int = 30, seed: int = 0) -> float:
    """Test accuracy when train and test images are *both* distorted by ``ratio``."""
    squeezed = Split(aspect(split.x_train, ratio), split.y_train, aspect(split.x_test, ratio), split.y_test)
    return accuracy(train(cnn(), squeezed, epochs, seed=seed), squeezed.x_test, squeezed.y_test)


def width_experiment(widths: Sequence[int], split: Split, epochs: int = 20, seed: int = 0) -> pd.DataFrame:
    """Parameters, train and test accuracy of the digits CNN as the number of filters grows
    (key ``w<width>``)."""
    rows = []
    for width in widths:
        model = train(cnn(width), split, epochs, seed=seed)
        rows.append({"key": f"w{width}", "width": width, "params": parameters(model),
                     "train_accuracy": accuracy(model, split.x_train, split.y_train),
                     "test_accuracy": accuracy(model, split.x_test, split.y_test)})
    return pd.DataFrame(rows)


def position_experiment(split: Split, epochs: int = 20, seed: int = 0) -> pd.DataFrame:
    """Test accuracy and parameters on the blob position task of a shared-weight convolution
    (circular and zero padding) and a locally connected layer, each followed by global pooling;
    ``majority`` is the accuracy of always answering the more frequent class."""
    majority = float(torch.bincount(split.y_test).max()) / len(split.y_test)
    rows = []
    for kind in ("conv_circular", "conv_zeros", "local"):
        model = train(position_model(kind), split, epochs, seed=seed)
        rows.append({"key": kind, "params": parameters(model),
                     "train_accuracy": accuracy(model, split.x_train, split.y_train),
                     "test_accuracy": accuracy(model, split.x_test, split.y_test), "majority": majority})
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- figures
LEGEND = {"model_mlp": "fully connected", "model_cnn": "CNN",
          "model_cnn_aspect": "CNN trained with random aspect ratios"}


def plot_aspect(accuracies: pd.DataFrame, split: Split, shown: Sequence[float] = (0.5, 0.7, 1.0, 1.4, 2.0),
                sample: int = 0):
    """Top: one test digit at several aspect ratios. Bottom: test accuracy against the ratio."""
    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=(7, 4.9), dpi=150)
    grid = fig.add_gridspec(2, len(shown), height_ratios=[1, 2.6])
    for column, ratio in enumerate(shown):
        ax = fig.add_subplot(grid[0, column])
        ax.imshow(aspect(split.x_test[sample: sample + 1], ratio)[0, 0].numpy(), cmap="gray_r", vmin=0, vmax=1)
        ax.set_title(f"$r = {ratio:g}$", fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    chart = fig.add_subplot(grid[1, :])
    for key, part in accuracies.groupby("key", sort=False):
        chart.plot(part["ratio"], part["accuracy"], marker="o", label=LEGEND[key])
    chart.set_xscale("log", base=2)
    chart.set_xticks(sorted(set(accuracies["ratio"])))
    chart.set_xticklabels([f"{r:g}" for r in sorted(set(accuracies["ratio"]))], fontsize=7)
    chart.set_xlabel("aspect ratio $r$ (width scale / height scale)")
    chart.set_ylabel("test accuracy")
    chart.set_ylim(0, 1.02)
    chart.grid(True, alpha=0.3)
    chart.legend(fontsize=8, loc="lower center")
    fig.tight_layout()
    return fig
