"""Layer arithmetic of convolutional networks: output sizes, parameters, receptive fields, FLOPs.

A network is a list of small layer specs (``Conv``, ``Pool``, ``Linear`` ...), 1-D or 2-D
depending on the input shape; ``from_torch`` turns a ``torch.nn.Sequential`` into such a list
and ``to_torch`` builds the real layers, so every number here can be checked against PyTorch.

FLOP convention (stated once, used everywhere): a *MAC* is one multiply-accumulate. A
convolution or linear output element with fan-in ``F`` costs ``F`` multiplications and ``F - 1``
additions, plus one addition for the bias, so ``FLOPs = 2 * MACs`` exactly when the layer has a
bias and ``2 * MACs - outputs`` without one. Max pooling costs ``k - 1`` comparisons per output
(``k`` = window size), average pooling ``k - 1`` additions and one division, ReLU one comparison
per element, dropout (at inference), flatten and reshape nothing.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass, field, replace
from typing import Literal, Sequence, Union

import pandas as pd
import torch
from torch import nn

IntOrTuple = Union[int, tuple[int, ...]]


class LayerError(ValueError):
    """An impossible layer configuration; the message names the layer and the reason."""


# --------------------------------------------------------------------------- layer specs
@dataclass(frozen=True)
class Conv:
    """Convolution (cross-correlation as in PyTorch); ``padding='same'`` needs stride 1."""

    out_channels: int
    kernel: IntOrTuple
    stride: IntOrTuple = 1
    padding: IntOrTuple | Literal["same"] = 0
    dilation: IntOrTuple = 1
    groups: int = 1
    bias: bool = True
    name: str = ""


@dataclass(frozen=True)
class Pool:
    """Max or average pooling; ``stride`` defaults to the kernel size, as in PyTorch."""

    kind: Literal["max", "avg"]
    kernel: IntOrTuple
    stride: IntOrTuple | None = None
    padding: IntOrTuple = 0
    name: str = ""


@dataclass(frozen=True)
class GlobalAvgPool:
    """Average over all spatial positions (``AdaptiveAvgPool(1)``), keeping the channels."""

    name: str = ""


@dataclass(frozen=True)
class Flatten:
    """Flatten channels and spatial axes into one feature vector."""

    name: str = ""


@dataclass(frozen=True)
class Linear:
    """Fully connected layer; the input size is inferred from the previous layer."""

    out_features: int
    bias: bool = True
    name: str = ""


@dataclass(frozen=True)
class ReLU:
    """Element-wise rectifier."""

    name: str = ""


@dataclass(frozen=True)
class Dropout:
    """Dropout; free at inference and parameter-free."""

    p: float = 0.5
    name: str = ""


@dataclass(frozen=True)
class BatchNorm:
    """Batch normalisation: trainable scale and shift per channel plus two running buffers."""

    name: str = ""


Layer = Union[Conv, Pool, GlobalAvgPool, Flatten, Linear, ReLU, Dropout, BatchNorm]


# --------------------------------------------------------------------------- scalar formulas
def kernel_extent(kernel: int, dilation: int = 1) -> int:
    """Span of a dilated kernel: ``d (k - 1) + 1`` input positions."""
    return dilation * (kernel - 1) + 1


def output_length(n: int, kernel: int, stride: int = 1, padding: int = 0, dilation: int = 1) -> int:
    """Output length along one axis: ``floor((n + 2p - d(k-1) - 1) / s) + 1``."""
    return (n + 2 * padding - kernel_extent(kernel, dilation)) // stride + 1


def same_padding(kernel: int, dilation: int = 1) -> int:
    """Symmetric padding that keeps the size at stride 1: ``d (k - 1) / 2`` (odd extents only)."""
    extent = kernel_extent(kernel, dilation)
    if extent % 2 == 0:
        raise LayerError(
            f"kernel {kernel} with dilation {dilation} spans {extent} positions (even): "
            "no symmetric padding keeps the size; pad asymmetrically or use an odd kernel"
        )
    return (extent - 1) // 2


# --------------------------------------------------------------------------- report types
@dataclass(frozen=True)
class ReceptiveField:
    """Receptive field along one axis: size ``r``, jump ``j`` (input pixels between neighbouring
    units) and ``start``, the input coordinate of the centre of the first unit's field."""

    size: int
    jump: int
    start: float

    def grow(self, kernel: int, stride: int, padding: int, dilation: int) -> "ReceptiveField":
        """Field after a sliding-window layer: ``r + (k_eff - 1) j``, ``j s`` and shifted start."""
        extent = kernel_extent(kernel, dilation)
        return ReceptiveField(
            size=self.size + (extent - 1) * self.jump,
            jump=self.jump * stride,
            start=self.start + ((extent - 1) / 2 - padding) * self.jump,
        )

    def bounds(self, unit: int) -> tuple[float, float]:
        """First and last input coordinate seen by unit ``unit`` (may lie in the padding)."""
        centre = self.start + unit * self.jump
        return centre - (self.size - 1) / 2, centre + (self.size - 1) / 2

    def covered(self, units: int, input_size: int) -> int:
        """Input pixels seen by at least one of ``units`` units (padding excluded)."""
        first, _ = self.bounds(0)
        _, last = self.bounds(units - 1)
        return int(min(last, input_size - 1) - max(first, 0) + 1)


