"""Chapter 2's trained studies of convolution's inductive bias on the scikit-learn digits and the
procedural blob task: the blob task, the transformations, the augmented training set, the training
settings, and the claims the chapter makes from them (trained by ``training.fit`` into a temporary
runs folder)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from cnnbook import data, training
from cnnbook import inductive_bias as ib


@pytest.fixture(scope="module", autouse=True)
def runs_folder(tmp_path_factory):
    """Train into a fresh folder: the claims are checked on runs trained here, not on cached ones."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CNNBOOK_CACHE", str(tmp_path_factory.mktemp("cache")))
        yield


@pytest.fixture(scope="module")
def digits():
    return data.load("digits")


@pytest.fixture(scope="module")
def models(digits):
    return ib.digits_models(digits)


def test_blobs_label_is_the_half_and_half_a_turn_flips_it():
    blobs = ib.blobs(count=200, size=16)
    assert blobs.image_shape == (1, 16, 16) and not blobs.source().real and len(blobs.train) + len(blobs.test) == 200
    x, y = blobs.train.tensors().tensors
    column = x[:, 0].sum(dim=1).argmax(dim=1)  # the blob's column
    assert torch.equal(y, (column >= 8).long())
    rolled = torch.roll(x, 8, dims=-1)
    assert torch.equal((rolled[:, 0].sum(dim=1).argmax(dim=1) >= 8).long(), 1 - y)
    assert np.array_equal(ib.blobs(count=200).test.images, blobs.test.images)  # fixed by the seed


def test_global_pooled_circular_convolution_cannot_see_the_half():
    model = ib.position_model("conv_circular").eval()
    x = ib.blobs(count=20).train.tensors().tensors[0]
    with torch.no_grad():
        assert torch.allclose(model(x), model(torch.roll(x, 8, dims=-1)), atol=1e-6)
    with pytest.raises(ValueError, match="unknown kind"):
        ib.position_model("dense")
    flat = ib.position_model("conv_flat").eval()
    with torch.no_grad():  # the flatten head is not invariant: a half turn changes its output
        assert not torch.allclose(flat(x), flat(torch.roll(x, 8, dims=-1)), atol=1e-3)


def test_aspect_is_the_identity_at_one_and_squeezes_without_cropping(digits):
    x = digits.test.tensors().tensors[0][:20]
    assert torch.allclose(ib.aspect(x, 1.0), x, atol=1e-6)
    squeezed = ib.aspect(x, 0.5)
    columns = (squeezed[:, 0].abs().sum(dim=(0, 1)) > 1e-6).sum()
    assert columns <= 5  # half of 8 columns, plus bilinear spill
    assert torch.allclose(squeezed.sum(dim=(2, 3)), x.sum(dim=(2, 3)) * 0.5, rtol=0.05)
    rows = (ib.aspect(x, 2.0)[:, 0].abs().sum(dim=(0, 2)) > 1e-6).sum()
    assert rows <= 5  # a ratio above 1 squeezes the height


def test_aspect_takes_one_ratio_per_image(digits):
    x = digits.test.tensors().tensors[0][:4]
    ratios = torch.tensor([0.5, 1.0, 2.0, 0.7])
    each = torch.cat([ib.aspect(x[i: i + 1], float(r)) for i, r in enumerate(ratios)])
    assert torch.allclose(ib.aspect(x, ratios), each, atol=1e-6)


def test_random_aspect_is_a_fixed_set_of_distorted_copies(digits):
    train_set = digits.train.subset(slice(0, 50)).tensors()
    augmented = ib.random_aspect(train_set, copies=3, seed=1)
    x, y = augmented.tensors
    assert x.shape == (150, 1, 8, 8) and torch.equal(y, train_set.tensors[1].repeat(3))
    assert torch.equal(x, ib.random_aspect(train_set, copies=3, seed=1).tensors[0])
    assert not torch.equal(x, ib.random_aspect(train_set, copies=3, seed=2).tensors[0])
    assert not torch.equal(x[:50], x[50:100])  # every copy has its own ratios
    # the run key covers the augmentation through the data: another seed is another run
    other = ib.random_aspect(train_set, copies=3, seed=2)
    assert training.data_fingerprint(augmented) != training.data_fingerprint(other)


def test_translate_moves_content_and_fills_with_zeros(digits):
    x = digits.test.tensors().tensors[0][:5]
    assert torch.equal(ib.translate(x, 0), x)
    assert torch.equal(ib.translate(x, 2)[..., 2:], x[..., :-2]) and (ib.translate(x, 2)[..., :2] == 0).all()
    assert torch.equal(ib.translate(x, -1)[..., :-1], x[..., 1:])


