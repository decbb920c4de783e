"""Counting parameters and MACs of real modules, and the per-layer check against cnnbook.arithmetic."""

from __future__ import annotations

import torch
from torch import nn

from cnnbook import complexity


def test_cost_counts_branches_and_matches_hand_arithmetic():
    class TwoBranches(nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b = nn.Conv2d(4, 8, 3, padding=1), nn.Conv2d(4, 2, 1, bias=False)

        def forward(self, x):
            return torch.cat([self.a(x), self.b(x)], 1)

    c = complexity.cost(TwoBranches, (4, 10, 10))
    assert c.params == 8 * 4 * 9 + 8 + 2 * 4
    assert c.macs == 100 * (8 * 36 + 2 * 4) and c.output_shape == (10, 10, 10)


def test_cost_of_a_built_module_leaves_its_mode_alone():
    net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.Flatten(), nn.Linear(4 * 6 * 6, 5)).train()
    c = complexity.cost(net, (3, 8, 8))
    assert net.training and c.macs == 36 * 4 * 27 + 144 * 5


def test_layer_check_finds_a_disagreement():
    class Strided(nn.Conv2d):
        def forward(self, x):  # what the module computes differs from what its attributes say
            return super().forward(x)[:, :, ::2]

    frame = complexity.layer_check(nn.Sequential(Strided(3, 4, 3)), (3, 8, 8))
    assert not frame.agree.any()
    table = complexity.table({"conv": (nn.Sequential(nn.Conv2d(3, 4, 3)), (3, 8, 8))})
    assert table.loc[0, "macs"] == 36 * 4 * 27
