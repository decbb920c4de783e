"""Dilated convolution, numerically: output sizes and the dilated-kernel equivalence against
PyTorch, receptive-field growth of dilated stacks, the holes ("gridding") some leave, and the
hybrid dilated convolution (HDC) rule of Wang et al. (2018) that is meant to avoid them.

Receptive fields come from ``cnnbook.arithmetic`` (computed) and ``gradient_support`` (measured);
the holes of a stack are also computed exactly, as the set of tap offsets it reaches
(``reach``), which is what the gradient measurement sees along each axis.
"""

from __future__ import annotations

import itertools
import math
from typing import Mapping, Sequence

import numpy as np
import pandas as pd
import sympy as sp
import torch
import torch.nn.functional as F

from cnnbook import by_hand, plots
from cnnbook.arithmetic import Conv, Layer, analyze, measure_receptive_field, path_weights
from cnnbook.derivations import dilation as derivation


def output_size_oracle(max_size: int = 9, max_kernel: int = 4, max_dilation: int = 4) -> tuple[int, int]:
    """``(M - DF + D) × (N - DF + D)`` (the SymPy result) against the shapes that
    ``torch.nn.functional.conv2d(..., dilation=D)`` and the definition (``by_hand``) produce, on
    every ``M × N`` image, ``F × F`` kernel and dilation ``D`` of a grid where the kernel fits.
    Returns ``(cases, mismatches)``."""
    size = derivation.output_size()
    rows = sp.lambdify((derivation.M, derivation.F, derivation.D), size.identities["rows"][0])
    cases = mismatches = 0
    for m in range(1, max_size + 1):
        for n in range(1, max_size + 1):
            image = torch.zeros(1, 1, m, n)
            for f in range(1, max_kernel + 1):
                for d in range(1, max_dilation + 1):
                    if d * (f - 1) + 1 > min(m, n):
                        continue
                    cases += 1
                    expected = (rows(m, f, d), rows(n, f, d))
                    torch_shape = tuple(F.conv2d(image, torch.zeros(1, 1, f, f), dilation=d).shape[2:])
                    by_definition = by_hand.correlate2d(np.zeros((m, n)), np.zeros((f, f)), dilation=d).shape
                    mismatches += int(not expected == torch_shape == by_definition)
    return cases, mismatches


def kronecker_oracle(trials: int = 30, seed: int = 0) -> tuple[int, float]:
    """Largest difference between ``conv2d(I, K, dilation=D)`` and ``conv2d(I, K')`` with
    ``K' = K ⊗ A`` (trimmed) on random float64 images and kernels. Returns ``(trials, max_error)``."""
    rng = np.random.default_rng(seed)
    worst = 0.0
    for _ in range(trials):
        f, d = int(rng.integers(1, 5)), int(rng.integers(1, 5))
        extent = d * (f - 1) + 1
        m, n = (int(v) for v in rng.integers(extent, extent + 8, size=2))
        image, kernel = rng.normal(size=(m, n)), rng.normal(size=(f, f))
        img_t = torch.tensor(image)[None, None]
        dilated = F.conv2d(img_t, torch.tensor(kernel)[None, None], dilation=d)
        plain = F.conv2d(img_t, torch.tensor(derivation.dilated_kernel(kernel, d), dtype=torch.float64)[None, None])
        worst = max(worst, float((dilated - plain).abs().max()))
    return trials, worst


# --------------------------------------------------------------------------- receptive fields
def single_layer_fields(kernels: Sequence[int] = (1, 2, 3, 5), dilations: Sequence[int] = (1, 2, 3, 4)) -> pd.DataFrame:
    """One ``K × K`` convolution with dilation ``D``: the field ``D(K - 1) + 1`` of the SymPy
    result against the field measured from input gradients. Columns ``kernel, dilation, rf, rf_measured``."""
    width = sp.lambdify((sp.Symbol("K", integer=True, positive=True), derivation.D),
                        derivation.receptive_field().steps["width"].rhs)
    rows = []
    for k in kernels:
        for d in dilations:
            rf = int(width(k, d))
            measured = measure_receptive_field([Conv(1, k, dilation=d)], (1, rf + 4, rf + 4))[0]
            rows.append({"kernel": k, "dilation": d, "rf": rf, "rf_measured": measured})
    return pd.DataFrame(rows)


