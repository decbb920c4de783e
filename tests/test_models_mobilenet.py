"""MobileNet V1 and V2 against the papers and torchvision: parameters, mult-adds, shapes, per-layer arithmetic."""

from __future__ import annotations

import pytest
import torch
import torchvision

from cnnbook import complexity, models


def meta(build):
    with torch.device("meta"):
        return build()


def test_v2_equals_torchvision_at_every_width():
    for alpha in (0.25, 0.5, 0.75, 1.0, 1.4):
        ours = complexity.cost(lambda: models.mobilenet_v2(alpha=alpha), (3, 224, 224))
        theirs = complexity.cost(lambda: torchvision.models.mobilenet_v2(width_mult=alpha), (3, 224, 224))
        assert (ours.params, ours.macs) == (theirs.params, theirs.macs), alpha


def test_v2_has_the_papers_size_and_cost():
    c = complexity.cost(models.mobilenet_v2, (3, 224, 224))
    assert round(c.params / 1e6, 1) == pytest.approx(models.MOBILENET_V2_PAPER["params"], abs=0.11)  # 3.5 vs "3.4"
    assert round(c.macs / 1e6) == models.MOBILENET_V2_PAPER["mult_adds"] + 1  # 300.8 M: the paper rounds to 300
    assert c.output_shape == (1000,)


def test_v1_reproduces_the_papers_width_and_resolution_tables():
    for alpha, (mult_adds, params) in models.MOBILENET_V1_PAPER_WIDTH.items():
        c = complexity.cost(lambda: models.mobilenet_v1(alpha=alpha), (3, 224, 224))
        assert round(c.macs / 1e6) == pytest.approx(mult_adds, abs=1), alpha
        assert round(c.params / 1e6, 1) == pytest.approx(params, abs=0.05), alpha
    for side, (mult_adds, params) in models.MOBILENET_V1_PAPER_RESOLUTION.items():
        c = complexity.cost(models.mobilenet_v1, (3, side, side))
        assert round(c.macs / 1e6) == pytest.approx(mult_adds, abs=1) and round(c.params / 1e6, 1) == params


def test_per_layer_arithmetic_agrees_with_the_real_modules():
    for build in (models.mobilenet_v1, models.mobilenet_v2):
        frame = complexity.layer_check(build, (3, 224, 224))
        assert frame.agree.all() and (frame.type == "Conv2d").sum() > 25


def test_blocks_follow_the_papers():
    v2 = models.mobilenet_v2()
    blocks = [b for b in v2.features if isinstance(b, models.InvertedResidual)]
    assert len(blocks) == sum(n for _, _, n, _ in models.MOBILENET_V2_SETTINGS) == 17
    assert sum(b.residual for b in blocks) == 10  # shortcuts where stride 1 and widths agree
    last = blocks[-1].conv[-1]
    assert len(last) == 2  # projection: conv and BN, no activation (linear bottleneck)
    assert all(isinstance(b.conv[-2][2], torch.nn.ReLU6) for b in blocks)
    v1 = models.mobilenet_v1()
    dw = v1.features[1][0][0]
    assert dw.groups == dw.in_channels == dw.out_channels == 32 and dw.kernel_size == (3, 3)


def test_small_input_networks_keep_a_spatial_map():
    x = torch.rand(2, 3, 32, 32)
    for build in (models.mobilenet_v1, models.mobilenet_v2):
        net = build(num_classes=10, alpha=0.25, stem_stride=1).eval()
        assert net(x).shape == (2, 10)
        assert net.features(x).shape[-1] == 2  # 32 / 16, not 1/32 of it
    assert models.resolution(6 / 7) == 192 and models.resolution(4 / 7) == 128
    assert models.make_divisible(32 * 0.35) == 16 and models.make_divisible(1280 * 1.4) == 1792


def test_the_non_linear_bottleneck_control_differs_only_by_the_projection_activation():
    linear, control = models.mobilenet_v2(10, 0.25, stem_stride=1), models.mobilenet_v2(10, 0.25, stem_stride=1,
                                                                                          linear_bottleneck=False)
    assert [n for n, _ in linear.named_parameters()] == [n for n, _ in control.named_parameters()]
    projections = [b.conv[-1] for b in control.features if isinstance(b, models.InvertedResidual)]
    assert all(isinstance(p[-1], torch.nn.ReLU6) for p in projections)
    assert all(len(b.conv[-1]) == 2 for b in linear.features if isinstance(b, models.InvertedResidual))
