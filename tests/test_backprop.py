"""Chapter 4: gradients through convolution and pooling in SymPy, the NumPy formulas against
autograd and SciPy, and the exercises S1.T2, S2.Q3 (part 2), S3.Q2 and S1.P1."""

from __future__ import annotations

import ast
import inspect

import numpy as np
import pytest
import sympy as sp
from scipy.signal import convolve2d, correlate2d

from cnnbook import backprop, by_hand
from cnnbook.derivations import Derivation
from cnnbook.derivations import backprop as bp


@pytest.mark.parametrize("args", [dict(), dict(height=5, width=4, kernel=(2, 3)),
                                  dict(height=5, width=5, kernel=(3, 3), stride=2, padding=1),
                                  dict(height=6, width=7, kernel=(2, 2), stride=3)], ids=str)
def test_conv_gradient_identities_hold(args):
    assert bp.conv_gradients(**args).verified


def test_a_wrong_input_gradient_is_caught():
    """Correlating G with the kernel *un*rotated is not the input gradient."""
    right = bp.conv_gradients()
    lhs, _ = right.identities["input_is_full_convolution"]
    g = bp.symbol_matrix("G", 2, 2)
    w = bp.symbol_matrix("W", 2, 2)
    wrong = sp.Matrix(by_hand.correlate2d(np.pad(g, 1), w))
    assert Derivation(identities={"unrotated": (lhs, wrong)}).verify() == {"unrotated": False}


def test_pooling_gradient_identities_hold():
    assert bp.pooling_gradients().verified


@pytest.mark.parametrize("length, hidden", [(5, 2), (4, 2)])
def test_one_d_network_gradients_hold(length, hidden):
    assert bp.one_d_network(length, hidden).verified


def test_the_source_answers_claims_fail():
    claims = bp.s2_q3_source_claims()
    assert claims.verify() == {name: False for name in claims.identities}


def test_numpy_formulas_agree_with_autograd():
    table = backprop.autograd_agreement(cases=30, seed=1)
    assert table.agree.all() and (table.max_error < backprop.TOLERANCE).all()


def test_numpy_convolutions_agree_with_scipy():
    rng = np.random.default_rng(2)
    x, k = rng.normal(size=(7, 6)), rng.normal(size=(3, 2))
    assert np.allclose(by_hand.correlate2d(x, k), correlate2d(x, k, mode="valid"), atol=1e-12)
    assert np.allclose(by_hand.full_convolve2d(x, k), convolve2d(x, k, mode="full"), atol=1e-12)
    assert np.allclose(by_hand.correlate2d(x, k, padding=1), correlate2d(np.pad(x, 1), k, mode="valid"))


def test_dilate_and_rot180():
    g = np.array([[1, 2], [3, 4]])
    assert np.array_equal(by_hand.dilate(g, 2), [[1, 0, 2], [0, 0, 0], [3, 0, 4]])
    assert np.array_equal(by_hand.rot180(g), [[4, 3], [2, 1]])


def test_max_pool_gradient_goes_to_the_first_maximum_like_torch():
    x = np.array([[1.0, 1.0], [0.0, 1.0]])
    g = np.array([[2.0]])
    assert np.array_equal(by_hand.max_pool_grad(x, g), backprop.torch_pool_grad(x, g, "max"))


def test_correlate2d_refuses_a_kernel_that_does_not_fit():
    with pytest.raises(ValueError, match="does not fit"):
        by_hand.correlate2d(np.zeros((2, 2)), np.zeros((3, 3)))


def test_s1_t2_gradients():
    result = backprop.s1_t2()
    assert backprop.s1_t2_autograd_error() < 1e-12
    assert result["dW"].shape == (3, 3) and result["dX"].shape == (4, 4)
    # every input pixel's gradient sums G_ij W_{a-i, b-j}; the corner ones see one weight each
    assert result["dX"][0, 0] == backprop.S1_T2_UPSTREAM[0, 0] * backprop.S1_T2_FILTER[0, 0]
    assert result["dX"][3, 3] == backprop.S1_T2_UPSTREAM[1, 1] * backprop.S1_T2_FILTER[2, 2]
    assert backprop.exact(result["dW"]) == sp.Matrix(result["dW"].astype(int))


