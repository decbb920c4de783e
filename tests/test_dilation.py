"""Chapter 3: dilated convolution in SymPy and against PyTorch; receptive-field growth and gridding."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from cnnbook import by_hand, dilation
from cnnbook.arithmetic import Conv, gradient_support, path_weights
from cnnbook.derivations import dilation as dd


@pytest.mark.parametrize("derivation", [dd.receptive_field, dd.output_size, dd.kronecker_equivalence,
                                        dd.stacked_field], ids=lambda f: f.__name__)
def test_dilation_identities_hold(derivation):
    result = derivation()
    assert result.verify() == {name: True for name in result.identities}


def test_kronecker_equivalence_for_a_larger_kernel_and_dilation():
    result = dd.kronecker_equivalence(size=3, dilation=3, image=(10, 9))
    assert result.verified


def test_selector_and_dilated_kernel():
    a = dd.selector(3)
    assert a.shape == (3, 3) and a.sum() == 1 and a[0, 0] == 1
    kernel = np.arange(1, 5).reshape(2, 2)
    assert np.array_equal(dd.dilated_kernel(kernel, 2), [[1, 0, 2], [0, 0, 0], [3, 0, 4]])
    assert np.array_equal(dd.dilated_kernel(kernel, 1), kernel)


def test_output_size_and_kronecker_oracles_against_torch():
    cases, mismatches = dilation.output_size_oracle(max_size=7)
    assert cases > 100 and mismatches == 0
    trials, error = dilation.kronecker_oracle(trials=20)
    assert trials == 20 and error < 1e-12


def test_dilated_correlation_by_definition_matches_torch():
    rng = np.random.default_rng(1)
    image, kernel = rng.normal(size=(11, 9)), rng.normal(size=(3, 3))
    expected = torch.nn.functional.conv2d(torch.tensor(image)[None, None], torch.tensor(kernel)[None, None],
                                          dilation=3)[0, 0].numpy()
    assert np.allclose(by_hand.correlate2d(image, kernel, dilation=3), expected, atol=1e-12)


def test_single_layer_fields_are_measured_as_derived():
    table = dilation.single_layer_fields()
    assert (table.rf == table.rf_measured).all()
    assert (table.rf == table.dilation * (table.kernel - 1) + 1).all()


def test_stacks_grow_linearly_or_exponentially():
    growth = dilation.field_growth(max_depth=8)
    depth = np.arange(1, 9)
    assert list(growth[growth.key == "stack_plain"].rf) == list(2 * depth + 1)
    assert list(growth[growth.key == "stack_dilated"].rf) == list(2 ** (depth + 1) - 1)
    strided = growth[growth.key == "stack_strided"]
    assert list(strided.rf) == list(2 ** (depth + 1) - 1) and list(strided.output) == list(4096 // 2 ** depth)
    assert (growth[growth.key == "stack_dilated"].output == 4096).all()
    assert dilation.growth_table(dilation.measured_growth(max_depth=4)).agree.all()


@pytest.mark.parametrize("length, plain, dilated", [(224, 112, 7), (1000, 500, 9), (3, 1, 1)])
def test_layers_to_cover(length, plain, dilated):
    assert dilation.layers_to_cover(length) == plain
    assert dilation.layers_to_cover(length, dilated=True) == dilated


def test_gridding_leaves_holes_only_when_dilations_share_a_factor():
    table, maps = dilation.gridding()
    table = table.set_index("key")
    assert table.loc["grid_222", "reached"] == 7 * 7 and table.loc["grid_222", "rf"] == 13
    assert table.loc["grid_222", "coverage"] < 0.35 and table.loc["grid_248", "coverage"] < 0.35
    assert table.loc["grid_124", "coverage"] == table.loc["grid_125", "coverage"] == 1
    assert maps["grid_222"].max() == 1 and maps["grid_222"][1, :].max() == 0  # every other row is a hole
    assert 0 < table.loc["grid_129", "coverage"] < 1  # no common factor, and still holes


def test_hdc_max_distance_follows_wang_et_al():
    # M_3 = r_3, M_2 = max(M_3 - 2 r_2, M_3 - 2 (M_3 - r_2), r_2)
    assert dilation.hdc_max_distance((1, 2, 5)) == max(5 - 4, 5 - 2 * 3, 2) == 2
    assert dilation.hdc_max_distance((1, 2, 9)) == 5
    assert dilation.hdc_max_distance((2, 4, 8)) == 4
    assert dilation.hdc_max_distance((1, 3)) == 3  # two layers: M_2 = r_2
    with pytest.raises(ValueError):
        dilation.hdc_max_distance((4,))


def test_the_hdc_rule_agrees_with_the_measured_coverage_on_the_chapter_examples():
    table, _ = dilation.gridding()
    check = dilation.hdc_check(measured=table).set_index("key")
    assert check.agree.all()
    assert list(check.index[check.hdc]) == ["grid_124", "grid_125"]
    # 2, 2, 2 passes the distance test; only the common factor catches it
    assert check.loc["grid_222", "m2"] <= 3 and check.loc["grid_222", "common_factor"] == 2
    # "consecutive dilations share no common factor" is not the rule: 2 and 4 share 2, yet no holes
    assert check.loc["grid_124", "holes"] == 0
    # the exact 1-D reach is what the 2-D gradient measurement sees, along each axis
    for key, dilations in dilation.GRIDDING_DESIGNS.items():
        reached = dilation.reach(dilations)
        width = max(reached) - min(reached) + 1
        assert width == table.set_index("key").loc[key, "rf"]
        assert np.isclose((len(reached) / width) ** 2, check.loc[key, "coverage"])


def test_hdc_sweep_is_safe_when_the_first_dilation_is_1_and_not_otherwise():
    sweep = dilation.hdc_sweep().set_index("key")
    assert sweep.stacks.sum() == 8 ** 3
    assert sweep.loc["hdc_first1", "rule_solid_holes"] == 0
    assert sweep.loc["hdc_first_more", "rule_solid_holes"] > 0
    assert dilation.holes((2, 2, 3)) > 0 and dilation.hdc_rule((2, 2, 3))["hdc"]     # passed, with holes
    assert dilation.holes((1, 3, 1)) == 0 and not dilation.hdc_rule((1, 3, 1))["hdc"]  # rejected, solid


def test_path_weights_count_paths_and_mark_the_support():
    layers = [Conv(1, 3, padding="same"), Conv(1, 3, padding="same")]
    weights = path_weights(layers, (1, 9, 9))
    assert torch.equal(weights > 0, gradient_support(layers, (1, 9, 9)))
    centre = weights[2:7, 2:7] / weights[2:7, 2:7].min()
    # two 3×3 box filters: the path counts are the outer product of [1, 2, 3, 2, 1]
    assert torch.allclose(centre, torch.outer(torch.tensor([1., 2, 3, 2, 1]), torch.tensor([1., 2, 3, 2, 1])).double())


def test_gridding_coverage_is_what_field_coverage_measures():
    from cnnbook.arithmetic import field_coverage, measure_field, measure_receptive_field
    table = dilation.gridding({"grid_129": (1, 2, 9)})[0].set_index("key")
    layers = dilation.stack((1, 2, 9))
    shape = (1, 33, 33)
    extents, coverage = measure_field(layers, shape)
    assert extents == measure_receptive_field(layers, shape) == (25, 25)
    assert coverage == field_coverage(layers, shape) == table.loc["grid_129", "coverage"]
