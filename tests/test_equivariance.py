"""Chapter 2: translation equivariance proved (SymPy) and measured (PyTorch), pooling invariance,
the locally connected layer and the downsampling designs."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from cnnbook import data, equivariance as eq
from cnnbook import networks
from cnnbook.arithmetic import Conv, Pool, ReLU, analyze
from cnnbook.derivations import Derivation
from cnnbook.derivations import equivariance as proof


def test_equivariance_identities_hold():
    result = proof.translation_equivariance()
    assert result.verify() == {name: True for name in result.identities}


def test_position_dependent_weights_break_the_identity():
    # untied weights w(n, m): the shifted input meets the weights of another position
    w = proof.sp.Function("w")

    def untied(signal):
        return lambda i: proof.sp.Sum(w(i, proof.m) * signal(i + proof.m), (proof.m, 0, proof.k - 1))

    lhs, rhs = untied(proof.shift(proof.x, proof.t))(proof.n), proof.shift(untied(proof.x), proof.t)(proof.n)
    assert Derivation(identities={"untied": (lhs, rhs)}).verify() == {"untied": False}


@pytest.mark.parametrize("stride, expected", [(1, [0, 1, 2, 3, 4, 5]), (2, [0, 2, 4]), (3, [0, 3])])
def test_circular_correlation_is_equivariant_exactly_for_multiples_of_the_stride(stride, expected):
    assert proof.equivariant_shifts(length=6, taps=3, stride=stride) == expected
    found = proof.circular_equivariance(length=6, taps=3, stride=stride)
    assert all(found[t] == t // stride for t in expected)


def photo(name: str, size: int) -> torch.Tensor:
    return eq.as_input(data.load("photos", size=size, names=(name,)))


@pytest.fixture(scope="module")
def image():
    return photo("camera", 32)


@pytest.fixture(scope="module")
def errors(image):
    return eq.shift_errors(eq.shift_layers(size=32), image, range(9))


def test_photo_is_a_real_image_scaled_to_unit_range(image):
    assert image.shape == (1, 1, 32, 32) and image.dtype == torch.float64
    assert 0 <= image.min() < image.max() <= 1
    colour = photo("astronaut", 16)
    assert colour.shape == (1, 3, 16, 16) and colour.std() > 0.1


def test_circular_padding_is_exactly_equivariant(errors):
    assert errors[errors.key == "eq_circular"].error.max() < 1e-12
    circular = errors[errors.key == "eq_circular"]
    assert (circular.out_shift == circular["shift"]).all()


def test_stride_two_is_equivariant_only_for_even_shifts(errors):
    part = errors[errors.key == "eq_stride2"]
    even, odd = part[part["shift"] % 2 == 0], part[part["shift"] % 2 == 1]
    assert even.error.max() < 1e-12 and (even.out_shift == even["shift"] // 2).all()
    assert odd.error.min() > 0.05


def test_zero_padding_and_untied_weights_break_equivariance(errors):
    moved = errors[errors["shift"] > 0]
    assert moved[moved.key == "eq_zeros"].error.min() > 0.05
    assert moved[moved.key == "eq_local"].error.min() > 0.05
    assert eq.shift_summary(errors)["circular_max"] < 1e-12


def test_zero_padding_errs_only_near_the_border_and_the_seam(image):
    layer = eq.shift_layers(size=32)["eq_zeros"]
    shift, reach = 6, 2 * 2  # kernel 5: padding 2 on each side of a seam
    error = eq.boundary_error_map(layer, image, shift)
    rows = torch.arange(32)
    near = lambda r: (r < reach) | (r >= 32 - reach) | ((r - shift).abs() < reach + 1)  # noqa: E731
    interior = ~near(rows)[:, None] & ~near(rows)[None, :]
    assert error[interior].max() < 1e-12
    assert error.max() > 1e-3
    assert 0 < eq.erroneous_fraction(layer, image, 1) < eq.erroneous_fraction(layer, image, 6) < 0.5


@pytest.mark.parametrize("mode, stride", [("circular", 1), ("zeros", 1), ("zeros", 2)])
def test_locally_connected_layer_with_tied_weights_is_the_convolution(mode, stride):
    torch.manual_seed(0)
    conv = nn.Conv2d(2, 3, 3, stride=stride, padding=1, padding_mode=mode).double()
    local = eq.LocallyConnected2d.from_conv(conv, (9, 9))
    x = torch.randn(2, 2, 9, 9, dtype=torch.float64)
    assert torch.allclose(local(x), conv(x), atol=1e-12)
    positions = math.prod(local.out_size)
    assert sum(p.numel() for p in local.parameters()) == positions * sum(p.numel() for p in conv.parameters())
    assert eq.local_equals_conv(size=12) < 1e-12


def test_locally_connected_layer_refuses_what_it_cannot_build():
    with pytest.raises(ValueError, match="padding_mode"):
        eq.LocallyConnected2d(1, 1, (8, 8), 3, padding_mode="reflect")
    with pytest.raises(ValueError, match="padding_mode"):  # not silently computed with zeros instead
        eq.LocallyConnected2d.from_conv(nn.Conv2d(1, 1, 3, padding=1, padding_mode="reflect"), (8, 8))
    with pytest.raises(ValueError, match="does not fit"):
        eq.LocallyConnected2d(1, 1, (2, 2), 3)


def test_global_pooling_is_invariant_and_larger_windows_change_less(image):
    change = eq.pooled_change(eq.relu_features(), image, range(0, 5))
    table = eq.change_at(change, (1, 4)).set_index("key")
    assert table.loc["max_global"].max() < 1e-12 and table.loc["avg_global"].max() < 1e-12
    assert table.loc["avg_8", "t1"] < table.loc["avg_2", "t1"] < table.loc["avg_1", "t1"]
    assert table.loc["max_4", "t1"] < table.loc["max_2", "t1"] < table.loc["max_1", "t1"]
    assert table.loc["max_8", "t1"] < table.loc["max_1", "t1"]


def test_pooling_claims_of_the_page():
    """The caption of the pooling figure, on the page's 64×64 photo: average pooling changes less
    the larger its window for small shifts; max pooling only up to 4×4 (8×8 moves slightly more
    for shifts of one or two pixels); every window changes less for larger windows at 4 and 8 pixels."""
    change = eq.pooled_change(eq.relu_features(), photo("camera", 64), range(9))
    table = eq.change_at(change, (1, 2, 4, 8)).set_index("key")
    for t in ("t1", "t2", "t4", "t8"):
        assert table.loc["avg_8", t] < table.loc["avg_4", t] < table.loc["avg_2", t] < table.loc["avg_1", t]
        assert table.loc["max_4", t] < table.loc["max_2", t] < table.loc["max_1", t]
    for t in ("t1", "t2"):
        assert table.loc["max_4", t] < table.loc["max_8", t] < table.loc["max_2", t]
    for t in ("t4", "t8"):
        assert table.loc["max_8", t] < table.loc["max_4", t]
    assert (change[change["shift"] == 0].change == 0).all()


def test_strided_convolution_is_the_subsampled_dense_one_at_a_quarter_of_the_cost(image):
    result = eq.strided_vs_subsampled(image)
    assert result["max_error"] < 1e-12 and result["ratio"] == 4
    assert result["pool_difference"] > 0.05  # pooling is another downsampling: other numbers


def test_pools_absorb_shifts_below_their_window_and_move_by_whole_cells_at_multiples():
    """S0.Q2(h): at a shift of 8 pixels an 8×8 pool changes a lot unaligned, yet it is exactly the
    original moved by one cell; below the window it changes less than no pooling does."""
    change = eq.pooled_change(eq.relu_features(), photo("camera", 64), range(17))
    summary = eq.pooling_summary(change, 8)
    assert summary["max_aligned"] < 1e-12 and summary["avg_aligned"] < 1e-12
    assert summary["avg_below"] < summary["max_below"] < summary["none_below"]
    at8 = change[(change["shift"] == 8) & (change["window"] == "8")]
    assert (at8["change"] > 0.3).all() and (at8["aligned"] < 1e-12).all()
    # a shift that is not a multiple of the window has no whole-cell re-alignment
    assert change[(change["window"] == "8") & (change["shift"] % 8 != 0)]["aligned"].isna().all()
    assert change[change["window"] == "global"]["aligned"].isna().all()
    # the 4×4 pool is re-aligned at 4, 8, 12 and 16 pixels, also exactly
    four = change[(change["window"] == "4") & (change["shift"] > 0)].dropna(subset=["aligned"])
    assert sorted(set(four["shift"])) == [4, 8, 12, 16] and four["aligned"].max() < 1e-12


def test_a_moved_pool_is_not_equal_to_the_unmoved_one_re_aligned_by_the_wrong_cell():
    """The re-alignment test can fail: a pool of a non-equivariant (zero-padded) layer is not exact."""
    zeros = nn.Sequential(eq.conv_layer(padding_mode="zeros"), nn.ReLU())
    change = eq.pooled_change(zeros, photo("camera", 64), (8,), windows=(8,))
    assert (change["aligned"] > 1e-6).all()


def test_a_strided_3x3_convolution_reads_every_pixel_but_computes_a_quarter_of_the_outputs():
    """S0.Q4(c): what a stride skips is output positions, not input pixels (unless the kernel is
    smaller than the stride)."""
    assert eq.strided_coverage(3, 2, 32) == {"input_read": 1.0, "outputs_computed": 0.25}
    assert eq.strided_coverage(1, 2, 32, padding=0) == {"input_read": 0.25, "outputs_computed": 0.25}
    assert eq.conv_depth(networks.s0_q4_method_a()) == eq.conv_depth(networks.s0_q4_method_b(blocks=4)) == 4


def test_with_relu_adds_a_relu_after_every_convolution():
    layers = eq.with_relu([Conv(2, 3), Pool("max", 2), Conv(2, 3)])
    assert [type(layer) for layer in layers] == [Conv, ReLU, Pool, Conv, ReLU]


def test_shift_stability_re_aligns_only_multiples_of_the_total_stride():
    image = photo("astronaut", 32)
    variants = {"tiny": [Conv(4, 3, stride=2, padding=1), Conv(4, 3, stride=2, padding=1)]}
    frame = eq.shift_stability(variants, image, range(9), seeds=(0,))
    assert frame[frame["shift"] == 0][["map_change", "mean_change", "aligned_change"]].max().max() == 0
    assert frame[frame["shift"] % 4 != 0].aligned_change.isna().all()
    assert frame[frame["shift"] % 4 == 0].aligned_change.notna().all()
    table = eq.stability_table(frame, small=4)
    assert list(table.columns) == ["key", "map_change", "mean_change", "aligned_change", "period_mean_change"]


def test_s0_q4_pooling_is_more_shift_stable_and_dearer_than_strides():
    """The claims of the S0.Q4 (c, d) section, with the page's settings."""
    q4 = {"q4_a": networks.s0_q4_method_a(), "q4_b4": networks.s0_q4_method_b(blocks=4)}
    table = eq.stability_table(eq.shift_stability(q4, photo("astronaut", 256), range(17))).set_index("key")
    assert table.loc["q4_b4", "map_change"] < table.loc["q4_a", "map_change"]
    assert table.loc["q4_b4", "mean_change"] < table.loc["q4_a", "mean_change"]
    assert table.loc["q4_a", "period_mean_change"] < table.loc["q4_a", "mean_change"]
    cost = {key: analyze(layers, networks.S0_Q4_INPUT).total_flops for key, layers in q4.items()}
    assert cost["q4_a"] < cost["q4_b4"]


def test_pooling_before_the_strided_convolution_is_cheaper_and_about_as_stable():
    orders = eq.order_designs()
    flops = {key: analyze(layers, (3, 256, 256)).total_flops for key, layers in orders.items()}
    assert flops["order_pool_stride"] < flops["order_stride_pool"] / 2
    table = eq.stability_table(eq.shift_stability(orders, photo("astronaut", 128), range(9))).set_index("key")
    ratio = table.loc["order_pool_stride", "map_change"] / table.loc["order_stride_pool", "map_change"]
    assert 0.8 < ratio < 1.25
