"""Small networks for the binary medical task of Chapter 9 (S0.Q5, S3.Q4).

- S3.Q4's small CNN for 128×128 grayscale images, written twice: ``sequential_cnn`` as an
  ``nn.Sequential`` (Keras' sequential style) and ``ModuleCNN``, an ``nn.Module`` with its own
  ``forward`` (the counterpart of Keras' functional style). Same layers in the same order, so
  ``copy_weights`` moves the weights of one into the other and both give the same outputs.
  Four 3×3 convolutions with batch norm and ReLU (8, 16, 32, 32 filters), three 2×2 max
  poolings, global average pooling and a linear layer to two logits (the softmax lives in the
  loss). Global average pooling makes the network accept any input size, so the chapter trains
  it at 64×64 as well.
- What only the second style can write: ``ResidualCNN`` (a skip connection around the last
  block) and ``TwoInputCNN`` (an image and a mask through two stems, joined).
- ``small_xception``: Xception's entry, middle and exit flows (Chollet 2017, Figure 5) with every
  width scaled down and fewer middle modules, for small grayscale images; built from Chapter 8's
  ``XceptionModule``.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from cnnbook.models.layers import SeparableConv2d
from cnnbook.models.xception import (XCEPTION_ENTRY, XCEPTION_EXIT, XCEPTION_MIDDLE_REPEATS, XCEPTION_MIDDLE_WIDTH,
                                     XCEPTION_PAPER_PARAMS, XceptionModule)

S3_Q4_WIDTHS = (8, 16, 32, 32)  # filters of the four 3×3 convolutions
S3_Q4_INPUT = (1, 128, 128)
SMALL_XCEPTION_WIDTH = 0.125  # the small Xception's widths, as a share of the paper's
SMALL_XCEPTION_MIDDLE = 2  # its middle-flow modules (the paper has XCEPTION_MIDDLE_REPEATS = 8)


def sequential_cnn(in_channels: int = 1, widths: Sequence[int] = S3_Q4_WIDTHS, n_classes: int = 2) -> nn.Sequential:
    """S3.Q4's CNN as one ``nn.Sequential``: [conv 3×3, BN, ReLU, max pool 2×2] × 3, conv 3×3, BN,
    ReLU, global average pooling, linear."""
    layers: list[nn.Module] = []
    channels = in_channels
    for i, width in enumerate(widths):
        layers += [nn.Conv2d(channels, width, 3, padding=1, bias=False), nn.BatchNorm2d(width), nn.ReLU()]
        if i < len(widths) - 1:
            layers.append(nn.MaxPool2d(2))
        channels = width
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(channels, n_classes)]
    return nn.Sequential(*layers)


class ModuleCNN(nn.Module):
    """The same network as ``sequential_cnn``, as a module whose ``forward`` is written out."""

    def __init__(self, in_channels: int = 1, widths: Sequence[int] = S3_Q4_WIDTHS, n_classes: int = 2):
        super().__init__()
        w1, w2, w3, w4 = widths
        self.conv1, self.bn1 = nn.Conv2d(in_channels, w1, 3, padding=1, bias=False), nn.BatchNorm2d(w1)
        self.conv2, self.bn2 = nn.Conv2d(w1, w2, 3, padding=1, bias=False), nn.BatchNorm2d(w2)
        self.conv3, self.bn3 = nn.Conv2d(w2, w3, 3, padding=1, bias=False), nn.BatchNorm2d(w3)
        self.conv4, self.bn4 = nn.Conv2d(w3, w4, 3, padding=1, bias=False), nn.BatchNorm2d(w4)
        self.relu4 = nn.ReLU()  # a module of its own, so Grad-CAM can hook the last feature maps
        self.fc = nn.Linear(w4, n_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        pool, relu = nn.functional.max_pool2d, torch.relu
        x = pool(relu(self.bn1(self.conv1(x))), 2)
        x = pool(relu(self.bn2(self.conv2(x))), 2)
        x = pool(relu(self.bn3(self.conv3(x))), 2)
        return self.relu4(self.bn4(self.conv4(x)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.features(x).mean(dim=(2, 3)))

    @property
    def last_conv(self) -> nn.Module:
        return self.relu4


class ResidualCNN(ModuleCNN):
    """``ModuleCNN`` with a skip connection around the last block: ``relu(bn4(conv4(x)) + x)``.
    A ``nn.Sequential`` runs its layers in a chain and has no way to add a block's input to its output."""

    def features(self, x: torch.Tensor) -> torch.Tensor:
        pool, relu = nn.functional.max_pool2d, torch.relu
        x = pool(relu(self.bn1(self.conv1(x))), 2)
        x = pool(relu(self.bn2(self.conv2(x))), 2)
        x = pool(relu(self.bn3(self.conv3(x))), 2)
        return self.relu4(self.bn4(self.conv4(x)) + x)  # the skip connection (widths 3 and 4 are equal)


