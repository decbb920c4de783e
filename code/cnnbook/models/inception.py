"""The Inception module and GoogLeNet (Szegedy et al. 2015), and a small Inception network for
32×32 images.

An Inception module runs four branches in parallel on the same input and concatenates their
outputs along the channels: a 1×1 convolution; a 1×1 *reduction* then a 3×3 convolution; a 1×1
reduction then a 5×5 convolution; a 3×3 max pooling (stride 1) then a 1×1 *projection*. The
1×1 reductions are what make the module affordable: without them (the paper's "naive" module)
the 3×3 and 5×5 filters see every input channel. GoogLeNet's Table 1 lists, per module, the
widths ``#1×1, #3×3 reduce, #3×3, #5×5 reduce, #5×5, pool proj``; that table is the data below.

Two variants of GoogLeNet matter when counting: the paper's (no batch normalisation, biases,
5×5 branch) and torchvision's ``googlenet`` (batch norm after every convolution, no biases, and
a 3×3 kernel in the branch the paper gives 5×5 — a known deviation of that implementation).
``googlenet(batch_norm=True, branch5_kernel=3)`` builds the latter, so the tests can check
this module against torchvision exactly and then state what the paper's 5×5 kernels add.
"""

from __future__ import annotations

from typing import NamedTuple, Sequence

import torch
from torch import nn

# GoogLeNet, Table 1: name -> (#1×1, #3×3 reduce, #3×3, #5×5 reduce, #5×5, pool proj); "M" is a
# 3×3 stride-2 max pooling between stages (the last one, before 5a, is 2×2 in torchvision and
# 3×3 in the paper; neither has parameters).
GOOGLENET_MODULES: tuple[tuple[str, tuple[int, int, int, int, int, int]] | str, ...] = (
    ("3a", (64, 96, 128, 16, 32, 32)), ("3b", (128, 128, 192, 32, 96, 64)), "M",
    ("4a", (192, 96, 208, 16, 48, 64)), ("4b", (160, 112, 224, 24, 64, 64)), ("4c", (128, 128, 256, 24, 64, 64)),
    ("4d", (112, 144, 288, 32, 64, 64)), ("4e", (256, 160, 320, 32, 128, 128)), "M",
    ("5a", (256, 160, 320, 32, 128, 128)), ("5b", (384, 192, 384, 48, 128, 128)),
)
GOOGLENET_AUX_AFTER = ("4a", "4d")  # the two auxiliary classifiers
GOOGLENET_INPUT = 224

# A small Inception network for 32×32 inputs (this book's design, GoogLeNet's pattern at about
# 1/8 of its widths): a 3×3 stem and pooling (as GoogLeNet's stem reduces before its first
# module), two modules at 16×16, pooling, two modules at 8×8, global pooling.
SMALL_INCEPTION_STEM = 32
SMALL_INCEPTION_MODULES: tuple[tuple[str, tuple[int, int, int, int, int, int]] | str, ...] = (
    "M", ("a", (16, 16, 24, 4, 8, 8)), ("b", (24, 24, 32, 6, 12, 12)), "M",
    ("c", (32, 24, 48, 6, 16, 16)), ("d", (48, 32, 64, 8, 16, 16)),
)


def _conv(in_channels: int, out_channels: int, kernel: int, stride: int = 1, batch_norm: bool = False,
          padding: int | None = None) -> nn.Sequential:
    """Convolution + ReLU (the paper), or convolution without bias + BN + ReLU (``batch_norm``)."""
    padding = (kernel - 1) // 2 if padding is None else padding
    conv = nn.Conv2d(in_channels, out_channels, kernel, stride, padding, bias=not batch_norm)
    return nn.Sequential(conv, *([nn.BatchNorm2d(out_channels, eps=0.001)] if batch_norm else []), nn.ReLU(inplace=True))


class InceptionModule(nn.Module):
    """Four parallel branches concatenated along channels (Figure 2(b) of the paper).

    ``widths = (#1×1, #3×3 reduce, #3×3, #5×5 reduce, #5×5, pool proj)``. With ``reduce=False`` it is
    the naive module of Figure 2(a): the 3×3 and 5×5 convolutions act on the input directly and the
    pooling branch is passed through unprojected (its ``#`` entries for reductions are ignored).
    """

    def __init__(self, in_channels: int, widths: Sequence[int], reduce: bool = True, batch_norm: bool = False,
                 branch5_kernel: int = 5):
        super().__init__()
        n1, r3, n3, r5, n5, proj = widths
        self.branch1 = _conv(in_channels, n1, 1, batch_norm=batch_norm)
        if reduce:
            self.branch3 = nn.Sequential(_conv(in_channels, r3, 1, batch_norm=batch_norm),  # 1×1 reduce
                                         _conv(r3, n3, 3, batch_norm=batch_norm))
            self.branch5 = nn.Sequential(_conv(in_channels, r5, 1, batch_norm=batch_norm),  # 1×1 reduce
                                         _conv(r5, n5, branch5_kernel, batch_norm=batch_norm))
            self.pool = nn.Sequential(nn.MaxPool2d(3, stride=1, padding=1),
                                      _conv(in_channels, proj, 1, batch_norm=batch_norm))  # pool proj
        else:
            self.branch3 = _conv(in_channels, n3, 3, batch_norm=batch_norm)
            self.branch5 = _conv(in_channels, n5, branch5_kernel, batch_norm=batch_norm)
            self.pool = nn.MaxPool2d(3, stride=1, padding=1)
        self.out_channels = n1 + n3 + n5 + (proj if reduce else in_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.branch1(x), self.branch3(x), self.branch5(x), self.pool(x)], dim=1)


