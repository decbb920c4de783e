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
    assert figure.axes[0].get_title() == "a" and figure.axes[3].get_ylabel() == "pred\nraw"
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


# --- feature maps and DeconvNet -------------------------------------------------------------------------

def one_layer(weight: np.ndarray, bias: float) -> nn.Sequential:
    """A single DeconvNet layer: a 2×2 convolution (one filter), ReLU, 2×2 max pooling."""
    conv = nn.Conv2d(1, 1, 2)
    with torch.no_grad():
        conv.weight.copy_(torch.tensor(weight, dtype=torch.float32)[None, None])
        conv.bias.fill_(bias)
    return nn.Sequential(conv, nn.ReLU(), nn.MaxPool2d(2))


def test_deconvnet_of_one_conv_relu_pool_layer_by_hand():
    x = np.array([[1, 0, 2, 1, 0], [3, 1, 0, 2, 1], [0, 2, 4, 1, 3], [1, 0, 1, 5, 0], [2, 1, 0, 1, 2]], dtype=float)
    w, b = np.array([[1.0, -1.0], [2.0, 0.5]]), -1.0
    # forward by hand: valid cross-correlation, ReLU, 2×2 max pooling with its switches
    y = np.array([[max(0.0, (x[i:i + 2, j:j + 2] * w).sum() + b) for j in range(4)] for i in range(4)])
    pooled = np.array([[y[2 * r:2 * r + 2, 2 * c:2 * c + 2].max() for c in range(2)] for r in range(2)])
    r, c = np.unravel_index(pooled.argmax(), pooled.shape)  # the strongest activation of the layer
    window = y[2 * r:2 * r + 2, 2 * c:2 * c + 2]
    i, j = 2 * r + window.argmax() // 2, 2 * c + window.argmax() % 2  # its switch
    # back by hand: unpool to the switch, rectify (the value is positive), transposed filter: value × w at (i, j)
    expected = np.zeros((5, 5))
    expected[i:i + 2, j:j + 2] = pooled[r, c] * w
    projection = interpretation.deconvnet(one_layer(w, b), "2", torch.tensor(x, dtype=torch.float32)[None, None])
    assert projection.units.tolist() == [[0, r, c]] and float(projection.activations[0]) == pytest.approx(pooled[r, c])
    assert np.allclose(projection.images[0, 0].numpy(), expected)
    # a chosen unit whose activation is zero projects to nothing
    dead = np.argwhere(pooled == 0)
    if len(dead):
        zero = interpretation.deconvnet(one_layer(w, b), "2", torch.tensor(x, dtype=torch.float32)[None, None],
                                        units=[[0, *dead[0]]])
        assert float(zero.images.abs().sum()) == 0.0


def test_unpooling_puts_each_value_back_at_its_switch():
    x = torch.tensor([[[[1., 5., 2., 0.], [3., 4., 8., 1.], [0., 9., 6., 7.], [2., 1., 3., 2.]]]])
    pool = nn.Sequential(nn.MaxPool2d(2))
    switches = {(0, 0): (0, 1), (0, 1): (1, 2), (1, 0): (2, 1), (1, 1): (2, 3)}  # where each window's maximum is
    for (r, c), (i, j) in switches.items():
        back = interpretation.deconvnet(pool, pool[0], x, units=[[0, r, c]]).images[0, 0]
        expected = torch.zeros(4, 4)
        expected[i, j] = x[0, 0, i, j]
        assert torch.equal(back, expected)
    pooled, indices = torch.nn.functional.max_pool2d(x, 2, return_indices=True)
    full = torch.nn.functional.max_unpool2d(pooled, indices, 2)
    assert sum(interpretation.deconvnet(pool, pool[0], x, units=[[0, r, c]]).images for r, c in switches).equal(full)


def test_unpooling_agrees_with_max_unpool2d_and_adds_where_windows_overlap():
    torch.manual_seed(0)
    x = torch.randn(3, 4, 9, 9)
    pooled, switches = torch.nn.functional.max_pool2d(x, 2, return_indices=True)  # 4×4; the last row, column dropped
    signal = torch.randn_like(pooled)
    expected = torch.nn.functional.max_unpool2d(signal, switches, 2, output_size=(9, 9))
    assert torch.equal(interpretation.unpool(signal, switches, (9, 9)), expected)
    x = torch.tensor([[[[0., 1., 0.], [1., 5., 1.], [0., 1., 0.]]]])  # one maximum shared by four 2×2 windows
    pooled, switches = torch.nn.functional.max_pool2d(x, 2, stride=1, return_indices=True)
    back = interpretation.unpool(torch.ones_like(pooled), switches, (3, 3))
    assert back[0, 0, 1, 1] == 4 and back.sum() == 4  # max_unpool2d would keep one of the four


