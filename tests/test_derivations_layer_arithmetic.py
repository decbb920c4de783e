"""Chapter 1 derivations: every SymPy identity holds, and the formulas agree with PyTorch."""

from __future__ import annotations

import pytest
import sympy as sp
import torch

from cnnbook.derivations import layer_arithmetic as la


@pytest.mark.parametrize("derivation", [la.output_size, la.same_padding, la.layer_cost, la.receptive_field])
def test_every_identity_holds(derivation):
    result = derivation()
    assert result.identities, "a derivation must end with a machine check"
    assert result.verify() == {name: True for name in result.identities}


def test_a_wrong_identity_is_caught():
    wrong = la.output_size()
    wrong.identities["broken"] = (sp.Subs(la.output_size_expr(), la.s, 1), la.n + 2 * la.p - la.d * la.k)
    assert wrong.verify()["broken"] is False
    assert not wrong.verified


def test_output_size_formula_matches_conv1d_on_a_grid():
    cases, mismatches = la.output_size_oracle()
    assert cases > 1000
    assert mismatches == 0


def test_same_padding_is_half_the_dilated_extent():
    solution = la.same_padding().steps["solution"].rhs
    assert sp.simplify(solution - la.d * (la.k - 1) / 2) == 0
    conv = torch.nn.Conv2d(1, 1, 5, dilation=3, padding=int(solution.subs({la.d: 3, la.k: 5})))
    assert conv(torch.zeros(1, 1, 17, 17)).shape[-2:] == (17, 17)


def test_cost_formula_matches_torch_flop_counter():
    from torch.utils.flop_counter import FlopCounterMode

    steps = la.layer_cost().steps
    conv = torch.nn.Conv2d(6, 8, (3, 5), groups=2)
    with FlopCounterMode(display=False) as counter:
        out = conv(torch.zeros(1, 6, 10, 12))
    symbols = {s.name: s for s in steps["macs"].rhs.free_symbols}
    macs = steps["macs"].rhs.subs({symbols["C_{in}"]: 6, symbols["C_{out}"]: 8, symbols["g"]: 2, symbols["k_h"]: 3,
                                   symbols["k_w"]: 5, symbols["H_o"]: out.shape[2], symbols["W_o"]: out.shape[3]})
    assert 2 * macs == counter.get_total_flops()


def test_receptive_field_closed_form_for_larger_depths():
    assert la.receptive_field(depth=6).verified
