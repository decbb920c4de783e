"""S3.Q4's CNN in two styles, what the second allows, and the small Xception."""

from __future__ import annotations

import torch

from cnnbook.models import medical


def test_the_two_styles_give_identical_outputs_with_the_same_weights():
    torch.manual_seed(0)
    sequential = medical.sequential_cnn()
    module = medical.copy_weights(sequential, medical.ModuleCNN())
    x = torch.rand(4, *medical.S3_Q4_INPUT)
    for train_mode in (False, True):  # batch statistics (training) and running statistics (eval)
        sequential.train(train_mode), module.train(train_mode)
        assert torch.equal(sequential(x), module(x))
    assert sum(p.numel() for p in sequential.parameters()) == sum(p.numel() for p in module.parameters())


def test_copy_weights_refuses_a_different_network():
    import pytest

    with pytest.raises(ValueError):
        medical.copy_weights(medical.sequential_cnn(), medical.ModuleCNN(widths=(8, 16, 32, 64)))


def test_fresh_models_differ_so_the_identity_test_can_fail():
    torch.manual_seed(0)
    a = medical.sequential_cnn().eval()
    b = medical.ModuleCNN().eval()
    x = torch.rand(2, *medical.S3_Q4_INPUT)
    assert not torch.equal(a(x), b(x))


def test_residual_and_two_input_variants_run_and_differ_from_the_chain():
    torch.manual_seed(0)
    plain = medical.ModuleCNN().eval()
    residual = medical.copy_weights(plain, medical.ResidualCNN()).eval()
    x = torch.rand(2, *medical.S3_Q4_INPUT)
    assert residual(x).shape == (2, 2) and not torch.allclose(plain(x), residual(x))
    two = medical.TwoInputCNN().eval()
    assert two(x, (x > 0.5).float()).shape == (2, 2)


def test_any_input_size_works_thanks_to_global_pooling():
    net = medical.ModuleCNN().eval()
    assert net(torch.rand(1, 1, 64, 64)).shape == (1, 2)


def test_small_xception_keeps_the_three_flows():
    net = medical.small_xception().eval()
    assert net(torch.rand(2, 1, 64, 64)).shape == (2, 2)
    assert len(net.middle_flow) == 2
    assert sum(p.numel() for p in net.parameters()) < 1_000_000
