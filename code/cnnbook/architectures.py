"""Chapter 8's studies of efficient architectures: 1×1 convolutions, Inception's reductions, the
linear bottleneck, the width and resolution multipliers, and small trained comparisons.

Guarantees: every cost is counted on the real modules (``cnnbook.complexity``), not typed; every
claim has its control (a 3×3 convolution for "a 1×1 convolution is a per-pixel linear layer", a
linear map for "ReLU destroys information", the non-linear bottleneck for "linear bottlenecks
help", a plain CNN of matched cost for "Inception helps"); training runs are deterministic and
cached by ``training.fit`` and all share one data set, one optimiser and one epoch budget.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import pandas as pd
import torch
from torch import nn
from torch.utils.data import TensorDataset

from cnnbook import arithmetic, complexity, data, models, training
from cnnbook.profiles import Profile

# S3.Q6's example: 64×64×3 → 3×3 conv with 128 filters ('valid', as the sheet's Keras code) → 1×1 conv with 32.
SHEET_INPUT = (3, 64, 64)
SHEET_LAYERS = [arithmetic.Conv(128, 3, name="conv3x3"), arithmetic.Conv(32, 1, name="conv1x1")]

GOOGLENET_3A = dict(models.GOOGLENET_MODULES[0:1])["3a"]  # (#1×1, #3×3 reduce, #3×3, #5×5 reduce, #5×5, pool proj)
GOOGLENET_3A_INPUT = (192, 28, 28)  # Table 1: the input of inception (3a)
RESNET_BOTTLENECK = (256, 64, 56)  # conv2_x of ResNet-50: 256 channels, 64 in the bottleneck, 56×56 maps


# --------------------------------------------------------------------------- 1×1 convolutions
def pointwise_is_linear(in_channels: int = 128, out_channels: int = 32, size: int = 62, seed: int = 0) -> dict:
    """A 1×1 convolution against ``nn.Linear`` with the same weights applied at every pixel
    (float64): the largest difference. Control: a 3×3 convolution whose centre tap holds those
    weights (and whose other taps are random) is *not* per-pixel. Also: two stacked 1×1
    convolutions without an activation equal one, with the product of their weight matrices."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(2, in_channels, size, size, generator=g, dtype=torch.float64)
    conv = nn.Conv2d(in_channels, out_channels, 1).double()
    linear = nn.Linear(in_channels, out_channels).double()
    with torch.no_grad():
        linear.weight.copy_(conv.weight[:, :, 0, 0])
        linear.bias.copy_(conv.bias)
        per_pixel = linear(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)  # the linear layer at every (i, j)
        wide = nn.Conv2d(in_channels, out_channels, 3, padding=1).double()
        wide.weight[:, :, 1, 1] = conv.weight[:, :, 0, 0]
        wide.bias.copy_(conv.bias)
        second = nn.Conv2d(out_channels, 16, 1).double()
        merged = nn.Conv2d(in_channels, 16, 1).double()
        merged.weight[:, :, 0, 0] = second.weight[:, :, 0, 0] @ conv.weight[:, :, 0, 0]
        merged.bias.copy_(second.weight[:, :, 0, 0] @ conv.bias + second.bias)
        out = conv(x)
        return {"linear_difference": float((out - per_pixel).abs().max()),
                "control_difference": float((wide(x) - per_pixel).abs().max()),
                "scale": float(out.abs().max()),
                "stacked_difference": float((second(out) - merged(x)).abs().max())}


def inception_costs(in_shape: Sequence[int] = GOOGLENET_3A_INPUT, widths: Sequence[int] = GOOGLENET_3A) -> pd.DataFrame:
    """Parameters and MACs per branch of an Inception module, naive (no 1×1 reductions) and with
    them, counted on the real modules; a last row ``total``."""
    naive = models.InceptionModule(in_shape[0], widths, reduce=False)
    reduced = models.InceptionModule(in_shape[0], widths, reduce=True)
    rows = []
    for key in ("branch1", "branch3", "branch5", "pool"):
        n, r = (complexity.cost(getattr(m, key), in_shape) for m in (naive, reduced))
        rows.append({"key": key, "naive_params": n.params, "naive_macs": n.macs,
                     "reduced_params": r.params, "reduced_macs": r.macs,
                     "naive_out": n.output_shape[0], "reduced_out": r.output_shape[0]})
    frame = pd.DataFrame(rows)
    total = frame.drop(columns="key").sum().to_dict()
    return pd.concat([frame, pd.DataFrame([{"key": "total", **total}])], ignore_index=True)