@dataclass(frozen=True)
class LayerReport:
    """Everything the calculator knows about one layer."""

    index: int
    name: str
    kind: str
    out_shape: tuple[int, ...]
    weights: int
    biases: int
    buffers: int
    fields: tuple[ReceptiveField, ...]
    macs: int
    flops: int
    global_field: bool = False

    @property
    def params(self) -> int:
        """Trainable parameters (weights plus biases)."""
        return self.weights + self.biases

    @property
    def receptive_field(self) -> tuple[int, ...]:
        """Field size per spatial axis (for flat layers: the union over all units, cut to the input)."""
        return tuple(f.size for f in self.fields)

    @property
    def jump(self) -> tuple[int, ...]:
        """Effective stride per axis: input pixels between neighbouring units."""
        return tuple(f.jump for f in self.fields)


@dataclass
class ArchitectureReport:
    """Per-layer arithmetic of a network for one input shape."""

    input_shape: tuple[int, ...]
    layers: list[LayerReport] = field(default_factory=list)

    @property
    def total_params(self) -> int:
        return sum(layer.params for layer in self.layers)

    @property
    def total_weights(self) -> int:
        return sum(layer.weights for layer in self.layers)

    @property
    def total_biases(self) -> int:
        return sum(layer.biases for layer in self.layers)

    @property
    def total_macs(self) -> int:
        return sum(layer.macs for layer in self.layers)

    @property
    def total_flops(self) -> int:
        return sum(layer.flops for layer in self.layers)

    @property
    def output_shape(self) -> tuple[int, ...]:
        return self.layers[-1].out_shape if self.layers else self.input_shape

    def layer(self, name: str) -> LayerReport:
        """The report of the layer called ``name``."""
        for report in self.layers:
            if report.name == name:
                return report
        raise KeyError(f"no layer named {name!r}; layers: {[r.name for r in self.layers]}")

    def frame(self) -> pd.DataFrame:
        """One row per layer with the numeric columns used by the book's tables."""
        rows = [
            {
                "layer": r.name,
                "type": r.kind,
                "output": format_shape(r.out_shape),
                "weights": r.weights,
                "biases": r.biases,
                "params": r.params,
                "buffers": r.buffers,
                "rf": format_field(r.receptive_field, r.global_field),
                "jump": "" if r.global_field else format_shape(r.jump),
                "macs": r.macs,
                "flops": r.flops,
            }
            for r in self.layers
        ]
        return pd.DataFrame(rows)


def format_shape(shape: Sequence[int]) -> str:
    """``(3, 32, 32)`` -> ``'3×32×32'``."""
    return "×".join(str(int(s)) for s in shape)


def format_field(field_: Sequence[int], global_field: bool = False) -> str:
    """Receptive field as ``'65×65'``; a starred value marks the union over all units."""
    text = format_shape(field_)
    return text + "*" if global_field else text


# --------------------------------------------------------------------------- the calculator
def _per_axis(value: IntOrTuple, dims: int, what: str, where: str) -> tuple[int, ...]:
    values = (value,) * dims if isinstance(value, int) else tuple(value)
    if len(values) != dims:
        raise LayerError(f"{where}: {what} {value!r} has {len(values)} entries for a {dims}-D input")
    return values


