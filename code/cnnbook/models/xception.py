"""Xception (Chollet 2017): "extreme Inception" — every Inception module replaced by depthwise
separable convolutions, on the hypothesis that cross-channel and spatial correlations can be
mapped *entirely* separately, with residual connections around almost every module.

Figure 5 of the paper as data: the **entry flow** (two plain 3×3 convolutions, then three
modules that each halve the size with a 3×3 max pooling and add a strided 1×1 convolution as the
shortcut), the **middle flow** (eight identical residual modules of three ReLU–SeparableConv
layers with 728 channels) and the **exit flow** (one more downsampling module, two separable
convolutions to 1536 and 2048 channels, global average pooling, logistic regression). Every
convolution is followed by batch normalisation; there is no non-linearity between a separable
convolution's depthwise and pointwise steps. Input: 299×299.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from cnnbook.models.layers import SeparableConv2d

# Entry flow (after the 32- and 64-channel stem) and the first exit-flow module: for each
# downsampling module, its two separable convolutions' widths and whether it starts with ReLU.
XCEPTION_ENTRY: tuple[tuple[tuple[int, int], bool], ...] = (((128, 128), False), ((256, 256), True),
                                                            ((728, 728), True))
XCEPTION_MIDDLE_REPEATS = 8
XCEPTION_MIDDLE_WIDTH = 728
XCEPTION_EXIT: tuple[tuple[int, int], tuple[int, int]] = ((728, 1024), (1536, 2048))  # module, then two sepconvs
XCEPTION_PAPER_PARAMS = 22_855_952  # Table 3 of the paper (also its text: 22.8 million)
XCEPTION_INPUT = 299


class XceptionModule(nn.Module):
    """``[ReLU] SepConv BN`` repeated per width, optionally a 3×3 stride-2 max pool; the shortcut is
    the identity, or a strided 1×1 convolution with BN where the module downsamples."""

    def __init__(self, in_channels: int, widths: Sequence[int], downsample: bool, relu_first: bool = True):
        super().__init__()
        layers: list[nn.Module] = []
        channels = in_channels
        for i, width in enumerate(widths):
            if i > 0 or relu_first:
                layers.append(nn.ReLU(inplace=False))
            layers += [SeparableConv2d(channels, width), nn.BatchNorm2d(width)]
            channels = width
        if downsample:
            layers.append(nn.MaxPool2d(3, stride=2, padding=1))
            self.shortcut: nn.Module = nn.Sequential(nn.Conv2d(in_channels, channels, 1, stride=2, bias=False),
                                                     nn.BatchNorm2d(channels))
        else:
            self.shortcut = nn.Identity()
        self.body = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x) + self.shortcut(x)


class Xception(nn.Module):
    """Entry flow, middle flow (``middle_repeats`` modules), exit flow, global pooling, linear layer."""

    def __init__(self, num_classes: int = 1000, in_channels: int = 3, middle_repeats: int = XCEPTION_MIDDLE_REPEATS):
        super().__init__()
        entry: list[nn.Module] = [
            nn.Conv2d(in_channels, 32, 3, stride=2, bias=False), nn.BatchNorm2d(32), nn.ReLU(),
            nn.Conv2d(32, 64, 3, bias=False), nn.BatchNorm2d(64), nn.ReLU(),
        ]
        channels = 64
        for widths, relu_first in XCEPTION_ENTRY:
            entry.append(XceptionModule(channels, widths, downsample=True, relu_first=relu_first))
            channels = widths[-1]
        self.entry_flow = nn.Sequential(*entry)
        self.middle_flow = nn.Sequential(*(XceptionModule(channels, (XCEPTION_MIDDLE_WIDTH,) * 3, downsample=False)
                                           for _ in range(middle_repeats)))
        module_widths, final_widths = XCEPTION_EXIT
        exit_layers: list[nn.Module] = [XceptionModule(channels, module_widths, downsample=True)]
        channels = module_widths[-1]
        for width in final_widths:
            exit_layers += [SeparableConv2d(channels, width), nn.BatchNorm2d(width), nn.ReLU()]
            channels = width
        self.exit_flow = nn.Sequential(*exit_layers)
        self.classifier = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(channels, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.exit_flow(self.middle_flow(self.entry_flow(x))))


def xception(num_classes: int = 1000, in_channels: int = 3) -> Xception:
    """Xception as in Figure 5 of the paper (299×299 inputs)."""
    return Xception(num_classes, in_channels)
