"""VGG (Simonyan & Zisserman 2015) and the light VGG of question S2.Q5(3).

A VGG network is a stack of 3×3 'same' convolutions with ReLU, in blocks that end in a 2×2 max
pooling, then flatten and fully connected layers. The configuration is data: a list of widths
with ``"M"`` for the poolings (configuration D of the paper's Table 1 is VGG16). The network is
one ``nn.Sequential`` (features, flatten, classifier) for a fixed input size, so that
``cnnbook.arithmetic`` can analyse it layer by layer.

The light VGG keeps the design and shrinks it for 128×128 images of 8 classes: five blocks of two
3×3 convolutions with 16, 32, 64, 128 and 128 filters, each followed by max pooling
(128 → 4 pixels), flatten to 128·4·4 = 2048, two dense layers of 1024 and a dense layer of 8.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Sequence

from torch import nn

VGG16_CONFIG: tuple[int | str, ...] = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M",
                                       512, 512, 512, "M", 512, 512, 512, "M")  # Table 1, configuration D
VGG16_HIDDEN = (4096, 4096)
VGG16_INPUT = 224
VGG16_PAPER_PARAMS = 138e6  # Table 2: 138 million for configuration D
LIGHT_VGG_CONFIG: tuple[int | str, ...] = (16, 16, "M", 32, 32, "M", 64, 64, "M", 128, 128, "M", 128, 128, "M")
LIGHT_VGG_HIDDEN = (1024, 1024)
LIGHT_VGG_INPUT = 128
LIGHT_VGG_CLASSES = 8


def vgg(config: Sequence[int | str], hidden: Sequence[int], num_classes: int, image_size: int,
        in_channels: int = 3, dropout: float = 0.5, batch_norm: bool = False) -> nn.Sequential:
    """A VGG network for ``image_size``×``image_size`` inputs: named blocks ``conv<b>_<i>`` /
    ``relu<b>_<i>`` / ``pool<b>``, ``flatten``, then ``fc<j>`` (ReLU, dropout) and ``logits``."""
    layers: OrderedDict[str, nn.Module] = OrderedDict()
    channels, side, block, index = in_channels, image_size, 1, 1
    for entry in config:
        if entry == "M":
            layers[f"pool{block}"] = nn.MaxPool2d(2)
            side //= 2
            block, index = block + 1, 1
            continue
        layers[f"conv{block}_{index}"] = nn.Conv2d(channels, int(entry), 3, padding=1, bias=not batch_norm)
        if batch_norm:
            layers[f"bn{block}_{index}"] = nn.BatchNorm2d(int(entry))
        layers[f"relu{block}_{index}"] = nn.ReLU(inplace=True)
        channels, index = int(entry), index + 1
    layers["flatten"] = nn.Flatten()
    features = channels * side * side
    for j, width in enumerate(hidden, start=1):
        layers[f"fc{j}"] = nn.Linear(features, width)
        layers[f"fc{j}_relu"] = nn.ReLU(inplace=True)
        if dropout:
            layers[f"fc{j}_dropout"] = nn.Dropout(dropout)
        features = width
    layers["logits"] = nn.Linear(features, num_classes)
    return nn.Sequential(layers)


def vgg16(num_classes: int = 1000, image_size: int = VGG16_INPUT) -> nn.Sequential:
    """VGG16 (configuration D) for ``image_size`` inputs (224 in the paper)."""
    return vgg(VGG16_CONFIG, VGG16_HIDDEN, num_classes, image_size)


def light_vgg(num_classes: int = LIGHT_VGG_CLASSES, image_size: int = LIGHT_VGG_INPUT) -> nn.Sequential:
    """The light VGG of S2.Q5(3): 128×128 input, 2048 flattened features, 1024-1024-8 head."""
    return vgg(LIGHT_VGG_CONFIG, LIGHT_VGG_HIDDEN, num_classes, image_size)