def stack(dilations: Sequence[int], kernel: int = 3, stride: int = 1) -> list[Layer]:
    """Stride-``stride`` convolutions of width ``kernel`` with the given dilations (one channel;
    'same' padding at stride 1, padding 1 otherwise)."""
    padding = "same" if stride == 1 else kernel // 2
    return [Conv(1, kernel, stride=stride, dilation=d, padding=padding, name=f"conv{i}")
            for i, d in enumerate(dilations, start=1)]


def stack_designs(depth: int) -> dict[str, list[Layer]]:
    """The three stacks of the growth comparison, keyed by label: plain 3×3, 3×3 with dilations
    1, 2, 4, ..., and 3×3 with stride 2 (downsampling instead of dilation)."""
    return {
        "stack_plain": stack([1] * depth),
        "stack_dilated": stack([2 ** i for i in range(depth)]),
        "stack_strided": stack([1] * depth, stride=2),
    }


def field_growth(max_depth: int = 10, input_size: int = 4096) -> pd.DataFrame:
    """Receptive field and output length after each layer of the three stacks on a 1-D input of
    ``input_size`` samples. Columns ``key, depth, rf, output``."""
    rows = []
    for key, layers in stack_designs(max_depth).items():
        report = analyze(layers, (1, input_size))
        rows += [{"key": key, "depth": depth, "rf": info.receptive_field[0], "output": info.out_shape[1]}
                 for depth, info in enumerate(report.layers, start=1)]
    return pd.DataFrame(rows)


def growth_at(growth: pd.DataFrame, depth: int) -> pd.DataFrame:
    """The rows of ``field_growth`` at one depth (key = stack)."""
    return growth[growth.depth == depth].drop(columns="depth")


def measured_growth(max_depth: int = 5) -> pd.DataFrame:
    """The growth table's fields measured from input gradients (2-D, input large enough that the
    central unit's field lies inside), next to the computed ones. Columns ``key, depth, rf, rf_measured``."""
    rows = []
    for depth in range(1, max_depth + 1):
        for key, layers in stack_designs(depth).items():
            computed = analyze(layers, (1, 64, 64)).layers[-1].receptive_field[0]
            size = 2 * computed + 2 ** (depth + 1)
            rows.append({"key": key, "depth": depth, "rf": computed,
                         "rf_measured": measure_receptive_field(layers, (1, size, size))[0]})
    return pd.DataFrame(rows)


def growth_table(measured: pd.DataFrame) -> pd.DataFrame:
    """``measured_growth`` with one row per depth, the computed field of each stack as a column,
    and ``agree``: whether all three measured fields equal the computed ones."""
    table = measured.pivot(index="depth", columns="key", values="rf")
    table["agree"] = measured.groupby("depth").apply(lambda part: bool((part.rf == part.rf_measured).all()),
                                                      include_groups=False)
    return table.reset_index()


def layers_to_cover(length: int, kernel: int = 3, dilated: bool = False) -> int:
    """Fewest stride-1 convolutions of width ``kernel`` whose receptive field reaches ``length``
    samples: plain, or with dilations 1, 2, 4, ..."""
    plain_depth = math.ceil((length - 1) / (kernel - 1))  # plain layers add k - 1 each: always enough
    depth = min(plain_depth, math.ceil(math.log2(length)) + 1) if dilated else plain_depth
    report = analyze(stack([2 ** i for i in range(depth)] if dilated else [1] * depth, kernel), (1, length))
    return next(i for i, info in enumerate(report.layers, start=1) if info.receptive_field[0] >= length)


# --------------------------------------------------------------------------- gridding
GRIDDING_DESIGNS: dict[str, tuple[int, ...]] = {
    "grid_222": (2, 2, 2),
    "grid_248": (2, 4, 8),
    "grid_124": (1, 2, 4),
    "grid_125": (1, 2, 5),
    "grid_129": (1, 2, 9),
}


