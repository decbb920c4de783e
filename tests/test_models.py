"""The models: S4.Q7's network against the same network written in plain PyTorch, the CAM network's
shape, and the offline ImageNet network against its published size and a real photo."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from cnnbook import data, models


def numel(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def test_s4_q7_network_matches_the_sheet_written_in_plain_pytorch():
    plain = nn.Sequential(
        nn.Conv2d(1, 32, 3, padding="same"), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding="same"), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(64, 128, 3, padding="same"), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.LazyLinear(128), nn.ReLU(), nn.Linear(128, 10),
    )
    plain(torch.zeros(1, 1, 28, 28))
    model = models.s4_q7_cnn()
    assert models.count_parameters(model) == numel(plain)
    assert plain[10].in_features == 128 * 3 * 3  # 28 -> 14 -> 7 -> 3: the last pooling floors
    model.load_state_dict(dict(zip(model.state_dict(), plain.state_dict().values())))
    x = torch.rand(2, 1, 28, 28)
    assert torch.allclose(model(x), plain(x), atol=1e-6)
    assert model.last_conv is model.features.block3[1]


def test_gap_head_keeps_the_last_map_and_pools_it():
    model = models.ConvNet(3, 32, 10, widths=(8, 16, 32), head="gap", batch_norm=True)
    features = model.features(torch.rand(2, 3, 32, 32))
    assert features.shape == (2, 32, 8, 8)  # two pooling stages, none after the last convolution
    assert isinstance(model.last_conv, nn.ReLU) and isinstance(model.features[-1][1], nn.BatchNorm2d)
    assert model.linear.in_features == 32 and model(torch.rand(2, 3, 32, 32)).shape == (2, 10)
    with pytest.raises(ValueError, match="head must be"):
        models.ConvNet(1, 28, 10, head="attention")


def test_efficientnet_lite0_has_its_published_size_and_recognises_a_cat():
    model = models.efficientnet_lite0()
    assert round(models.count_parameters(model) / 1e6, 1) == models.EFFICIENTNET_LITE0_PAPER_PARAMS / 1e6
    assert len(model.classes) == 1000 and model.classes[285] == "Egyptian cat"
    image = torch.from_numpy(data.photo("chelsea")[None] / 255.0).float()
    with torch.no_grad():
        top = model(image).topk(3).indices[0].tolist()
    assert {model.classes[i] for i in top} <= {"Egyptian cat", "tabby", "tiger cat", "lynx"}
    assert not model.training
