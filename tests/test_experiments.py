"""Chapter 2's training experiments on the scikit-learn digits and the procedural blob task:
the data, the transformations, the training loop, and the claims the chapter makes from them."""

from __future__ import annotations

import pytest
import torch

from cnnbook import experiments as ex


@pytest.fixture(scope="module")
def split():
    return ex.digits()


@pytest.fixture(scope="module")
def models(split):
    return ex.digits_models(split)


def test_digits_split_is_fixed_disjoint_and_complete(split):
    again = ex.digits()
    assert torch.equal(split.x_test, again.x_test) and torch.equal(split.y_train, again.y_train)
    assert len(split.y_train) + len(split.y_test) == 1797
    assert split.x_train.shape[1:] == (1, 8, 8) and 0 <= split.x_train.min() and split.x_train.max() <= 1
    assert set(split.y_train.tolist()) == set(range(10))


def test_blobs_label_is_the_half_and_half_a_turn_flips_it():
    blobs = ex.blobs(count=200, size=16)
    x, y = blobs.x_train, blobs.y_train
    column = x[:, 0].sum(dim=1).argmax(dim=1)  # the blob's column
    assert torch.equal(y, (column >= 8).long())
    rolled = torch.roll(x, 8, dims=-1)
    assert torch.equal((rolled[:, 0].sum(dim=1).argmax(dim=1) >= 8).long(), 1 - y)


def test_global_pooled_circular_convolution_cannot_see_the_half():
    model = ex.position_model("conv_circular").eval()
    x = ex.blobs(count=20).x_train
    with torch.no_grad():
        assert torch.allclose(model(x), model(torch.roll(x, 8, dims=-1)), atol=1e-6)
    with pytest.raises(ValueError, match="unknown kind"):
        ex.position_model("dense")


def test_aspect_is_the_identity_at_one_and_squeezes_without_cropping(split):
    x = split.x_test[:20]
    assert torch.allclose(ex.aspect(x, 1.0), x, atol=1e-6)
    squeezed = ex.aspect(x, 0.5)
    columns = (squeezed[:, 0].abs().sum(dim=(0, 1)) > 1e-6).sum()
    assert columns <= 5  # half of 8 columns, plus bilinear spill
    assert torch.allclose(squeezed.sum(dim=(2, 3)), x.sum(dim=(2, 3)) * 0.5, rtol=0.05)


def test_translate_moves_content_and_fills_with_zeros(split):
    x = split.x_test[:5]
    assert torch.equal(ex.translate(x, 0), x)
    assert torch.equal(ex.translate(x, 2)[..., 2:], x[..., :-2]) and (ex.translate(x, 2)[..., :2] == 0).all()
    assert torch.equal(ex.translate(x, -1)[..., :-1], x[..., 1:])


def test_training_is_deterministic_and_restores_the_thread_count(split):
    threads = torch.get_num_threads()
    first = ex.accuracy(ex.train(ex.mlp(), split, epochs=2, seed=3), split.x_test, split.y_test)
    second = ex.accuracy(ex.train(ex.mlp(), split, epochs=2, seed=3), split.x_test, split.y_test)
    assert first == second and torch.get_num_threads() == threads


def test_cnn_is_more_robust_to_shifts_than_the_dense_network_but_not_invariant(models, split):
    table = ex.shift_table(ex.shift_accuracy({k: models[k] for k in ("model_mlp", "model_cnn")},
                                             split, range(-2, 3))).set_index("key")
    assert table.loc["model_mlp", "acc_0"] > 0.95 and table.loc["model_cnn", "acc_0"] > 0.95
    assert table.loc["model_cnn", "acc_1"] > table.loc["model_mlp", "acc_1"] + 0.1
    assert table.loc["model_cnn", "acc_2"] < 0.5 and table.loc["model_mlp", "acc_2"] < 0.5
    assert table.loc["model_cnn", "params"] > table.loc["model_mlp", "params"]  # as the page says: tiny images


def test_aspect_distortion_hurts_unless_trained_for_or_consistent(models, split):
    table = ex.aspect_table(ex.aspect_accuracy(models, split, (0.5, 0.85, 1.0, 2.0))).set_index("key")
    assert table.loc["model_cnn", "r100"] > 0.95 and table.loc["model_cnn", "r85"] > 0.95
    assert table.loc["model_cnn", "r50"] < 0.7 and table.loc["model_cnn", "r200"] < 0.3
    assert table.loc["model_mlp", "r200"] < 0.3
    assert table.loc["model_cnn_aspect"].min() > 0.85
    assert ex.consistent_distortion(0.5, split) > 0.95


def test_more_filters_help_then_saturate(split):
    widths = ex.width_experiment((1, 8, 64), split).set_index("width")
    assert widths.loc[1, "test_accuracy"] < widths.loc[8, "test_accuracy"] - 0.1
    assert abs(widths.loc[64, "test_accuracy"] - widths.loc[8, "test_accuracy"]) < 0.03
    assert widths.loc[64, "params"] > 30 * widths.loc[8, "params"]


def test_only_the_untied_layer_solves_the_position_task():
    result = ex.position_experiment(ex.blobs()).set_index("key")
    for kind in ("conv_circular", "conv_zeros"):
        assert result.loc[kind, "test_accuracy"] <= result.loc[kind, "majority"] + 0.02
    assert result.loc["local", "test_accuracy"] > 0.98
    assert result.loc["local", "params"] > 100 * result.loc["conv_circular", "params"]
