"""Initialisation: the schemes' scales, the measured propagation against the derivation, and symmetry."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from cnnbook import initialisation as ini, training


def test_scheme_std_matches_torch_initialisers():
    conv = nn.Conv2d(16, 32, 3)
    nn.init.kaiming_normal_(conv.weight, nonlinearity="relu")
    assert math.isclose(ini.scheme_std(conv, "he"), math.sqrt(2 / (16 * 9)))
    assert math.isclose(conv.weight.std().item(), ini.scheme_std(conv, "he"), rel_tol=0.05)
    nn.init.xavier_normal_(conv.weight)
    assert math.isclose(conv.weight.std().item(), ini.scheme_std(conv, "xavier"), rel_tol=0.05)
    with pytest.raises(ValueError):
        ini.scheme_std(conv, "lecun")


@pytest.fixture(scope="module")
def table():
    g = torch.Generator().manual_seed(0)
    images, labels = torch.rand(8, 1, 16, 16, generator=g), torch.arange(8) % 4
    return ini.propagation_table(images, labels, depth=20, width=16)


def test_he_keeps_the_scale_and_xavier_halves_the_variance(table):
    summary = ini.propagation_summary(table).set_index("key")
    assert 0.85 < summary.loc["he", "gain_measured"] < 1.15
    assert math.isclose(summary.loc["xavier", "gain_measured"], math.sqrt(0.5), rel_tol=0.1)
    assert summary.loc["small", "forward_last"] < 1e-15
    assert summary.loc["zero", "forward_last"] == 0 and summary.loc["zero", "backward_first"] == 0


def test_zero_and_constant_filters_stay_identical_after_training(tmp_path):
    g = torch.Generator().manual_seed(0)
    data = torch.utils.data.TensorDataset(torch.rand(64, 1, 28, 28, generator=g), torch.arange(64) % 10)
    spreads = {}
    for scheme in ini.SYMMETRY_SCHEMES:
        run = training.fit(ini.symmetry_net(scheme), data, epochs=2, batch_size=16, cache=False,
                           runs_dir=tmp_path, name=f"test-sym-{scheme}")
        spreads[scheme] = (ini.filter_spread(run.model.conv2), ini.filter_scale(run.model.conv2))
    assert spreads["zero"] == (0.0, 0.0)
    assert spreads["constant"][0] < 1e-6 < spreads["constant"][1]
    assert spreads["he"][0] > 1e-2
