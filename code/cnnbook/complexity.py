"""What a network costs: parameters and multiply-accumulates (MACs) of any ``torch.nn.Module``,
counted from the real modules, and a per-layer check against ``cnnbook.arithmetic``.

Guarantees: counts come from running the network once (``torch.utils.flop_counter``, which
counts every convolution and matrix product, with branches and shortcuts), so they hold for
networks ``arithmetic.analyze`` cannot describe (Inception's parallel branches, residual
additions). A network given as a *builder* is built on PyTorch's ``meta`` device: no memory for
weights and no arithmetic is done, so VGG16 or EfficientNet-B7 cost milliseconds to count.
MACs follow ``cnnbook.arithmetic``'s convention (one MAC per multiply-accumulate of a
convolution or linear layer; batch norm, pooling, activations and additions are not counted,
as the papers do when they quote "mult-adds").
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Sequence

import pandas as pd
import torch
from torch import nn

from cnnbook import arithmetic

Builder = Callable[[], nn.Module]


@dataclass(frozen=True)
class Cost:
    """Parameters (all trainable tensors) and MACs for one image of ``input_shape``; ``output_shape``
    is the network's output for that image (without the batch axis)."""

    params: int
    macs: int
    input_shape: tuple[int, ...]
    output_shape: tuple[int, ...]


def _build(model: nn.Module | Builder) -> nn.Module:
    if isinstance(model, nn.Module):
        return model
    with torch.device("meta"):
        return model()


def _device(model: nn.Module) -> torch.device:
    parameter = next(model.parameters(), None)
    return parameter.device if parameter is not None else torch.device("cpu")


def cost(model: nn.Module | Builder, input_shape: Sequence[int]) -> Cost:
    """Parameters and MACs of ``model`` (a module, or a function that builds one: built on the meta
    device) for one ``C×H×W`` image, in evaluation mode."""
    from torch.utils.flop_counter import FlopCounterMode

    net = _build(model)
    was_training = net.training
    net.eval()
    x = torch.zeros(1, *input_shape, device=_device(net))
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        y = net(x)
    net.train(was_training)
    params = sum(p.numel() for p in net.parameters() if p.requires_grad)
    return Cost(params, counter.get_total_flops() // 2, tuple(int(s) for s in input_shape), tuple(y.shape[1:]))


def layer_check(model: nn.Module | Builder, input_shape: Sequence[int]) -> pd.DataFrame:
    """One row per convolution and linear layer, in execution order: the input and output shapes
    the layer really sees and produces, its parameters and MACs as PyTorch counts them, and the
    same three from ``cnnbook.arithmetic`` given only the layer's input shape (``agree``)."""
    from torch.utils.flop_counter import FlopCounterMode

    net = _build(model).eval()
    names = {module: name for name, module in net.named_modules()}
    seen: list[tuple[nn.Module, tuple[int, ...], tuple[int, ...]]] = []

    def record(module: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
        seen.append((module, tuple(inputs[0].shape[1:]), tuple(output.shape[1:])))

    hooks = [m.register_forward_hook(record) for m in net.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    try:
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            net(torch.zeros(1, *input_shape, device=_device(net)))
    finally:
        for hook in hooks:
            hook.remove()
    counts = counter.get_flop_counts()
    prefix = type(net).__name__
    rows = []
    for module, shape_in, shape_out in seen:
        name = names[module]
        spec = arithmetic.from_torch(module)
        if isinstance(module, nn.Linear):  # a flat input: analyse Flatten + Linear on F×1×1
            report = arithmetic.analyze([arithmetic.Flatten(), *spec], (math.prod(shape_in), 1, 1)).layers[-1]
        else:
            report = arithmetic.analyze(spec, shape_in).layers[-1]
        flops = sum(counts.get(f"{prefix}.{name}", {}).values())
        rows.append({
            "layer": name, "type": type(module).__name__, "input": arithmetic.format_shape(shape_in),
            "output": arithmetic.format_shape(report.out_shape), "torch_output": arithmetic.format_shape(shape_out),
            "params": report.params, "torch_params": sum(p.numel() for p in module.parameters()),
            "macs": report.macs, "torch_macs": flops // 2,
        })
    frame = pd.DataFrame(rows)
    frame["agree"] = ((frame.output == frame.torch_output) & (frame.params == frame.torch_params)
                      & (frame.macs == frame.torch_macs))
    return frame


def table(models: dict[str, tuple[nn.Module | Builder, Sequence[int]]]) -> pd.DataFrame:
    """``cost`` of several networks, one row each (``key``, input, params, MACs, output)."""
    rows = []
    for key, (model, shape) in models.items():
        c = cost(model, shape)
        rows.append({"key": key, "input": arithmetic.format_shape(shape), "params": c.params, "macs": c.macs,
                     "output": arithmetic.format_shape(c.output_shape)})
    return pd.DataFrame(rows)
