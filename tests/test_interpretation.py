"""Grad-CAM from scratch, against the maintained ``grad-cam`` package (pytorch-grad-cam) and against CAM."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from cnnbook import data, interpretation, models, training


@pytest.fixture(scope="module")
def digits_model(tmp_path_factory):
    """The S4.Q7 network after a few epochs on the digits (maps of a trained model are far from zero)."""
    digits = data.digits(size=28)
    training.seed_everything(0)
    run = training.fit(models.s4_q7_cnn(), digits.train.tensors(), epochs=3, device="cpu",
                       runs_dir=tmp_path_factory.mktemp("runs"))
    images = torch.from_numpy(digits.test.scaled()[:12])
    return run.model, images


def min_max(maps: np.ndarray) -> np.ndarray:
    low, high = maps.min(axis=(1, 2), keepdims=True), maps.max(axis=(1, 2), keepdims=True)
    return (maps - low) / (high - low + 1e-7)


def their_grad_cam(model, layer, images, classes) -> np.ndarray:
    from pytorch_grad_cam import GradCAM
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    with GradCAM(model=model, target_layers=[layer]) as cam:
        return cam(input_tensor=images, targets=[ClassifierOutputTarget(int(c)) for c in classes])


def check_against_pytorch_grad_cam(model, layer, images, classes):
    """Their output is min-max(resize(min-max(ReLU(Σ α A)))) with OpenCV's bilinear resize. The same
    steps applied to our raw map must agree to float precision; our own (PyTorch) bilinear upsampling
    differs from OpenCV's by interpolation round-off only."""
    from pytorch_grad_cam.utils.image import scale_cam_image

    ours = interpretation.grad_cam(model, layer, images, classes)
    nonzero = ours.positive().amax(dim=(1, 2)) > 0  # an all-zero map (all evidence against c) compares trivially
    assert nonzero.float().mean() >= 0.5, "mostly trivial maps would prove nothing"
    theirs = their_grad_cam(model, layer, images, classes)
    size = tuple(images.shape[-2:])
    same_steps = scale_cam_image(scale_cam_image(ours.positive().numpy(), size[::-1]))
    assert np.abs(same_steps - theirs).max() < 1e-5
    assert np.abs(min_max(ours.upsampled(size).numpy()) - theirs).max() < 2e-3


def test_grad_cam_matches_pytorch_grad_cam_on_the_s4_q7_network(digits_model):
    model, images = digits_model
    classes = torch.arange(len(images)) % 10  # the true class, a wrong one: any class is explained
    check_against_pytorch_grad_cam(model, model.last_conv, images, classes)


def test_grad_cam_matches_pytorch_grad_cam_on_efficientnet_lite0():
    model = models.efficientnet_lite0()
    image = torch.from_numpy(np.stack([data.photo("chelsea"), data.photo("coffee")]) / 255.0).float()
    cat, espresso = model.classes.index("Egyptian cat"), model.classes.index("espresso")
    check_against_pytorch_grad_cam(model, model.get_submodule("net._blocks.15"), image, [cat, espresso])


def test_grad_cam_equals_cam_over_hw_for_a_gap_network():
    torch.manual_seed(0)
    model = models.ConvNet(3, 16, 5, widths=(8, 16), head="gap", batch_norm=True).eval()
    images = torch.rand(4, 3, 16, 16)
    classes = torch.tensor([0, 1, 2, 4])
    gradcam = interpretation.grad_cam(model, model.last_conv, images, classes)
    cam = interpretation.class_activation_map(model, model.last_conv, model.linear, images, classes)
    height, width = gradcam.maps.shape[-2:]
    assert (height, width) == (8, 8)  # the last block does not pool
    assert torch.allclose(gradcam.maps * height * width, cam.maps, atol=1e-5)
    assert torch.allclose(gradcam.weights * height * width, cam.weights, atol=1e-5)
    bias = model.linear.bias.detach()[classes]
    assert torch.allclose(gradcam.maps.sum(dim=(1, 2)), gradcam.scores - bias, atol=1e-5)  # the score splits over locations


def test_default_class_is_the_prediction_and_the_model_keeps_its_mode(digits_model):
    model, images = digits_model
    model.train()
    cam = interpretation.grad_cam(model, model.last_conv, images)
    assert model.training
    model.eval()
    with torch.no_grad():
        assert torch.equal(cam.classes, model(images).argmax(dim=1))
        assert torch.allclose(cam.logits, model(images), atol=1e-6)
    assert cam.maps.shape == (len(images), 7, 7)