def window_geometry(layer: Conv | Pool, dims: int, where: str = "layer") -> tuple[tuple[int, ...], ...]:
    """``(kernel, stride, padding, dilation)`` per axis of a conv or pool layer, 'same' resolved."""
    kernel = _per_axis(layer.kernel, dims, "kernel", where)
    if isinstance(layer, Pool):
        stride = _per_axis(layer.stride if layer.stride is not None else layer.kernel, dims, "stride", where)
        return kernel, stride, _per_axis(layer.padding, dims, "padding", where), (1,) * dims
    stride = _per_axis(layer.stride, dims, "stride", where)
    dilation = _per_axis(layer.dilation, dims, "dilation", where)
    if min(kernel + stride + dilation) < 1:
        raise LayerError(f"{where}: kernel, stride and dilation must be positive")
    if layer.padding != "same":
        return kernel, stride, _per_axis(layer.padding, dims, "padding", where), dilation
    if any(s != 1 for s in stride):
        raise LayerError(f"{where}: padding='same' needs stride 1, got {stride}")
    try:
        padding = tuple(same_padding(k, d) for k, d in zip(kernel, dilation))
    except LayerError as exc:
        raise LayerError(f"{where}: {exc}") from None
    return kernel, stride, padding, dilation


def keras_rejects(layers: Sequence[Layer]) -> list[str]:
    """Names of the convolutions that Keras' convolution layers refuse to construct: a stride
    above 1 together with a dilation rate above 1 (``keras/src/layers/convolutional/base_conv.py``
    raises ``ValueError``; PyTorch accepts the combination)."""
    rejected = []
    for index, layer in enumerate(layers, start=1):
        if isinstance(layer, Conv):
            strides = (layer.stride,) if isinstance(layer.stride, int) else tuple(layer.stride)
            dilations = (layer.dilation,) if isinstance(layer.dilation, int) else tuple(layer.dilation)
            if max(strides) > 1 and max(dilations) > 1:
                rejected.append(_name(layer, index))
    return rejected


def _name(layer: Layer, index: int) -> str:
    return layer.name or f"{type(layer).__name__.lower()}{index}"


