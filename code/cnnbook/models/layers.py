"""Building blocks shared by the architecture families: a convolution followed by batch norm and
an optional activation (the unit every modern network in this package repeats), and the
depthwise separable convolution (a depthwise ``k×k`` convolution, one filter per channel,
then a pointwise ``1×1`` convolution that mixes channels).
"""

from __future__ import annotations

from torch import nn


def conv_bn(in_channels: int, out_channels: int, kernel: int = 3, stride: int = 1, groups: int = 1,
            activation: type[nn.Module] | None = nn.ReLU, padding: int | None = None) -> nn.Sequential:
    """``Conv2d`` (no bias: batch norm's shift replaces it), ``BatchNorm2d``, then ``activation``
    (``None``: linear). Padding defaults to ``(k - 1) / 2``, which keeps the size at stride 1."""
    padding = (kernel - 1) // 2 if padding is None else padding
    layers: list[nn.Module] = [nn.Conv2d(in_channels, out_channels, kernel, stride, padding, groups=groups, bias=False),
                               nn.BatchNorm2d(out_channels)]
    if activation is not None:
        layers.append(activation(inplace=True) if activation in (nn.ReLU, nn.ReLU6) else activation())
    return nn.Sequential(*layers)


class SeparableConv2d(nn.Sequential):
    """Depthwise ``k×k`` convolution (``groups = in_channels``) then pointwise ``1×1`` convolution,
    with no non-linearity in between (as Xception and the Keras layer define it)."""

    def __init__(self, in_channels: int, out_channels: int, kernel: int = 3, stride: int = 1, bias: bool = False):
        super().__init__(
            nn.Conv2d(in_channels, in_channels, kernel, stride, (kernel - 1) // 2, groups=in_channels, bias=bias),  # dw
            nn.Conv2d(in_channels, out_channels, 1, bias=bias),  # pw
        )
