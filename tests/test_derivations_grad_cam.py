"""S1.T4 derivations: every SymPy identity holds, a wrong one is caught, and PyTorch agrees."""

from __future__ import annotations

import pytest
import sympy as sp

from cnnbook.derivations import grad_cam as gc


@pytest.fixture(scope="module")
def derivation():
    return gc.grad_cam()


def test_every_identity_holds(derivation):
    assert derivation.identities and derivation.verify() == {name: True for name in derivation.identities}


def test_a_wrong_identity_is_caught(derivation):
    lhs, _ = derivation.identities["alpha_1"]
    derivation.identities["broken"] = (lhs, gc.w[1] / 2)  # forgot the width
    try:
        assert derivation.verify()["broken"] is False
    finally:
        del derivation.identities["broken"]


def test_relu_is_max_with_zero():
    x = sp.Symbol("x", real=True)
    for value in (-2, 0, 3):
        assert gc.ReLU(x).doit().subs(x, value) == max(value, 0)
    assert sp.latex(gc.ReLU(x)) == r"\operatorname{ReLU}\left(x\right)"


def test_matrix_identities_are_checked_entry_by_entry():
    from cnnbook.derivations import Derivation

    a = sp.Symbol("a")
    good = Derivation(identities={"m": (sp.Matrix([[a + a, 1]]), sp.Matrix([[2 * a, 1]]))})
    bad = Derivation(identities={"m": (sp.Matrix([[a, 1]]), sp.Matrix([[2 * a, 1]]))})
    assert good.verified and not bad.verified


def test_relu_example_removal_changes_the_score_by_minus_the_raw_value():
    for cls in (0, 1):
        frame, totals = gc.relu_example(cls)
        assert totals["max_removal_error"] < 1e-6
        assert totals["score"] - totals["bias"] == pytest.approx(totals["positive"] - totals["negative"], abs=1e-6)
        assert (frame.positive > 0).any() and (frame.negative > 0).any()  # the example has both signs
        assert ((frame.delta_score < 0) == (frame.raw > 0)).all()


def test_autograd_grad_cam_equals_cam_over_hw():
    for seed in range(3):
        assert max(gc.cam_oracle(seed).values()) < 1e-5