def resnet_bottleneck_costs(channels: int = RESNET_BOTTLENECK[0], width: int = RESNET_BOTTLENECK[1],
                            size: int = RESNET_BOTTLENECK[2]) -> pd.DataFrame:
    """ResNet's bottleneck (1×1 reduce to ``width``, 3×3, 1×1 expand) against two 3×3 convolutions
    on all ``channels`` (the basic block at the same width), biases off as in ResNet."""
    designs = {
        "bottleneck": nn.Sequential(nn.Conv2d(channels, width, 1, bias=False), nn.Conv2d(width, width, 3, padding=1, bias=False),
                                    nn.Conv2d(width, channels, 1, bias=False)),
        "basic": nn.Sequential(nn.Conv2d(channels, channels, 3, padding=1, bias=False),
                               nn.Conv2d(channels, channels, 3, padding=1, bias=False)),
    }
    frame = complexity.table({k: (m, (channels, size, size)) for k, m in designs.items()})
    frame["share"] = frame.macs / frame.macs.iloc[-1]
    return frame


# --------------------------------------------------------------------------- ReLU on a low-dimensional manifold
def spiral(points: int = 1000, turns: float = 2.0) -> np.ndarray:
    """A 2-D spiral around the origin (``2 × points``), MobileNetV2's Figure 1 input."""
    t = np.linspace(0.0, 2 * np.pi * turns, points)
    radius = 0.2 + t / (2 * np.pi * turns)
    return np.stack([radius * np.cos(t), radius * np.sin(t)])


