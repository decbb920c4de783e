"""The networks the coursework asks about, written as layer specs for ``cnnbook.arithmetic``.

Each function names its question id; where the source leaves something out (padding, a lost
figure) the docstring states the assumption, and the book's page repeats it.
"""

from __future__ import annotations

import math
from dataclasses import replace

import pandas as pd

from cnnbook.arithmetic import (
    BatchNorm, Conv, Dropout, Flatten, Layer, Linear, Pool, analyze, kernel_extent, keras_rejects,
    measure_field, output_length, same_padding, window_geometry,
)


def s0_q1(*, layer2_stride: int = 2, layer4_kernel: int = 3, layer7_channels: int = 256,
          avgpool: bool = True) -> list[Layer]:
    """S0.Q1: the 12-layer network on a 3×128×128 input; keyword arguments give the variants of (c).

    No activations are listed in the question, so none are counted (they add no parameters).
    """
    layers: list[Layer] = [
        Conv(32, 7, name="L1"),
        Conv(64, 5, stride=layer2_stride, name="L2"),
        Pool("max", 2, 2, name="L3"),
        Conv(128, layer4_kernel, dilation=2, name="L4"),
        Conv(128, 3, name="L5"),
        Pool("max", 2, 2, name="L6"),
        Conv(layer7_channels, 3, name="L7"),
        Pool("avg", 2, 2, name="L8"),
        Flatten(name="flatten"),
        Linear(1024, name="L9"),
        Linear(1024, name="L10"),
        Dropout(0.5, name="L11"),
        Linear(10, name="L12"),
    ]
    return [layer for layer in layers if avgpool or layer.name != "L8"]


S0_Q1_INPUT = (3, 128, 128)

def s0_q1_variants() -> dict[str, list[Layer]]:
    """S0.Q1c: the original network and its four changes, keyed by label (``cnnbook.book.labels``)."""
    return {
        "s0q1_original": s0_q1(),
        "s0q1_c1": s0_q1(layer2_stride=1),
        "s0q1_c2": s0_q1(layer4_kernel=5),
        "s0q1_c3": s0_q1(layer7_channels=512),
        "s0q1_c4": s0_q1(avgpool=False),
    }


def fixed_border(layers: list[Layer], after: str) -> int:
    """Pixels, counted at the resolution of layer ``after``'s output, that the later conv and
    pool layers remove whatever the size: each window of extent ``e``, stride ``s`` and padding
    ``p`` turns ``n`` into about ``(n - (e - s - 2p)) / s``, so it removes ``e - s - 2p`` pixels
    of its own input, that is that many times the strides accumulated since ``after``."""
    names = [layer.name for layer in layers]
    border, scale = 0, 1
    for layer in layers[names.index(after) + 1:]:
        if not isinstance(layer, (Conv, Pool)):
            break
        kernel, stride, padding, dilation = (v[0] for v in window_geometry(layer, 2, layer.name))
        border += (kernel_extent(kernel, dilation) - stride - 2 * padding) * scale
        scale *= stride
    return border


def s0_q1_stride_sides() -> pd.DataFrame:
    """S0.Q1 (c1): side of every spatial map with layer 2's stride 2 (the original) and 1, and
    their ratio. Columns ``layer, side_original, side_c1, side_ratio``."""
    original, halved = analyze(s0_q1(), S0_Q1_INPUT), analyze(s0_q1(layer2_stride=1), S0_Q1_INPUT)
    rows = [{"layer": a.name, "side_original": a.out_shape[1], "side_c1": b.out_shape[1],
             "side_ratio": round(b.out_shape[1] / a.out_shape[1], 2)}
            for a, b in zip(original.layers, halved.layers) if len(a.out_shape) == 3]
    return pd.DataFrame(rows)


