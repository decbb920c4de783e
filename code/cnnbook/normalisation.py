"""Batch normalisation (S4.Q6) in NumPy, checked against PyTorch, and what it does at the edges.

- ``batch_norm_forward`` is the forward pass of ``torch.nn.BatchNorm1d``/``BatchNorm2d`` in NumPy:
  in training mode it normalises each channel with the batch's mean and (biased) variance and
  updates the running averages with PyTorch's convention, ``running = (1 - m)·running + m·batch``
  with the *unbiased* batch variance; in inference mode it uses the running averages.
  ``compare_with_torch`` runs it beside the torch layers for several steps and reports the largest
  differences (outputs and running statistics).
- ``epsilon_table``: what ε does for a channel whose batch variance is zero or tiny (outputs and
  gradients with and without it); ``scale_sweep``: the output's standard deviation when the weights
  before the layer are scaled by ``a``, measured against ``aσ / sqrt(a²σ² + ε)``.
- ``batch_of_one``: the outputs and input gradients of batch normalisation in training mode for a
  batch of one (fully connected and convolutional), and PyTorch's own refusal.
- ``NormNet``: a small CNN whose normalisation layer is ``none``, ``batch``, ``group`` or ``layer``
  (group normalisation with one group), so the same run can compare them; ``step_seconds`` times
  one training step.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import torch
from torch import nn

MOMENTUM = 0.1  # PyTorch's default
EPS = 1e-5  # PyTorch's default
NORMS = ("none", "batch", "group", "layer")


def _axes(x: np.ndarray) -> tuple[int, ...]:
    """Axes a channel's statistics are taken over: all but the channel axis 1."""
    if x.ndim < 2:
        raise ValueError(f"batch norm needs an N×C or N×C×... array, not shape {x.shape}")
    return (0,) + tuple(range(2, x.ndim))


def _per_channel(v: np.ndarray, ndim: int) -> np.ndarray:
    return v.reshape((1, -1) + (1,) * (ndim - 2))