def relu_round_trip(x: np.ndarray, dim: int, rng: np.random.Generator, relu: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Embed ``x`` (2×P) with a random ``dim×2`` matrix ``T``, apply ReLU (or not: the control),
    map back with ``T``'s pseudo-inverse. Returns the reconstruction and, per point, whether the
    rows of ``T`` that stay active there still span the plane (only then is the point recoverable)."""
    T = rng.standard_normal((dim, 2))
    y = T @ x
    if relu:
        y = np.maximum(y, 0.0)
    active = (T @ x) > 0 if relu else np.ones_like(y, dtype=bool)
    recoverable = np.array([np.linalg.matrix_rank(T[active[:, p]]) == 2 if active[:, p].sum() >= 2 else False
                            for p in range(x.shape[1])])
    return np.linalg.pinv(T) @ y, recoverable


def relu_information_loss(dims: Sequence[int] = (2, 3, 5, 15, 30), trials: int = 20, points: int = 400,
                          seed: int = 0) -> pd.DataFrame:
    """Per embedding dimension: the relative reconstruction error ``‖c x̂ − x‖/‖x‖`` after
    ReLU(Tx) and the pseudo-inverse (``c`` the best scale: ReLU halves the output on average, a
    size change the next layer can undo; mean over ``trials`` random ``T``), the same without
    the ReLU (the control, largest over the trials), and the share of points no decoder could
    recover (fewer than two independent active rows of ``T``)."""
    x = spiral(points)
    rng = np.random.default_rng(seed)
    rows = []
    for dim in dims:
        relu_err, linear_err, lost = [], [], []
        for _ in range(trials):
            state = rng.bit_generator.state
            x_hat, recoverable = relu_round_trip(x, dim, rng)
            rng.bit_generator.state = state  # the control uses the same T
            x_lin, _ = relu_round_trip(x, dim, rng, relu=False)
            scale = float(np.sum(x_hat * x) / np.sum(x_hat * x_hat))  # best rescaling: count shape, not size
            relu_err.append(np.linalg.norm(scale * x_hat - x) / np.linalg.norm(x))
            linear_err.append(np.linalg.norm(x_lin - x) / np.linalg.norm(x))
            lost.append(1.0 - recoverable.mean())
        rows.append({"key": f"n{dim}", "dim": dim, "relu_error": float(np.mean(relu_err)),
                     "linear_error": float(np.max(linear_err)), "lost_share": float(np.mean(lost))})
    return pd.DataFrame(rows)


def relu_figure(dims: Sequence[int] = (2, 3, 5, 15, 30), seed: int = 0):
    """The spiral and its ReLU round trips for one random ``T`` per dimension (as MobileNetV2's Figure 1)."""
    from cnnbook import plots

    x = spiral()
    fig, axes = plots.figure(1, len(dims) + 1, panel=(1.6, 1.6))
    panels = [("input", x)] + [(f"n = {d}", relu_round_trip(x, d, np.random.default_rng(seed + d))[0]) for d in dims]
    for ax, (title, points) in zip(axes[0], panels):
        ax.scatter(points[0], points[1], c=np.arange(points.shape[1]), cmap="viridis", s=1)
        ax.set_title(title)
        ax.set_xticks([]), ax.set_yticks([])
        ax.set_aspect("equal")
    return fig


# --------------------------------------------------------------------------- width and resolution multipliers
def multiplier_laws(build: Callable[[float], nn.Module], alphas: Sequence[float] = (0.25, 0.5, 0.75, 1.0),
                    sides: Sequence[int] = (224, 192, 160, 128), base_side: int = 224) -> pd.DataFrame:
    """Parameters and MACs of ``build(alpha)`` on ``side×side`` inputs, with their ratios to α = 1
    at the base side, beside the laws' predictions α² and ρ² (ρ = side / base_side)."""
    base = complexity.cost(lambda: build(1.0), (3, base_side, base_side))
    rows = []
    for alpha in alphas:
        for side in sides:
            if alpha != 1.0 and side != base_side:
                continue  # one multiplier at a time, as the paper's tables
            c = complexity.cost(lambda: build(alpha), (3, side, side))
            rho = side / base_side
            rows.append({"key": f"a{int(alpha * 100)}_r{side}", "alpha": alpha, "rho": rho, "side": side,
                         "params": c.params, "macs": c.macs, "params_ratio": c.params / base.params,
                         "macs_ratio": c.macs / base.macs, "law": alpha ** 2 * rho ** 2})
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- trained comparisons
QUICK_TRAIN_IMAGES = 1000  # training images on the quick profile (a fifth held out for validation)
CHAPTER_LR = 2e-3  # Adam's learning rate for the chapter's trained comparisons (S3.Q7)
QUICK_MOBILE_IMAGES = 3000  # the MobileNet study's training images on the quick profile: the whole stand-in


@dataclass
class Trained:
    """A trained network's results: the run, its test accuracy, cost and seconds per epoch."""

    key: str
    run: training.Run
    test_accuracy: float
    params: int
    macs: int
    side: int

    @property
    def seconds_per_epoch(self) -> float:
        return self.run.seconds / len(self.run.history)


def image_data(profile: Profile, images: int = QUICK_TRAIN_IMAGES) -> tuple[data.DataSet, TensorDataset, TensorDataset, TensorDataset]:
    """CIFAR-10 on ``full``, its 32×32 stand-in on ``quick`` (cut to its first ``images`` after a
    seeded shuffle): the data set and its fit, validation and test tensors."""
    dataset = data.for_profile("cifar10", profile)
    train = dataset.train if profile.real_data else dataset.train.shuffled(0).subset(slice(0, images))
    fit_part, validation = train.split(0.2)
    return dataset, fit_part.tensors(), validation.tensors(), dataset.test.tensors()


def resized(tensors: TensorDataset, side: int) -> TensorDataset:
    """The images resampled to ``side×side`` (area averaging down, bilinear up): the resolution multiplier."""
    images, *rest = tensors.tensors
    if images.shape[-1] == side:
        return tensors
    mode = "area" if side < images.shape[-1] else "bilinear"
    return TensorDataset(torch.nn.functional.interpolate(images, size=(side, side), mode=mode), *rest)


def train(key: str, build: Callable[[], nn.Module], fit_part: TensorDataset, validation: TensorDataset,
          test: TensorDataset, epochs: int, side: int | None = None, seed: int = 0, lr: float = CHAPTER_LR) -> Trained:
    """Train one network (Adam, cosine schedule, one CPU thread for small models) and test it."""
    side = side or fit_part.tensors[0].shape[-1]
    fit_part, validation, test = (resized(t, side) for t in (fit_part, validation, test))
    training.seed_everything(seed)
    model = build()
    c = complexity.cost(model, (fit_part.tensors[0].shape[1], side, side))
    with training.threads(1):
        run = training.fit(model, fit_part, validation, epochs=epochs, lr=lr, schedule="cosine", seed=seed,
                           name=f"ch08-{key}", batch_size=32)
        accuracy = training.predict(run.model, test).accuracy
    return Trained(key, run, accuracy, c.params, c.macs, side)


def matched_plain_cnn(target_macs: int, n_classes: int = 10, side: int = 32) -> Callable[[], nn.Module]:
    """A builder of the plain CNN (three 3×3 conv-BN-ReLU blocks of widths w, 2w, 4w with max
    pooling, global average pooling) whose MACs are closest to ``target_macs``."""
    def build(w: int) -> nn.Module:
        return models.ConvNet(3, side, n_classes, (w, 2 * w, 4 * w), head="gap", batch_norm=True)

    best = min(range(4, 129), key=lambda w: abs(complexity.cost(lambda: build(w), (3, side, side)).macs - target_macs))
    return lambda: build(best)


def results_frame(results: Sequence[Trained]) -> pd.DataFrame:
    """One row per trained network: key, input side, parameters, MACs, test accuracy (%), s/epoch."""
    return pd.DataFrame([{"key": r.key, "side": r.side, "params": r.params, "macs": r.macs,
                          "test_accuracy": 100 * r.test_accuracy, "seconds_per_epoch": r.seconds_per_epoch,
                          "best_val": 100 * float(r.run.history.val_accuracy.max())} for r in results])


def accuracy_vs_macs_figure(results: Sequence[Trained], groups: dict[str, Sequence[str]]):
    """Test accuracy against MACs (log axis), one line per group of run keys."""
    from cnnbook import plots

    fig, axes = plots.figure(1, 1, panel=(5.0, 3.4))
    ax = axes[0, 0]
    by_key = {r.key: r for r in results}
    for label, keys in groups.items():
        runs = [by_key[k] for k in keys]
        ax.plot([r.macs for r in runs], [100 * r.test_accuracy for r in runs], marker="o", label=label)
        for r in runs:
            ax.annotate(r.key, (r.macs, 100 * r.test_accuracy), fontsize=6, xytext=(3, 3), textcoords="offset points")
    ax.set_xscale("log")
    ax.set_xlabel("MACs per image")
    ax.set_ylabel("test accuracy (%)")
    ax.legend(fontsize=7)
    return fig


# --------------------------------------------------------------------------- VGG16 against the light VGG
def vgg_by_stage(net: nn.Sequential, input_shape: Sequence[int]) -> pd.DataFrame:
    """Parameters and MACs of a ``models.vgg`` network per stage (``block1`` … the conv blocks,
    then ``fc1``, ``fc2``, ``logits``), from ``cnnbook.arithmetic`` on its layers."""
    frame = arithmetic.analyze(net, input_shape).frame()
    frame["stage"] = [("block" + name[4:].split("_")[0]) if name.startswith(("conv", "relu", "pool"))
                      else name.split("_")[0] for name in frame.layer]
    grouped = frame.groupby("stage", sort=False).agg(params=("params", "sum"), macs=("macs", "sum"),
                                                     output=("output", "last")).reset_index()
    return grouped[grouped.stage != "flatten"].reset_index(drop=True)


def light_vgg_against_vgg16() -> tuple[pd.DataFrame, dict[str, float]]:
    """S2.Q5(3): the light VGG (128×128) beside VGG16 with the same 8-class head (224×224), stage by
    stage (output, parameters, MACs; columns ``*_light`` and ``*_vgg16``), and the facts the page
    cites: totals, their ratios, the dense layers' shares, the flattened sizes and the pixel ratio."""
    side = models.LIGHT_VGG_INPUT
    light = vgg_by_stage(models.light_vgg(), (3, side, side))
    vgg_8 = vgg_by_stage(models.vgg16(models.LIGHT_VGG_CLASSES), (3, 224, 224))
    by_stage = light.merge(vgg_8, on="stage", suffixes=("_light", "_vgg16"))
    flat = lambda build, s: arithmetic.analyze(build(), (3, s, s)).layer("flatten").out_shape[0]  # noqa: E731
    facts: dict[str, float] = {"light_params": int(light.params.sum()), "vgg16_params": int(vgg_8.params.sum()),
                               "light_macs": int(light.macs.sum()), "vgg16_macs": int(vgg_8.macs.sum())}
    facts.update({
        "param_ratio": facts["vgg16_params"] / facts["light_params"],
        "mac_ratio": facts["vgg16_macs"] / facts["light_macs"],
        "light_fc_share": 100 * light.params[light.stage.str.startswith(("fc", "logits"))].sum() / facts["light_params"],
        "vgg_fc1_share": 100 * vgg_8.params[vgg_8.stage == "fc1"].sum() / facts["vgg16_params"],
        "flat_light": flat(models.light_vgg, side), "flat_vgg16": flat(models.vgg16, 224),
        "pixel_ratio": (224 / side) ** 2})
    return by_stage, facts


# --------------------------------------------------------------------------- EfficientNet's scaling, measured
def efficientnet_scaling(names: Sequence[str] = ("b0", "b1", "b2", "b3", "b4", "b5", "b6", "b7")) -> pd.DataFrame:
    """The paper's compound scaling (``models.scaling_table``) beside torchvision's B0…B7 at their
    released resolutions: parameters, MACs and the measured MACs factor over B0."""
    import torchvision

    table = models.scaling_table(range(len(names)))
    rows = []
    for name in names:
        side = models.EFFICIENTNET_COEFFICIENTS[name][2]
        c = complexity.cost(getattr(torchvision.models, f"efficientnet_{name}"), (3, side, side))
        rows.append({"key": name, "params": c.params, "macs": c.macs})
    measured = pd.DataFrame(rows)
    measured["measured_factor"] = measured.macs / measured.macs.iloc[0]
    return table.merge(measured, on="key")


# --------------------------------------------------------------------------- the chapter's summary
def native_costs(n_classes: int = 10) -> pd.DataFrame:
    """Every architecture of the chapter at its native input: parameters and MACs (ImageNet heads
    for the ImageNet networks, ``n_classes`` for the 32×32 ones, 8 for the light VGG)."""
    import torchvision
    from efficientnet_lite_pytorch import EfficientNet

    side = lambda s: (3, s, s)  # noqa: E731
    entries = {
        "net_v1": (models.mobilenet_v1, side(224)),
        "net_v2": (models.mobilenet_v2, side(224)),
        "net_xception": (models.xception, side(models.XCEPTION_INPUT)),
        "net_googlenet": (models.googlenet, side(224)),
        "net_googlenet_tv": (lambda: models.googlenet(batch_norm=True, branch5_kernel=3), side(224)),
        "net_vgg16": (models.vgg16, side(224)),
        "net_vgg16_8": (lambda: models.vgg16(models.LIGHT_VGG_CLASSES), side(224)),
        "net_light_vgg": (models.light_vgg, side(models.LIGHT_VGG_INPUT)),
        "net_b0": (torchvision.models.efficientnet_b0, side(224)),
        "net_lite0": (lambda: EfficientNet.from_name("efficientnet-lite0"), side(224)),
        "net_inception": (lambda: models.small_inception(n_classes), side(32)),
    }
    return complexity.table(entries)


@dataclass(frozen=True)
class MobileSettings:
    """What every network of the MobileNet study shares: training images (``None``: all of the data
    set's), Adam's learning rate, epochs (``None``: the chapter's) and the base input side."""

    images: int | None
    lr: float
    epochs: int | None
    side: int


def mobile_settings(profile: Profile) -> MobileSettings:
    """The MobileNet study's shared settings. ``full``: all CIFAR-10 training images, the chapter's
    learning rate 0.002 and epochs, 32×32. ``quick``: all ``QUICK_MOBILE_IMAGES`` training images of
    the stand-in, learning rate 0.005 and 5 epochs (to stay within minutes), 32×32. With the
    chapter's 1,000 images and rate 0.002, these deep, thin networks stay near chance on the quick
    profile; more images and a larger rate (for every network of the study, the plain CNN
    included) let them learn."""
    return (MobileSettings(None, CHAPTER_LR, None, 32) if profile.real_data
            else MobileSettings(QUICK_MOBILE_IMAGES, 5e-3, 5, 32))


def mobile_runs(profile: Profile, n_classes: int) -> dict[str, tuple[Callable[[], nn.Module], int]]:
    """The MobileNet study's networks and input sides: V1 over the width multipliers, V2 and its
    non-linear-bottleneck control, V1 over resolution multipliers, and a plain CNN at the same side.

    ``full`` trains on the 32×32 images (α ∈ {0.25, 0.5, 0.75, 1}, ρ ∈ {1, 0.75, 0.5}). ``quick``
    must finish in minutes on two CPU cores: it trains at 32×32 with α ∈ {0.25, 0.5}, and
    ρ ∈ {1, 0.5} for the resolution study."""
    side = mobile_settings(profile).side
    alphas, rhos = ((0.25, 0.5, 0.75, 1.0), (0.75, 0.5)) if profile.real_data else ((0.25, 0.5), (0.5,))
    runs: dict[str, tuple[Callable[[], nn.Module], int]] = {}
    for alpha in alphas:
        runs[f"v1_a{int(alpha * 100)}_s{side}"] = (lambda a=alpha: models.mobilenet_v1(n_classes, a, stem_stride=1), side)
    runs[f"v2_a25_s{side}"] = (lambda: models.mobilenet_v2(n_classes, 0.25, stem_stride=1), side)
    runs[f"v2relu_a25_s{side}"] = (lambda: models.mobilenet_v2(n_classes, 0.25, stem_stride=1, linear_bottleneck=False), side)
    for rho in rhos:
        small = int(round(32 * rho))
        runs[f"v1_a25_s{small}"] = (lambda: models.mobilenet_v1(n_classes, 0.25, stem_stride=1), small)
    runs[f"plain_s{side}"] = (lambda: models.ConvNet(3, side, n_classes, (24, 48, 96), head="gap", batch_norm=True), side)
    return runs


def timm_xception() -> nn.Module:
    """timm's ``legacy_xception`` (the maintained port of the original Keras Xception), untrained;
    imported here with tqdm's notebook warning silenced, so a page's output stays clean."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import timm

    return timm.create_model("legacy_xception", pretrained=False)


XCEPTION_STAGES = ("entry_flow", "middle_flow", "exit_flow")


def xception_flows() -> tuple[dict[str, str], dict[str, int]]:
    """Output shape after each flow of Xception at 299×299 (computed on the meta device, no weights)
    and the parameters of each flow and of the classifier."""
    shapes = {}
    with torch.device("meta"), torch.no_grad():
        net = models.xception().eval()
        x = torch.zeros(1, 3, models.XCEPTION_INPUT, models.XCEPTION_INPUT)
        for name in XCEPTION_STAGES:
            x = getattr(net, name)(x)
            shapes[name] = arithmetic.format_shape(x.shape[1:])
    params = {name: sum(p.numel() for p in getattr(net, name).parameters()) for name in (*XCEPTION_STAGES, "classifier")}
    return shapes, params
