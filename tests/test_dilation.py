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


def test_path_weights_count_paths_and_mark_the_support():
    layers = [Conv(1, 3, padding="same"), Conv(1, 3, padding="same")]
    weights = path_weights(layers, (1, 9, 9))
    assert torch.equal(weights > 0, gradient_support(layers, (1, 9, 9)))
    centre = weights[2:7, 2:7] / weights[2:7, 2:7].min()
    # two 3×3 box filters: the path counts are the outer product of [1, 2, 3, 2, 1]
    assert torch.allclose(centre, torch.outer(torch.tensor([1., 2, 3, 2, 1]), torch.tensor([1., 2, 3, 2, 1])).double())
