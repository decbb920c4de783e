"""Chapter 2's parameter and cost comparisons of layer families, against PyTorch's own layers."""

from __future__ import annotations

import math

from torch import nn

from cnnbook import layer_families as fam
from cnnbook import networks
from cnnbook.arithmetic import analyze
from cnnbook.equivariance import LocallyConnected2d


def numel(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def test_dense_versus_conv_counts_match_real_layers():
    table = fam.dense_versus_conv().set_index("key")
    assert table.loc["image_conv", "params"] == numel(nn.Conv2d(3, 64, 3))
    assert table.loc["audio_conv", "params"] == numel(nn.Conv1d(1, 64, 3))
    assert table.loc["image_local", "params"] == 224 * 224 * table.loc["image_conv", "params"]
    inputs, outputs = 3 * 224 * 224, 64 * 224 * 224
    assert table.loc["image_dense_same", "params"] == inputs * outputs + outputs
    assert table.loc["audio_dense_small", "params"] == numel(nn.Linear(16_000, 1000))
    assert (table.ratio >= 1).all()


def test_local_parameter_count_is_the_conv_count_times_positions():
    local = LocallyConnected2d(3, 8, (10, 10), 3, padding=1)
    assert numel(local) == 100 * numel(nn.Conv2d(3, 8, 3))


def test_video_layers_against_formulas():
    table = fam.video_layers().set_index("key")
    assert table.loc["conv3d", "params"] == 64 * 3 * 27 + 64
    assert table.loc["conv2d_stacked", "params"] == 64 * 48 * 9 + 64
    assert table.loc["conv2d_per_frame", "params"] == 64 * 3 * 9 + 64
    assert table.loc["conv3d", "macs"] == 16 * 112 * 112 * 64 * 81
    assert table.loc["conv3d", "macs"] == 3 * table.loc["conv2d_per_frame", "macs"]
    assert table.loc["conv3d", "output"] == "64×16×112×112" and table.loc["conv2d_stacked", "output"] == "64×112×112"


def test_recurrent_layers_have_gate_multiples_of_the_rnn_parameters_and_run_sequentially():
    table = fam.sequence_layers(steps=50).set_index("key")
    rnn = 64 * 64 + 64 * 64 + 2 * 64
    assert table.loc["seq_rnn", "params"] == rnn == numel(nn.RNN(64, 64))
    assert table.loc["seq_gru", "params"] == 3 * rnn and table.loc["seq_lstm", "params"] == 4 * rnn
    assert table.loc["seq_conv1d", "params"] == numel(nn.Conv1d(64, 64, 3))
    assert table.loc["seq_conv1d", "sequential"] == 1 and table.loc["seq_lstm", "sequential"] == 50
    assert table.loc["seq_conv1d", "macs"] == 50 * 64 * 64 * 3
    assert table.loc["seq_lstm", "macs"] == 4 * (64 * 64 + 64 * 64) * 50
    scaled = fam.sequence_layers(steps=200, probe=10).set_index("key")
    assert scaled.loc["seq_gru", "macs"] == 4 * table.loc["seq_gru", "macs"]


def test_measure_runs_on_shapes_only():
    out, params, macs = fam.measure(nn.Conv2d(2, 4, 3), (2, 10, 10))
    assert out == (4, 8, 8) and params == numel(nn.Conv2d(2, 4, 3)) and macs == 4 * 64 * 18


def test_a_larger_stride_shrinks_the_linear_layers_most():
    table = fam.stride_and_dense().set_index("stride")
    assert table.dense_share.is_monotonic_decreasing and table.total_params.is_monotonic_decreasing
    variant = analyze(networks.s0_q1(layer2_stride=1), networks.S0_Q1_INPUT)
    assert table.loc[1, "total_params"] == variant.total_params
    assert math.isclose(table.loc[2, "total_params"], analyze(networks.s0_q1(), networks.S0_Q1_INPUT).total_params)
