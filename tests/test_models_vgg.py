"""VGG16 against torchvision and the paper; the light VGG of S2.Q5(3) against its description."""

from __future__ import annotations

import torch
import torchvision

from cnnbook import arithmetic, complexity, models


def test_vgg16_equals_torchvision_and_the_paper():
    ours = complexity.cost(models.vgg16, (3, 224, 224))
    theirs = complexity.cost(lambda: torchvision.models.vgg16(weights=None), (3, 224, 224))
    assert ours.params == theirs.params and ours.macs == theirs.macs
    assert round(ours.params / 1e6) == models.VGG16_PAPER_PARAMS / 1e6


def test_light_vgg_matches_its_description_layer_by_layer():
    net = models.light_vgg()
    report = arithmetic.analyze(net, (3, 128, 128))
    assert report.layer("flatten").out_shape == (2048,)
    assert [report.layer(n).out_shape[0] for n in ("fc1", "fc2", "logits")] == [1024, 1024, 8]
    convs = [r for r in report.layers if r.kind == "Conv2d"]
    assert [r.out_shape[0] for r in convs] == [16, 16, 32, 32, 64, 64, 128, 128, 128, 128]
    assert report.total_params == complexity.cost(net, (3, 128, 128)).params == sum(p.numel() for p in net.parameters())
    assert net(torch.rand(2, 3, 128, 128)).shape == (2, 8)


def test_the_arithmetic_module_reads_vgg_directly():
    frame = complexity.layer_check(models.light_vgg, (3, 128, 128))
    assert frame.agree.all() and len(frame) == 13
    report = arithmetic.analyze(models.vgg16(num_classes=8), (3, 224, 224))
    assert report.total_macs == complexity.cost(lambda: models.vgg16(num_classes=8), (3, 224, 224)).macs
