"""Answers of Chapter 1, each checked against an independent PyTorch model or the source's claim."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from cnnbook import networks
from cnnbook.arithmetic import LayerError, analyze, compare, measure_receptive_field


def numel(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def test_s0_q1_matches_the_network_written_in_plain_pytorch():
    model = nn.Sequential(
        nn.Conv2d(3, 32, 7), nn.Conv2d(32, 64, 5, stride=2), nn.MaxPool2d(2, 2),
        nn.Conv2d(64, 128, 3, dilation=2), nn.Conv2d(128, 128, 3), nn.MaxPool2d(2, 2),
        nn.Conv2d(128, 256, 3), nn.AvgPool2d(2, 2), nn.Flatten(),
        nn.LazyLinear(1024), nn.Linear(1024, 1024), nn.Dropout(0.5), nn.Linear(1024, 10),
    )
    model(torch.zeros(1, 3, 128, 128))  # materialise the lazy layer
    facts = networks.s0_q1_facts()
    assert facts["params"] == numel(model)
    assert facts["N"] == model[9].in_features
    assert facts["union"] == measure_receptive_field(networks.s0_q1(), networks.S0_Q1_INPUT, upto="flatten")[0]
    assert facts["union"] + facts["unseen"] == 128


def test_s0_q1_variants_change_what_the_question_says():
    frame = compare(networks.s0_q1_variants(), networks.S0_Q1_INPUT).set_index("key")
    original = frame.loc["s0q1_original"]
    assert frame.loc["s0q1_c1", "flat_features"] > original.flat_features        # smaller stride: bigger maps
    assert frame.loc["s0q1_c1", "rf_last"] != original.rf_last                    # ... and a smaller jump
    assert frame.loc["s0q1_c2", "total_params"] < original.total_params          # bigger kernel, fewer params
    assert frame.loc["s0q1_c3", "rf_last"] == original.rf_last                    # channels: same geometry
    assert frame.loc["s0q1_c4", "flat_features"] == 256 * 9 * 9                   # no avgpool: layer 7's map
    assert networks.s0_q1_facts()["c2_saving"] == -frame.loc["s0q1_c2", "delta_params"]


def test_s0_q3_proposal_reaches_50_with_the_same_parameters():
    frame = compare(networks.s0_q3_candidates(), networks.S0_Q3_INPUT, measure=True).set_index("key")
    proposal = frame.loc["q3_dilated"]
    assert proposal.rf_last == proposal.rf_measured == "50×50"
    assert proposal.coverage == 1.0
    assert proposal.total_params == frame.loc["q3_original", "total_params"]
    assert frame.loc["q3_original", "rf_last"] == "22×22"


def test_s0_q1_c1_triples_the_final_map_because_of_a_fixed_border():
    facts = networks.s0_q1_stride_facts()
    assert (facts["l2_original"], facts["l2_c1"]) == (59, 118)
    assert (facts["final_original"], facts["final_c1"]) == (4, 12)
    assert facts["side_ratio"] == 3 and facts["n_ratio"] == 9
    # layers 4, 5 (valid 3×3, dilation 2 and 1) at half, layer 7 at a quarter of layer 2's resolution
    assert facts["border"] == 4 * 2 + 2 * 2 + 2 * 4 == 20
    assert int(facts["approx_original"]) == facts["final_original"] and int(facts["approx_c1"]) == facts["final_c1"]
    sides = networks.s0_q1_stride_sides()
    assert sides.side_ratio.is_monotonic_increasing  # the ratio grows after every valid convolution


def test_s0_q3_dilated_conv3_has_holes_that_the_final_pool_fills():
    coverage = networks.s0_q3_dilated_coverage().set_index("layer").coverage
    assert coverage["conv3"] < 0.9 and coverage["pool3"] == 1.0
    assert coverage["conv2"] == coverage["pool2"] == 1.0
    facts = networks.s0_q3_assumption_facts()
    assert facts["valid_rf"] == facts["same_rf"] == "50×50"  # padding moves sizes, not fields
    assert facts["valid_map"] == "10×10" and facts["same_map"] == "16×16"


def test_s0_q4_method_b_as_posed_does_not_reach_16():
    frame = compare(networks.s0_q4_methods(), networks.S0_Q4_INPUT).set_index("key")
    assert frame.loc["q4_a", "final_map"] == "64×16×16"
    assert frame.loc["q4_b", "final_map"] == "64×32×32"
    assert frame.loc["q4_b4", "final_map"] == "64×16×16"


def test_s2_q3_total_and_the_source_answer():
    facts = networks.s2_q3_facts()
    model = nn.Sequential(nn.Conv1d(1, 1, 2, padding=1), nn.AvgPool1d(2), nn.Flatten(), nn.Linear(393, 20),
                          nn.Linear(20, 1))
    assert model(torch.zeros(1, 1, 785)).shape == (1, 1)
    assert facts["params"] == numel(model) == facts["source_total"]
    assert facts["pooled"] == facts["source_fc_input"]
    assert facts["source_formula"] != facts["source_fc_input"]   # the source's own formula gives 392


def test_s3_q3_agrees_with_the_source_total():
    facts = networks.s3_q3_facts()
    assert facts["params"] == facts["source_total"]


def test_s4_q5_as_posed_fails_at_layer_8_and_the_padded_version_builds():
    with pytest.raises(LayerError, match=r"layer 8 \(L8: Conv\): kernel extent 33 .* 11"):
        analyze(networks.s4_q5(), networks.S4_Q5_INPUT)
    facts = networks.s4_q5_facts()
    assert facts["out"] == "128×3×3"
    assert (facts["pool_in"], facts["pool_out"], facts["pool_dropped"]) == (23, 11, 1)
    assert facts["keras_rejected"] == facts["dilated"] == 3


def test_keras_rejects_stride_with_dilation_only():
    from cnnbook.arithmetic import Conv, keras_rejects
    assert keras_rejects(networks.s4_q5()) == ["L2", "L5", "L8"]
    assert keras_rejects([Conv(1, 3, stride=2), Conv(1, 3, dilation=2), Conv(1, 3, stride=(1, 2), dilation=(2, 1))]) \
        == ["conv3"]


def test_s4_q6e_counts_match_torch_batchnorm():
    facts = networks.s4_q6e_facts()
    with_bias = nn.Sequential(nn.Linear(10, 20), nn.BatchNorm1d(20))
    without = nn.Sequential(nn.Linear(10, 20, bias=False), nn.BatchNorm1d(20))
    assert facts["params"] == numel(with_bias)
    assert facts["no_bias"] == numel(without)
    assert facts["buffers"] == with_bias[1].running_mean.numel() + with_bias[1].running_var.numel()
