"""Compressing a trained network for a CPU: int8 quantisation and magnitude pruning.

- Quantisation uses PyTorch's own graph-mode tooling (``torch.ao.quantization`` FX, ``x86``
  backend): ``quantise_static`` (weights per channel and activations per tensor in int8, the
  activation ranges observed on calibration images), ``quantise_dynamic`` (int8 weights of the
  linear layers, activations quantised on the fly) and ``quantise_aware`` (fake quantisation
  during fine-tuning, so the weights learn to live on the int8 grid). ``plain_convolutions`` first
  rewrites TensorFlow-style "same"-padded convolutions as ``nn.Conv2d`` so batch normalisation
  folds into them.
- Pruning by weight magnitude: ``prune_unstructured`` zeroes the smallest weights of every
  convolution and linear layer (the same fraction in each layer); ``prune_channels`` removes the hidden
  channels of the inverted residual blocks whose expansion filters have the smallest L1 norm
  (Li et al. 2017), giving a smaller dense network; ``fine_tune`` retrains either (the zeros stay
  zero) through ``training.fit``.
"""

from __future__ import annotations

import copy
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Collection, Iterator, Sequence

import pandas as pd
import torch
from torch import nn
from torch.nn.utils import prune
from torch.utils.data import TensorDataset

from cnnbook import training
from cnnbook.profiles import Profile

if TYPE_CHECKING:
    from cnnbook import transfer

ENGINE = "x86"  # torch.ao's default CPU backend (fbgemm kernels with oneDNN where faster)
PRUNABLE = (nn.Conv2d, nn.Linear)
CHANNEL_MULTIPLE = 8  # channel counts the CPU kernels vectorise well (MobileNetV2 rounds to 8 too)


