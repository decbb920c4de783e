"""Plain and residual DepthNets differ only by the shortcut; gradient norms at initialisation."""

from __future__ import annotations

import torch

from cnnbook import depth


def test_plain_and_residual_start_with_equal_weights_and_differ_only_by_the_shortcut():
    plain, residual = depth.make(3, False), depth.make(3, True)
    for (name, a), (_, b) in zip(plain.state_dict().items(), residual.state_dict().items()):
        assert torch.equal(a, b), name
    x = torch.rand(4, 1, 28, 28)
    assert not torch.allclose(plain(x), residual(x))
    residual.blocks[0].residual = False
    residual.blocks[1].residual = False
    residual.blocks[2].residual = False
    assert torch.allclose(plain(x), residual(x))


def test_gradient_norms_one_per_convolution():
    x, y = torch.rand(8, 1, 28, 28), torch.arange(8)
    norms = depth.gradient_norms(depth.make(4, True), x, y)
    assert len(norms) == depth.conv_layers(4) - 1 and (norms > 0).all()
