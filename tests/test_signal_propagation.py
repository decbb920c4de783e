"""S1.T1 derivations: the variance identities and the residual gradient hold, wrong ones are caught,
and measurements on real layers agree with them."""

from __future__ import annotations

import math

import sympy as sp
import torch
from torch import nn

from cnnbook.derivations import signal_propagation as sgp


def test_every_initialisation_identity_holds():
    derivation = sgp.initialisation()
    assert derivation.verify() == {name: True for name in derivation.identities}


def test_a_wrong_variance_is_caught():
    derivation = sgp.initialisation()
    lhs, _ = derivation.identities["variance_n3"]
    derivation.identities["broken"] = (lhs, 3 * sgp.var_w * sgp.var_x)  # forgot the inputs' mean
    assert derivation.verify()["broken"] is False
    derivation.identities["broken_relu"] = (sgp.relu_second_moment(), sgp.sigma**2)
    assert derivation.verify()["broken_relu"] is False


def test_residual_gradient_identities_hold_and_a_wrong_one_is_caught():
    derivation = sgp.residual_gradient()
    assert derivation.verified
    lhs, rhs = derivation.identities["residual_chain"]
    derivation.identities["broken"] = (lhs, rhs - 1)
    assert derivation.verify()["broken"] is False


def test_variance_formula_against_a_real_layer():
    torch.manual_seed(0)
    layer = nn.Linear(256, 4096, bias=False)
    nn.init.normal_(layer.weight, std=0.05)
    x = torch.randn(2048, 256) * 1.5 + 0.5  # nonzero mean: E[x²] = 2.5
    measured = layer(x).var().item()
    predicted = 256 * 0.05**2 * (1.5**2 + 0.5**2)
    assert math.isclose(measured, predicted, rel_tol=0.05)


def test_relu_halves_second_moment_numerically():
    y = torch.randn(1_000_000, generator=torch.Generator().manual_seed(1)) * 2.0
    assert math.isclose(torch.relu(y).pow(2).mean().item(), 2.0, rel_tol=0.02)


def test_residual_jacobian_has_identity_term():
    torch.manual_seed(0)
    f = nn.Sequential(nn.Linear(5, 5), nn.Tanh(), nn.Linear(5, 5))
    x = torch.randn(5)
    jac_residual = torch.autograd.functional.jacobian(lambda v: v + f(v), x)
    jac_plain = torch.autograd.functional.jacobian(f, x)
    assert torch.allclose(jac_residual, torch.eye(5) + jac_plain, atol=1e-6)


def test_linear_chain_expansion_has_constant_one():
    expanded = sgp.residual_gradient().steps["linear_expanded"].rhs
    slopes = sorted(expanded.free_symbols, key=str)
    assert expanded.subs({a: 0 for a in slopes}) == 1
    assert sp.Poly(expanded, *slopes).total_degree() == len(slopes)