def analyze(layers: Sequence[Layer] | nn.Module, input_shape: Sequence[int]) -> ArchitectureReport:
    """Per-layer output shape, weights, biases, receptive field, jump, MACs and FLOPs.

    ``input_shape`` is ``(C, L)`` for 1-D or ``(C, H, W)`` for 2-D inputs (no batch axis).
    ``layers`` may also be a ``torch.nn.Sequential``. Raises ``LayerError`` naming the layer for
    any configuration PyTorch would reject or that yields a non-positive size.
    """
    if isinstance(layers, nn.Module):
        layers = from_torch(layers)
    shape = tuple(int(s) for s in input_shape)
    if len(shape) not in (2, 3) or min(shape) < 1:
        raise LayerError(f"input shape {shape} must be (C, L) or (C, H, W) with positive sizes")
    dims = len(shape) - 1
    spatial_input = shape[1:]
    fields = [ReceptiveField(1, 1, 0.0) for _ in range(dims)]
    flat = False  # after Flatten / GlobalAvgPool the tensor is a vector
    global_field = False
    report = ArchitectureReport(input_shape=shape)

    for index, layer in enumerate(layers, start=1):
        name = _name(layer, index)
        where = f"layer {index} ({name}: {type(layer).__name__})"
        weights = biases = buffers = macs = flops = 0
        outputs_before = math.prod(shape)

        if isinstance(layer, (Conv, Pool)):
            if flat:
                raise LayerError(f"{where}: needs a spatial input, but the input is already flat {shape}")
            channels, sizes = shape[0], shape[1:]
            kernel, stride, padding, dilation = window_geometry(layer, dims, where)
            if isinstance(layer, Conv):
                if layer.out_channels < 1 or layer.groups < 1:
                    raise LayerError(f"{where}: out_channels and groups must be positive")
                if channels % layer.groups or layer.out_channels % layer.groups:
                    raise LayerError(
                        f"{where}: groups={layer.groups} must divide in_channels={channels} "
                        f"and out_channels={layer.out_channels}"
                    )
                out_channels = layer.out_channels
            else:
                if any(2 * p > k for p, k in zip(padding, kernel)):
                    raise LayerError(f"{where}: pooling padding {padding} exceeds half the kernel {kernel}")
                out_channels = channels
            if min(kernel + stride + dilation) < 1 or min(padding) < 0:
                raise LayerError(f"{where}: kernel and stride must be positive, padding non-negative")
            out_sizes = []
            for axis, (n, k, s, p, d) in enumerate(zip(sizes, kernel, stride, padding, dilation)):
                extent = kernel_extent(k, d)
                if extent > n + 2 * p:
                    raise LayerError(
                        f"{where}: kernel extent {extent} (kernel {k}, dilation {d}) is larger than "
                        f"the padded input {n} + 2×{p} = {n + 2 * p} along axis {axis}; "
                        "use a smaller kernel or dilation, more padding, or a larger input"
                    )
                out_sizes.append(output_length(n, k, s, p, d))
            window = math.prod(kernel)
            outputs = out_channels * math.prod(out_sizes)
            if isinstance(layer, Conv):
                fan_in = channels // layer.groups * window
                weights = out_channels * fan_in
                biases = out_channels if layer.bias else 0
                macs = outputs * fan_in
                flops = 2 * macs - (0 if layer.bias else outputs)
                kind = f"Conv{dims}d"
            else:
                flops = outputs * (window - 1 if layer.kind == "max" else window)
                kind = f"{'Max' if layer.kind == 'max' else 'Avg'}Pool{dims}d"
            fields = [f.grow(k, s, p, d) for f, k, s, p, d in zip(fields, kernel, stride, padding, dilation)]
            shape = (out_channels, *out_sizes)

        elif isinstance(layer, GlobalAvgPool):
            if flat:
                raise LayerError(f"{where}: needs a spatial input, but the input is already flat {shape}")
            fields = [replace(f, size=f.covered(n, n_in)) for f, n, n_in in zip(fields, shape[1:], spatial_input)]
            global_field, flat = True, True
            flops = outputs_before  # (k - 1) additions and one division per channel, k = positions
            shape = (shape[0],)
            kind = "GlobalAvgPool"

        elif isinstance(layer, Flatten):
            if not flat:
                fields = [replace(f, size=f.covered(n, n_in)) for f, n, n_in in zip(fields, shape[1:], spatial_input)]
            global_field, flat = True, True
            shape = (math.prod(shape),)
            kind = "Flatten"

        elif isinstance(layer, Linear):
            if not flat:
                raise LayerError(f"{where}: a Linear layer needs a flat input; insert Flatten after shape {shape}")
            if layer.out_features < 1:
                raise LayerError(f"{where}: out_features must be positive")
            fan_in = shape[0]
            weights = fan_in * layer.out_features
            biases = layer.out_features if layer.bias else 0
            macs = weights
            flops = 2 * macs - (0 if layer.bias else layer.out_features)
            shape = (layer.out_features,)
            kind = "Linear"

        elif isinstance(layer, ReLU):
            flops = outputs_before
            kind = "ReLU"

        elif isinstance(layer, Dropout):
            kind = "Dropout"

        elif isinstance(layer, BatchNorm):
            weights, biases, buffers = shape[0], shape[0], 2 * shape[0]
            # inference: (x - mean) * (gamma / sqrt(var + eps)) + beta, folded to one multiply-add
            macs = outputs_before
            flops = 2 * outputs_before
            kind = f"BatchNorm{len(shape) - 1 or 1}d"

        else:
            raise LayerError(f"{where}: unsupported layer type {type(layer).__name__}")

        if min(shape) < 1:
            raise LayerError(f"{where}: output shape {shape} is not positive")
        report.layers.append(
            LayerReport(
                index=index,
                name=name,
                kind=kind,
                out_shape=shape,
                weights=weights,
                biases=biases,
                buffers=buffers,
                fields=tuple(fields),
                macs=macs,
                flops=flops,
                global_field=global_field,
            )
        )
    return report


