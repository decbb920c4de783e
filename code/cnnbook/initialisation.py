"""Weight initialisation (S1.T1(b)): how the initial scale of the filters decides whether signals and
gradients survive a deep plain ReLU network, and why filters that start equal stay equal.

- ``plain_relu_net`` is a stack of ``3×3`` same-padding convolutions with ReLUs (no normalisation,
  no shortcuts) and a global-average-pooling linear head; ``initialise`` sets its weights by one of
  ``SCHEMES``: ``zero``, ``small`` (``N(0, 0.01²)``), ``xavier`` (Glorot normal,
  ``Var(w) = 2/(n_in + n_out)``) or ``he`` (Kaiming normal, ``Var(w) = 2/n_in``), biases zero.
- ``propagation`` passes one batch forwards and backwards and returns, per layer, the standard
  deviation of the activations and of the loss gradient with respect to them, with the per-layer
  gain that the variance recursion of ``cnnbook.derivations.signal_propagation`` predicts.
- ``symmetry_net`` and ``filter_spread`` show the symmetry of equal initial filters: after training,
  the spread across the filters of a layer is measured, not assumed.

Everything is deterministic given the seed.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import torch
from torch import nn

SCHEMES = ("zero", "small", "xavier", "he")
SMALL_STD = 0.01


def plain_relu_net(depth: int, width: int = 16, in_channels: int = 1, classes: int = 10) -> nn.Sequential:
    """``depth`` convolutions ``3×3`` (padding 1), each followed by a ReLU, then average pooling and a linear head."""
    layers: list[nn.Module] = []
    for index in range(depth):
        layers += [nn.Conv2d(in_channels if index == 0 else width, width, 3, padding=1), nn.ReLU()]
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(width, classes))


def scheme_std(module: nn.Module, scheme: str) -> float:
    """The weight standard deviation ``scheme`` gives a convolution or linear layer."""
    weight = module.weight
    receptive = weight[0, 0].numel() if weight.dim() > 2 else 1
    fan_in, fan_out = weight.shape[1] * receptive, weight.shape[0] * receptive
    stds = {"zero": 0.0, "small": SMALL_STD, "xavier": math.sqrt(2.0 / (fan_in + fan_out)),
            "he": math.sqrt(2.0 / fan_in)}
    if scheme not in stds:
        raise ValueError(f"scheme must be one of {SCHEMES}, not {scheme!r}")
    return stds[scheme]


def initialise(model: nn.Module, scheme: str, seed: int = 0) -> nn.Module:
    """Draw every convolution's and linear layer's weights by ``scheme`` (normal, mean zero), biases zero."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, (nn.Conv2d, nn.Linear)):
                std = scheme_std(module, scheme)
                module.weight.copy_(torch.randn(module.weight.shape, generator=generator) * std)
                if module.bias is not None:
                    module.bias.zero_()
    return model


def predicted_gain(model: nn.Sequential, scheme: str) -> list[float]:
    """Per convolution, the predicted ratio of activation standard deviations, ``sqrt(n_in Var(w) / 2)``
    (the ReLU halving the second moment), from the derivation."""
    gains = []
    for module in model:
        if isinstance(module, nn.Conv2d):
            fan_in = module.weight[0].numel()
            gains.append(math.sqrt(fan_in * scheme_std(module, scheme) ** 2 / 2))
    return gains


def propagation(images: torch.Tensor, labels: torch.Tensor, depth: int, scheme: str, width: int = 16,
                seed: int = 0) -> pd.DataFrame:
    """Per ReLU layer of a fresh ``plain_relu_net``: the standard deviation of its activations (forward)
    and of the cross-entropy gradient with respect to them (backward), and the predicted forward gain.

    ``images`` are standardised to mean 0 and variance 1 first, so layer 0 has unit variance."""
    model = initialise(plain_relu_net(depth, width, images.shape[1], int(labels.max()) + 1), scheme, seed)
    x = (images - images.mean()) / images.std()
    activations: list[torch.Tensor] = []

    def keep(_module, _inputs, output):
        output.retain_grad()
        activations.append(output)

    handles = [m.register_forward_hook(keep) for m in model if isinstance(m, nn.ReLU)]
    try:
        loss = nn.functional.cross_entropy(model(x), labels)
        loss.backward()
    finally:
        for handle in handles:
            handle.remove()
    gains = predicted_gain(model, scheme)
    return pd.DataFrame({
        "layer": np.arange(1, depth + 1),
        "scheme": scheme,
        "forward_std": [float(a.detach().std()) for a in activations],
        "backward_std": [float(a.grad.std()) for a in activations],
        "predicted_gain": gains,
    })


def propagation_table(images: torch.Tensor, labels: torch.Tensor, depth: int, width: int = 16,
                      seed: int = 0) -> pd.DataFrame:
    """``propagation`` for every scheme, stacked."""
    return pd.concat([propagation(images, labels, depth, scheme, width, seed) for scheme in SCHEMES],
                     ignore_index=True)


