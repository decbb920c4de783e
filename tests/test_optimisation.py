"""Saddle trajectories (escape steps against the linearised estimate), the sweep's picks, traces."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch

from cnnbook import optimisation as op


@pytest.mark.parametrize("y0", [1e-2, 1e-5])
def test_gradient_descent_escape_matches_linearised_estimate(y0):
    escape = op.trajectory("sgd", (1.0, y0), 0.05).escape
    assert escape is not None
    assert abs(escape - op.gd_escape_estimate(y0, 0.05)) < 0.1 * op.gd_escape_estimate(y0, 0.05) + 3


def test_adam_escape_hardly_depends_on_the_distance():
    near, far = op.trajectory("adam", (1.0, 1e-2), 0.05).escape, op.trajectory("adam", (1.0, 1e-8), 0.05).escape
    assert near is not None and far is not None and abs(far - near) <= 3


def test_nothing_deterministic_leaves_the_exact_saddle_but_noise_does():
    for name in ("sgd", "momentum", "adam"):
        assert op.trajectory(name, (1.0, 0.0), 0.05, steps=400).escape is None
    assert op.trajectory("sgd_noise", (1.0, 0.0), 0.05, steps=1500).escape is not None


def test_first_adam_step_is_lr_in_every_coordinate():
    steps = op.first_steps((1.0, 1e-3), 0.01).set_index("key")
    assert math.isclose(steps.loc["adam", "step_y"], 0.01, rel_tol=1e-4)  # Adam's ε = 1e-8 against |g| = 1e-3
    assert math.isclose(steps.loc["sgd", "step_y"], 0.01 * steps.loc["sgd", "grad_y"], rel_tol=1e-6)


def test_pick_rates_and_classify():
    sweep = pd.DataFrame({"lr": [1e-3, 1e-2, 1e-1, 1.0, 10.0], "final_loss": [2.0, 0.5, 0.3, 2.3, np.nan],
                          "outcome": ["slow", "trains", "trains", "dead", "diverged"]})
    assert op.pick_rates(sweep) == {"too_small": 1e-3, "good": 1e-1, "too_large": 1.0}
    assert op.classify(pd.DataFrame({"train_loss": [2.0, 1.0]})) == "trains"
    assert op.classify(pd.DataFrame({"train_loss": [2.0, 1.97, 1.95]})) == "slow"
    assert op.classify(pd.DataFrame({"train_loss": [2.0, 2.1, 1.95]})) == "unstable"
    assert op.classify(pd.DataFrame({"train_loss": [2.0, 2.3]}), dead=1.0) == "dead"
    assert op.classify(pd.DataFrame({"train_loss": [2.0, np.nan]})) == "diverged"


def test_dead_share_counts_silent_relus():
    net = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU())
    with torch.no_grad():
        net[0].weight.zero_()
        net[0].bias.copy_(torch.tensor([-1.0, -1.0, 1.0, 1.0]))
    assert op.dead_share(net, torch.rand(5, 3)) == 0.5
    assert op.log_rates(-2, 0) == pytest.approx([0.01, 10**-1.5, 0.1, 10**-0.5, 1.0])


def test_trace_counts_updates_and_is_cached(tmp_path, monkeypatch):
    monkeypatch.setenv("CNNBOOK_CACHE", str(tmp_path))
    g = torch.Generator().manual_seed(0)
    data = torch.utils.data.TensorDataset(torch.rand(40, 6, generator=g), torch.arange(40) % 3)
    make = lambda: torch.nn.Linear(6, 3)  # noqa: E731
    mini = op.trace(make, data, batch_size=8, lr=0.1, epochs=3)
    assert len(mini.step_loss) == 15 and len(mini.epoch_loss) == 4 and mini.updates_per_epoch == 5
    again = op.trace(make, data, batch_size=8, lr=0.1, epochs=3)
    assert np.array_equal(again.step_loss, mini.step_loss)
    full = op.trace(make, data, batch_size=40, lr=0.1, epochs=3)
    assert len(full.step_loss) == 3 and np.isclose(full.step_loss[0], full.epoch_loss[0])