def s0_q1_stride_facts() -> dict:
    """S0.Q1 (c1): why halving layer 2's stride triples the final map instead of doubling it.

    The layers after layer 2 remove a fixed border (``fixed_border``) and divide by the product
    of their strides (``scale``); ``approx_*`` is ``(side of layer 2 − border) / scale`` before
    the layers round down, ``border_share_*`` the border as a share (%) of layer 2's map."""
    sides = s0_q1_stride_sides().set_index("layer")
    layers = s0_q1()
    border = fixed_border(layers, "L2")
    scale = math.prod(window_geometry(layer, 2, layer.name)[1][0] for layer in layers[2:8]
                      if isinstance(layer, (Conv, Pool)))
    l2_original, l2_c1 = int(sides.side_original["L2"]), int(sides.side_c1["L2"])
    final_original, final_c1 = int(sides.side_original["L8"]), int(sides.side_c1["L8"])
    n_original = analyze(layers, S0_Q1_INPUT).layer("flatten").out_shape[0]
    n_c1 = analyze(s0_q1(layer2_stride=1), S0_Q1_INPUT).layer("flatten").out_shape[0]
    return {
        "l2_original": l2_original, "l2_c1": l2_c1, "l2_ratio": round(l2_c1 / l2_original, 2),
        "final_original": final_original, "final_c1": final_c1,
        "side_ratio": round(final_c1 / final_original, 2), "n_ratio": round(n_c1 / n_original, 2),
        "border": border, "scale": scale,
        "approx_original": round((l2_original - border) / scale, 2), "approx_c1": round((l2_c1 - border) / scale, 2),
        "border_share_original": round(100 * border / l2_original), "border_share_c1": round(100 * border / l2_c1),
    }


def s0_q3_base() -> list[Layer]:
    """S0.Q3: three blocks of conv 3×3 (8, 16, 32 channels, no padding) + max pool 2×2/2 on 1×128×128."""
    return [layer for c, i in ((8, 1), (16, 2), (32, 3))
            for layer in (Conv(c, 3, name=f"conv{i}"), Pool("max", 2, 2, name=f"pool{i}"))]


S0_Q3_INPUT = (1, 128, 128)


def s0_q3_candidates() -> dict[str, list[Layer]]:
    """S0.Q3: modifications that could bring the receptive field to at least 50×50 (keyed by label)."""
    base = s0_q3_base()

    def convs(**change) -> list[Layer]:
        return [replace(layer, **change) if isinstance(layer, Conv) else layer for layer in base]

    return {
        "q3_original": base,
        "q3_k5": convs(kernel=5),
        "q3_k7": convs(kernel=7),
        "q3_block4": base + [Conv(64, 3, name="conv4"), Pool("max", 2, 2, name="pool4")],
        "q3_double": [layer for c, i in ((8, 1), (16, 2), (32, 3)) for layer in (
            Conv(c, 3, name=f"conv{i}a"), Conv(c, 3, name=f"conv{i}b"), Pool("max", 2, 2, name=f"pool{i}"))],
        "q3_dilated": [replace(layer, dilation=d) if isinstance(layer, Conv) else layer
                       for layer, d in zip(base, (1, 1, 2, 2, 4, 4))],
    }


def s0_q3_dilated_coverage() -> pd.DataFrame:
    """S0.Q3: the proposed dilated design layer by layer: computed and measured receptive field
    of the central unit and the share of its field that reaches it (``coverage``; below 1:
    holes). Columns ``layer, rf, rf_measured, coverage``."""
    layers = s0_q3_candidates()["q3_dilated"]
    rows = []
    for info in analyze(layers, S0_Q3_INPUT).layers:
        extents, coverage = measure_field(layers, S0_Q3_INPUT, upto=info.name)
        rows.append({"layer": info.name, "rf": "×".join(map(str, info.receptive_field)),
                     "rf_measured": "×".join(map(str, extents)), "coverage": round(coverage, 4)})
    return pd.DataFrame(rows)


def s0_q3_assumption_facts() -> dict:
    """S0.Q3: what the open padding changes for the dilated design (receptive field and final map
    without padding and with 'same' padding) and its parameters with each convolution fed by the
    previous one's channels (the book's reading of the input channels)."""
    valid = s0_q3_candidates()["q3_dilated"]
    same = [replace(layer, padding="same") if isinstance(layer, Conv) else layer for layer in valid]
    reports = {"valid": analyze(valid, S0_Q3_INPUT), "same": analyze(same, S0_Q3_INPUT)}
    facts = {f"{key}_{what}": value for key, report in reports.items() for what, value in (
        ("rf", "×".join(map(str, report.layers[-1].receptive_field))),
        ("map", "×".join(map(str, report.output_shape[1:]))))}
    facts["params"] = reports["valid"].total_params
    return facts