def gridding(designs: Mapping[str, Sequence[int]] = GRIDDING_DESIGNS) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """For each stack of 3×3 dilated layers: which input pixels reach the central output unit
    and through how many paths (``path_weights``, cropped to the field and scaled to a maximum
    of 1), the field size and the share of it that is reached. Returns the table
    (``key, dilations, rf, reached, coverage``) and the maps by key."""
    rows, maps = [], {}
    for key, dilations in designs.items():
        layers = stack(dilations)
        rf = analyze(layers, (1, 64, 64)).layers[-1].receptive_field[0]
        size = rf + 8
        weights = path_weights(layers, (1, size, size)).numpy()
        hit_rows, hit_cols = np.nonzero(weights)
        crop = weights[hit_rows.min(): hit_rows.max() + 1, hit_cols.min(): hit_cols.max() + 1]
        maps[key] = crop / crop.max()
        reached = int((weights > 0).sum())  # coverage as field_coverage measures it, from the same pass
        rows.append({"key": key, "dilations": ", ".join(map(str, dilations)), "rf": rf,
                     "reached": reached, "coverage": reached / crop.size})
    return pd.DataFrame(rows), maps


# --------------------------------------------------------------------------- the HDC rule
def hdc_max_distance(dilations: Sequence[int]) -> int:
    """Wang et al.'s "maximum distance between two nonzero values" ``M_2`` of a stack with
    dilations ``r_1, ..., r_n`` (n >= 2): ``M_n = r_n`` and, going down,
    ``M_i = max(M_{i+1} - 2 r_i, M_{i+1} - 2 (M_{i+1} - r_i), r_i)`` for ``i = n-1, ..., 2``."""
    if len(dilations) < 2:
        raise ValueError("the HDC rule needs at least two dilated layers")
    if min(dilations) < 1:
        raise ValueError(f"dilations must be positive, got {tuple(dilations)}")
    distance = dilations[-1]
    for r in reversed(dilations[1:-1]):
        distance = max(distance - 2 * r, distance - 2 * (distance - r), r)
    return distance


def hdc_rule(dilations: Sequence[int], kernel: int = 3) -> dict:
    """The two conditions of hybrid dilated convolution for one group of dilations with
    ``kernel × kernel`` kernels: no common factor above 1 (``common_factor`` is their greatest
    common divisor) and ``M_2 <= kernel`` (``m2``). ``hdc`` says whether both hold."""
    common = math.gcd(*dilations)
    m2 = hdc_max_distance(dilations)
    return {"common_factor": common, "m2": m2, "hdc": common == 1 and m2 <= kernel}