def test_frozen_parameters_and_in_place_activations_are_fine():
    torch.manual_seed(0)
    plain = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 3))
    in_place = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(inplace=True), nn.AdaptiveAvgPool2d(1),
                             nn.Flatten(), nn.Linear(4, 3))
    in_place.load_state_dict(plain.state_dict())
    for parameter in in_place.parameters():
        parameter.requires_grad_(False)
    images = torch.rand(2, 1, 6, 6)
    expected = interpretation.grad_cam(plain, plain[0], images, 1)
    got = interpretation.grad_cam(in_place, in_place[0], images, 1)  # hooks the conv, whose output ReLU overwrites
    assert torch.allclose(expected.maps, got.maps, atol=1e-6)
    assert interpretation.grad_cam(plain, "0", images, 1).maps.shape == (2, 6, 6)  # a layer by name


def test_a_module_that_runs_twice_is_refused():
    relu = nn.ReLU()
    model = nn.Sequential(nn.Conv2d(1, 2, 3), relu, nn.Conv2d(2, 2, 3), relu, nn.Flatten(), nn.LazyLinear(2))
    model(torch.zeros(1, 1, 8, 8))
    with pytest.raises(ValueError, match="ran 2 times"):
        interpretation.grad_cam(model, relu, torch.rand(1, 1, 8, 8))


def test_pointing_game_and_mass_inside_on_hand_made_maps():
    masks = np.zeros((3, 4, 4), dtype=bool)
    masks[:, :2, :2] = True
    maps = np.zeros((3, 4, 4))
    maps[0, 0, 1] = 2.0  # peak inside
    maps[0, 3, 3] = 1.0
    maps[1] = 1.0  # uniform
    maps[1, 3, 3] = 1.5  # peak outside
    # maps[2] stays zero: points nowhere
    assert interpretation.pointing_game(maps, masks).tolist() == [True, False, False]
    mass = interpretation.mass_inside(maps, masks)
    assert mass[0] == pytest.approx(2 / 3) and mass[1] == pytest.approx(4 / 16.5) and np.isnan(mass[2])
    uniform = np.ones((1, 4, 4))
    assert interpretation.mass_inside(uniform, masks[:1])[0] == pytest.approx(masks[0].mean())


def test_localisation_scores_every_image_against_every_region(digits_model):
    model, images = digits_model
    ink = images[:, 0].numpy() > 0.5
    corner = np.zeros((28, 28), dtype=bool)
    corner[:7, :7] = True
    scores = interpretation.localisation(model, model.last_conv, images, {"ink": ink, "corner": corner},
                                         batch_size=5)
    assert list(scores.columns) == ["class", "predicted", "pointing_ink", "mass_ink", "pointing_corner", "mass_corner"]
    direct = interpretation.grad_cam(model, model.last_conv, images).upsampled((28, 28)).numpy()
    assert np.allclose(scores.mass_ink, interpretation.mass_inside(direct, ink), equal_nan=True)
    assert scores.pointing_corner.tolist() == interpretation.pointing_game(direct, np.broadcast_to(corner, ink.shape)).tolist()


def test_show_draws_one_column_per_image_and_the_requested_rows(digits_model):
    model, images = digits_model
    cam = interpretation.grad_cam(model, model.last_conv, images[:3])
    figure = interpretation.show(images[:3].numpy(), {"pred": cam}, ["a", "b", "c"], rows=("raw", "overlay", "negative"),
                                 masks=images[:3, 0].numpy() > 0.5)
    assert len(figure.axes) == 4 * 3
    assert figure.axes[0].get_title() == "a" and figure.axes[3].get_ylabel() == "pred raw"
    with pytest.raises(ValueError, match="unknown rows"):
        interpretation.show(images[:1].numpy(), {"": cam}, ["a"], rows=("heat",))


def test_score_maps_summarises_in_percent(digits_model):
    model, images = digits_model
    ink = images[:, 0].numpy() > 0.5
    labels = np.arange(len(images)) % 10
    summary = interpretation.score_maps(model, model.last_conv, images, labels, {"ink": ink})
    scores = interpretation.localisation(model, model.last_conv, images, {"ink": ink}, classes=labels)
    assert summary["area_ink"] == pytest.approx(100 * ink.mean())
    assert summary["mass_ink"] == pytest.approx(100 * np.nanmean(scores.mass_ink))
    assert summary["pointing_ink"] == pytest.approx(100 * scores.pointing_ink.mean())
    with torch.no_grad():
        expected = (model(images).argmax(dim=1).numpy() == labels).mean()
    assert summary["accuracy"] == pytest.approx(100 * expected)