def small_features() -> nn.Sequential:
    """Strided and padded convolutions, batch norm with running statistics, overlapping max pooling."""
    torch.manual_seed(3)
    features = nn.Sequential(nn.Conv2d(3, 4, 3, stride=2, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
                             nn.MaxPool2d(3, stride=2, padding=1),  # overlapping windows, as in AlexNet
                             nn.Sequential(nn.Conv2d(4, 6, 3, padding="same"), nn.ReLU(inplace=True)),
                             nn.Dropout(0.5), nn.Conv2d(6, 5, 2), nn.ReLU())
    features.train()
    for _ in range(3):
        features(torch.randn(8, 3, 11, 11))  # gives the batch norm non-trivial running statistics
    return features.eval()


class _Relu(torch.autograd.Function):
    """A ReLU whose backward pass applies another rule: DeconvNet's or guided backpropagation's."""

    @staticmethod
    def forward(ctx, x, rule):
        ctx.save_for_backward(x)
        ctx.rule = rule
        return x.clamp(min=0)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        grad = grad.clamp(min=0)
        return (grad * (x > 0) if ctx.rule == "guided" else grad), None


def autograd_projection(features: nn.Module, layer_index: int, x: torch.Tensor, units: torch.Tensor, rule: str):
    """The gradient of each chosen activation (times its value) w.r.t. the input, by autograd, with the
    ReLUs' backward replaced according to ``rule``: an oracle independent of ``deconvnet``."""
    leaves = [m for m in features.modules() if next(m.children(), None) is None]
    x = x.clone().requires_grad_(True)
    signal = x
    for module in leaves[:layer_index + 1]:
        signal = _Relu.apply(signal, rule) if isinstance(module, nn.ReLU) and rule != "gradient" else module(signal)
    index = torch.arange(len(x))
    chosen = signal[index, units[:, 0], units[:, 1], units[:, 2]]
    (gradient,) = torch.autograd.grad(chosen.sum(), x)
    return gradient * chosen.detach()[:, None, None, None]


@pytest.mark.parametrize("rule", interpretation.RULES)
@pytest.mark.parametrize("depth", [3, 8])  # after the first pooling; the last ReLU
def test_projection_rules_equal_backpropagation_with_their_relu_rule(rule, depth):
    features = small_features()
    leaves = [m for m in features.modules() if next(m.children(), None) is None]
    x = torch.randn(6, 3, 11, 11)
    projection = interpretation.deconvnet(features, leaves[depth], x, rule=rule)
    expected = autograd_projection(features, depth, x, projection.units, rule)
    assert projection.images.shape == x.shape
    assert torch.allclose(projection.images, expected, atol=1e-5)
    assert not features.training


def test_deconvnet_differs_from_the_gradient_only_through_the_relus():
    features = small_features()
    x = torch.randn(4, 3, 11, 11)
    deconv = interpretation.deconvnet(features, features[-1], x)
    gradient = interpretation.deconvnet(features, features[-1], x, units=deconv.units, rule="gradient")
    assert not torch.allclose(deconv.images, gradient.images, atol=1e-4)
    linear = nn.Sequential(nn.Conv2d(3, 4, 3), nn.MaxPool2d(2), nn.Conv2d(4, 2, 3))  # no ReLU: the rules agree
    same = [interpretation.deconvnet(linear, linear[-1], x, units=deconv.units.clamp(max=1), rule=r).images
            for r in interpretation.RULES]
    assert torch.allclose(same[0], same[1]) and torch.allclose(same[0], same[2])


def test_default_units_are_the_strongest_and_top_activations_find_them():
    features = small_features()
    x = torch.randn(10, 3, 11, 11)
    maps = interpretation.feature_maps(features, {"deep": features[4]}, x)["deep"]
    assert torch.allclose(maps, features[4](features[:4](x)))
    projection = interpretation.deconvnet(features, features[4], x)
    assert torch.allclose(projection.activations, maps.amax(dim=(1, 2, 3)))
    top = interpretation.top_activations(features, features[4], x, k=3)
    assert list(top.columns) == ["image", "channel", "row", "column", "activation"]
    assert top.activation.is_monotonic_decreasing and len(top) == 3
    for row in top.itertuples():
        assert maps[row.image, row.channel, row.row, row.column] == pytest.approx(row.activation)
        assert row.activation == pytest.approx(float(maps[:, row.channel].max()))


def test_deconvnet_refuses_what_it_cannot_invert():
    x = torch.rand(1, 3, 8, 8)
    with pytest.raises(ValueError, match="cannot go back through AvgPool2d"):
        interpretation.deconvnet(nn.Sequential(nn.Conv2d(3, 2, 3), nn.AvgPool2d(2)), "1", x)
    with pytest.raises(ValueError, match="rule must be"):
        interpretation.deconvnet(nn.Sequential(nn.Conv2d(3, 2, 3)), "0", x, rule="lrp")
    with pytest.raises(ValueError, match="not a module"):
        interpretation.deconvnet(nn.Sequential(nn.Conv2d(3, 2, 3)), nn.ReLU(), x)


def test_projection_and_feature_map_figures(digits_model):
    model, images = digits_model
    projection = interpretation.deconvnet(model.features, model.features.block2, images[:4])
    assert projection.energy().shape == (4, 28, 28)
    figure = interpretation.show_projections({"A": (images[:4].numpy(), projection),
                                              "B": (images[:3].numpy(), projection)})
    assert len(figure.axes) == 4 * 4 and figure.axes[4].get_ylabel() == "A\nprojection"
    layers = {"block1": model.features.block1, "block3": "features.block3"}  # a module or its name
    maps = interpretation.feature_maps(model, layers, images[:1])
    assert maps["block1"].shape == (1, 32, 14, 14) and maps["block3"].shape == (1, 128, 3, 3)
    figure = interpretation.show_feature_maps({k: v[0] for k, v in maps.items()}, channels=5)
    assert len(figure.axes) == 2 * 5 and figure.axes[5].get_ylabel() == "block3\n128×3×3"


def test_cosine_round_trip_and_rows_figure():
    a = torch.randn(3, 2, 4, 4)
    assert np.allclose(interpretation.cosine(a, a), 1) and np.allclose(interpretation.cosine(a, -2 * a), -1)
    identity = nn.Conv2d(3, 3, 1, bias=False)
    with torch.no_grad():
        identity.weight.copy_(torch.eye(3)[:, :, None, None])
    x = torch.rand(2, 3, 8, 8)
    assert interpretation.transpose_round_trip(identity, x) < 1e-6  # its transpose is its inverse
    torch.manual_seed(0)
    blur = nn.Conv2d(3, 3, 3, padding=1)
    assert interpretation.transpose_round_trip(blur, x) > 0.05  # a generic filter's transpose is not
    pictures = interpretation.signed_pictures(torch.tensor([[[[-2.0, 0.0, 1.0]]]]))
    assert pictures.tolist() == [[[[0.0, 0.5, 0.75]]]]
    figure = interpretation.show_rows({"input": x.numpy(), "again": x.numpy()}, titles=["a", "b"])
    assert len(figure.axes) == 4 and figure.axes[2].get_ylabel() == "again" and figure.axes[1].get_title() == "b"


def test_hires_cam_matches_pytorch_grad_cam_and_ignores_what_cannot_reach_the_output(digits_model):
    from pytorch_grad_cam import HiResCAM
    from pytorch_grad_cam.utils.image import scale_cam_image
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    model, images = digits_model
    classes = torch.arange(len(images)) % 10
    ours = interpretation.hires_cam(model, model.last_conv, images, classes)
    with HiResCAM(model=model, target_layers=[model.last_conv]) as cam:
        theirs = cam(input_tensor=images, targets=[ClassifierOutputTarget(int(c)) for c in classes])
    same_steps = scale_cam_image(scale_cam_image(ours.positive().numpy(), tuple(images.shape[-2:])[::-1]))
    assert np.abs(same_steps - theirs).max() < 1e-5
    # the third pooling floors 7 -> 3: the last row and column never reach the output, so HiResCAM is zero there
    assert (ours.gradients[:, :, -1, :] == 0).all() and (ours.gradients[:, :, :, -1] == 0).all()
    assert (ours.maps[:, -1, :] == 0).all() and (ours.maps[:, :, -1] == 0).all()
    gradcam = interpretation.grad_cam(model, model.last_conv, images, classes)
    assert (gradcam.maps[:, -1, :].abs() > 0).any()  # while Grad-CAM puts mass there
    assert torch.allclose(ours.weights, gradcam.weights)


def test_hires_cam_splits_a_linear_head_exactly_and_equals_grad_cam_after_global_pooling():
    torch.manual_seed(0)
    model = models.ConvNet(3, 16, 5, widths=(8, 16), head="gap", batch_norm=True).eval()
    images = torch.rand(4, 3, 16, 16)
    classes = torch.tensor([0, 1, 2, 4])
    hires = interpretation.hires_cam(model, model.last_conv, images, classes)
    gradcam = interpretation.grad_cam(model, model.last_conv, images, classes)
    assert torch.allclose(hires.maps, gradcam.maps, atol=1e-6)
    bias = model.linear.bias.detach()[classes]
    assert torch.allclose(hires.maps.sum(dim=(1, 2)), hires.scores - bias, atol=1e-5)
    # a dense head that is linear in A: the map still sums to the score minus the bias, but differs from Grad-CAM
    dense = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 8 * 8, 3)).eval()
    x = torch.rand(2, 3, 8, 8)
    hires = interpretation.hires_cam(dense, dense[1], x, [0, 2])
    assert torch.allclose(hires.maps.sum(dim=(1, 2)), hires.scores - dense[3].bias.detach()[[0, 2]], atol=1e-5)
    assert not torch.allclose(hires.maps, interpretation.grad_cam(dense, dense[1], x, [0, 2]).maps, atol=1e-3)