@contextmanager
def _quiet_ao() -> Iterator[None]:
    """torch.ao.quantization warns on every call that it will move to the torchao package; the
    FX flow still works in this torch and is the one PyTorch ships, so the warning is silenced."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r".*torch\.ao\.quantization is deprecated.*")
        warnings.filterwarnings("ignore", message=r".*quant_min and quant_max.*")
        warnings.filterwarnings("ignore", message=r".*reduce_range will be deprecated.*")
        warnings.filterwarnings("ignore", message=r".*quantized tensor creation functions.*")
        yield


# --- quantisation ------------------------------------------------------------------------------------

def plain_convolutions(model: nn.Module) -> nn.Module:
    """A copy of ``model`` in which every subclass of ``nn.Conv2d`` that pads by itself (the
    "same" padding of EfficientNet-Lite's TensorFlow port) is a plain ``nn.Conv2d`` with the same
    weights: symmetric padding moves into the convolution, asymmetric padding into a
    ``ZeroPad2d`` before it. The outputs are unchanged; graph-mode quantisation can then fold
    each batch normalisation into the convolution before it."""
    model = copy.deepcopy(model)
    _plain(model)
    return model.train(model.training)


def _plain(module: nn.Module) -> None:
    for name, child in module.named_children():
        if isinstance(child, nn.Conv2d) and type(child) is not nn.Conv2d:
            pad = getattr(child, "static_padding", None)
            left, right, top, bottom = pad.padding if isinstance(pad, nn.ZeroPad2d) else (0, 0, 0, 0)
            symmetric = left == right and top == bottom
            conv = nn.Conv2d(child.in_channels, child.out_channels, child.kernel_size, child.stride,
                             (top, left) if symmetric else 0, child.dilation, child.groups, child.bias is not None)
            conv.weight.data.copy_(child.weight.data)
            if child.bias is not None:
                conv.bias.data.copy_(child.bias.data)
            conv.weight.requires_grad_(child.weight.requires_grad)
            setattr(module, name, conv if symmetric else nn.Sequential(nn.ZeroPad2d((left, right, top, bottom)), conv))
        else:
            _plain(child)


def quantise_static(model: nn.Module, calibration: torch.Tensor, batch_size: int = 64) -> nn.Module:
    """Post-training static int8 quantisation (FX graph mode, ``x86`` backend): batch norm folded,
    weights per output channel, activation ranges from running ``calibration`` images through the
    network. Runs on the CPU."""
    from torch.ao.quantization import get_default_qconfig_mapping
    from torch.ao.quantization.quantize_fx import convert_fx, prepare_fx

    torch.backends.quantized.engine = ENGINE
    net = plain_convolutions(model.cpu()).eval()
    with _quiet_ao():
        prepared = prepare_fx(net, get_default_qconfig_mapping(ENGINE), (calibration[:1],))
        with torch.inference_mode():
            for i in range(0, len(calibration), batch_size):
                prepared(calibration[i:i + batch_size])
        return convert_fx(prepared).eval()


def quantise_dynamic(model: nn.Module) -> nn.Module:
    """Dynamic int8 quantisation: the weights of the linear layers stored in int8, their inputs
    quantised batch by batch at run time; convolutions stay in float (dynamic quantisation has no
    convolution kernel), so a convolutional network barely changes."""
    from torch.ao.quantization import quantize_dynamic

    torch.backends.quantized.engine = ENGINE
    with _quiet_ao():
        return quantize_dynamic(copy.deepcopy(model).cpu().eval(), {nn.Linear}, dtype=torch.qint8)


def quantise_aware(model: nn.Module, train: TensorDataset, epochs: int, lr: float, seed: int = 0,
                   name: str = "qat") -> nn.Module:
    """Quantisation-aware fine-tuning: fake int8 quantisation of weights and activations in the
    forward pass (straight-through gradients), batch normalisation statistics frozen as in
    fine-tuning, trained with Adam through ``training.fit`` (cached); then converted to int8."""
    from torch.ao.nn.intrinsic.qat import freeze_bn_stats
    from torch.ao.quantization import get_default_qat_qconfig_mapping
    from torch.ao.quantization.quantize_fx import convert_fx, prepare_qat_fx

    torch.backends.quantized.engine = ENGINE
    net = plain_convolutions(model.cpu())
    for parameter in net.parameters():
        parameter.requires_grad_(True)
    training.seed_everything(seed)
    with _quiet_ao():
        prepared = prepare_qat_fx(net.train(), get_default_qat_qconfig_mapping(ENGINE), (train.tensors[0][:1],))
        prepared.apply(freeze_bn_stats)
        with torch.no_grad():  # give the per-channel observers their shapes before fit copies the state
            prepared(train.tensors[0][:64])
        run = training.fit(prepared, train, None, epochs=epochs, lr=lr, batch_size=64, seed=seed, device="cpu",
                           name=name)
        return convert_fx(run.model.eval()).eval()


# --- pruning ---------------------------------------------------------------------------------------

def prunable_weights(model: nn.Module) -> list[tuple[nn.Module, str]]:
    """``(module, "weight")`` for every convolution and linear layer: what magnitude pruning acts on."""
    return [(module, "weight") for module in model.modules() if isinstance(module, PRUNABLE)]


def prune_unstructured(model: nn.Module, sparsity: float) -> nn.Module:
    """A copy of ``model`` in which, in every convolution and linear layer, the fraction
    ``sparsity`` of weights with the smallest magnitude is set to zero (layer by layer, so no
    layer loses all its weights to a threshold set by larger ones elsewhere)."""
    if not 0 <= sparsity < 1:
        raise ValueError(f"sparsity must be in [0, 1), got {sparsity}")
    model = copy.deepcopy(model)
    for module, name in prunable_weights(model):
        prune.l1_unstructured(module, name, amount=sparsity)
    return make_permanent(model)


def make_permanent(model: nn.Module) -> nn.Module:
    """Fold pruning masks into the weights (the zeros become ordinary zeros) and drop the masks."""
    for module, name in prunable_weights(model):
        if prune.is_pruned(module) and hasattr(module, f"{name}_mask"):
            prune.remove(module, name)
    return model


def sparsity(model: nn.Module) -> float:
    """The fraction of convolution and linear weights that are exactly zero."""
    weights = [getattr(module, name) for module, name in prunable_weights(model)]
    return sum(int((w == 0).sum()) for w in weights) / sum(w.numel() for w in weights)


def parameter_count(model: nn.Module) -> int:
    """Number of parameters (pruned zeros included: a dense tensor stores them)."""
    return sum(p.numel() for p in model.parameters())


def hidden_blocks(model: nn.Module) -> list[tuple[nn.Module, tuple[str, ...]]]:
    """Every inverted residual block with an expansion (MobileNetV2 of ``cnnbook.models`` or of
    torchvision, EfficientNet-Lite's ``MBConvBlock``), and the paths of its five layers that the
    hidden (expanded) channels run through: expansion, its batch norm, depthwise, its batch norm,
    projection."""
    found = []
    for module in model.modules():
        kind = type(module).__name__
        if kind == "MBConvBlock" and hasattr(module, "_expand_conv"):
            found.append((module, ("_expand_conv", "_bn0", "_depthwise_conv", "_bn1", "_project_conv")))
        elif kind == "InvertedResidual":
            torchvision_style = isinstance(module.conv[-1], nn.BatchNorm2d)  # projection unwrapped, then its BN
            if len(module.conv) == (4 if torchvision_style else 3):
                found.append((module, ("conv.0.0", "conv.0.1", "conv.1.0", "conv.1.1",
                                       "conv.2" if torchvision_style else "conv.2.0")))
    return found


def _set(root: nn.Module, path: str, new: nn.Module) -> None:
    parent, _, name = path.rpartition(".")
    setattr(root.get_submodule(parent) if parent else root, name, new)


def _sliced_conv(conv: nn.Conv2d, out: torch.Tensor | None = None, into: torch.Tensor | None = None) -> nn.Conv2d:
    """A copy of ``conv`` (same class, so a layer that pads by itself keeps doing so) with only the
    output channels ``out`` or the input channels ``into``; a depthwise convolution loses both."""
    new = copy.deepcopy(conv)
    depthwise = conv.groups > 1
    weight = conv.weight.data if out is None else conv.weight.data[out]
    weight = weight[:, into] if into is not None and not depthwise else weight
    new.weight = nn.Parameter(weight.clone())
    if conv.bias is not None:
        new.bias = nn.Parameter((conv.bias.data if out is None else conv.bias.data[out]).clone())
    new.out_channels = weight.shape[0]
    new.in_channels, new.groups = (len(out), len(out)) if depthwise else (weight.shape[1], 1)
    return new


def _sliced_norm(norm: nn.BatchNorm2d, keep: torch.Tensor) -> nn.BatchNorm2d:
    new = nn.BatchNorm2d(len(keep), norm.eps, norm.momentum)
    for name in ("weight", "bias"):
        getattr(new, name).data.copy_(getattr(norm, name).data[keep])
    new.running_mean.copy_(norm.running_mean[keep])
    new.running_var.copy_(norm.running_var[keep])
    return new


def prune_channels(model: nn.Module, fraction: float) -> nn.Module:
    """A smaller dense copy of ``model``: in every inverted residual block, the fraction ``fraction``
    of hidden channels whose expansion filters have the smallest L1 norm is removed (the number kept
    rounded to a multiple of ``CHANNEL_MULTIPLE``: odd channel counts run slower), with the
    matching batch-norm entries, depthwise filters and projection inputs. Input and output shapes
    of each block are unchanged, so the rest of the network is untouched."""
    if not 0 <= fraction < 1:
        raise ValueError(f"fraction must be in [0, 1), got {fraction}")
    model = copy.deepcopy(model)
    for block, (expand, expand_norm, depthwise, depthwise_norm, project) in hidden_blocks(model):
        weight = block.get_submodule(expand).weight.data
        hidden = weight.shape[0]
        kept = min(hidden, max(CHANNEL_MULTIPLE, round((1 - fraction) * hidden / CHANNEL_MULTIPLE) * CHANNEL_MULTIPLE))
        keep = weight.abs().flatten(1).sum(1).topk(kept).indices.sort().values
        _set(block, expand, _sliced_conv(block.get_submodule(expand), out=keep))
        _set(block, expand_norm, _sliced_norm(block.get_submodule(expand_norm), keep))
        _set(block, depthwise, _sliced_conv(block.get_submodule(depthwise), out=keep))
        _set(block, depthwise_norm, _sliced_norm(block.get_submodule(depthwise_norm), keep))
        _set(block, project, _sliced_conv(block.get_submodule(project), into=keep))
    return model


def fine_tune(model: nn.Module, train: TensorDataset, epochs: int, lr: float, seed: int = 0, name: str = "pruned",
              frozen_norm: bool = True) -> nn.Module:
    """Retrain the weights of a pruned network that are not zero with Adam through ``training.fit``
    (cached): a mask keeps every zero weight at zero, and is folded in afterwards; with ``frozen_norm`` every batch normalisation becomes torchvision's
    ``FrozenBatchNorm2d`` (its parameters and statistics fixed, also in training mode), as in
    Chapter 10's control."""
    net = copy.deepcopy(model)
    for parameter in net.parameters():
        parameter.requires_grad_(True)
    for module, weight in prunable_weights(net):  # zero weights stay zero while the rest learn
        prune.custom_from_mask(module, weight, getattr(module, weight).detach() != 0)
    if frozen_norm:
        _freeze_norms(net)
    run = training.fit(net, train, None, epochs=epochs, lr=lr, batch_size=64, seed=seed, name=name)
    return make_permanent(run.model).eval()


def _freeze_norms(module: nn.Module) -> None:
    from torchvision.ops import FrozenBatchNorm2d

    for name, child in module.named_children():
        if isinstance(child, nn.BatchNorm2d):
            frozen = FrozenBatchNorm2d(child.num_features, child.eps)
            for key in ("weight", "bias", "running_mean", "running_var"):
                getattr(frozen, key).copy_(getattr(child, key).detach())
            setattr(module, name, frozen)
        else:
            _freeze_norms(child)



# --- the study of Chapter 12 -------------------------------------------------------------------------

@dataclass(frozen=True)
class Settings:
    """What Chapter 12 does to Chapter 10's networks (32×32 side), per profile."""

    temperature: float  # the distilled student of Chapter 10 that is compared (fixed in advance)
    calibration: int  # training images that calibrate static quantisation
    qat_epochs: int
    qat_lr: float
    prune_epochs: int  # fine-tuning after pruning
    prune_lr: float
    unstructured: tuple[float, ...]  # sparsities
    channels: tuple[float, ...]  # fractions of hidden channels removed
    attack_images: int  # test images attacked
    epsilons: tuple[float, ...]  # L∞ radii, in [0, 1] pixel units
    table_epsilon: float  # the radius of the summary table
    pgd_steps: int
    tolerance: float  # accuracy points the recommended model may give up against the best


def settings(profile: Profile) -> Settings:
    """``quick``: small numbers so that the chapter runs in minutes on two cores; ``full``: more
    calibration images, epochs and attacked images."""
    if profile.real_data:
        return Settings(4.0, 1024, 3, 1e-5, 3, 1e-5, (0.0, 0.1, 0.2, 0.4, 0.6, 0.8), (0.0, 0.1, 0.25, 0.5, 0.75),
                        1000, (0.0, 0.25 / 255, 0.5 / 255, 1 / 255, 2 / 255, 4 / 255), 0.5 / 255, 20, 5.0)
    return Settings(4.0, 256, 4, 1e-4, 2, 1e-4, (0.0, 0.1, 0.2, 0.4), (0.0, 0.1, 0.25, 0.5), 100,
                    (0.0, 0.25 / 255, 0.5 / 255, 1 / 255, 2 / 255), 0.5 / 255, 10, 5.0)


def subjects(study: "transfer.Study", temperature: float, side: int = 32) -> dict[str, nn.Module]:
    """Chapter 10's networks at ``side``: the teacher, the fine-tuned network when it is another
    one (the ``full`` profile's MobileNetV2; on ``quick`` the teacher is itself a fine-tuned
    Lite0), the student from scratch and the student distilled at ``temperature``."""
    found = {"teacher": study.teachers[side].model}
    fine_tuned = study.get("tl_full_sheet", side).model
    if study.teachers[side].key.startswith("tl_teacher"):
        found["fine_tuned"] = fine_tuned
    found["student"] = study.get("tl_scratch", side).model
    found["distilled"] = study.get(f"tl_distilled_t{temperature:g}", side).model
    return {name: model.cpu().eval() for name, model in found.items()}


def quantised(models: dict[str, nn.Module], train: TensorDataset, s: Settings, aware: Sequence[str] = ("teacher",)
              ) -> dict[str, nn.Module]:
    """Static int8 (``<name>_int8``) of every model, dynamic int8 (``<name>_dynamic``) and
    quantisation-aware fine-tuning (``<name>_qat``) of those in ``aware``."""
    calibration = train.tensors[0][:s.calibration]
    out = {}
    for name, model in models.items():
        out[f"{name}_int8"] = quantise_static(model, calibration)
        if name in aware:
            out[f"{name}_dynamic"] = quantise_dynamic(model)
            out[f"{name}_qat"] = quantise_aware(model, train, s.qat_epochs, s.qat_lr, name=f"ch12-qat-{name}")
    return out


@dataclass
class Pruned:
    """The pruning curve of one network: a row per (method, fraction, fine-tuned), its models and
    their test accuracies (in [0, 1]), both by ``(method, fraction, fine-tuned)``."""

    frame: pd.DataFrame
    models: dict[tuple[str, float, bool], nn.Module]
    accuracy: dict[tuple[str, float, bool], float]


def pruning_curve(model: nn.Module, train: TensorDataset, test: TensorDataset, s: Settings, name: str = "teacher"
                  ) -> Pruned:
    """Accuracy after unstructured pruning at ``s.unstructured`` and channel pruning at ``s.channels``,
    each without and with ``s.prune_epochs`` of fine-tuning. Fraction 0 with fine-tuning is the
    control: what the same fine-tuning does to the unpruned network."""
    rows, models, accuracy = [], {}, {}
    for method, fractions, cut in (("unstructured", s.unstructured, prune_unstructured),
                                   ("channels", s.channels, prune_channels)):
        for fraction in fractions:
            if fraction == 0 and models:  # the unpruned control is the same for both methods
                for tuned in (False, True):
                    models[method, 0.0, tuned] = models["unstructured", 0.0, tuned]
                    accuracy[method, 0.0, tuned] = accuracy["unstructured", 0.0, tuned]
                    rows.append({**next(r for r in rows if r["fraction"] == 0 and r["fine_tuned"] == tuned),
                                 "method": method})
                continue
            pruned = cut(model, fraction).eval()
            for tuned in (False, True):
                net = (fine_tune(pruned, train, s.prune_epochs, s.prune_lr, name=f"ch12-prune-{name}-{method}-{fraction:g}")
                       if tuned else pruned)
                models[method, fraction, tuned] = net
                accuracy[method, fraction, tuned] = training.predict(net, test).accuracy
                rows.append({"method": method, "fraction": fraction, "fine_tuned": tuned, "sparsity": sparsity(net),
                             "parameters": parameter_count(net), "accuracy": accuracy[method, fraction, tuned]})
    return Pruned(pd.DataFrame(rows), models, accuracy)


def curve_keys(frame: pd.DataFrame) -> pd.DataFrame:
    """The pruning curve in percent, keyed ``<method>_<fraction %>_<ft|raw>`` for the prose."""
    return frame.assign(key=[f"{m}_{round(100 * f)}_{'ft' if t else 'raw'}"
                             for m, f, t in zip(frame.method, frame.fraction, frame.fine_tuned)],
                        fraction=100 * frame.fraction, sparsity=100 * frame.sparsity, accuracy=100 * frame.accuracy)


def pruned_models(pruned: Pruned, s: Settings, name: str = "teacher"
                  ) -> tuple[dict[str, nn.Module], dict[str, float]]:
    """The fine-tuned pruned networks, ``<name>_<method>_<fraction %>``, and the control
    ``<name>_tuned`` (the unpruned network after the same fine-tuning), with the test accuracies
    the curve measured for them."""
    keys = {f"{name}_tuned": ("unstructured", 0.0, True)}
    for method, fractions in (("unstructured", s.unstructured), ("channels", s.channels)):
        keys.update({f"{name}_{method}_{round(100 * f)}": (method, f, True) for f in fractions if f})
    return ({key: pruned.models[curve] for key, curve in keys.items()},
            {key: pruned.accuracy[curve] for key, curve in keys.items()})


REPEATS, WARMUP = 20, 3  # timed runs, and untimed runs before them, per latency
PARITY_IMAGES = 256  # test images on which PyTorch and ONNX Runtime are compared


def runtime_table(models: dict[str, nn.Module], accuracy: dict[str, float], images: torch.Tensor,
                  exported: Collection[str]) -> pd.DataFrame:
    """``deployment.runtime_frame`` of ``models`` (``REPEATS`` timed runs after ``WARMUP``), keyed,
    with test accuracy (%), parity on the first ``PARITY_IMAGES`` of ``images``. Only the networks
    named in ``exported`` go to ONNX (Chapter 10's float networks: int8 networks cannot be
    exported, and a pruned copy would repeat its original)."""
    from cnnbook import deployment

    frame = deployment.runtime_frame(models, images=images[:PARITY_IMAGES], repeats=REPEATS, warmup=WARMUP,
                                     torch_only=[name for name in models if name not in exported])
    frame = frame.reset_index().rename(columns={"model": "key"}).round(
        {"size_torch_mb": 2, "size_onnx_mb": 2, **{c: 2 for c in frame.filter(like="_ms_")}})
    return frame.assign(accuracy=[100 * accuracy[key] for key in frame.key])


def int8_change(runtime: pd.DataFrame, names: Sequence[str], test_images: int) -> dict[str, float]:
    """The largest change of test accuracy (points) from each of ``names`` to its ``<name>_int8``
    copy, and the binomial standard error (points) of an accuracy like theirs on ``test_images``:
    the noise against which that change is read."""
    accuracy = runtime.set_index("key").accuracy
    change = max(abs(accuracy[f"{name}_int8"] - accuracy[name]) for name in names)
    p = float(accuracy[list(names)].mean()) / 100
    return {"int8_change": float(change), "int8_noise": 100 * (p * (1 - p) / test_images) ** 0.5}


QUANTISED = ("_int8", "_dynamic", "_qat")


def summary_keys(models: dict[str, nn.Module], s: Settings, name: str = "teacher") -> list[str]:
    """The networks of the chapter's summary table: Chapter 10's networks, their int8 copies, the
    quantisation-aware teacher, the pruned teachers at the smallest fractions, and the control."""
    pruned = [f"{name}_tuned", f"{name}_unstructured_{round(100 * s.unstructured[1])}",
              f"{name}_channels_{round(100 * s.channels[1])}"]
    return [key for key in models if not key.endswith("_dynamic") and "_unstructured_" not in key
            and "_channels_" not in key and key != f"{name}_tuned"] + pruned


def robustness_table(models: dict[str, nn.Module], test: TensorDataset, s: Settings) -> pd.DataFrame:
    """PGD accuracy (%) against ε of the summary table's networks on the first ``s.attack_images`` test
    images. An int8 network, which has no gradient, and the control ``teacher_tuned`` are scored
    on the adversarial images of their float original (a transfer attack)."""
    from cnnbook import adversarial

    keys = summary_keys(models, s)
    sources = {key: key.rsplit("_", 1)[0] for key in keys if key.endswith(QUANTISED) or key.endswith("_tuned")}
    images, labels = test.tensors[0][:s.attack_images], test.tensors[1][:s.attack_images]
    frame = adversarial.robustness_frame({key: models[key] for key in keys}, images, labels, s.epsilons, sources,
                                         steps=s.pgd_steps)
    return frame.assign(**{column: 100 * frame[column] for column in frame.filter(like="eps_")})


def pruning_figure(frame: pd.DataFrame, float_accuracy: float):
    """Test accuracy against the fraction pruned: one line per method, solid after fine-tuning,
    dashed before; the unpruned network's accuracy as a grey line."""
    from cnnbook import plots

    fig, axes = plots.figure(1, 1, panel=(5.2, 3.2))
    ax = axes[0, 0]
    for (method, tuned), rows in frame.groupby(["method", "fine_tuned"], sort=False):
        label = f"{'channels (structured)' if method == 'channels' else 'weights (unstructured)'}, " \
                f"{'fine-tuned' if tuned else 'no fine-tuning'}"
        ax.plot(100 * rows.fraction, 100 * rows.accuracy, marker="o" if method == "channels" else "s",
                linestyle="-" if tuned else "--", color="C1" if method == "channels" else "C0", label=label)
    ax.axhline(100 * float_accuracy, color="0.5", linewidth=1, label="unpruned")
    ax.set_xlabel("fraction pruned (% of weights or of hidden channels)")
    ax.set_ylabel("test accuracy (%)")
    ax.set_ylim(0, 100)
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=7)
    return fig


def summary_frame(keys: Sequence[str], accuracy: dict[str, float], runtime: pd.DataFrame, robust: pd.DataFrame,
                  column: str) -> pd.DataFrame:
    """The chapter's table: per model, test accuracy (%), size on disk (MB), batch-1 latency in
    PyTorch and in ONNX Runtime (ms), and accuracy under attack (%) from ``robust[column]`` (already %)."""
    runtime, robust = runtime.set_index("key"), robust.set_index("key")
    return pd.DataFrame([{"key": k, "accuracy": 100 * accuracy[k], "size_mb": runtime.loc[k, "size_torch_mb"],
                          "torch_ms": runtime.loc[k, "torch_ms_b1"], "onnx_ms": runtime.loc[k, "onnx_ms_b1"],
                          "robust": robust.loc[k, column]} for k in keys])


def recommend(summary: pd.DataFrame, reference: str, tolerance: float) -> str:
    """The key of the smallest model (size on disk; then batch-1 latency) whose accuracy is at most
    ``tolerance`` points below the ``reference`` network's: the rule the chapter argues for a phone,
    where the download and the memory are the scarce resources and a batch is one image."""
    floor = float(summary.set_index("key").accuracy[reference]) - tolerance
    return str(summary[summary.accuracy >= floor].sort_values(["size_mb", "torch_ms"]).iloc[0].key)
