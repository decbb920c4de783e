"""Quantisation and pruning (cnnbook.compression): int8 stays close to float, pruning reaches what
was asked, channel pruning keeps the largest filters and a working network, fine-tuning keeps zeros."""

from __future__ import annotations

import pandas as pd
import pytest
import torch
from hypothesis import given, settings, strategies as st
from torch import nn
from torch.utils.data import TensorDataset

from cnnbook import compression, deployment, models, training
from cnnbook.profiles import get_profile


def small_cnn() -> nn.Module:
    return nn.Sequential(nn.Conv2d(1, 32, 3, padding=1, bias=False), nn.BatchNorm2d(32), nn.ReLU(),
                         nn.Conv2d(32, 64, 3, padding=1, bias=False), nn.BatchNorm2d(64), nn.ReLU(),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, 10))


@pytest.fixture(scope="module")
def digits(tmp_path_factory) -> tuple[nn.Module, TensorDataset, TensorDataset]:
    """A small CNN trained on scikit-learn's 8×8 digits (real handwriting), and its data."""
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    images = torch.tensor(x, dtype=torch.float32).view(-1, 1, 8, 8) / 16
    labels = torch.tensor(y)
    train, test = TensorDataset(images[:1400], labels[:1400]), TensorDataset(images[1400:], labels[1400:])
    torch.manual_seed(0)
    run = training.fit(small_cnn(), train, None, epochs=8, lr=1e-2, seed=0, device="cpu",
                       runs_dir=tmp_path_factory.mktemp("runs"))
    return run.model.eval(), train, test


def test_the_float_network_has_learned(digits):
    model, _, test = digits
    assert training.predict(model, test, device="cpu").accuracy > 0.85


def test_static_int8_is_within_two_points_of_float_and_about_four_times_smaller(digits):
    model, train, test = digits
    float_accuracy = training.predict(model, test, device="cpu").accuracy
    int8 = compression.quantise_static(model, train.tensors[0][:256])
    assert abs(training.predict(int8, test, device="cpu").accuracy - float_accuracy) <= 0.02
    assert deployment.size_on_disk(int8) < 0.5 * deployment.size_on_disk(model)
    assert any("Quantized" in type(m).__name__ or "quantized" in type(m).__module__ for m in int8.modules())


def test_dynamic_quantisation_changes_only_the_linear_layers(digits):
    model, _, test = digits
    dynamic = compression.quantise_dynamic(model)
    from torch.ao.nn.quantized.dynamic import Linear as DynamicLinear

    assert sum(isinstance(m, DynamicLinear) for m in dynamic.modules()) == 1
    assert sum(isinstance(m, nn.Conv2d) for m in dynamic.modules()) == 2  # convolutions stay float
    assert abs(training.predict(dynamic, test, device="cpu").accuracy
               - training.predict(model, test, device="cpu").accuracy) <= 0.02


def test_quantisation_aware_fine_tuning_gives_an_int8_network_close_to_float(digits, tmp_path, monkeypatch):
    monkeypatch.setenv("CNNBOOK_CACHE", str(tmp_path))
    model, train, test = digits
    int8 = compression.quantise_aware(model, train, epochs=1, lr=1e-4)
    assert abs(training.predict(int8, test, device="cpu").accuracy
               - training.predict(model, test, device="cpu").accuracy) <= 0.03
    assert deployment.size_on_disk(int8) < 0.5 * deployment.size_on_disk(model)


def test_plain_convolutions_leave_efficientnet_lite_outputs_unchanged():
    from efficientnet_lite_pytorch import EfficientNet

    torch.manual_seed(0)
    net = EfficientNet.from_name("efficientnet-lite0").eval()
    plain = compression.plain_convolutions(net)
    assert not any(isinstance(m, nn.Conv2d) and type(m) is not nn.Conv2d for m in plain.modules())
    x = torch.rand(2, 3, 32, 32)
    with torch.no_grad():
        assert torch.allclose(net(x), plain(x), atol=1e-5)


@settings(max_examples=10, deadline=None)
@given(st.floats(0.0, 0.95))
def test_unstructured_pruning_reaches_the_requested_sparsity_in_every_layer(fraction):
    torch.manual_seed(0)
    pruned = compression.prune_unstructured(small_cnn(), fraction)
    for module, name in compression.prunable_weights(pruned):
        weight = getattr(module, name)
        assert int((weight == 0).sum()) == round(fraction * weight.numel())
    assert not any(hasattr(m, "weight_mask") for m in pruned.modules())  # masks folded in