class TwoInputCNN(nn.Module):
    """Two inputs, an image and a mask, each through its own first convolution, summed and carried
    on by ``ModuleCNN``'s later layers: ``forward(image, mask)``. A ``nn.Sequential`` takes one input."""

    def __init__(self, widths: Sequence[int] = S3_Q4_WIDTHS, n_classes: int = 2):
        super().__init__()
        self.body = ModuleCNN(1, widths, n_classes)
        self.mask_stem = nn.Conv2d(1, widths[0], 3, padding=1, bias=False)

    def forward(self, image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        b = self.body
        pool, relu = nn.functional.max_pool2d, torch.relu
        x = pool(relu(b.bn1(b.conv1(image) + self.mask_stem(mask))), 2)  # the two inputs meet here
        x = pool(relu(b.bn2(b.conv2(x))), 2)
        x = pool(relu(b.bn3(b.conv3(x))), 2)
        return b.fc(b.relu4(b.bn4(b.conv4(x))).mean(dim=(2, 3)))


def copy_weights(source: nn.Module, target: nn.Module) -> nn.Module:
    """Copy ``source``'s parameters and buffers into ``target`` in registration order (the two styles
    name them differently); shapes must agree one by one. Returns ``target``."""
    src, dst = source.state_dict(), target.state_dict()
    if len(src) != len(dst):
        raise ValueError(f"the models have {len(src)} and {len(dst)} tensors; they are not the same network")
    state = {}
    for (name_s, tensor), (name_d, slot) in zip(src.items(), dst.items()):
        if tensor.shape != slot.shape:
            raise ValueError(f"{name_s} {tuple(tensor.shape)} does not fit {name_d} {tuple(slot.shape)}")
        state[name_d] = tensor.clone()
    target.load_state_dict(state)
    return target


class SmallXception(nn.Module):
    """Xception's three flows with widths multiplied by ``width`` and ``middle_repeats`` middle modules."""

    def __init__(self, in_channels: int = 1, n_classes: int = 2, width: float = SMALL_XCEPTION_WIDTH,
                 middle_repeats: int = SMALL_XCEPTION_MIDDLE):
        super().__init__()
        w = lambda c: max(4, int(round(c * width)))  # noqa: E731
        entry: list[nn.Module] = [nn.Conv2d(in_channels, w(32), 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(w(32)),
                                  nn.ReLU(), nn.Conv2d(w(32), w(64), 3, padding=1, bias=False), nn.BatchNorm2d(w(64)),
                                  nn.ReLU()]
        channels = w(64)
        for widths, relu_first in XCEPTION_ENTRY:
            entry.append(XceptionModule(channels, tuple(w(c) for c in widths), downsample=True, relu_first=relu_first))
            channels = w(widths[-1])
        self.entry_flow = nn.Sequential(*entry)
        self.middle_flow = nn.Sequential(*(XceptionModule(channels, (w(XCEPTION_MIDDLE_WIDTH),) * 3, downsample=False)
                                           for _ in range(middle_repeats)))
        module_widths, final_widths = XCEPTION_EXIT
        exit_layers: list[nn.Module] = [XceptionModule(channels, tuple(w(c) for c in module_widths), downsample=True)]
        channels = w(module_widths[-1])
        for width_ in final_widths:
            exit_layers += [SeparableConv2d(channels, w(width_)), nn.BatchNorm2d(w(width_)), nn.ReLU()]
            channels = w(width_)
        self.exit_flow = nn.Sequential(*exit_layers)
        self.classifier = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(channels, n_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.exit_flow(self.middle_flow(self.entry_flow(x))))


def small_xception(in_channels: int = 1, n_classes: int = 2, width: float = SMALL_XCEPTION_WIDTH,
                   middle_repeats: int = SMALL_XCEPTION_MIDDLE) -> SmallXception:
    """Xception for small grayscale images: the paper's flows at ``width`` times its widths."""
    return SmallXception(in_channels, n_classes, width, middle_repeats)


def s3_q4_source_layers():
    """The answer sheet's Keras model of S3.Q4 as layers of ``cnnbook.arithmetic`` ('valid' padding):
    conv 32 3×3, max pool 2, conv 64 3×3, max pool 2, flatten, dense 64, dense 1."""
    from cnnbook import arithmetic as a

    return [a.Conv(32, 3, name="conv1"), a.ReLU(name="relu1"), a.Pool("max", 2, name="pool1"),
            a.Conv(64, 3, name="conv2"), a.ReLU(name="relu2"), a.Pool("max", 2, name="pool2"),
            a.Flatten(name="flatten"), a.Linear(64, name="dense1"), a.ReLU(name="relu3"), a.Linear(1, name="dense2")]


def s3_q4_facts() -> dict[str, float | int]:
    """Parameter counts of the answer sheet's model and of this book's version, and the share of the
    sheet's parameters in its first dense layer."""
    from cnnbook import arithmetic

    report = arithmetic.analyze(s3_q4_source_layers(), S3_Q4_INPUT)
    dense = report.layer("dense1").params
    ours = sum(p.numel() for p in ModuleCNN().parameters())
    return {"source_total": report.total_params, "source_flat": report.layer("flatten").out_shape[0],
            "source_dense": dense, "source_dense_share": 100 * dense / report.total_params, "ours_total": ours,
            "ratio": report.total_params / ours}