# --------------------------------------------------------------------------- torch bridge
def from_torch(model: nn.Module) -> list[Layer]:
    """Layer specs of a ``torch.nn.Sequential`` (conv, pool, linear, norm and activation layers)."""
    specs: list[Layer] = []
    for name, module in model.named_children() if len(list(model.children())) else [("", model)]:
        label = name if not name.isdigit() else ""
        if isinstance(module, nn.Sequential):
            specs.extend(from_torch(module))
        elif isinstance(module, (nn.Conv1d, nn.Conv2d)):
            padding = module.padding if isinstance(module.padding, str) else tuple(module.padding)
            specs.append(Conv(module.out_channels, tuple(module.kernel_size), tuple(module.stride),
                              padding, tuple(module.dilation), module.groups, module.bias is not None, label))
        elif isinstance(module, (nn.MaxPool1d, nn.MaxPool2d, nn.AvgPool1d, nn.AvgPool2d)):
            if getattr(module, "ceil_mode", False) or getattr(module, "dilation", 1) not in (1, (1, 1)):
                raise LayerError(f"{module}: ceil_mode and dilated pooling are not supported")
            kind = "max" if isinstance(module, (nn.MaxPool1d, nn.MaxPool2d)) else "avg"
            specs.append(Pool(kind, module.kernel_size, module.stride, module.padding, label))
        elif isinstance(module, (nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d)):
            if module.output_size not in (1, (1, 1)):
                raise LayerError(f"{module}: only output_size=1 (global average pooling) is supported")
            specs.append(GlobalAvgPool(label))
        elif isinstance(module, nn.Flatten):
            specs.append(Flatten(label))
        elif isinstance(module, nn.Linear):
            specs.append(Linear(module.out_features, module.bias is not None, label))
        elif isinstance(module, nn.ReLU):
            specs.append(ReLU(label))
        elif isinstance(module, nn.Dropout):
            specs.append(Dropout(module.p, label))
        elif isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d)):
            specs.append(BatchNorm(label))
        else:
            raise LayerError(f"from_torch: unsupported module {type(module).__name__}")
    return specs


def to_torch(layers: Sequence[Layer], input_shape: Sequence[int], *, measure_pools: bool = False) -> nn.Sequential:
    """Build the real PyTorch layers for ``layers`` on ``input_shape`` (validated first).

    With ``measure_pools=True`` max pools become average pools of the same geometry, so that
    input gradients reach every pixel of the receptive field (used to *measure* it).
    """
    report = analyze(layers, input_shape)
    dims = len(input_shape) - 1
    conv = {1: nn.Conv1d, 2: nn.Conv2d}[dims]
    pools = {("max", 1): nn.MaxPool1d, ("max", 2): nn.MaxPool2d, ("avg", 1): nn.AvgPool1d, ("avg", 2): nn.AvgPool2d}
    modules: list[tuple[str, nn.Module]] = []
    channels = input_shape[0]
    shape: tuple[int, ...] = tuple(input_shape)
    for layer, info in zip(layers, report.layers):
        if isinstance(layer, Conv):
            module: nn.Module = conv(channels, layer.out_channels, layer.kernel, layer.stride, layer.padding,
                                     layer.dilation, layer.groups, layer.bias)
        elif isinstance(layer, Pool):
            kind = "avg" if measure_pools else layer.kind
            module = pools[(kind, dims)](layer.kernel, layer.stride, layer.padding)
        elif isinstance(layer, GlobalAvgPool):
            module = nn.Sequential({1: nn.AdaptiveAvgPool1d, 2: nn.AdaptiveAvgPool2d}[dims](1), nn.Flatten())
        elif isinstance(layer, Flatten):
            module = nn.Flatten()
        elif isinstance(layer, Linear):
            module = nn.Linear(shape[0], layer.out_features, layer.bias)
        elif isinstance(layer, ReLU):
            module = nn.ReLU()
        elif isinstance(layer, Dropout):
            module = nn.Dropout(layer.p)
        else:  # BatchNorm
            module = (nn.BatchNorm2d if len(shape) == 3 else nn.BatchNorm1d)(shape[0])
        modules.append((info.name, module))
        shape = info.out_shape
        channels = shape[0]
    return nn.Sequential(OrderedDict(modules))


def gradient_support(layers: Sequence[Layer], input_shape: Sequence[int], upto: str | None = None) -> torch.Tensor:
    """Boolean map of the input pixels that reach the central unit of layer ``upto`` (default:
    the last layer; for flat layers, any unit): where ``path_weights`` is non-zero."""
    return path_weights(layers, input_shape, upto) > 0