def propagation_summary(table: pd.DataFrame) -> pd.DataFrame:
    """Per scheme: forward std at the first and last layer, backward std at the first and last layer,
    the measured mean gain per layer (geometric, forward) and the predicted one."""
    rows = []
    for scheme, part in table.groupby("scheme", sort=False):
        forward = part.forward_std.to_numpy()
        steps = len(forward) - 1
        measured = (forward[-1] / forward[0]) ** (1 / steps) if forward[0] > 0 and forward[-1] > 0 else 0.0
        rows.append({"key": scheme, "forward_first": forward[0], "forward_last": forward[-1],
                     "backward_first": part.backward_std.iloc[0], "backward_last": part.backward_std.iloc[-1],
                     "gain_measured": measured, "gain_predicted": float(part.predicted_gain.iloc[1:].mean())})
    return pd.DataFrame(rows)


def propagation_figure(table: pd.DataFrame):
    """Forward and backward standard deviation per layer, one line per scheme, logarithmic axis
    (a scheme whose values are exactly zero has no line and is named in the legend)."""
    from cnnbook import plots

    fig, axes = plots.figure(1, 2, panel=(4.2, 3.0))
    for ax, column, title in zip(axes[0], ("forward_std", "backward_std"),
                                 ("activations (forward)", "gradients (backward)")):
        for scheme, part in table.groupby("scheme", sort=False):
            values = part[column].to_numpy()
            label = scheme if (values > 0).any() else f"{scheme} (all 0)"
            ax.plot(part.layer, np.where(values > 0, values, np.nan), marker=".", label=label)
        ax.set_yscale("log")
        ax.set_xlabel("layer")
        ax.set_ylabel("standard deviation")
        ax.set_title(title)
    axes[0, 0].legend()
    return fig


# --- symmetry ----------------------------------------------------------------------------------------

class SymmetryNet(nn.Module):
    """Two convolution blocks (``3×3``, 8 filters each, ReLU, max pooling) and a linear layer, for 28×28 digits."""

    def __init__(self, width: int = 8, classes: int = 10):
        super().__init__()
        self.conv1 = nn.Conv2d(1, width, 3, padding=1)
        self.conv2 = nn.Conv2d(width, width, 3, padding=1)
        self.head = nn.Linear(width * 7 * 7, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = nn.functional.max_pool2d(torch.relu(self.conv1(x)), 2)
        x = nn.functional.max_pool2d(torch.relu(self.conv2(x)), 2)
        return self.head(x.flatten(1))


SYMMETRY_SCHEMES = ("zero", "constant", "he")


def symmetry_net(scheme: str, seed: int = 0, width: int = 8) -> SymmetryNet:
    """A ``SymmetryNet`` of ``width`` filters per layer whose weights are all zero, all equal to He's standard
    deviation (``constant``), or drawn by He's rule (the control); biases zero."""
    model = SymmetryNet(width)
    if scheme == "he":
        return initialise(model, "he", seed)
    if scheme not in SYMMETRY_SCHEMES:
        raise ValueError(f"scheme must be one of {SYMMETRY_SCHEMES}, not {scheme!r}")
    with torch.no_grad():
        for module in (model.conv1, model.conv2, model.head):
            module.weight.fill_(0.0 if scheme == "zero" else scheme_std(module, "he"))
            module.bias.zero_()
    return model


def filter_spread(layer: nn.Conv2d) -> float:
    """Largest absolute difference between any filter (with its bias) and the layer's mean filter: zero
    when all filters are identical."""
    flat = torch.cat([layer.weight.detach().flatten(1), layer.bias.detach()[:, None]], dim=1)
    return float((flat - flat.mean(dim=0)).abs().max())


def filter_scale(layer: nn.Conv2d) -> float:
    """Largest absolute weight of the layer (so a spread of zero is not mistaken for all-zero filters)."""
    return float(layer.weight.detach().abs().max())


def symmetry_study(train: torch.utils.data.TensorDataset, validation: torch.utils.data.TensorDataset, seed: int = 0,
                   width: int = 8, epochs: int = 5) -> pd.DataFrame:
    """Train a ``SymmetryNet`` under each of ``SYMMETRY_SCHEMES`` (cached runs, same data, epochs and seed)
    and report, per scheme, the filter spread of both layers, the second layer's largest weight and
    the final accuracies (%)."""
    from cnnbook import training

    rows = []
    with training.threads(1):
        for scheme in SYMMETRY_SCHEMES:
            run = training.fit(symmetry_net(scheme, seed, width), train, validation, epochs=epochs, seed=seed,
                               name=f"ch07-symmetry-{scheme}-{width}")
            rows.append({"key": f"{scheme}_width{width}", "spread1": filter_spread(run.model.conv1),
                         "spread2": filter_spread(run.model.conv2), "scale2": filter_scale(run.model.conv2),
                         "train_accuracy": 100 * run.history.train_accuracy.iloc[-1],
                         "val_accuracy": 100 * run.history.val_accuracy.iloc[-1]})
    return pd.DataFrame(rows)
