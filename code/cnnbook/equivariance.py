"""What convolution buys: translation equivariance measured on real layers, where it breaks
(zero padding, stride, untied weights) and how pooling turns it into approximate invariance.

A shift is a cyclic roll of the input (``torch.roll``), the one translation under which a
circularly padded convolution is exactly equivariant; every error is a relative L2 norm
``||a - b|| / ||b||``. Everything runs in float64 so that "exact" means rounding error only.
"""

from __future__ import annotations

import math
from typing import Callable, Mapping, Sequence

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from cnnbook import plots
from cnnbook.arithmetic import Conv, Layer, Pool, ReLU, analyze, to_torch
from cnnbook.data import DataSet

Module = Callable[[torch.Tensor], torch.Tensor]


# --------------------------------------------------------------------------- input
def as_input(photos: DataSet, index: int = 0) -> torch.Tensor:
    """Photo ``index`` of a ``data.load("photos", ...)`` set as the input of the measurements here:
    a float64 tensor ``1 × C × H × W`` in [0, 1]."""
    return torch.from_numpy(photos.train.scaled()[index: index + 1]).double()


def roll(x: torch.Tensor, shift: int | tuple[int, int]) -> torch.Tensor:
    """Cyclic shift of the last two axes by ``shift`` pixels (an int shifts both axes)."""
    shifts = (shift, shift) if isinstance(shift, int) else shift
    return torch.roll(x, shifts=shifts, dims=(-2, -1))


def relative_error(a: torch.Tensor, b: torch.Tensor) -> float:
    """``||a - b|| / ||b||``."""
    return float(torch.linalg.vector_norm(a - b) / torch.linalg.vector_norm(b))


