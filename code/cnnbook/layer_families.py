"""What different layer families cost on the same input: fully connected, locally connected and
convolutional layers on an image and on a sound clip; 2-D against 3-D convolution on a video
clip; convolutional against recurrent layers on a sequence.

Counts come from ``cnnbook.arithmetic`` where it applies and otherwise from the real PyTorch
layers (``numel`` of their parameters, ``FlopCounterMode`` run on shape-only "meta" tensors).
"""

from __future__ import annotations

import math
from typing import Sequence

import pandas as pd
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from cnnbook import networks
from cnnbook.arithmetic import Conv, Flatten, Linear, analyze, format_shape

IMAGE = (3, 224, 224)
AUDIO_RATE = 16_000  # samples per second of the sound clip (an assumption: speech-quality audio)
AUDIO = (1, AUDIO_RATE)
VIDEO = (3, 16, 112, 112)  # channels, frames, height, width (the clip size of C3D)


def dense_versus_conv(channels: int = 64, kernel: int = 3, hidden: int = 1000) -> pd.DataFrame:
    """Parameters of one layer on a 224×224×3 image and on a 1-s, 16 kHz sound clip: a
    convolution with ``channels`` filters ('same' padding), the locally connected layer of the
    same geometry (untied weights), a fully connected layer producing the same output, and a
    fully connected layer of only ``hidden`` units. Columns ``key`` (e.g. ``image_conv``),
    ``input, layer, output, params, ratio`` (parameters over the convolution's)."""
    rows = []
    for name, shape in (("image", IMAGE), ("audio", AUDIO)):
        conv = analyze([Conv(channels, kernel, padding="same")], shape).layers[0]
        positions = math.prod(conv.out_shape[1:])
        outputs = math.prod(conv.out_shape)
        same = analyze([Flatten(), Linear(outputs)], shape).layers[-1]
        small = analyze([Flatten(), Linear(hidden)], shape).layers[-1]
        layers = {"fam_conv": (format_shape(conv.out_shape), conv.params),
                  "fam_local": (format_shape(conv.out_shape), conv.params * positions),
                  "fam_dense_same": (f"{outputs:,}", same.params),
                  "fam_dense_small": (f"{hidden:,}", small.params)}
        rows += [{"key": f"{name}_{layer.removeprefix('fam_')}", "input": name, "layer": layer, "output": output, "params": params,
                  "ratio": params / conv.params} for layer, (output, params) in layers.items()]
    return pd.DataFrame(rows)


def measure(module: nn.Module, shape: Sequence[int]) -> tuple[tuple[int, ...], int, int]:
    """Output shape (without batch), parameters and multiply-accumulates of ``module`` on one input
    of ``shape``, measured by running it on a meta tensor under ``FlopCounterMode``."""
    module = module.to("meta")
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        out = module(torch.zeros(1, *shape, device="meta"))
    out = out[0] if isinstance(out, tuple) else out
    return tuple(out.shape[1:]), sum(p.numel() for p in module.parameters()), counter.get_total_flops() // 2


class PerFrame(nn.Module):
    """A 2-D layer applied to every frame of a clip ``C × T × H × W`` separately (frames as a batch)."""

    def __init__(self, layer: nn.Module):
        super().__init__()
        self.layer = layer

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, t, h, w = x.shape
        y = self.layer(x.transpose(1, 2).reshape(b * t, c, h, w))
        return y.reshape(b, t, *y.shape[1:]).transpose(1, 2)


class FramesAsChannels(nn.Module):
    """A 2-D layer on a clip whose frames are stacked into the channel axis (``C T × H × W``)."""

    def __init__(self, layer: nn.Module):
        super().__init__()
        self.layer = layer

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layer(x.flatten(1, 2))


def video_layers(channels: int = 64) -> pd.DataFrame:
    """Three ways to put a 3×3 convolution on a 16-frame 112×112 colour clip: 2-D per frame,
    2-D with the frames stacked as channels, and 3-D (3×3×3). Columns ``key, output, params,
    macs, mixes_time, time_equivariant``."""
    c, t = VIDEO[0], VIDEO[1]
    designs = {
        "conv2d_per_frame": (PerFrame(nn.Conv2d(c, channels, 3, padding=1)), False, True),
        "conv2d_stacked": (FramesAsChannels(nn.Conv2d(c * t, channels, 3, padding=1)), True, False),
        "conv3d": (nn.Conv3d(c, channels, 3, padding=1), True, True),
    }
    rows = []
    for key, (module, mixes, equivariant) in designs.items():
        out, params, macs = measure(module, VIDEO)
        rows.append({"key": key, "output": format_shape(out), "params": params, "macs": macs,
                     "mixes_time": mixes, "time_equivariant": equivariant})
    return pd.DataFrame(rows)


def sequence_layers(steps: int = 1000, features: int = 64, hidden: int = 64, kernel: int = 3,
                    probe: int = 50) -> pd.DataFrame:
    """A convolution and three recurrent layers on a sequence of ``steps`` vectors of size
    ``features``: parameters and MACs (measured), and the number of steps that must run one
    after another (a convolution computes all positions at once; a recurrence one step at a
    time). Recurrent layers are measured on ``probe`` steps and scaled to ``steps``: their cost
    is exactly proportional to the length, and the shape-only run unrolls every step.
    Columns ``key, params, macs, sequential``."""
    designs = {
        "seq_conv1d": nn.Conv1d(features, hidden, kernel, padding=kernel // 2),
        "seq_rnn": nn.RNN(features, hidden, batch_first=True),
        "seq_gru": nn.GRU(features, hidden, batch_first=True),
        "seq_lstm": nn.LSTM(features, hidden, batch_first=True),
    }
    rows = []
    for key, module in designs.items():
        if isinstance(module, nn.Conv1d):
            _, params, macs = measure(module, (features, steps))
            sequential = 1
        else:
            _, params, probe_macs = measure(module, (probe, features))
            macs, sequential = probe_macs * steps // probe, steps
        rows.append({"key": key, "params": params, "macs": macs, "sequential": sequential})
    return pd.DataFrame(rows)


def stride_and_dense(strides: Sequence[int] = (1, 2, 4)) -> pd.DataFrame:
    """The network of S0.Q1 with the stride of layer 2 set to each value: the flattened size,
    parameters of the whole network and of its linear layers, their share, and the cost.
    Columns ``key, stride, flat_features, total_params, dense_params, dense_share, total_flops``."""
    rows = []
    for stride in strides:
        report = analyze(networks.s0_q1(layer2_stride=stride), networks.S0_Q1_INPUT)
        dense = sum(r.params for r in report.layers if r.kind == "Linear")
        rows.append({"key": f"stride{stride}", "stride": stride, "flat_features": report.layer("flatten").out_shape[0],
                     "total_params": report.total_params, "dense_params": dense,
                     "dense_share": round(100 * dense / report.total_params, 1), "total_flops": report.total_flops})
    return pd.DataFrame(rows)
