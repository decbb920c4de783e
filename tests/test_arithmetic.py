"""The layer-arithmetic calculator against real PyTorch layers (property tests) and its errors."""

from __future__ import annotations

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cnnbook.arithmetic import (
    Conv, Flatten, LayerError, Linear, Pool, ReLU, analyze, field_coverage, from_torch, gradient_support,
    kernel_extent, measure_receptive_field, output_length, same_padding, to_torch, torch_check,
)

PROPERTY = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def stacks(draw, dims: int):
    """A random valid stack of conv / pool layers on a random input, 1-D or 2-D."""
    size = draw(st.integers(12, 48))
    channels = draw(st.integers(1, 3))
    layers, n = [], size
    for index in range(draw(st.integers(1, 4))):
        if draw(st.booleans()):
            k, d = draw(st.integers(1, 5)), draw(st.integers(1, 3))
            s, p = draw(st.integers(1, 3)), draw(st.integers(0, 2))
            layer = Conv(draw(st.integers(1, 4)), k, s, p, d, bias=draw(st.booleans()), name=f"c{index}")
        else:
            k = draw(st.integers(1, 3))
            s, p = draw(st.integers(1, 3)), draw(st.integers(0, k // 2))
            d = 1
            layer = Pool(draw(st.sampled_from(["max", "avg"])), k, s, p, name=f"p{index}")
        if kernel_extent(k, d) > n + 2 * p:
            break
        n = output_length(n, k, s, p, d)
        layers.append(layer)
    if not layers:
        layers = [Conv(2, 1, name="c0")]
    return layers, (channels,) + (size,) * dims


@PROPERTY
@given(st.sampled_from([1, 2]).flatmap(stacks))
def test_shapes_params_flops_and_fields_match_torch(case):
    layers, shape = case
    check = torch_check(layers, shape)
    assert (check.output == check.torch_output).all()
    assert (check.params == check.torch_params).all()
    counted = check.two_macs.notna()
    assert (check.two_macs[counted] == check.torch_flops[counted]).all()
    inside = check.rf_inside
    assert (check.rf[inside] == check.rf_measured[inside]).all()


@PROPERTY
@given(st.sampled_from([1, 2]).flatmap(stacks))
def test_torch_round_trip_keeps_the_arithmetic(case):
    layers, shape = case
    again = analyze(from_torch(to_torch(layers, shape)), shape)
    report = analyze(layers, shape)
    assert [r.out_shape for r in again.layers] == [r.out_shape for r in report.layers]
    assert again.total_params == report.total_params


def test_flops_are_twice_the_macs_with_bias_and_one_less_per_output_without():
    with_bias = analyze([Conv(4, 3, bias=True)], (2, 8, 8)).layers[0]
    without = analyze([Conv(4, 3, bias=False)], (2, 8, 8)).layers[0]
    outputs = 4 * 6 * 6
    assert with_bias.flops == 2 * with_bias.macs
    assert without.flops == 2 * without.macs - outputs


def test_union_field_of_flat_layers_is_measured():
    layers = [Conv(2, 3, stride=2, name="c"), Pool("max", 2, name="p"), Flatten(name="f"), Linear(3, name="fc")]
    report = analyze(layers, (1, 21, 21))
    assert report.layer("fc").global_field
    assert report.layer("fc").receptive_field == measure_receptive_field(layers, (1, 21, 21), upto="fc")


def test_dilated_field_has_holes_that_coverage_reports():
    layers = [Conv(1, 3, dilation=4, name="dilated")]
    support = gradient_support(layers, (1, 15, 15))
    assert measure_receptive_field(layers, (1, 15, 15)) == (9, 9)
    assert int(support.sum()) == 9  # 3 x 3 taps only
    assert field_coverage(layers, (1, 15, 15)) == pytest.approx(9 / 81)


def test_same_padding_keeps_size_and_rejects_even_extent():
    assert same_padding(5, 8) == 16
    assert analyze([Conv(3, 5, padding="same", dilation=2)], (1, 20, 20)).output_shape == (3, 20, 20)
    with pytest.raises(LayerError, match="even"):
        same_padding(4)


@pytest.mark.parametrize(
    ("layers", "shape", "message"),
    [
        ([Conv(1, 7, name="big")], (1, 5, 5), r"layer 1 \(big: Conv\): kernel extent 7"),
        ([Conv(1, 3), Conv(1, 3, dilation=4, name="wide")], (1, 9, 9), r"layer 2 \(wide: Conv\).*extent 9"),
        ([Conv(1, 3, stride=0)], (1, 9, 9), "must be positive"),
        ([Conv(3, 3, groups=2)], (4, 9, 9), "groups=2 must divide"),
        ([Conv(1, 3, stride=2, padding="same")], (1, 9, 9), "needs stride 1"),
        ([Pool("max", 2, padding=2)], (1, 9, 9), "exceeds half the kernel"),
        ([Linear(4)], (1, 9, 9), "insert Flatten"),
        ([Flatten(), Conv(1, 1)], (1, 9, 9), "already flat"),
        ([ReLU()], (1, 0, 9), "positive sizes"),
    ],
)
def test_impossible_layers_name_the_layer_and_the_reason(layers, shape, message):
    with pytest.raises(LayerError, match=message):
        analyze(layers, shape)


def test_from_torch_reads_a_sequential():
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
                                torch.nn.Flatten(), torch.nn.Linear(8 * 16 * 16, 10))
    report = analyze(model, (3, 32, 32))
    assert report.total_params == sum(p.numel() for p in model.parameters())
    assert report.output_shape == (10,)