def s0_q4_method_a(padding: int = 1) -> list[Layer]:
    """S0.Q4 method A: four conv 3×3 stride 2 (64 channels each, an assumption; padding 1 halves exactly)."""
    return [Conv(64, 3, stride=2, padding=padding, name=f"conv{i}") for i in range(1, 5)]


def s0_q4_method_b(blocks: int = 3) -> list[Layer]:
    """S0.Q4 method B: ``blocks`` × (conv 3×3 stride 1 'same' + max pool 2×2/2), 64 channels each."""
    return [layer for i in range(1, blocks + 1)
            for layer in (Conv(64, 3, padding=1, name=f"conv{i}"), Pool("max", 2, 2, name=f"pool{i}"))]


S0_Q4_INPUT = (3, 256, 256)


def s0_q4_methods() -> dict[str, list[Layer]]:
    """S0.Q4: method A (with and without padding), method B as posed and with the missing fourth block."""
    return {
        "q4_a": s0_q4_method_a(),
        "q4_a_valid": s0_q4_method_a(padding=0),
        "q4_b": s0_q4_method_b(),
        "q4_b4": s0_q4_method_b(blocks=4),
    }


def s2_q3(padding: int = 1, hidden: int = 20) -> list[Layer]:
    """S2.Q3: the 1-D network on a 1×785 input (the figure is lost).

    Assumed: zero padding of ``padding`` on *each* side, one 1×2 filter with stride 1 and ReLU,
    average pooling of width 2 and stride 2, FC1 with ``hidden`` units (20 in the source
    answer) and ReLU, one sigmoid output.
    """
    return [
        Conv(1, 2, padding=padding, name="conv1"),
        Pool("avg", 2, 2, name="avgpool1"),
        Flatten(name="flatten"),
        Linear(hidden, name="fc1"),
        Linear(1, name="z"),
    ]


S2_Q3_INPUT = (1, 785)

# What the source answer (S2) claims, so the book can check it: the FC1 input length it
# computed and its parameter total.
S2_Q3_SOURCE_ANSWER = {"fc_input": 393, "total_params": 7904}


def s3_q3() -> list[Layer]:
    """S3.Q3a: Conv1D model on 500 time steps × 7 channels (Keras defaults: 'valid' padding, pool stride = size)."""
    return [
        Conv(16, 3, name="conv1d_1"), Pool("max", 2, name="maxpool_1"),
        Conv(32, 5, name="conv1d_2"), Pool("max", 2, name="maxpool_2"),
        Conv(64, 5, name="conv1d_3"), Pool("max", 2, name="maxpool_3"),
        Flatten(name="flatten"), Linear(128, name="dense_1"), Linear(5, name="dense_2"),
    ]


S3_Q3_INPUT = (7, 500)

# The parameter total the source answer (S3) reports.
S3_Q3_SOURCE_ANSWER = {"total_params": 497349}


def s4_q5(pad_last: bool = False) -> list[Layer]:
    """S4.Q5a: the nine-layer stack with dilated convolutions on 3×256×256.

    As posed (all dilated layers 'valid') layer 8 does not fit its input; ``pad_last=True`` is
    the closest well-posed version: layer 8 padded by d(k-1)/2, the 'same' padding of its kernel.
    """
    last_padding = same_padding(5, 8) if pad_last else 0
    return [
        Conv(64, 3, padding="same", name="L1"),
        Conv(32, 5, stride=2, dilation=2, name="L2"),
        Pool("max", 2, 2, name="L3"),
        Conv(128, 3, padding="same", name="L4"),
        Conv(64, 5, stride=2, dilation=4, name="L5"),
        Pool("max", 2, 2, name="L6"),
        Conv(256, 3, padding="same", name="L7"),
        Conv(128, 5, stride=2, dilation=8, padding=last_padding, name="L8"),
        Pool("max", 2, 2, name="L9"),
    ]


S4_Q5_INPUT = (3, 256, 256)


def s4_q6e(bias: bool = True) -> list[Layer]:
    """S4.Q6e: a fully connected layer 10 → 20 followed by batch normalisation."""
    return [Flatten(name="input"), Linear(20, bias=bias, name="fc"), BatchNorm(name="bn")]


S4_Q6E_INPUT = (10, 1)