def path_weights(layers: Sequence[Layer], input_shape: Sequence[int], upto: str | None = None) -> torch.Tensor:
    """Input gradient (summed over channels) of the central unit of layer ``upto`` (default: the
    last layer; for flat layers, of all units) with every weight set to ``1 / fan-in``.

    Max pools become average pools and the input is positive, so no gradient path cancels: the
    map is non-zero exactly on the pixels with a path to the unit, and proportional there to
    the number of paths.
    """
    specs = list(layers)
    if upto is not None:
        names = [_name(layer, i) for i, layer in enumerate(specs, start=1)]
        if upto not in names:
            raise KeyError(f"no layer named {upto!r}; layers: {names}")
        specs = specs[: names.index(upto) + 1]
    net = to_torch(specs, input_shape, measure_pools=True).double()
    with torch.no_grad():
        for module in net.modules():
            if isinstance(module, (nn.Conv1d, nn.Conv2d, nn.Linear)):
                module.weight.fill_(1.0 / module.weight[0].numel())
                if module.bias is not None:
                    module.bias.fill_(0.0)
    net.eval()
    x = torch.ones(1, *input_shape, dtype=torch.float64, requires_grad=True)
    y = net(x)
    if y.dim() > 2:  # spatial output: the central unit of channel 0
        centre = tuple(size // 2 for size in y.shape[2:])
        y[(0, 0, *centre)].backward()
    else:  # flat output: all features together see the union of all fields
        y.sum().backward()
    return x.grad[0].abs().sum(dim=0)


def _support_extents(support: torch.Tensor) -> tuple[int, ...]:
    """Per axis, the extent of the bounding box of a boolean map's true entries."""
    extents = []
    for axis in range(support.dim()):
        other = tuple(a for a in range(support.dim()) if a != axis)
        hit = support.any(dim=other) if other else support
        idx = torch.nonzero(hit).flatten()
        extents.append(int(idx.max() - idx.min() + 1) if len(idx) else 0)
    return tuple(extents)


def measure_receptive_field(layers: Sequence[Layer], input_shape: Sequence[int],
                            upto: str | None = None) -> tuple[int, ...]:
    """Receptive field *measured* as the bounding box of ``gradient_support`` per axis.

    It equals the computed field wherever that field lies inside the input; a field that pokes
    out of the input is cut at its edges (or, with dilation, may lose whole outer taps).
    """
    return _support_extents(gradient_support(layers, input_shape, upto))


def field_coverage(layers: Sequence[Layer], input_shape: Sequence[int], upto: str | None = None) -> float:
    """Share of the pixels inside the measured field's box that actually reach the unit
    (1.0: a solid field; less: holes, as dilated stacks can leave)."""
    return measure_field(layers, input_shape, upto)[1]


def measure_field(layers: Sequence[Layer], input_shape: Sequence[int],
                  upto: str | None = None) -> tuple[tuple[int, ...], float]:
    """``measure_receptive_field`` and ``field_coverage`` from one gradient computation."""
    support = gradient_support(layers, input_shape, upto)
    extents = _support_extents(support)
    return extents, float(support.sum()) / math.prod(extents)


def measured_units(info: LayerReport) -> list[int] | None:
    """The unit ``measure_receptive_field`` probes per axis: the centre (None: all units, flat layers)."""
    return None if info.global_field else [size // 2 for size in info.out_shape[1:]]


def field_inside(info: LayerReport, input_sizes: Sequence[int], layers_before: ArchitectureReport) -> bool:
    """Whether the probed unit's (or, for flat layers, every unit's) field lies inside the input,
    the case in which the measured field must equal the computed one exactly."""
    units = measured_units(info)
    if units is None:  # union over the last spatial layer's units
        spatial = [r for r in layers_before.layers if not r.global_field]
        if not spatial:
            return True
        last = spatial[-1]
        ranges = [(f.bounds(0)[0], f.bounds(n - 1)[1]) for f, n in zip(last.fields, last.out_shape[1:])]
    else:
        ranges = [f.bounds(u) for f, u in zip(info.fields, units)]
    return all(lo >= 0 and hi <= n - 1 for (lo, hi), n in zip(ranges, input_sizes))


def torch_check(layers: Sequence[Layer], input_shape: Sequence[int]) -> pd.DataFrame:
    """Calculator against real PyTorch layers, per layer: output shape, parameter count,
    2×MACs against ``torch.utils.flop_counter`` (conv and linear layers, the ones it counts) and
    the receptive field against its measurement from input gradients.

    Fields are compared where the probed unit's field lies inside the input (``rf_inside``);
    elsewhere part of it falls in the padding and the measured box is only a lower bound.
    """
    from torch.utils.flop_counter import FlopCounterMode

    report = analyze(layers, input_shape)
    net = to_torch(layers, input_shape).eval()
    x = torch.zeros(1, *input_shape)
    rows = []
    for info, module in zip(report.layers, net):
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            x = module(x)
        counted = isinstance(module, (nn.Conv1d, nn.Conv2d, nn.Linear))  # what the counter counts
        rows.append({
            "layer": info.name,
            "output": format_shape(info.out_shape),
            "torch_output": format_shape(x.shape[1:]),
            "params": info.params,
            "torch_params": sum(p.numel() for p in module.parameters()),
            "two_macs": 2 * info.macs if counted else None,
            "torch_flops": counter.get_total_flops() if counted else None,
            "rf": format_shape(info.receptive_field),
            "rf_measured": format_shape(measure_receptive_field(layers, input_shape, upto=info.name)),
            "rf_inside": field_inside(info, input_shape[1:], report),
        })
    frame = pd.DataFrame(rows).astype({"two_macs": "Int64", "torch_flops": "Int64"})
    frame["agree"] = ((frame.output == frame.torch_output) & (frame.params == frame.torch_params)
                      & ((frame.two_macs == frame.torch_flops).fillna(True))
                      & ((frame.rf == frame.rf_measured) | ~frame.rf_inside))
    return frame


def working(layers: Sequence[Layer], input_shape: Sequence[int]) -> pd.DataFrame:
    """The arithmetic behind each row of ``analyze``, written out (first spatial axis shown;
    the book's networks are square): output size, weights, receptive field and FLOPs."""
    report = analyze(layers, input_shape)
    dims = len(input_shape) - 1
    rows = []
    shape = tuple(input_shape)
    field = ReceptiveField(1, 1, 0.0)
    for layer, info in zip(layers, report.layers):
        out = info.out_shape
        row = {"layer": info.name, "working_output": format_shape(out), "working_weights": "0",
               "working_rf": format_field(info.receptive_field, info.global_field),
               "working_flops": f"{info.flops:,}"}
        if isinstance(layer, (Conv, Pool)):
            kernel, stride, padding, dilation = (v[0] for v in window_geometry(layer, dims))
            extent = kernel_extent(kernel, dilation)
            ext = f"({dilation}·({kernel}−1)+1)" if dilation > 1 else f"{kernel}"
            row["working_output"] = f"⌊({shape[1]} + 2·{padding} − {ext})/{stride}⌋ + 1 = {out[1]}"
            row["working_rf"] = f"{field.size} + ({extent}−1)·{field.jump} = {info.fields[0].size}"
            field = info.fields[0]
            if isinstance(layer, Conv):
                fan = "·".join(str(k) for k in window_geometry(layer, dims)[0])
                groups = f"/{layer.groups}" if layer.groups > 1 else ""
                row["working_weights"] = f"{fan}·{shape[0]}{groups}·{out[0]} = {info.weights:,}"
                row["working_flops"] = f"{math.prod(out):,} · (2·{info.macs // math.prod(out):,}" + (
                    ") " if layer.bias else " − 1) ") + f"= {info.flops:,}"
        elif isinstance(layer, Linear):
            row["working_weights"] = f"{shape[0]:,}·{out[0]:,} = {info.weights:,}"
            row["working_flops"] = f"{out[0]:,} · (2·{shape[0]:,}" + (") " if layer.bias else " − 1) ") + f"= {info.flops:,}"
        rows.append(row)
        shape = out
    return pd.DataFrame(rows)


def compare(variants: dict[str, Sequence[Layer]], input_shape: Sequence[int], measure: bool = False) -> pd.DataFrame:
    """One row per variant (keyed by its name): last spatial map, flattened size, totals, their
    change against the first variant and the receptive field of the last spatial layer
    (with ``measure=True`` also measured, with its coverage)."""
    rows = []
    for key, layers in variants.items():
        report = analyze(layers, input_shape)
        spatial = [r for r in report.layers if not r.global_field]
        last = spatial[-1]
        flat = next((r for r in report.layers if r.kind == "Flatten"), None)
        row = {
            "key": key,
            "final_map": format_shape(last.out_shape),
            "flat_features": flat.out_shape[0] if flat else None,
            "total_params": report.total_params,
            "total_flops": report.total_flops,
            "rf_last": format_shape(last.receptive_field),
        }
        if measure:
            extents, row["coverage"] = measure_field(layers, input_shape, upto=last.name)
            row["rf_measured"] = format_shape(extents)
        rows.append(row)
    frame = pd.DataFrame(rows)
    frame.insert(4, "delta_params", frame.total_params - frame.total_params.iloc[0])
    frame.insert(6, "delta_flops", frame.total_flops - frame.total_flops.iloc[0])
    return frame
