"""Small CNNs the book trains or explains, built from one block type (the pretrained ImageNet
network that works offline, EfficientNet-Lite0, is in ``cnnbook.models.efficientnet``).

``ConvNet`` stacks blocks of a 3×3 'same' convolution, ReLU and 2×2 max pooling, and ends either in
the dense head of the coursework (flatten, dense, ReLU, dense) or in global average pooling and
one linear layer (the head for which CAM is defined). Every model returns logits; the softmax
lives in the loss (``torch.nn.functional.cross_entropy``), as is usual in PyTorch. S0.Q7's three
networks (``S0_Q7_DESIGNS``) are ``ConvNet``s; ``UpConvInverter`` is an up-convolutional network that
rebuilds images from a frozen network's features.
"""

from __future__ import annotations

import copy
from collections import OrderedDict
from typing import Sequence

import torch
from torch import nn

S4_Q7_WIDTHS = (32, 64, 128)  # S4.Q7's filter counts are lost in the source; an assumption, doubling per block
S4_Q7_HIDDEN = 128  # the sheet's dense layer


class ConvNet(nn.Module):
    """Conv blocks (3×3 'same' conv, optional batch norm, ReLU, 2×2 max pool), then a ``dense`` or ``gap`` head.

    ``head="dense"``: flatten, ``hidden`` units with ReLU, ``n_classes`` logits.
    ``head="gap"``: the last block does not pool; global average pooling and one linear layer,
    so each logit is a weighted average of the last feature maps (the network CAM explains).
    """

    def __init__(self, in_channels: int, image_size: int, n_classes: int, widths: Sequence[int] = S4_Q7_WIDTHS,
                 head: str = "dense", hidden: int = S4_Q7_HIDDEN, batch_norm: bool = False):
        super().__init__()
        if head not in ("dense", "gap"):
            raise ValueError(f"head must be 'dense' or 'gap', not {head!r}")
        pools = len(widths) - (head == "gap")
        blocks, channels = OrderedDict(), in_channels
        for index, width in enumerate(widths, start=1):
            layers = [nn.Conv2d(channels, width, 3, padding=1, bias=not batch_norm),
                      *([nn.BatchNorm2d(width)] if batch_norm else []), nn.ReLU()]
            if head == "dense" or index < len(widths):
                layers.append(nn.MaxPool2d(2))
            blocks[f"block{index}"] = nn.Sequential(*layers)
            channels = width
        self.features = nn.Sequential(blocks)
        side = image_size
        for _ in range(pools):
            side //= 2  # max pooling floors odd sizes (28 -> 14 -> 7 -> 3), as Keras' 'valid' pooling does
        if head == "dense":
            self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(channels * side * side, hidden), nn.ReLU(),
                                            nn.Linear(hidden, n_classes))
        else:
            self.classifier = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(channels, n_classes))
        self.head = head

    @property
    def last_conv(self) -> nn.Module:
        """The ReLU after the last convolution: its output is the feature maps ``A^k`` Grad-CAM uses."""
        return self.features[-1][2 if isinstance(self.features[-1][1], nn.BatchNorm2d) else 1]

    @property
    def linear(self) -> nn.Linear:
        """The final linear layer (its rows are CAM's class weights for the ``gap`` head)."""
        return self.classifier[-1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


def s4_q7_cnn(in_channels: int = 1, image_size: int = 28, n_classes: int = 10) -> ConvNet:
    """S4.Q7's network: three blocks (3×3 same conv + ReLU, 2×2 max pool), flatten, dense 128, dense 10."""
    return ConvNet(in_channels, image_size, n_classes, S4_Q7_WIDTHS, "dense", S4_Q7_HIDDEN)


# S0.Q7's three networks: the same block type, three capacities. A is small and shallow (its deepest units
# see 8×8 pixels), B has a dense head with a weight for every position of its last maps and no batch norm,
# C is deeper with batch norm and ends in global average pooling (few parameters, position-invariant head).
S0_Q7_DESIGNS = {
    "A": {"widths": (8, 16), "head": "gap"},
    "B": {"widths": (16, 32), "head": "dense", "hidden": 512},
    "C": {"widths": (16, 32, 64), "head": "gap", "batch_norm": True},
}


def s0_q7_model(name: str, in_channels: int = 3, image_size: int = 32, n_classes: int = 100) -> ConvNet:
    """Model ``A`` (built to underfit), ``B`` (to overfit) or ``C`` (balanced) of S0.Q7 (``S0_Q7_DESIGNS``)."""
    try:
        design = S0_Q7_DESIGNS[name]
    except KeyError:
        raise ValueError(f"S0.Q7 has models {', '.join(S0_Q7_DESIGNS)}, not {name!r}") from None
    return ConvNet(in_channels, image_size, n_classes, **design)


class UpConvInverter(nn.Module):
    """An up-convolutional network that reconstructs an image from a frozen network's features
    (Dosovitskiy & Brox): whatever it can rebuild, the features kept.

    ``features`` (copied, frozen, always in eval mode) maps ``image_shape`` inputs to ``C×h×w``; the
    decoder is a 3×3 convolution, then one 4×4 transposed convolution with stride 2 (and ReLU) per
    doubling of the size up to the image's, then a 3×3 convolution to the image's channels and a
    sigmoid. ``forward`` returns the reconstruction flattened (``N×(C·H·W)``), the target
    ``training.fit`` is given; ``reconstruct`` returns it as images.
    """

    def __init__(self, features: nn.Module, image_shape: tuple[int, int, int], width: int = 16):
        super().__init__()
        self.features = copy.deepcopy(features).eval()
        for parameter in self.features.parameters():
            parameter.requires_grad_(False)
        with torch.no_grad():
            channels, side, _ = self.features(torch.zeros(1, *image_shape)).shape[1:]
        layers: list[nn.Module] = [nn.Conv2d(channels, width, 3, padding=1), nn.ReLU()]
        while side < image_shape[-1]:
            layers += [nn.ConvTranspose2d(width, width, 4, stride=2, padding=1), nn.ReLU()]
            side *= 2
        if side != image_shape[-1]:
            raise ValueError(f"features of size {side} do not double up to the image size {image_shape[-1]}")
        self.decoder = nn.Sequential(*layers, nn.Conv2d(width, image_shape[0], 3, padding=1), nn.Sigmoid())
        self.image_shape = tuple(image_shape)

    def train(self, mode: bool = True) -> "UpConvInverter":
        super().train(mode)
        self.features.eval()  # frozen: batch norm keeps the statistics of the network it came from
        return self

    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """Images rebuilt from the features of ``x``: ``N×C×H×W`` in [0, 1]."""
        return self.decoder(self.features(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.reconstruct(x).flatten(1)


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
