"""Xception against the paper (22,855,952 parameters) and timm's implementation of it."""

from __future__ import annotations

import timm
import torch

from cnnbook import complexity, models


def test_xception_has_the_papers_parameter_count_and_timms():
    ours = complexity.cost(models.xception, (3, 299, 299))
    theirs = complexity.cost(lambda: timm.create_model("legacy_xception", pretrained=False), (3, 299, 299))
    assert ours.params == models.XCEPTION_PAPER_PARAMS == theirs.params
    assert ours.macs == theirs.macs and ours.output_shape == (1000,)


def test_flows_have_the_papers_shapes():
    with torch.device("meta"):
        net = models.xception().eval()
        x = net.entry_flow(torch.zeros(1, 3, 299, 299))
        assert tuple(x.shape[1:]) == (728, 19, 19)  # Figure 5: "19×19×728 feature maps"
        x = net.middle_flow(x)
        assert tuple(x.shape[1:]) == (728, 19, 19) and len(net.middle_flow) == 8
        assert tuple(net.exit_flow(x).shape[1:]) == (2048, 10, 10)


def test_separable_convolutions_have_no_activation_inside_and_layers_agree():
    sep = models.SeparableConv2d(64, 128)
    assert [type(m).__name__ for m in sep] == ["Conv2d", "Conv2d"] and sep[0].groups == 64
    frame = complexity.layer_check(models.xception, (3, 299, 299))
    assert frame.agree.all()
    assert (frame.input.str.startswith("728×19×19")).sum() >= 8 * 3 * 2  # middle flow: dw and pw per sepconv
