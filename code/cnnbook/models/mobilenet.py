"""MobileNet V1 (Howard et al. 2017) and V2 (Sandler et al. 2018), with the width multiplier α and
the resolution multiplier ρ.

V1 replaces every standard convolution after the first by a *depthwise separable* one: a 3×3
depthwise convolution (one filter per channel: spatial filtering) and a 1×1 pointwise
convolution (channel mixing), each followed by batch norm and ReLU (V1's Table 1). V2 builds on
*inverted residuals with linear bottlenecks*: a block expands a thin (bottleneck) tensor by a
factor ``t`` with a 1×1 convolution, filters it with a 3×3 depthwise convolution, and projects it
back with a **linear** 1×1 convolution (no ReLU: a ReLU in a low-dimensional space destroys
information); a shortcut joins the thin ends when stride is 1 and the shapes agree (V2's Table 2).

α thins every layer (channels × α; V2 rounds to multiples of 8 and keeps its last 1280 channels
for α < 1, as the paper does); ρ is not a parameter of the network but of its input: the same
network applied to a ``ρ·224`` image. Networks for small images (32×32) keep the architecture
and only set ``stem_stride=1``, so that the last feature map is not smaller than one pixel.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from cnnbook.models.layers import conv_bn

# V1, Table 1: after the 3×3 stem (32 channels, stride 2), one (output channels, stride) per
# depthwise separable layer.
MOBILENET_V1_LAYERS: tuple[tuple[int, int], ...] = (
    (64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2),
    (512, 1), (512, 1), (512, 1), (512, 1), (512, 1),
    (1024, 2), (1024, 1),
)

# V2, Table 2: expansion factor t, output channels c, repeats n, stride s of the first repeat.
MOBILENET_V2_SETTINGS: tuple[tuple[int, int, int, int], ...] = (
    (1, 16, 1, 1),
    (6, 24, 2, 2),
    (6, 32, 3, 2),
    (6, 64, 4, 2),
    (6, 96, 3, 1),
    (6, 160, 3, 2),
    (6, 320, 1, 1),
)

# The papers' figures for the 224×224 ImageNet networks (millions): V1's Tables 6-7, V2's Table 4.
MOBILENET_V1_PAPER = {"params": 4.2, "mult_adds": 569}
MOBILENET_V1_PAPER_WIDTH = {1.0: (569, 4.2), 0.75: (325, 2.6), 0.5: (149, 1.3), 0.25: (41, 0.5)}  # α: (M MACs, M params)
MOBILENET_V1_PAPER_RESOLUTION = {224: (569, 4.2), 192: (418, 4.2), 160: (290, 4.2), 128: (186, 4.2)}
MOBILENET_V2_PAPER = {"params": 3.4, "mult_adds": 300}


def make_divisible(value: float, divisor: int = 8) -> int:
    """``value`` rounded to the nearest multiple of ``divisor``, never more than 10 % below it
    (the rounding of V2's reference implementation, which keeps channel counts hardware-friendly)."""
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * value else rounded


class DepthwiseSeparable(nn.Sequential):
    """V1's layer: 3×3 depthwise conv, BN, ReLU; 1×1 pointwise conv, BN, ReLU."""

    def __init__(self, in_channels: int, out_channels: int, stride: int):
        super().__init__(
            conv_bn(in_channels, in_channels, 3, stride, groups=in_channels),  # dw
            conv_bn(in_channels, out_channels, 1),  # pw
        )


class MobileNetV1(nn.Module):
    """MobileNet V1: stem, 13 depthwise separable layers, global average pooling, one linear layer."""

    def __init__(self, num_classes: int = 1000, alpha: float = 1.0, in_channels: int = 3, stem_stride: int = 2,
                 layers: Sequence[tuple[int, int]] = MOBILENET_V1_LAYERS):
        super().__init__()
        width = lambda c: max(1, int(c * alpha))  # noqa: E731 - the paper's thinning, α·M channels
        channels = width(32)
        blocks: list[nn.Module] = [conv_bn(in_channels, channels, 3, stem_stride)]
        for out_channels, stride in layers:
            blocks.append(DepthwiseSeparable(channels, width(out_channels), stride))
            channels = width(out_channels)
        self.features = nn.Sequential(*blocks)
        self.classifier = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(channels, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


class InvertedResidual(nn.Module):
    """V2's bottleneck block: 1×1 expansion (×t, ReLU6), 3×3 depthwise (ReLU6), linear 1×1
    projection; the input is added back when stride is 1 and channels are unchanged."""

    def __init__(self, in_channels: int, out_channels: int, stride: int, expansion: int,
                 linear_bottleneck: bool = True):
        super().__init__()
        hidden = in_channels * expansion
        layers: list[nn.Module] = []
        if expansion != 1:
            layers.append(conv_bn(in_channels, hidden, 1, activation=nn.ReLU6))  # pw (expansion)
        layers += [conv_bn(hidden, hidden, 3, stride, groups=hidden, activation=nn.ReLU6),  # dw
                   conv_bn(hidden, out_channels, 1, activation=None if linear_bottleneck else nn.ReLU6)]  # pw-linear
        self.conv = nn.Sequential(*layers)
        self.residual = stride == 1 and in_channels == out_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv(x) if self.residual else self.conv(x)


class MobileNetV2(nn.Module):
    """MobileNet V2: stem (32), the bottleneck sequence of Table 2, 1×1 conv to 1280, pooling, classifier.

    ``linear_bottleneck=False`` puts a ReLU6 after every projection: the control of the paper's
    ablation (its Figure 6a), identical otherwise."""

    def __init__(self, num_classes: int = 1000, alpha: float = 1.0, in_channels: int = 3, stem_stride: int = 2,
                 settings: Sequence[tuple[int, int, int, int]] = MOBILENET_V2_SETTINGS, dropout: float = 0.2,
                 linear_bottleneck: bool = True):
        super().__init__()
        channels = make_divisible(32 * alpha)
        last = make_divisible(1280 * max(1.0, alpha))  # the paper keeps the last layer wide for α < 1
        blocks: list[nn.Module] = [conv_bn(in_channels, channels, 3, stem_stride, activation=nn.ReLU6)]
        for t, c, n, s in settings:
            out_channels = make_divisible(c * alpha)
            for i in range(n):
                blocks.append(InvertedResidual(channels, out_channels, s if i == 0 else 1, t, linear_bottleneck))
                channels = out_channels
        blocks.append(conv_bn(channels, last, 1, activation=nn.ReLU6))
        self.features = nn.Sequential(*blocks)
        self.classifier = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(dropout),
                                        nn.Linear(last, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


def mobilenet_v1(num_classes: int = 1000, alpha: float = 1.0, in_channels: int = 3, stem_stride: int = 2) -> MobileNetV1:
    """MobileNet V1 with width multiplier ``alpha`` (Table 1; 224×224 inputs, or 32×32 with ``stem_stride=1``)."""
    return MobileNetV1(num_classes, alpha, in_channels, stem_stride)


def mobilenet_v2(num_classes: int = 1000, alpha: float = 1.0, in_channels: int = 3, stem_stride: int = 2,
                 linear_bottleneck: bool = True) -> MobileNetV2:
    """MobileNet V2 with width multiplier ``alpha`` (Table 2; 224×224 inputs, or 32×32 with ``stem_stride=1``)."""
    return MobileNetV2(num_classes, alpha, in_channels, stem_stride, linear_bottleneck=linear_bottleneck)


def resolution(rho: float, base: int = 224) -> int:
    """Input side for resolution multiplier ``rho``: ``round(rho · base)`` (ρ = 1, 6/7, 5/7, 4/7 give 224, 192, 160, 128)."""
    return int(round(rho * base))
