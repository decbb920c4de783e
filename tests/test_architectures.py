"""Chapter 8's studies: 1×1 convolutions, Inception and ResNet bottleneck costs, ReLU on a
low-dimensional manifold, the multiplier laws, EfficientNet's scaling, the light VGG by stage."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from cnnbook import architectures, arithmetic, complexity, models, profiles
from cnnbook.derivations import architectures as derive


def test_the_sheets_example_has_the_keras_summary_numbers():
    report = arithmetic.analyze(architectures.SHEET_LAYERS, architectures.SHEET_INPUT)
    assert [r.out_shape for r in report.layers] == [(128, 62, 62), (32, 62, 62)]
    assert [r.params for r in report.layers] == [3584, 4128] and report.total_params == 7712
    assert arithmetic.torch_check(architectures.SHEET_LAYERS, architectures.SHEET_INPUT).agree.all()


def test_pointwise_convolution_is_a_per_pixel_linear_layer_and_the_control_is_not():
    result = architectures.pointwise_is_linear(16, 8, 9)
    assert result["linear_difference"] < 1e-12 and result["stacked_difference"] < 1e-12
    assert result["control_difference"] > 0.1 * result["scale"]


def test_inception_and_resnet_costs():
    frame = architectures.inception_costs().set_index("key")
    assert frame.loc["total", "reduced_out"] == 256 and frame.loc["total", "naive_out"] == 416
    assert frame.loc["branch5", "naive_macs"] == 28 * 28 * 192 * 25 * 32
    assert frame.loc["total", "reduced_macs"] == frame.drop("total").reduced_macs.sum()
    resnet = architectures.resnet_bottleneck_costs().set_index("key")
    assert resnet.loc["bottleneck", "params"] == 256 * 64 + 9 * 64 * 64 + 64 * 256
    assert resnet.loc["basic", "macs"] == 2 * 56 * 56 * 9 * 256 * 256


def test_relu_destroys_a_low_dimensional_manifold_and_the_linear_control_does_not():
    frame = architectures.relu_information_loss(dims=(2, 30), trials=5, points=200).set_index("dim")
    assert frame.loc[2, "lost_share"] > 0.3 and frame.loc[30, "lost_share"] < 0.01
    assert frame.loc[2, "relu_error"] > frame.loc[30, "relu_error"]
    assert frame.linear_error.max() < 1e-10


def test_recoverable_points_are_exactly_those_with_two_independent_active_rows():
    rng = np.random.default_rng(1)
    x = architectures.spiral(50)
    x_hat, recoverable = architectures.relu_round_trip(x, 2, np.random.default_rng(1))
    T = rng.standard_normal((2, 2))
    both_active = ((T @ x) > 0).all(axis=0)
    assert (recoverable == both_active).all()
    assert np.allclose(x_hat[:, both_active], x[:, both_active])  # square T: ReLU invisible where all active


def test_multiplier_laws_hold_where_the_algebra_says():
    laws = architectures.multiplier_laws(lambda a: models.mobilenet_v1(alpha=a), alphas=(0.5, 1.0),
                                         sides=(224, 128)).set_index("key")
    # ρ² up to the last layer, for sides that stay divisible through the five stride-2 stages
    assert laws.loc["a100_r128", "macs_ratio"] == pytest.approx((128 / 224) ** 2, rel=0.01)
    assert laws.loc["a100_r128", "params"] == laws.loc["a100_r224", "params"]
    assert laws.loc["a50_r224", "macs_ratio"] > 0.25  # depthwise layers scale with α only
    for derivation in (derive.separable_ratio(), derive.multipliers(), derive.reduction_break_even(),
                       derive.compound_scaling()):
        assert derivation.verified


def test_separable_cost_formula_equals_counted_macs():
    c_std = complexity.cost(torch.nn.Conv2d(64, 128, 3, padding=1, bias=False), (64, 32, 32)).macs
    c_sep = complexity.cost(models.SeparableConv2d(64, 128), (64, 32, 32)).macs
    values = {derive.D_K: 3, derive.M: 64, derive.N: 128, derive.D_F: 32}
    assert c_std == derive.standard_cost().subs(values) and c_sep == derive.separable_cost().subs(values)


def test_light_vgg_by_stage_and_efficientnet_scaling():
    light = architectures.vgg_by_stage(models.light_vgg(), (3, 128, 128))
    assert list(light.stage) == ["block1", "block2", "block3", "block4", "block5", "fc1", "fc2", "logits"]
    assert light.params.sum() == models.count_parameters(models.light_vgg())
    assert light.set_index("stage").loc["fc1", "params"] == 2048 * 1024 + 1024
    table = models.scaling_table(range(3)).set_index("key")
    assert table.loc["b1", "flops_factor"] == pytest.approx(1.2 * 1.1 ** 2 * 1.15 ** 2)
    assert table.loc["b2", "released_resolution"] == 260


def test_mobile_runs_follow_the_profile_and_matched_cnn_is_close_in_cost():
    quick = architectures.mobile_runs(profiles.get_profile("quick"), 10)
    full = architectures.mobile_runs(profiles.get_profile("full"), 10)
    assert {side for _, side in quick.values()} == {32, 16} and max(s for _, s in full.values()) == 32
    assert "v1_a100_s32" in full and "v1_a100_s32" not in quick and "v2relu_a25_s32" in quick
    assert {"v1_a25_s24", "v1_a25_s16"} <= set(full) and "plain_s32" in quick
    target = complexity.cost(lambda: models.small_inception(10), (3, 32, 32)).macs
    plain = complexity.cost(architectures.matched_plain_cnn(target), (3, 32, 32)).macs
    assert abs(plain - target) / target < 0.1


def test_mobile_settings_are_shared_and_the_quick_study_has_more_images():
    quick = architectures.mobile_settings(profiles.get_profile("quick"))
    full = architectures.mobile_settings(profiles.get_profile("full"))
    assert full.images is None and full.lr == architectures.CHAPTER_LR and full.side == quick.side == 32
    assert full.epochs is None and quick.epochs < profiles.get_profile("quick").epochs(8, 30)
    assert quick.images > architectures.QUICK_TRAIN_IMAGES and quick.lr > architectures.CHAPTER_LR
    _, fit_part, validation, test = architectures.image_data(profiles.get_profile("quick"), quick.images)
    assert (len(fit_part), len(validation)) == (int(0.8 * quick.images), int(0.2 * quick.images))


def test_xception_flows_give_the_papers_shapes_and_sum_to_the_whole_network():
    shapes, params = architectures.xception_flows()
    assert shapes == {"entry_flow": "728×19×19", "middle_flow": "728×19×19", "exit_flow": "2048×10×10"}
    assert sum(params.values()) == sum(p.numel() for p in models.xception().parameters())


def test_light_vgg_against_vgg16_totals_are_the_sums_of_the_stages():
    by_stage, facts = architectures.light_vgg_against_vgg16()
    assert facts["light_params"] == by_stage.params_light.sum() == sum(p.numel() for p in models.light_vgg().parameters())
    assert facts["vgg16_params"] == by_stage.params_vgg16.sum()
    assert facts["flat_light"] == 2048 and facts["param_ratio"] == facts["vgg16_params"] / facts["light_params"]