# --------------------------------------------------------------------------- layers
class LocallyConnected2d(nn.Module):
    """A convolution whose weights are *not* shared: every output position has its own
    ``out × in × k × k`` filter and bias (Taigman et al.'s locally connected layer).

    ``padding_mode`` is ``'zeros'`` or ``'circular'``. With all positions given the same filter
    (``from_conv``) it computes exactly what the convolution computes.
    """

    def __init__(self, in_channels: int, out_channels: int, in_size: tuple[int, int], kernel: int,
                 stride: int = 1, padding: int = 0, padding_mode: str = "zeros", bias: bool = True):
        super().__init__()
        if padding_mode not in ("zeros", "circular"):
            raise ValueError(f"padding_mode must be 'zeros' or 'circular', not {padding_mode!r}")
        self.kernel, self.stride, self.padding, self.padding_mode = kernel, stride, padding, padding_mode
        self.out_size = tuple((n + 2 * padding - kernel) // stride + 1 for n in in_size)
        if min(self.out_size) < 1:
            raise ValueError(f"kernel {kernel} does not fit the input {in_size} with padding {padding}")
        positions = math.prod(self.out_size)
        fan_in = in_channels * kernel * kernel
        bound = 1 / math.sqrt(fan_in)  # the default initialisation of nn.Conv2d, per position
        self.weight = nn.Parameter(torch.empty(positions, out_channels, fan_in).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.empty(positions, out_channels).uniform_(-bound, bound)) if bias else None

    @classmethod
    def from_conv(cls, conv: nn.Conv2d, in_size: tuple[int, int]) -> "LocallyConnected2d":
        """The locally connected layer that repeats ``conv``'s filter at every position (a padding mode other
        than zeros or circular is refused, not silently replaced)."""
        layer = cls(conv.in_channels, conv.out_channels, in_size, conv.kernel_size[0], conv.stride[0],
                    conv.padding[0], conv.padding_mode, conv.bias is not None).to(conv.weight.dtype)
        with torch.no_grad():
            layer.weight.copy_(conv.weight.reshape(1, conv.out_channels, -1).expand_as(layer.weight))
            if layer.bias is not None:
                layer.bias.copy_(conv.bias.expand_as(layer.bias))
        return layer

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        p = self.padding
        if p:
            x = F.pad(x, (p, p, p, p), mode="circular" if self.padding_mode == "circular" else "constant")
        patches = F.unfold(x, self.kernel, stride=self.stride)  # B × fan_in × positions
        out = torch.einsum("bfp,pof->bop", patches, self.weight)
        if self.bias is not None:
            out = out + self.bias.T
        return out.reshape(x.shape[0], -1, *self.out_size)


def conv_layer(channels: int = 8, kernel: int = 5, stride: int = 1, padding_mode: str = "circular",
               seed: int = 0) -> nn.Conv2d:
    """A float64 convolution from one grey channel with 'same' padding and random filters."""
    torch.manual_seed(seed)
    return nn.Conv2d(1, channels, kernel, stride, kernel // 2, padding_mode=padding_mode).double()


def shift_layers(size: int = 64, channels: int = 8, kernel: int = 5, seed: int = 0) -> dict[str, nn.Module]:
    """The layers of the shift test, keyed by label: convolution with circular and with zero
    padding, with stride 2, and a locally connected layer of the same geometry."""
    circular = conv_layer(channels, kernel, padding_mode="circular", seed=seed)
    zeros = conv_layer(channels, kernel, padding_mode="zeros", seed=seed)
    with torch.no_grad():
        zeros.weight.copy_(circular.weight)
        zeros.bias.copy_(circular.bias)
    torch.manual_seed(seed + 1)
    local = LocallyConnected2d(1, channels, (size, size), kernel, padding=kernel // 2,
                               padding_mode="circular").double()
    return {
        "eq_circular": circular,
        "eq_zeros": zeros,
        "eq_stride2": conv_layer(channels, kernel, stride=2, padding_mode="circular", seed=seed),
        "eq_local": local,
    }


# --------------------------------------------------------------------------- measurements
def equivariance_error(layer: Module, x: torch.Tensor, shift: int) -> tuple[float, int]:
    """Smallest ``||f(roll(x, t)) - roll(f(x), u)|| / ||f(x)||`` over output shifts ``u``
    (shifting both axes), and the ``u`` that achieves it. Zero: the layer is equivariant for ``t``."""
    with torch.no_grad():
        base, moved = layer(x), layer(roll(x, shift))
    errors = [relative_error(moved, roll(base, u)) for u in range(base.shape[-1])]
    best = int(np.argmin(errors))
    return errors[best], best


def shift_errors(layers: Mapping[str, Module], x: torch.Tensor, shifts: Sequence[int]) -> pd.DataFrame:
    """Equivariance error of each layer for each shift: columns ``key, shift, error, out_shift``."""
    rows = []
    for key, layer in layers.items():
        for shift in shifts:
            error, out_shift = equivariance_error(layer, x, shift)
            rows.append({"key": key, "shift": shift, "error": error, "out_shift": out_shift})
    return pd.DataFrame(rows)


def boundary_error_map(layer: Module, x: torch.Tensor, shift: int) -> torch.Tensor:
    """Per-pixel ``|f(roll(x, t)) - roll(f(x), t)|`` summed over channels: where equivariance fails."""
    with torch.no_grad():
        return (layer(roll(x, shift)) - roll(layer(x), shift)).abs().sum(dim=1)[0]


def erroneous_fraction(layer: Module, x: torch.Tensor, shift: int, tol: float = 1e-9) -> float:
    """Share of output pixels where ``boundary_error_map`` exceeds ``tol``."""
    error = boundary_error_map(layer, x, shift)
    return float((error > tol).double().mean())


def shift_summary(errors: pd.DataFrame) -> dict[str, float]:
    """The numbers the text cites from ``shift_errors`` (over non-zero shifts): the largest
    error with circular padding, of stride 2 at even shifts, the smallest at odd shifts, and the
    range of the zero-padding and locally connected errors."""
    moved = errors[errors["shift"] > 0]

    def of(key: str, condition=None) -> pd.Series:
        part = moved[moved.key == key]
        return part[condition(part)]["error"] if condition else part["error"]

    return {
        "circular_max": float(of("eq_circular").max()),
        "stride_even_max": float(of("eq_stride2", lambda p: p["shift"] % 2 == 0).max()),
        "stride_odd_min": float(of("eq_stride2", lambda p: p["shift"] % 2 == 1).min()),
        "zeros_min": float(of("eq_zeros").min()), "zeros_max": float(of("eq_zeros").max()),
        "local_min": float(of("eq_local").min()), "local_max": float(of("eq_local").max()),
    }


def local_equals_conv(size: int = 16, seed: int = 0) -> float:
    """Largest difference between a circular convolution and ``LocallyConnected2d.from_conv`` of it
    (the untied layer with every position given the shared filter) on a random input."""
    conv = conv_layer(seed=seed)
    local = LocallyConnected2d.from_conv(conv, (size, size))
    x = torch.randn(2, 1, size, size, dtype=torch.float64, generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        return float((conv(x) - local(x)).abs().max())


def strided_vs_subsampled(image: torch.Tensor, stride: int = 2, seed: int = 0) -> dict[str, float]:
    """Strided sampling against downsampling after a stride-1 convolution, on ``image``.

    A stride-``s`` convolution equals the stride-1 convolution subsampled every ``s`` pixels
    (``max_error``: the largest difference), at ``1/s²`` of the cost (``macs_dense``,
    ``macs_strided``, ``ratio``); max pooling of window and stride ``s`` is another downsampling of
    the same stride-1 map and gives other numbers (``pool_difference``: its relative difference
    from the strided output)."""
    torch.manual_seed(seed)
    dense = nn.Conv2d(image.shape[1], 8, 3, padding=1).double()
    strided = nn.Conv2d(image.shape[1], 8, 3, stride=stride, padding=1).double()
    strided.load_state_dict(dense.state_dict())
    with torch.no_grad():
        full, sampled = dense(image), strided(image)
        error = float((sampled - full[..., ::stride, ::stride]).abs().max())
        pooled = F.max_pool2d(full, stride)
    shape = tuple(image.shape[1:])
    macs = {s: analyze([Conv(8, 3, stride=s, padding=1)], shape).total_macs for s in (1, stride)}
    return {"max_error": error, "macs_dense": macs[1], "macs_strided": macs[stride], "ratio": macs[1] / macs[stride],
            "pool_difference": relative_error(pooled, sampled)}


def strided_coverage(kernel: int = 3, stride: int = 2, size: int = 256, padding: int = 1) -> dict[str, float]:
    """What a strided convolution skips, measured on a real ``nn.Conv2d`` of one channel:
    ``input_read``, the share of input pixels that at least one output reads (a non-zero
    gradient of the summed output), and ``outputs_computed``, the number of outputs as a share of
    those of the same convolution with stride 1."""
    def layer(s: int) -> nn.Conv2d:
        conv = nn.Conv2d(1, 1, kernel, s, padding, bias=False).double()
        with torch.no_grad():
            conv.weight.fill_(1.0)
        return conv

    x = torch.ones(1, 1, size, size, dtype=torch.float64, requires_grad=True)
    out = layer(stride)(x)
    out.sum().backward()
    with torch.no_grad():
        dense = layer(1)(x)
    return {"input_read": float((x.grad != 0).double().mean()), "outputs_computed": out.numel() / dense.numel()}


def conv_depth(layers: Sequence[Layer]) -> int:
    """Number of convolutions (layers with weights) in a list of layer specs."""
    return sum(isinstance(layer, Conv) for layer in layers)


def pooling(kind: str, window: int | None) -> Module:
    """Max or average pooling with window = stride (``window=None``: global pooling)."""
    if window is None:
        return (lambda f: f.amax(dim=(-2, -1))) if kind == "max" else (lambda f: f.mean(dim=(-2, -1)))
    return nn.MaxPool2d(window) if kind == "max" else nn.AvgPool2d(window)


def pooled_change(features: Module, x: torch.Tensor, shifts: Sequence[int],
                  windows: Sequence[int | None] = (1, 2, 4, 8, None)) -> pd.DataFrame:
    """How much pooled features move when the input shifts: ``change``, without re-aligning them,
    ``||P(f(roll(x, t))) - P(f(x))|| / ||P(f(x))||`` for max and average pooling of each window
    (1: no pooling; ``None``: global); and ``aligned``, when ``t`` is a multiple of the window
    (= stride) ``w``, the same after rolling the pooled map of ``x`` by ``t / w`` cells
    (equivariance on the coarser grid; NaN for other shifts and for global pooling).
    Columns ``kind, window, shift, change, aligned``."""
    rows = []
    with torch.no_grad():
        base = features(x)
        moved = {shift: features(roll(x, shift)) for shift in shifts}
        for kind in ("max", "avg"):
            for window in windows:
                pool = pooling(kind, window)
                reference = pool(base)
                for shift in shifts:
                    pooled = pool(moved[shift])
                    aligned = (relative_error(pooled, roll(reference, shift // window))
                               if window is not None and shift % window == 0 else float("nan"))
                    rows.append({"kind": kind, "window": "global" if window is None else str(window),
                                 "shift": shift, "change": relative_error(pooled, reference), "aligned": aligned})
    return pd.DataFrame(rows)


def pooling_summary(change: pd.DataFrame, window: int = 8) -> dict[str, float]:
    """The two faces of a pool of ``window`` (= stride) in ``pooled_change``, per kind: ``<kind>_below``,
    the mean change over the shifts smaller than the window (what it absorbs; ``none_below``: the same
    without pooling), and ``<kind>_aligned``, the largest re-aligned error over the non-zero multiples
    of the window (zero up to rounding: the pooled map moves by whole cells)."""
    size = str(window)
    below = change[(change["shift"] > 0) & (change["shift"] < window)]
    multiples = change[(change["shift"] > 0) & (change["shift"] % window == 0) & (change["window"] == size)]
    summary = {"none_below": float(below[(below["window"] == "1") & (below["kind"] == "max")]["change"].mean())}
    for kind in ("max", "avg"):
        summary[f"{kind}_below"] = float(below[(below["window"] == size) & (below["kind"] == kind)]["change"].mean())
        summary[f"{kind}_aligned"] = float(multiples[multiples["kind"] == kind]["aligned"].max())
    return summary


def change_at(change: pd.DataFrame, shifts: Sequence[int] = (1, 4, 8)) -> pd.DataFrame:
    """``pooled_change`` at a few shifts, one row per pooling (key ``<kind>_<window>``), columns ``t<shift>``."""
    part = change[change["shift"].isin(shifts)]
    table = part.pivot_table(index=["kind", "window"], columns="shift", values="change", sort=False)
    table.columns = [f"t{shift}" for shift in table.columns]
    table = table.reset_index()
    return table.assign(key=table["kind"] + "_" + table["window"]).drop(columns=["kind", "window"])


def relu_features(channels: int = 8, kernel: int = 5, seed: int = 0) -> nn.Module:
    """The feature layer of the pooling measurement: circular convolution and ReLU."""
    return nn.Sequential(conv_layer(channels, kernel, seed=seed), nn.ReLU())


# --------------------------------------------------------------------------- downsampling
def with_relu(layers: Sequence[Layer]) -> list[Layer]:
    """``layers`` with a ReLU after every convolution (the specs of ``cnnbook.networks`` list none)."""
    return [item for layer in layers for item in ((layer, ReLU()) if isinstance(layer, Conv) else (layer,))]


def shift_stability(variants: Mapping[str, Sequence[Layer]], image: torch.Tensor, shifts: Sequence[int],
                    seeds: Sequence[int] = (0, 1, 2)) -> pd.DataFrame:
    """Shift stability of downsampling designs: for each variant (layer specs, ReLU added after
    each convolution), random initialisation ``seed`` and input shift ``t``: the change of the
    final map ``||F(roll(x,t)) - F(x)|| / ||F(x)||`` (no re-alignment), of its spatial mean (the
    descriptor a classifier head would see), and, when ``t`` is a multiple of the network's total
    stride ``J``, the change after rolling the map back by ``t / J`` (equivariance; NaN otherwise).
    Columns ``key, seed, shift, map_change, mean_change, aligned_change``."""
    rows = []
    batch = torch.cat([roll(image, shift) for shift in shifts]).float()
    shape = tuple(image.shape[1:])
    for key, layers in variants.items():
        jump = analyze(layers, shape).layers[-1].jump[0]
        for seed in seeds:
            torch.manual_seed(seed)
            net = to_torch(with_relu(layers), shape).eval()
            with torch.no_grad():
                out = net(batch)
            means = out.mean(dim=(-2, -1))
            for i, shift in enumerate(shifts):
                aligned = relative_error(out[i], roll(out[0], shift // jump)) if shift % jump == 0 else float("nan")
                rows.append({"key": key, "seed": seed, "shift": shift,
                             "map_change": relative_error(out[i], out[0]),
                             "mean_change": relative_error(means[i], means[0]), "aligned_change": aligned})
    return pd.DataFrame(rows)


def stability_table(stability: pd.DataFrame, small: int = 8) -> pd.DataFrame:
    """Per design (averaged over initialisations): the mean change of the final map and of its
    spatial mean over shifts ``1 .. small``; the mean re-aligned change over the non-zero shifts
    that are multiples of the total stride ``J``; and the change of the spatial mean at ``t = J``.
    Columns ``key, map_change, mean_change, aligned_change, period_mean_change``."""
    part = stability[(stability["shift"] >= 1) & (stability["shift"] <= small)]
    table = part.groupby("key", sort=False)[["map_change", "mean_change"]].mean()
    multiples = stability[(stability["shift"] > 0) & stability["aligned_change"].notna()]
    table["aligned_change"] = multiples.groupby("key", sort=False)["aligned_change"].mean()
    first = multiples[multiples["shift"] == multiples.groupby("key")["shift"].transform("min")]
    table["period_mean_change"] = first.groupby("key", sort=False)["mean_change"].mean()
    return table.reset_index()


def order_designs(channels: int = 64) -> dict[str, list[Layer]]:
    """S0.Q2(i): after a 3×3 stem convolution, a strided 3×3 convolution and a 2×2 max pool in
    either order (both downsample by 4), keyed by label."""
    def stem() -> Conv:
        return Conv(channels, 3, padding=1, name="stem")

    def strided() -> Conv:
        return Conv(channels, 3, stride=2, padding=1, name="strided")

    return {
        "order_stride_pool": [stem(), strided(), Pool("max", 2, name="pool")],
        "order_pool_stride": [stem(), Pool("max", 2, name="pool"), strided()],
    }


# --------------------------------------------------------------------------- figures
LEGEND = {
    "eq_circular": "convolution, circular padding",
    "eq_zeros": "convolution, zero padding",
    "eq_stride2": "convolution, stride 2",
    "eq_local": "locally connected",
    "q4_a": "A: four stride-2 convolutions",
    "q4_b4": "B: conv + max pool, four blocks",
    "order_stride_pool": "strided conv, then pool",
    "order_pool_stride": "pool, then strided conv",
}


def plot_shift_errors(errors: pd.DataFrame, error_map: torch.Tensor, map_shift: int):
    """Left: equivariance error against shift for each layer (log scale; rounding error sits near
    1e-17). Right: where zero padding breaks equivariance, for one shift."""
    fig, ((left, right),) = plots.figure(1, 2, panel=(4.25, 3.4), width_ratios=[1.7, 1])
    for key, part in errors[errors["shift"] > 0].groupby("key", sort=False):
        left.plot(part["shift"], part["error"].clip(lower=1e-18), marker="o", label=LEGEND[key])
    left.set_yscale("log")
    left.set_ylim(1e-18, 3)
    left.set_xlabel("input shift $t$ (pixels, along both axes)")
    left.set_ylabel("relative equivariance error")
    left.legend(loc="center right")
    image = right.imshow(error_map.numpy(), cmap="magma")
    right.grid(False)
    right.set_title(f"zero padding, $t = {map_shift}$: $|f(T_t x) - T_t f(x)|$")
    right.set_xlabel("column (pixels)")
    right.set_ylabel("row (pixels)")
    fig.colorbar(image, ax=right, fraction=0.046, pad=0.04)
    return fig


def plot_pooled_change(change: pd.DataFrame, realigned: int = 8):
    """Change of pooled features against shift, one panel per pooling kind, one line per window;
    crosses: the pools of window ``realigned`` at multiples of it, re-aligned by whole cells."""
    fig, (axes,) = plots.figure(1, 2, panel=(4.25, 3.2), sharey=True)
    for ax, (kind, part) in zip(axes, change.groupby("kind", sort=False)):
        for window, line in part.groupby("window", sort=False):
            name = "no pooling" if window == "1" else ("global" if window == "global" else f"{window}×{window}")
            drawn, = ax.plot(line["shift"], line["change"], marker=".", label=name)
            if window == str(realigned):
                aligned = line.dropna(subset=["aligned"])
                aligned = aligned[aligned["shift"] > 0]
                ax.plot(aligned["shift"], aligned["aligned"], "x", markersize=9, color=drawn.get_color(),
                        label=f"{name}, re-aligned by $t/{realigned}$ cells")
        ax.set_title(f"{kind} pooling")
        ax.set_xlabel("input shift $t$ (pixels, along both axes)")
    axes[0].set_ylabel("relative change of pooled features")
    axes[1].legend(title="window", fontsize="small", loc="upper left", bbox_to_anchor=(1.02, 1))
    return fig


def plot_shift_stability(stability: pd.DataFrame):
    """Change of the final map and of its spatial mean against shift for each design (mean over
    the random initialisations); dots: the map re-aligned by the total stride (equivariance)."""
    mean = stability.groupby(["key", "shift"], sort=False)[["map_change", "mean_change", "aligned_change"]].mean()
    fig, ((left, right),) = plots.figure(1, 2, panel=(4.25, 3.2))
    for key in stability["key"].unique():
        part = mean.loc[key]
        line, = left.plot(part.index, part["map_change"], label=LEGEND[key])
        aligned = part["aligned_change"].dropna()
        left.plot(aligned.index, aligned, "o", color=line.get_color(), label=f"{LEGEND[key]}, re-aligned")
        right.plot(part.index, part["mean_change"], label=LEGEND[key])
    left.set_ylabel("relative change of the final map")
    right.set_ylabel("relative change of its spatial mean")
    for ax in (left, right):
        ax.set_xlabel("input shift $t$ (pixels, along both axes)")
        ax.legend(fontsize="small")
    return fig
