"""Batch normalisation in NumPy against torch.nn.BatchNorm1d/2d, ε, batch of one, the norm layers."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from cnnbook import normalisation as nm


@pytest.mark.parametrize("shape", [(16, 5), (2, 3), (4, 3, 6, 6), (1, 2, 5, 5)])
def test_numpy_batch_norm_matches_torch_with_running_statistics(shape):
    table = nm.compare_with_torch(shape, steps=4, seed=1)
    assert list(table["mode"]) == ["train"] * 4 + ["eval"]
    assert (table[["output", "running_mean", "running_var"]] < 1e-12).all().all()


def test_a_wrong_running_variance_would_be_caught():
    x = np.random.default_rng(0).normal(size=(8, 3))
    ones, zeros = np.ones(3), np.zeros(3)
    _, _, var = nm.batch_norm_forward(x, ones, zeros, zeros, ones, True)
    assert not np.allclose(var, 0.9 + 0.1 * x.var(axis=0))  # torch uses the unbiased variance
    assert np.allclose(var, 0.9 + 0.1 * x.var(axis=0, ddof=1))


def test_epsilon_prevents_nan_and_bounds_the_gradient():
    table = nm.epsilon_table()
    zero = table[(table.spread == 0) & (table.eps == 0)].iloc[0]
    assert np.isnan(zero.output)
    with_eps = table[(table.spread == 0) & (table.eps > 0)].iloc[0]
    assert with_eps.output == 0 and np.isfinite(with_eps.gradient)
    tiny = table[(table.spread == 1e-6)].set_index("eps")
    assert tiny.loc[0.0, "output"] > 1 and tiny.loc[nm.EPS, "output"] < 1e-2


def test_scale_sweep_follows_the_prediction():
    rng = np.random.default_rng(0)
    table = nm.scale_sweep(rng.normal(size=(64, 10)), rng.normal(size=(10, 4)))
    assert np.allclose(table.output_std, table.predicted_std, rtol=1e-6, atol=1e-9)
    assert table.output_std.iloc[0] > 0.99 and table.output_std.iloc[-1] == 0


def test_batch_of_one():
    result = nm.batch_of_one()
    assert result["dense_output_minus_beta"] == 0 and result["dense_gradient"] == 0
    assert result["conv_gradient"] > 0
    assert "Expected more than 1 value per channel" in result["torch_message"]


@pytest.mark.parametrize("norm", nm.NORMS)
def test_norm_net_shapes(norm):
    assert nm.NormNet(norm)(torch.zeros(2, 1, 28, 28)).shape == (2, 10)
    with pytest.raises(ValueError):
        nm.norm_layer("instance", 4)


def test_channel_spread_after_batch_norm_is_one():
    torch.manual_seed(0)
    spread = nm.channel_spread(nm.NormNet("batch"), torch.rand(32, 1, 28, 28)).set_index("key")
    assert 0.98 < spread.loc["after", "std_min"] <= spread.loc["after", "std_max"] < 1.02


def test_single_image_accuracy_leaves_running_statistics_alone():
    torch.manual_seed(0)
    model = nm.NormNet("batch").eval()
    before = model.features[1].running_mean.clone()
    data = torch.utils.data.TensorDataset(torch.rand(6, 1, 28, 28), torch.arange(6))
    accuracy = nm.single_image_accuracy(model, data)
    assert 0.0 <= accuracy <= 1.0
    assert torch.equal(model.features[1].running_mean, before) and not model.training