def batch_norm_forward(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, running_mean: np.ndarray,
                       running_var: np.ndarray, training: bool, momentum: float = MOMENTUM,
                       eps: float = EPS) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Batch normalisation of ``x`` (``N×C`` or ``N×C×H×W``): ``(output, running_mean, running_var)``.

    Training: ``y = γ (x - μ_B)/sqrt(σ²_B + ε) + β`` with the batch mean and biased variance per
    channel; the running averages move towards the batch mean and the *unbiased* batch variance by
    ``momentum`` (PyTorch's convention; CS231n's code writes ``momentum·running + (1 - momentum)·batch``
    with ``momentum = 0.9``, the same average). Inference: the running averages replace the batch's,
    which are returned unchanged."""
    axes = _axes(x)
    if training:
        count = x.size // x.shape[1]
        mean = x.mean(axis=axes)
        var = x.var(axis=axes)
        unbiased = var * count / (count - 1) if count > 1 else np.full_like(var, np.nan)
        running_mean = (1 - momentum) * running_mean + momentum * mean
        running_var = (1 - momentum) * running_var + momentum * unbiased
    else:
        mean, var = running_mean, running_var
    normalised = (x - _per_channel(mean, x.ndim)) / np.sqrt(_per_channel(var, x.ndim) + eps)
    return _per_channel(gamma, x.ndim) * normalised + _per_channel(beta, x.ndim), running_mean, running_var


def compare_with_torch(shape: tuple[int, ...], steps: int = 5, seed: int = 0) -> pd.DataFrame:
    """Train-mode steps then one inference step of ``batch_norm_forward`` against ``nn.BatchNorm1d``
    (``N×C``) or ``nn.BatchNorm2d`` (``N×C×H×W``) in float64, with random γ, β and batches whose
    channels have different means and scales. One row per step: largest absolute differences."""
    rng = np.random.default_rng(seed)
    channels = shape[1]
    layer = (nn.BatchNorm1d if len(shape) == 2 else nn.BatchNorm2d)(channels).double()
    gamma, beta = rng.normal(1.0, 0.5, channels), rng.normal(0.0, 0.5, channels)
    with torch.no_grad():
        layer.weight.copy_(torch.from_numpy(gamma))
        layer.bias.copy_(torch.from_numpy(beta))
    mean, var = np.zeros(channels), np.ones(channels)
    rows = []
    for step in range(steps + 1):
        training = step < steps
        x = rng.normal(rng.uniform(-3, 3, channels)[None, :, *([None] * (len(shape) - 2))],
                       rng.uniform(0.5, 4, channels)[None, :, *([None] * (len(shape) - 2))], size=shape)
        ours, mean, var = batch_norm_forward(x, gamma, beta, mean, var, training)
        layer.train(training)
        with torch.no_grad():
            theirs = layer(torch.from_numpy(x)).numpy()
        rows.append({"module": type(layer).__name__, "step": step + 1, "mode": "train" if training else "eval",
                     "output": float(np.abs(ours - theirs).max()),
                     "running_mean": float(np.abs(mean - layer.running_mean.numpy()).max()),
                     "running_var": float(np.abs(var - layer.running_var.numpy()).max())})
    return pd.DataFrame(rows)


def _torch_batch_norm(x: torch.Tensor, eps: float) -> torch.Tensor:
    """Training-mode normalisation written out (γ = 1, β = 0), for gradients at any batch size and ε."""
    axes = (0,) + tuple(range(2, x.dim()))
    mean = x.mean(dim=axes, keepdim=True)
    var = ((x - mean) ** 2).mean(dim=axes, keepdim=True)
    return (x - mean) / torch.sqrt(var + eps)


def epsilon_table(spreads: tuple[float, ...] = (0.0, 1e-6, 1e-3, 1.0), epsilons: tuple[float, ...] = (0.0, EPS),
                  batch: int = 8, seed: int = 0) -> pd.DataFrame:
    """For one channel whose batch values are ``1 + spread·z`` (``z`` standard normal; spread 0 means
    every value equal): per ε, the largest |output| and the largest |∂L/∂x| for ``L = Σ r·y``
    (``r`` standard normal), in float64. Non-finite results stay NaN/inf."""
    rng = np.random.default_rng(seed)
    z, r = rng.normal(size=(batch, 1)), torch.from_numpy(rng.normal(size=(batch, 1)))
    rows = []
    with np.errstate(all="ignore"):
        for spread in spreads:
            for eps in epsilons:
                x = torch.from_numpy(1.0 + spread * z).requires_grad_(True)
                y = _torch_batch_norm(x, eps)
                (y * r).sum().backward()
                rows.append({"spread": spread, "variance": float(np.var(1.0 + spread * z)), "eps": eps,
                             "output": float(y.detach().abs().max()), "gradient": float(x.grad.abs().max())})
    return pd.DataFrame(rows)


def scale_sweep(x: np.ndarray, weight: np.ndarray, scales: tuple[float, ...] = (1.0, 1e-1, 1e-2, 1e-3, 1e-4, 0.0),
                eps: float = EPS) -> pd.DataFrame:
    """Pre-activations ``a·(x @ weight)`` through training-mode batch normalisation (γ = 1, β = 0) for each
    scale ``a``: the mean over channels of the output's standard deviation, the value predicted from the
    unscaled pre-activations' standard deviation σ, ``aσ/sqrt(a²σ² + ε)``, and the largest change of the
    output against ``a = 1``."""
    z = x @ weight
    sigma = z.std(axis=0)
    channels = z.shape[1]
    ones, zeros = np.ones(channels), np.zeros(channels)
    reference, _, _ = batch_norm_forward(z, ones, zeros, zeros, ones, True, eps=eps)
    rows = []
    for a in scales:
        y, _, _ = batch_norm_forward(a * z, ones, zeros, zeros, ones, True, eps=eps)
        rows.append({"scale": a, "output_std": float(y.std(axis=0).mean()),
                     "predicted_std": float((a * sigma / np.sqrt(a**2 * sigma**2 + eps)).mean()),
                     "change": float(np.abs(y - reference).max())})
    return pd.DataFrame(rows)


def batch_of_one(channels: int = 4, size: int = 5, seed: int = 0) -> dict[str, float | str]:
    """Batch normalisation in training mode on a batch of one example: fully connected (``1×C``) and
    convolutional (``1×C×size×size``). Returns the largest |output − β| and |∂L/∂x| of each (with
    random γ, β and upstream gradient), and PyTorch's message when ``nn.BatchNorm1d`` is given one example."""
    rng = np.random.default_rng(seed)
    gamma, beta = rng.normal(1.0, 0.5, channels), rng.normal(0.0, 0.5, channels)
    result: dict[str, float | str] = {}
    for name, shape in (("dense", (1, channels)), ("conv", (1, channels, size, size))):
        x = rng.normal(size=shape)
        y, _, _ = batch_norm_forward(x, gamma, beta, np.zeros(channels), np.ones(channels), True)
        result[f"{name}_output_minus_beta"] = float(np.abs(y - _per_channel(beta, y.ndim)).max())
        xt = torch.from_numpy(x).requires_grad_(True)
        g = torch.from_numpy(_per_channel(gamma, x.ndim))
        out = g * _torch_batch_norm(xt, EPS) + torch.from_numpy(_per_channel(beta, x.ndim))
        (out * torch.from_numpy(rng.normal(size=shape))).sum().backward()
        result[f"{name}_gradient"] = float(xt.grad.abs().max())
        result[f"{name}_output_std"] = float(np.std(y))
    try:
        nn.BatchNorm1d(channels).train()(torch.zeros(1, channels))
        result["torch_message"] = ""
    except ValueError as exc:
        result["torch_message"] = str(exc)
    return result