def test_pruning_rejects_impossible_fractions():
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        compression.prune_unstructured(small_cnn(), 1.0)
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        compression.prune_channels(small_cnn(), -0.1)


def _mobilenets() -> list[nn.Module]:
    import torchvision
    from efficientnet_lite_pytorch import EfficientNet

    torch.manual_seed(0)
    return [models.mobilenet_v2(10, 0.35, stem_stride=1), torchvision.models.mobilenet_v2(num_classes=10),
            EfficientNet.from_name("efficientnet-lite0")]


@pytest.mark.parametrize("index", range(3), ids=["cnnbook-mobilenet_v2", "torchvision-mobilenet_v2", "lite0"])
def test_channel_pruning_thins_every_expanded_block_and_keeps_a_working_network(index):
    model = _mobilenets()[index].eval()
    blocks = compression.hidden_blocks(model)
    assert blocks, "no inverted residual block found"
    widths = [b.get_submodule(p[0]).out_channels for b, p in blocks]
    expected = [max(8, round(w / 2 / 8) * 8) for w in widths]
    pruned = compression.prune_channels(model, 0.5).eval()
    after = [b.get_submodule(p[0]).out_channels for b, p in compression.hidden_blocks(pruned)]
    assert after == expected
    assert compression.parameter_count(pruned) < compression.parameter_count(model)
    x = torch.rand(2, 3, 32, 32)
    with torch.no_grad():
        assert pruned(x).shape == model(x).shape
        assert torch.allclose(compression.prune_channels(model, 0.0).eval()(x), model(x), atol=1e-5)


def test_channel_pruning_keeps_the_filters_with_the_largest_l1_norm():
    model = models.mobilenet_v2(10, 0.35, stem_stride=1).eval()
    block, paths = compression.hidden_blocks(model)[0]
    weight = block.get_submodule(paths[0]).weight.data
    kept_norms = sorted(weight.abs().flatten(1).sum(1).tolist(), reverse=True)[:len(weight) // 2]
    pruned = compression.prune_channels(model, 0.5)
    new_block, new_paths = compression.hidden_blocks(pruned)[0]
    new_weight = new_block.get_submodule(new_paths[0]).weight.data
    assert sorted(new_weight.abs().flatten(1).sum(1).tolist(), reverse=True) == pytest.approx(kept_norms)


def test_fine_tuning_keeps_pruned_weights_at_zero_and_changes_the_others(digits, tmp_path, monkeypatch):
    monkeypatch.setenv("CNNBOOK_CACHE", str(tmp_path))
    model, train, _ = digits
    pruned = compression.prune_unstructured(model, 0.5)
    tuned = compression.fine_tune(pruned, train, epochs=1, lr=1e-3)
    assert compression.sparsity(tuned) == pytest.approx(compression.sparsity(pruned))
    before, after = pruned[3].weight, tuned[3].weight
    assert torch.equal(before == 0, after == 0)
    assert not torch.allclose(before, after)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in tuned.modules())  # frozen: torchvision's FrozenBatchNorm2d


def test_recommend_picks_the_smallest_network_within_the_tolerance():
    summary = pd.DataFrame({"key": ["big", "int8", "tiny", "tuned"], "accuracy": [80.0, 77.0, 60.0, 84.0],
                            "size_mb": [14.0, 3.9, 0.6, 14.0], "torch_ms": [5.0, 5.0, 3.0, 5.0]})
    assert compression.recommend(summary, "big", 5.0) == "int8"
    assert compression.recommend(summary, "big", 2.0) == "big"
    assert compression.recommend(summary, "big", 25.0) == "tiny"
    assert compression.recommend(summary, "int8", 0.0) == "int8"  # the reference, not the best, sets the bar


def test_the_settings_of_both_profiles_are_usable():
    for name in ("quick", "full"):
        s = compression.settings(get_profile(name))
        assert s.unstructured[0] == 0 and s.channels[0] == 0  # the control comes first
        assert all(0 <= f < 1 for f in s.unstructured + s.channels)
        assert s.table_epsilon in s.epsilons and s.epsilons[0] == 0


def test_int8_change_is_the_largest_move_and_the_noise_is_binomial():
    runtime = pd.DataFrame({"key": ["a", "a_int8", "b", "b_int8"], "accuracy": [40.0, 41.0, 40.0, 37.5]})
    found = compression.int8_change(runtime, ("a", "b"), 100)
    assert found["int8_change"] == pytest.approx(2.5)
    assert found["int8_noise"] == pytest.approx(100 * (0.4 * 0.6 / 100) ** 0.5)