def reach(dilations: Sequence[int], kernel: int = 3) -> set[int]:
    """Offsets (along one axis, relative to the output unit) of the input positions that reach
    one output of a stride-1 stack of width-``kernel`` convolutions with these dilations: the
    sums of one tap offset per layer. In 2-D with square kernels the reached pixels are the
    product of this set with itself."""
    taps = [[r * (t - (kernel - 1) // 2) for t in range(kernel)] for r in dilations]
    return {sum(choice) for choice in itertools.product(*taps)}


def holes(dilations: Sequence[int], kernel: int = 3) -> int:
    """Positions inside the field (along one axis) that no path reaches: 0 for a solid field."""
    reached = reach(dilations, kernel)
    return max(reached) - min(reached) + 1 - len(reached)


def hdc_check(designs: Mapping[str, Sequence[int]] = GRIDDING_DESIGNS, kernel: int = 3,
              measured: pd.DataFrame | None = None) -> pd.DataFrame:
    """The HDC rule next to what the stack really reaches, per design: ``common_factor``,
    ``m2``, ``hdc`` (both conditions hold), ``holes`` (per axis, exact) and, from ``measured``
    (``gridding``'s table), the ``coverage`` measured from input gradients; ``agree`` says
    whether the rule's verdict (no holes) matches the measurement (coverage 1)."""
    rows = []
    for key, dilations in designs.items():
        row = {"key": key, "dilations": ", ".join(map(str, dilations)), **hdc_rule(dilations, kernel),
               "holes": holes(dilations, kernel)}
        if measured is not None:
            row["coverage"] = float(measured.set_index("key").coverage[key])
            row["agree"] = row["hdc"] == (row["coverage"] == 1.0)
        rows.append(row)
    return pd.DataFrame(rows)


def hdc_sweep(depth: int = 3, largest: int = 8, kernel: int = 3) -> pd.DataFrame:
    """The HDC rule against the exact holes on every stack of ``depth`` layers with dilations
    1 to ``largest``, split by whether the first dilation is 1 (key ``hdc_first1``) or larger
    (``hdc_first_more``). Columns: ``stacks``, ``rule_solid`` (stacks the rule passes),
    ``solid`` (stacks without holes), ``rule_solid_holes`` (passed but with holes) and
    ``rule_holes_solid`` (rejected but without holes)."""
    counts = {key: {"stacks": 0, "rule_solid": 0, "solid": 0, "rule_solid_holes": 0, "rule_holes_solid": 0}
              for key in ("hdc_first1", "hdc_first_more")}
    for dilations in itertools.product(range(1, largest + 1), repeat=depth):
        row = counts["hdc_first1" if dilations[0] == 1 else "hdc_first_more"]
        passes, solid = hdc_rule(dilations, kernel)["hdc"], holes(dilations, kernel) == 0
        row["stacks"] += 1
        row["rule_solid"] += passes
        row["solid"] += solid
        row["rule_solid_holes"] += passes and not solid
        row["rule_holes_solid"] += solid and not passes
    return pd.DataFrame([{"key": key, **values} for key, values in counts.items()])


# --------------------------------------------------------------------------- figures
LEGEND = {
    "stack_plain": "plain 3×3",
    "stack_dilated": "3×3, dilations 1, 2, 4, ...",
    "stack_strided": "3×3, stride 2",
    "grid_222": "dilations 2, 2, 2",
    "grid_248": "dilations 2, 4, 8",
    "grid_124": "dilations 1, 2, 4",
    "grid_125": "dilations 1, 2, 5",
    "grid_129": "dilations 1, 2, 9",
}
_STYLE = {"stack_plain": {"marker": "o"}, "stack_dilated": {"marker": "s", "markersize": 8, "linewidth": 3, "alpha": 0.6},
          "stack_strided": {"marker": "^", "linestyle": "--"}}


def plot_growth(growth: pd.DataFrame):
    """Receptive field against depth for each stack (log scale), and the output length each keeps."""
    fig, ((left, right),) = plots.figure(1, 2, panel=(4.25, 3.4))
    for key, part in growth.groupby("key", sort=False):
        left.plot(part.depth, part.rf, label=LEGEND[key], **_STYLE[key])
        right.plot(part.depth, part.output, label=LEGEND[key], **_STYLE[key])
    left.set_ylabel("receptive field (samples)")
    right.set_ylabel("output length (samples)")
    right.set_title(f"input: {growth.output.max():,} samples")
    for ax in (left, right):
        ax.set_yscale("log", base=2)
        ax.set_xlabel("depth $L$ (layers)")
        ax.grid(True, which="both")
        ax.legend()
    return fig


def plot_gridding(maps: Mapping[str, np.ndarray]):
    """One panel per stack: the input pixels that reach the central output unit, shaded by their
    number of paths (white: never reached)."""
    import matplotlib.pyplot as plt

    cmap = plt.get_cmap("viridis").copy()
    cmap.set_under("white")
    fig, (axes,) = plots.figure(1, len(maps), panel=(2.2, 2.7))
    for ax, (key, weights) in zip(axes, maps.items()):
        image = ax.imshow(np.where(weights > 0, weights, -1), cmap=cmap, vmin=1e-9, vmax=1, interpolation="nearest")
        ax.grid(False)
        ax.set_title(LEGEND[key])
        ax.set_xlabel(f"field: {weights.shape[0]}×{weights.shape[1]} px")
        ax.set_xticks([])
        ax.set_yticks([])
    fig.colorbar(image, ax=list(axes), fraction=0.015, pad=0.02, label="paths (relative)")
    return fig