def norm_layer(kind: str, channels: int) -> nn.Module:
    """The normalisation layer ``kind`` for ``channels`` feature maps (group: 4 groups; layer: 1 group)."""
    if kind == "none":
        return nn.Identity()
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "group":
        return nn.GroupNorm(4, channels)
    if kind == "layer":
        return nn.GroupNorm(1, channels)
    raise ValueError(f"kind must be one of {NORMS}, not {kind!r}")


class NormNet(nn.Module):
    """conv 3×3 (8) → norm → ReLU → max pool → conv 3×3 (16) → norm → ReLU → max pool → linear, for 28×28."""

    def __init__(self, norm: str = "batch", classes: int = 10):
        super().__init__()
        self.norm = norm
        self.features = nn.Sequential(
            nn.Conv2d(1, 8, 3, padding=1), norm_layer(norm, 8), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(8, 16, 3, padding=1), norm_layer(norm, 16), nn.ReLU(), nn.MaxPool2d(2))
        self.head = nn.Linear(16 * 7 * 7, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x).flatten(1))


def step_seconds(model: nn.Module, x: torch.Tensor, y: torch.Tensor, repeats: int = 20) -> float:
    """Median wall time of one training step (forward, backward, Adam update) on the batch ``x``."""
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    model.train()
    times = []
    for _ in range(repeats + 2):
        began = time.perf_counter()
        opt.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
        times.append(time.perf_counter() - began)
    return float(np.median(times[2:]))


def channel_spread(model: NormNet, x: torch.Tensor) -> pd.DataFrame:
    """In training mode, the standard deviation over the batch of each channel of the second convolution's
    output before and after the normalisation: the smallest and largest across channels."""
    conv, norm = model.features[4], model.features[5]
    model.train()
    with torch.no_grad():
        before = conv(model.features[:4](x))
        after = norm(before)
    rows = []
    for key, tensor in (("before", before), ("after", after)):
        std = tensor.transpose(0, 1).flatten(1).std(dim=1)
        mean = tensor.transpose(0, 1).flatten(1).mean(dim=1)
        rows.append({"key": key, "std_min": float(std.min()), "std_max": float(std.max()),
                     "mean_abs_max": float(mean.abs().max())})
    return pd.DataFrame(rows)


@torch.no_grad()
def single_image_accuracy(model: nn.Module, data: torch.utils.data.TensorDataset) -> float:
    """Accuracy when every image is passed alone in training mode (its own statistics, as in training with a
    batch of one), on a copy of ``model`` so its running averages stay untouched."""
    import copy

    probe = copy.deepcopy(model).train()
    device = next(probe.parameters()).device
    images, labels = data.tensors[0].to(device), data.tensors[1].to(device)
    predicted = torch.cat([probe(images[i:i + 1]).argmax(dim=1) for i in range(len(images))])
    return float((predicted == labels).float().mean())


def seeded_net(norm: str, seed: int = 0) -> NormNet:
    """``NormNet(norm)`` built right after seeding, so every normalisation starts from the same
    convolution weights."""
    from cnnbook import training

    training.seed_everything(seed)
    return NormNet(norm)


def batch_size_study(data: torch.utils.data.TensorDataset, validation: torch.utils.data.TensorDataset,
                     seed: int = 0) -> pd.DataFrame:
    """One epoch with batches of one image for every normalisation of ``NORMS``, and with batches of 32
    for ``none`` and ``batch`` (the control); per run the validation accuracy (%) in evaluation mode and
    when each image is passed alone in training mode (cached runs, same data and seed)."""
    from cnnbook import training

    plan = [(norm, 1) for norm in NORMS] + [(norm, 32) for norm in ("none", "batch")]
    rows = []
    with training.threads(1):
        for norm, batch_size in plan:
            run = training.fit(seeded_net(norm, seed), data, validation, epochs=1, batch_size=batch_size, seed=seed,
                               name=f"ch07-norm-{norm}-{batch_size}")
            rows.append({"key": f"{norm}_{batch_size}", "norm": norm, "batch_size": batch_size,
                         "val_accuracy": 100 * run.history.val_accuracy.iloc[-1],
                         "single_accuracy": 100 * single_image_accuracy(run.model, validation),
                         "seconds": run.seconds})
    return pd.DataFrame(rows)