class AuxiliaryClassifier(nn.Sequential):
    """GoogLeNet's side head: 5×5 average pooling with stride 3 (14×14 → 4×4), 1×1 conv to 128, FC 1024, FC."""

    def __init__(self, in_channels: int, num_classes: int, batch_norm: bool = False):
        super().__init__(nn.AdaptiveAvgPool2d(4), _conv(in_channels, 128, 1, batch_norm=batch_norm), nn.Flatten(),
                         nn.Linear(128 * 4 * 4, 1024), nn.ReLU(inplace=True), nn.Dropout(0.7),
                         nn.Linear(1024, num_classes))


class GoogLeNetOutputs(NamedTuple):
    logits: torch.Tensor
    aux1: torch.Tensor
    aux2: torch.Tensor


class InceptionNet(nn.Module):
    """A stem, then Inception modules and poolings as listed (``"M"``), global average pooling,
    dropout and a linear classifier; optional auxiliary classifiers after named modules (used in
    training mode only, where ``forward`` returns ``GoogLeNetOutputs``)."""

    def __init__(self, stem: nn.Module, stem_channels: int, modules: Sequence, num_classes: int,
                 batch_norm: bool = False, branch5_kernel: int = 5, aux_after: Sequence[str] = (),
                 dropout: float = 0.4, pool_kernels: Sequence[int] | None = None):
        super().__init__()
        self.stem = stem
        layers, channels, aux = {}, stem_channels, {}
        pools = iter(pool_kernels or [])
        for index, entry in enumerate(modules):
            if entry == "M":
                kernel = next(pools, 3)
                layers[f"pool{index}"] = nn.MaxPool2d(kernel, stride=2, padding=(kernel - 1) // 2)
                continue
            name, widths = entry
            module = InceptionModule(channels, widths, batch_norm=batch_norm, branch5_kernel=branch5_kernel)
            layers[f"inception{name}"] = module
            channels = module.out_channels
            if name in aux_after:
                aux[name] = AuxiliaryClassifier(channels, num_classes, batch_norm)
        self.inception = nn.ModuleDict(layers)
        self.aux = nn.ModuleDict(aux)
        self.classifier = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(dropout),
                                        nn.Linear(channels, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor | GoogLeNetOutputs:
        x = self.stem(x)
        side = []
        for name, layer in self.inception.items():
            x = layer(x)
            if self.training and name.removeprefix("inception") in self.aux:
                side.append(self.aux[name.removeprefix("inception")](x))
        logits = self.classifier(x)
        return GoogLeNetOutputs(logits, *side) if side else logits


def googlenet(num_classes: int = 1000, aux_logits: bool = False, batch_norm: bool = False,
              branch5_kernel: int = 5) -> InceptionNet:
    """GoogLeNet (Table 1): 7×7/2 conv, 3×3/2 max pool, 1×1 and 3×3 convs, 3×3/2 max pool, nine
    Inception modules with two more poolings, global average pooling, dropout 0.4, linear.

    The stem's local response normalisation is left out (it has no parameters and later work
    dropped it). ``batch_norm=True, branch5_kernel=3`` gives torchvision's variant.
    """
    stem = nn.Sequential(
        _conv(3, 64, 7, stride=2, batch_norm=batch_norm, padding=3),
        nn.MaxPool2d(3, stride=2, padding=1),
        _conv(64, 64, 1, batch_norm=batch_norm),
        _conv(64, 192, 3, batch_norm=batch_norm),
        nn.MaxPool2d(3, stride=2, padding=1),
    )
    return InceptionNet(stem, 192, GOOGLENET_MODULES, num_classes, batch_norm, branch5_kernel,
                        GOOGLENET_AUX_AFTER if aux_logits else (), dropout=0.4, pool_kernels=(3, 3))


def small_inception(num_classes: int = 10, in_channels: int = 3) -> InceptionNet:
    """The small Inception network for 32×32 inputs (``SMALL_INCEPTION_MODULES``), with batch norm."""
    stem = _conv(in_channels, SMALL_INCEPTION_STEM, 3, batch_norm=True)
    return InceptionNet(stem, SMALL_INCEPTION_STEM, SMALL_INCEPTION_MODULES, num_classes, batch_norm=True,
                        branch5_kernel=5, dropout=0.0)