# --------------------------------------------------------------------------- facts cited in prose
def s0_q1_facts() -> dict:
    """S0.Q1: totals, the share of the linear layers, and the pixels the network never sees."""
    report = analyze(s0_q1(), S0_Q1_INPUT)
    flat = report.layer("flatten")
    fc_params = sum(report.layer(name).params for name in ("L9", "L10", "L12"))
    conv_flops = sum(r.flops for r in report.layers if r.kind == "Conv2d")
    return {
        "weights": report.total_weights, "biases": report.total_biases, "params": report.total_params,
        "N": flat.out_shape[0], "fc_params": report.layer("L9").params,
        "fc_share": round(100 * fc_params / report.total_params, 1),
        "union": flat.receptive_field[0], "unseen": S0_Q1_INPUT[1] - flat.receptive_field[0],
        "rf_l8": report.layer("L8").receptive_field[0], "macs": report.total_macs, "flops": report.total_flops,
        "conv_flop_share": round(100 * conv_flops / report.total_flops, 1),
        "c2_extent": kernel_extent(5, 2),
        "c2_saving": report.total_params - analyze(s0_q1(layer4_kernel=5), S0_Q1_INPUT).total_params,
    }


def s2_q3_facts() -> dict:
    """S2.Q3 part 1: sizes and totals under both readings of the padding, and the source's slip."""
    both = analyze(s2_q3(), S2_Q3_INPUT)
    one_side = analyze(s2_q3(padding=0), (1, S2_Q3_INPUT[1] + 1))  # a single zero in all
    return {
        "padded": S2_Q3_INPUT[1] + 2, "conv": both.layer("conv1").out_shape[1],
        "pooled": both.layer("avgpool1").out_shape[1], "fc1": both.layer("fc1").params,
        "params": both.total_params,
        "one_side_pooled": one_side.layer("avgpool1").out_shape[1], "one_side_params": one_side.total_params,
        # the formula the source applied (kernel 2, stride 2, no padding) straight to the input
        "source_formula": output_length(S2_Q3_INPUT[1], 2, stride=2),
        "source_fc_input": S2_Q3_SOURCE_ANSWER["fc_input"], "source_total": S2_Q3_SOURCE_ANSWER["total_params"],
    }


def s3_q3_facts() -> dict:
    """S3.Q3a: total parameters, flattened size, the first dense layer's share, the source's total."""
    report = analyze(s3_q3(), S3_Q3_INPUT)
    return {
        "params": report.total_params, "flat": report.layer("flatten").out_shape[0],
        "dense_share": round(100 * report.layer("dense_1").params / report.total_params, 1),
        "source_total": S3_Q3_SOURCE_ANSWER["total_params"],
    }


def s4_q5_facts() -> dict:
    """S4.Q5a: why the stack fails as posed (layer 8 does not fit; Keras, whose syntax the sheet
    uses, refuses a stride above 1 with a dilation above 1), the rounding of the pool before
    layer 8, and the well-posed version's output and parameters."""
    report = analyze(s4_q5(pad_last=True), S4_Q5_INPUT)
    pool_in, pool_out = report.layer("L5").out_shape[1], report.layer("L6").out_shape[1]
    dilated = [layer.name for layer in s4_q5() if isinstance(layer, Conv) and layer.dilation != 1]
    return {
        "extent": kernel_extent(5, 8), "map": report.layer("L7").out_shape[1], "pad": same_padding(5, 8),
        "params": report.total_params, "out": "×".join(map(str, report.output_shape)),
        "rf8": report.layer("L8").receptive_field[0],
        "pool_in": pool_in, "pool_out": pool_out, "pool_exact": pool_in / 2, "pool_dropped": pool_in - 2 * pool_out,
        "keras_rejected": len(keras_rejects(s4_q5())), "dilated": len(dilated),
    }


def s4_q6e_facts() -> dict:
    """S4.Q6e: trainable parameters with and without the linear bias, and the running buffers."""
    report = analyze(s4_q6e(), S4_Q6E_INPUT)
    return {
        "fc_weights": report.layer("fc").weights, "fc_biases": report.layer("fc").biases,
        "norm": report.layer("bn").params, "buffers": report.layer("bn").buffers,
        "params": report.total_params, "no_bias": analyze(s4_q6e(bias=False), S4_Q6E_INPUT).total_params,
    }
