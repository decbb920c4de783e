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


def test_s0_q7_designs_have_the_sizes_the_chapter_relies_on():
    a, b, c = (models.s0_q7_model(name, 3, 32, 100) for name in "ABC")
    assert models.count_parameters(a) < models.count_parameters(c) < models.count_parameters(b)
    assert models.count_parameters(b.classifier) > 0.99 * models.count_parameters(b)  # B's weight is in its head
    assert a.head == "gap" and b.head == "dense" and c.head == "gap"
    assert isinstance(c.features.block3[1], nn.BatchNorm2d)
    assert [m(torch.rand(2, 3, 32, 32)).shape for m in (a, b, c)] == [(2, 100)] * 3
    with pytest.raises(ValueError, match="S0.Q7 has models A, B, C"):
        models.s0_q7_model("D")


def test_up_conv_inverter_rebuilds_images_from_frozen_features():
    torch.manual_seed(0)
    network = models.s0_q7_model("C", 3, 32, 10)
    network.train()
    network(torch.rand(8, 3, 32, 32))  # running statistics that must not change
    network.eval()
    inverter = models.UpConvInverter(network.features, (3, 32, 32), width=8)
    before = {k: v.clone() for k, v in inverter.features.state_dict().items()}
    inverter.train()
    assert not inverter.features.training and inverter.decoder.training
    assert all(not p.requires_grad for p in inverter.features.parameters())
    x = torch.rand(4, 3, 32, 32)
    out = inverter(x)
    assert out.shape == (4, 3 * 32 * 32) and 0 <= float(out.detach().min()) and float(out.detach().max()) <= 1
    assert torch.equal(inverter.reconstruct(x).flatten(1), out)
    out.sum().backward()
    assert all(torch.equal(before[k], v) for k, v in inverter.features.state_dict().items())
    upsamplers = [m for m in inverter.decoder if isinstance(m, nn.ConvTranspose2d)]
    assert len(upsamplers) == 2  # 8×8 features, doubled twice to 32×32
    assert network.features.block1[0].weight.data_ptr() != inverter.features.block1[0].weight.data_ptr()  # a copy
    with pytest.raises(ValueError, match="do not double up"):
        models.UpConvInverter(network.features, (3, 34, 34))  # 34 -> 17 -> 8, and 8 -> 16 -> 32