def test_s1_t2_as_a_true_convolution():
    flipped = backprop.s1_t2_true_convolution()
    correlation = backprop.s1_t2()
    assert backprop.s1_t2_true_convolution_autograd_error() < 1e-12
    # a true convolution with W is a correlation with rot180(W): scipy's convolve2d is the oracle
    assert np.array_equal(flipped["Y_conv"], convolve2d(backprop.S1_T2_INPUT, backprop.S1_T2_FILTER, mode="valid"))
    assert np.array_equal(flipped["dW_conv"], by_hand.rot180(correlation["dW"]))
    assert not np.array_equal(flipped["dW_conv"], correlation["dW"])  # the reading matters
    # the page's remark: this G is unchanged by the rotation, so dL/dX is rotated as well
    assert np.array_equal(by_hand.rot180(backprop.S1_T2_UPSTREAM), backprop.S1_T2_UPSTREAM)
    assert np.array_equal(flipped["dX_conv"], by_hand.rot180(correlation["dX"]))


def test_s2_q3_closed_forms_match_autograd_at_full_size():
    result = backprop.s2_q3_check()
    assert result["error_dW1"] < 1e-12 and result["error_dWA"] < 1e-12
    assert 0 < result["z"] < 1 and 0 < result["active_hidden"] < 20


def test_s3_q2_rebuild_reproduces_every_legible_source_number():
    check = backprop.s3_q2_source_check()
    assert check == {"windows_matched": 4, "windows": 4, "filter_matched": 4,
                     "input_matched": len(backprop.S3_Q2_SOURCE_INPUT_GRAD),
                     "input_legible": len(backprop.S3_Q2_SOURCE_INPUT_GRAD),
                     "input_fixing": 4, "input_independent": 5, "input_independent_matched": 5}
    result = backprop.s3_q2()
    assert np.isclose(result["f"][0, 0], result["O"].mean())
    assert np.isclose(result["dX"].sum(), backprop.S3_Q2_FILTER.sum())  # each weight's quarter, four times


def test_s3_q2_filter_is_fixed_by_the_single_window_pixels_only():
    assert np.array_equal(backprop.windows_covering((3, 3), (2, 2)), [[1, 2, 1], [2, 4, 2], [1, 2, 1]])
    read = backprop.filter_from_input_gradient(backprop.S3_Q2_SOURCE_INPUT_GRAD, (3, 3), (2, 2), 0.25)
    assert np.array_equal(read, backprop.S3_Q2_FILTER)
    # an input gradient that no single filter explains fails the independent checks
    wrong = {**backprop.S3_Q2_SOURCE_INPUT_GRAD, (2, 2): 1.0}
    check = backprop.s3_q2_source_check(wrong)
    assert check["input_fixing"] == 4 and check["input_independent_matched"] == 4


def test_s1_p1_pipeline_against_torch_and_its_readings():
    stages = by_hand.residual_pipeline()
    assert list(stages) == ["input", "conv", "relu", "residual", "block", "pool", "gap"]
    assert stages["pool"].shape == (2, 2) and stages["gap"].shape == (1, 1)
    assert backprop.s1_p1_torch_error(stages) < 1e-12
    assert stages["gap"][0, 0] == stages["pool"].mean()
    ceil = by_hand.residual_pipeline(pool_ceil=True)
    assert ceil["pool"].shape == (3, 3) and ceil["pool"][2, 2] == stages["block"][4, 4]


def test_by_hand_imports_only_numpy_and_matplotlib():
    tree = ast.parse(inspect.getsource(by_hand))
    imported = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import)
                for alias in node.names}
    imported |= {node.module.split(".")[0] for node in ast.walk(tree)
                 if isinstance(node, ast.ImportFrom) and node.module}
    assert imported <= {"numpy", "matplotlib", "typing", "__future__"}


def test_heatmaps_draw_every_matrix_with_its_values():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    stages = by_hand.residual_pipeline()
    fig = by_hand.heatmaps(stages)
    images = [ax for ax in fig.axes if ax.images]
    assert len(images) == len(stages)
    assert sum(len(ax.texts) for ax in images) == sum(m.size for m in stages.values())
    plt.close(fig)


def test_heatmaps_do_not_depend_on_the_global_figure_style():
    """The book's style turns on constrained layout globally (``plots.use_style``); the heatmaps,
    with their colour bars, choose their own layout engine and draw whatever ran before them."""
    import io

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from cnnbook import plots

    with matplotlib.rc_context():
        plots.use_style()
        fig = by_hand.heatmaps(by_hand.residual_pipeline())
        fig.savefig(io.BytesIO(), format="png")
        plt.close(fig)


@pytest.mark.parametrize("derivation", [bp.conv_gradients(), bp.conv_gradients(5, 5, (3, 3), stride=2, padding=1),
                                        bp.pooling_gradients(), bp.one_d_network(), bp.s2_q3_source_claims()],
                         ids=["conv", "conv_strided", "pooling", "network", "source_claims"])
def test_every_identity_shown_by_its_statement_has_exactly_one(derivation):
    assert set(derivation.statements) == set(derivation.identities)