def test_training_is_cached_deterministic_and_on_one_thread(digits):
    threads = torch.get_num_threads()
    train_set = digits.train.tensors()
    first = ib.train(ib.mlp, train_set, 2, "test-mlp", seed=3)
    again = ib.train(ib.mlp, train_set, 2, "test-mlp", seed=3)
    training.seed_everything(3)
    with training.threads(1):  # results depend on the thread count at rounding level
        retrained = training.fit(ib.mlp(), train_set, epochs=2, lr=ib.LR, batch_size=ib.BATCH_SIZE, seed=3,
                                 cache=False, runs_dir=training.cache_dir() / "fresh")
    assert not retrained.cached
    for a, b in ((first, again), (first, retrained.model)):
        assert all(torch.equal(p, q) for p, q in zip(a.state_dict().values(), b.state_dict().values()))
    x, y = digits.test.tensors().tensors
    assert ib.accuracy(first, x, y) == training.predict(first, digits.test.tensors()).accuracy
    assert torch.get_num_threads() == threads


def test_cnn_is_more_robust_to_shifts_than_the_dense_network_but_not_invariant(models, digits):
    """S0.Q2(a): both accurate unmoved; one pixel hurts the dense network far more; two pixels
    leave the dense network near chance and the CNN below half; the CNN is the larger one here."""
    table = ib.shift_table(ib.shift_accuracy({k: models[k] for k in ("model_mlp", "model_cnn")},
                                             digits.test, range(-2, 3))).set_index("key")
    assert table.loc["model_mlp", "acc_0"] > 0.95 and table.loc["model_cnn", "acc_0"] > 0.95
    assert table.loc["model_cnn", "acc_1"] > table.loc["model_mlp", "acc_1"] + 0.1
    assert table.loc["model_mlp", "acc_2"] < 0.25 and table.loc["model_cnn", "acc_2"] < 0.5
    assert table.loc["model_cnn", "acc_2"] > table.loc["model_mlp", "acc_2"]
    assert table.loc["model_cnn", "params"] > table.loc["model_mlp", "params"]  # as the page says: tiny images


def test_aspect_distortion_hurts_unless_trained_for_or_consistent(models, digits):
    """S0.Q2(j) and S3.Q5: accurate near r = 1, poor at 0.5 and near chance at 2 for both
    networks; training on random ratios or on consistently squeezed digits repairs it."""
    table = ib.aspect_table(ib.aspect_accuracy(models, digits.test, (0.5, 0.85, 1.0, 2.0))).set_index("key")
    assert table.loc["model_cnn", "r100"] > 0.95 and table.loc["model_cnn", "r85"] > 0.95
    assert table.loc["model_cnn", "r50"] < 0.7 and table.loc["model_cnn", "r200"] < 0.3
    assert table.loc["model_mlp", "r50"] < 0.7 and table.loc["model_mlp", "r200"] < 0.3
    assert table.loc["model_cnn_aspect"].min() > 0.85
    assert table.loc["model_cnn_aspect", "r100"] > 0.95
    assert ib.consistent_distortion(0.5, digits) > table.loc["model_cnn", "r50"] + 0.3


def test_more_filters_help_with_diminishing_returns(digits):
    """S0.Q2(f), as the page words it: test accuracy rises from one filter to 32 (the test error
    falls by more than half from 8 to 32), 64 is not better than 32 by more than a digit; every
    network from 16 filters on classifies all training digits, yet test accuracy still rises
    after that; the parameters grow more than 30-fold from 8 to 64 filters."""
    widths = ib.width_experiment((1, 8, 16, 32, 64), digits).set_index("width")
    accuracy = widths["test_accuracy"]
    assert accuracy[1] < accuracy[8] < accuracy[16] < accuracy[32]
    assert 1 - accuracy[32] < (1 - accuracy[8]) / 2
    assert accuracy[64] <= accuracy[32] + 1 / len(digits.test)
    assert (widths.loc[16:, "train_accuracy"] == 1.0).all()
    assert widths.loc[64, "params"] > 30 * widths.loc[8, "params"]


def test_the_position_task_needs_untied_weights_or_a_positional_head():
    """S0.Q2(e) and S3.Q5: shared convolutions with global pooling stay at the majority rate; the
    same convolution with a flatten-and-linear head solves the task, and so does the locally
    connected layer with global pooling; the convolution with a flatten head needs far fewer
    parameters than the locally connected layer."""
    result = ib.position_experiment(ib.blobs()).set_index("key")
    for kind in ("conv_circular", "conv_zeros"):
        assert result.loc[kind, "test_accuracy"] <= result.loc[kind, "majority"] + 0.02
    for kind in ("conv_flat", "local"):
        assert result.loc[kind, "test_accuracy"] > 0.98
    assert result.loc["local", "params"] > 100 * result.loc["conv_circular", "params"]
    assert result.loc["conv_flat", "params"] < result.loc["local", "params"] / 4
    assert list(result["head"]) == ["pool", "pool", "flat", "pool"]
    assert list(result["sharing"]) == [True, True, True, False]


def test_aspect_figure_has_the_digits_and_one_line_per_model(models, digits):
    accuracies = ib.aspect_accuracy(models, digits.test, (0.5, 1.0, 2.0))
    fig = ib.plot_aspect(accuracies, digits.test)
    chart = fig.axes[-1]
    assert len(fig.axes) == 6 and len(chart.get_lines()) == len(models)
    assert [t.get_text() for t in chart.get_legend().get_texts()] == [ib.LEGEND[k] for k in models]
