"""Optimisation (S3.Q1): learning rates, optimisers at a saddle point, full-batch versus mini-batch.

- ``learning_rate_sweep`` trains one model on one data set with ``training.fit`` (cached) at
  learning rates spaced evenly on a log scale and classifies each run: *diverged* (a non-finite
  loss), *dead* (its ReLUs silent on every input), *unstable* (the loss rose between epochs and hardly
  fell), *slow* (it fell, but little) or *trains*; ``pick_rates``
  reads a too-small, a good and a too-large rate off the sweep (not by hand).
- ``saddle`` is the surface ``f(x, y) = x²/2 − y²/2 + y⁴/4``: a saddle at the origin (curving up
  along x, down along y) and minima at ``(0, ±1)``. ``trajectory`` runs a real ``torch.optim``
  optimiser on it from a start point; ``escape_step`` is the first step with ``|y| ≥ ESCAPE``.
  Near the saddle ``∂f/∂y ≈ −y``, so gradient descent multiplies ``y`` by ``1 + lr`` per step
  and needs about ``log(ESCAPE/y₀)/log(1 + lr)`` steps, while Adam divides each coordinate's step
  by the running root mean square of that coordinate's gradient and moves ``y`` by about ``lr``
  per step whatever the gradient's size. Exactly on the saddle (``y₀ = 0``) the y-gradient is
  zero and no deterministic method moves off the line; gradient noise does.
- ``trace`` trains with plain mini-batch (or full-batch) SGD and records the loss of every
  update and the full training loss after every epoch; it is cached like ``fit`` (same key
  function, ``training.run_key``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
import torch
from torch import nn
from torch.utils.data import TensorDataset

from cnnbook import training
from cnnbook.profiles import cache_dir

ESCAPE = 0.5  # |y| at which a trajectory has left the saddle (the minima are at y = ±1)
OPTIMISERS = ("sgd", "momentum", "adam", "sgd_noise")
FAILURES = ("diverged", "dead", "unstable")  # outcomes of a learning rate that is too large


# --- learning-rate sweep ------------------------------------------------------------------------------

def log_rates(low_exponent: float, high_exponent: float, per_decade: int = 2) -> list[float]:
    """Learning rates ``10^e`` for ``e`` from ``low_exponent`` to ``high_exponent`` in steps of ``1/per_decade``."""
    count = int(round((high_exponent - low_exponent) * per_decade)) + 1
    return [float(10 ** e) for e in np.linspace(low_exponent, high_exponent, count)]


def dead_share(model: nn.Module, images: torch.Tensor) -> float:
    """Share of ReLU units (every ReLU module, every channel and position) that output zero for all ``images``."""
    outputs: list[torch.Tensor] = []
    handles = [m.register_forward_hook(lambda _m, _i, out: outputs.append(out.detach()))
               for m in model.modules() if isinstance(m, nn.ReLU)]
    device = next(model.parameters()).device
    try:
        with torch.no_grad():
            model.eval()(images.to(device))
    finally:
        for handle in handles:
            handle.remove()
    if not outputs:
        raise ValueError("the model has no nn.ReLU modules to inspect")
    dead = sum(int((out.amax(dim=0) <= 0).sum()) for out in outputs)
    return dead / sum(out[0].numel() for out in outputs)


def classify(history: pd.DataFrame, dead: float = 0.0, slow: float = 0.9, rise: float = 1e-3) -> str:
    """What a run did: ``diverged`` (a non-finite training loss); ``dead`` (at least 99 % of the ReLU units
    silent on every validation image, so the network gives every input the same answer); ``trains`` (last
    epoch's training loss at most ``slow`` times the first's); ``unstable`` (it did not, and the loss rose by
    more than ``rise`` from one epoch to the next); ``slow`` (it did not, and the loss never rose)."""
    losses = history.train_loss.to_numpy()
    if not np.isfinite(losses).all():
        return "diverged"
    if dead >= 0.99:
        return "dead"
    if losses[-1] <= slow * losses[0]:
        return "trains"
    return "unstable" if (np.diff(losses) > rise).any() else "slow"


def learning_rate_sweep(make_model: Callable[[], nn.Module], train: TensorDataset, validation: TensorDataset,
                        rates: list[float], *, epochs: int, optimizer: str = "sgd", batch_size: int = 64,
                        seed: int = 0, name: str = "lr-sweep") -> tuple[pd.DataFrame, dict[float, pd.DataFrame]]:
    """One cached ``fit`` per rate, the same model (rebuilt with ``seed``), data, optimiser and epochs.

    Returns a table (rate, first and last epoch's training loss, final validation accuracy, share of dead
    ReLU units (%), outcome, seconds) and the histories by rate."""
    rows, histories = [], {}
    for rate in rates:
        training.seed_everything(seed)
        run = training.fit(make_model(), train, validation, epochs=epochs, optimizer=optimizer, lr=rate,
                           batch_size=batch_size, seed=seed, name=f"{name}-{optimizer}")
        history = run.history
        histories[rate] = history
        dead = dead_share(run.model, validation.tensors[0])
        rows.append({"lr": rate, "first_loss": float(history.train_loss.iloc[0]),
                     "final_loss": float(history.train_loss.iloc[-1]),
                     "val_accuracy": 100 * float(history.val_accuracy.iloc[-1]), "dead": 100 * dead,
                     "outcome": classify(history, dead), "seconds": run.seconds})
    return pd.DataFrame(rows), histories


def pick_rates(sweep: pd.DataFrame) -> dict[str, float]:
    """From a sweep: ``good`` = the rate with the lowest final training loss; ``too_small`` = the smallest
    rate; ``too_large`` = the smallest rate above ``good`` whose run diverged, died or was unstable (else the
    largest)."""
    finite = sweep[sweep.outcome == "trains"]
    good = float(finite.loc[finite.final_loss.idxmin(), "lr"])
    failing = sweep[(sweep.lr > good) & sweep.outcome.isin(FAILURES)]
    too_large = float(failing.lr.min()) if len(failing) else float(sweep.lr.max())
    return {"too_small": float(sweep.lr.min()), "good": good, "too_large": too_large}


def sweep_figure(sweep: pd.DataFrame, histories: dict[float, pd.DataFrame], picked: dict[str, float]):
    """Left: final training loss against the learning rate (failed runs marked at the top). Right: the
    training loss per epoch of the three picked rates."""
    from cnnbook import plots

    fig, axes = plots.figure(1, 2, panel=(4.2, 3.0))
    ax = axes[0, 0]
    finite = sweep[np.isfinite(sweep.final_loss)]
    ax.plot(finite.lr, finite.final_loss, marker="o", color=plots.COLOURS["train"])
    bad = sweep[sweep.outcome.isin(FAILURES)]
    top = float(np.nanmax(np.where(np.isfinite(sweep.final_loss), sweep.final_loss, np.nan)))
    ax.scatter(bad.lr, [top * 1.1] * len(bad), marker="x", color=plots.COLOURS["validation"],
               label="diverged, dead or unstable", zorder=3)
    for key, rate in picked.items():
        ax.axvline(rate, color=plots.COLOURS["reference"], lw=0.8, ls=":")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("learning rate")
    ax.set_ylabel("final training loss")
    ax.legend()
    ax = axes[0, 1]
    for key, rate in picked.items():
        history = histories[rate]
        loss = history.train_loss.to_numpy()
        ax.plot(history.epoch, np.where(np.isfinite(loss), loss, np.nan), marker=".",
                label=f"{key.replace('_', ' ')} ({rate:.0e})")
    ax.set_xlabel("epoch")
    ax.set_ylabel("training loss")
    ax.set_yscale("log")
    ax.legend()
    return fig


# --- the saddle -----------------------------------------------------------------------------------------

def saddle(point: torch.Tensor) -> torch.Tensor:
    """``f(x, y) = x²/2 − y²/2 + y⁴/4``."""
    x, y = point[..., 0], point[..., 1]
    return x**2 / 2 - y**2 / 2 + y**4 / 4


@dataclass
class Trajectory:
    """Points visited by an optimiser on the saddle surface and the step at which it escaped."""

    optimiser: str
    lr: float
    points: np.ndarray  # (steps + 1)×2
    escape: int | None  # first step with |y| ≥ ESCAPE, None if it never did


def _optimiser(name: str, parameters: list[torch.Tensor], lr: float) -> torch.optim.Optimizer:
    if name in ("sgd", "sgd_noise"):
        return torch.optim.SGD(parameters, lr=lr)
    if name == "momentum":
        return torch.optim.SGD(parameters, lr=lr, momentum=0.9)
    if name == "adam":
        return torch.optim.Adam(parameters, lr=lr)
    raise ValueError(f"optimiser must be one of {OPTIMISERS}, not {name!r}")


def trajectory(name: str, start: tuple[float, float], lr: float, steps: int = 1500, noise: float = 0.01,
               seed: int = 0, after: int | None = 60) -> Trajectory:
    """Run ``torch.optim`` optimiser ``name`` on ``saddle`` from ``start`` for at most ``steps`` steps
    (float64), stopping ``after`` steps past the escape (None: never stop early). ``sgd_noise`` is plain
    SGD whose gradient gets Gaussian noise of standard deviation ``noise``."""
    point = torch.tensor(start, dtype=torch.float64, requires_grad=True)
    opt = _optimiser(name, [point], lr)
    generator = torch.Generator().manual_seed(seed)
    points = [point.detach().clone().numpy()]
    escape = None
    for step in range(1, steps + 1):
        opt.zero_grad()
        saddle(point).backward()
        if name == "sgd_noise":
            point.grad += noise * torch.randn(2, generator=generator, dtype=torch.float64)
        opt.step()
        points.append(point.detach().clone().numpy())
        if escape is None and abs(float(point.detach()[1])) >= ESCAPE:
            escape = step
        if escape is not None and after is not None and step >= escape + after:
            break
    return Trajectory(name, lr, np.array(points), escape)


def gd_escape_estimate(y0: float, lr: float) -> float:
    """Steps plain gradient descent needs on the linearised saddle: ``log(ESCAPE/y0) / log(1 + lr)``."""
    return math.log(ESCAPE / y0) / math.log1p(lr) if y0 > 0 else math.inf


def escape_table(starts_y: tuple[float, ...], lr: float, x0: float = 1.0, steps: int = 1500) -> pd.DataFrame:
    """Escape step of every optimiser from ``(x0, y0)`` for each ``y0`` (None: did not escape in ``steps``),
    with the linearised estimate for plain gradient descent."""
    rows = []
    for name in OPTIMISERS:
        row: dict[str, object] = {"key": name}
        for y0 in starts_y:
            row[f"y{y0:g}"] = trajectory(name, (x0, y0), lr, steps).escape
        rows.append(row)
    estimate: dict[str, object] = {"key": "sgd_estimate"}
    for y0 in starts_y:
        value = gd_escape_estimate(y0, lr)
        estimate[f"y{y0:g}"] = None if math.isinf(value) else value
    rows.append(estimate)
    return pd.DataFrame(rows)


def first_steps(start: tuple[float, float], lr: float) -> pd.DataFrame:
    """Size of each optimiser's first step along x and y from ``start``, and the gradient there."""
    point = torch.tensor(start, dtype=torch.float64, requires_grad=True)
    saddle(point).backward()
    gradient = point.grad.numpy().copy()
    rows = []
    for name in ("sgd", "momentum", "adam"):
        trace_ = trajectory(name, start, lr, steps=1)
        step = trace_.points[1] - trace_.points[0]
        rows.append({"key": name, "step_x": float(abs(step[0])), "step_y": float(abs(step[1])),
                     "grad_x": float(abs(gradient[0])), "grad_y": float(abs(gradient[1]))})
    return pd.DataFrame(rows)


def saddle_figure(trajectories: list[Trajectory], extent: float = 1.3):
    """Left: the trajectories over the contours of ``saddle`` (saddle at the origin). Right: |y| per step,
    logarithmic, with the escape level."""
    from cnnbook import plots

    fig, axes = plots.figure(1, 2, panel=(4.2, 3.4))
    ax = axes[0, 0]
    grid = np.linspace(-extent, extent, 201)
    gx, gy = np.meshgrid(grid, grid)
    values = saddle(torch.from_numpy(np.stack([gx, gy], axis=-1))).numpy()
    ax.contour(gx, gy, values, levels=20, cmap="Greys", linewidths=0.6)
    for t in trajectories:
        end = (t.escape or len(t.points) - 1) + 15
        ax.plot(t.points[:end, 0], t.points[:end, 1], marker=".", markersize=2, lw=1, label=t.optimiser)
    ax.plot([0], [0], marker="x", color="black", ms=8)
    ax.plot([trajectories[0].points[0, 0]], [trajectories[0].points[0, 1]], marker="o", color="black", ms=5)
    ax.set_xlim(-extent, extent)
    ax.set_ylim(-extent, extent)
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.legend(loc="lower left")
    ax = axes[0, 1]
    for t in trajectories:
        ax.plot(np.abs(t.points[:, 1]) + 1e-300, lw=1.2, label=t.optimiser)
    ax.axhline(ESCAPE, color=plots.COLOURS["reference"], ls=":", lw=1)
    ax.set_yscale("log")
    ax.set_ylim(bottom=max(1e-12, min(abs(t.points[0, 1]) for t in trajectories) / 10))
    ax.set_xlabel("step")
    ax.set_ylabel("|y|")
    return fig


# --- full batch versus mini-batch ---------------------------------------------------------------------------

@dataclass
class Trace:
    """Per-update losses (of the batch used for that update) and full training losses per epoch."""

    batch_size: int
    step_loss: np.ndarray  # one per update
    epoch_loss: np.ndarray  # full training set, before training (index 0) and after each epoch
    updates_per_epoch: int


def trace(make_model: Callable[[], nn.Module], train: TensorDataset, *, batch_size: int, lr: float, epochs: int,
          seed: int = 0, name: str = "trace", cache: bool = True) -> Trace:
    """Plain SGD (no momentum) with mini-batches of ``batch_size`` (``len(train)``: full batch), shuffled
    per epoch from ``seed``; cached under ``cache_dir()/traces`` by ``training.run_key``."""
    training.seed_everything(seed)
    model = make_model()
    loss_fn = nn.CrossEntropyLoss()
    config = {"kind": "trace", "batch_size": batch_size, "lr": lr, "epochs": epochs, "seed": seed}
    key = training.run_key(model, loss_fn, train, None, config)
    path = Path(cache_dir()) / "traces" / f"{name}-{key}.npz"
    if cache and path.exists():
        stored = np.load(path)
        return Trace(batch_size, stored["step_loss"], stored["epoch_loss"], int(stored["updates_per_epoch"]))
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    inputs, targets = train.tensors[0], train.tensors[1]

    def full_loss() -> float:
        with torch.no_grad():
            return float(loss_fn(model(inputs), targets))

    step_loss, epoch_loss = [], [full_loss()]
    for epoch in range(epochs):
        order = torch.randperm(len(inputs), generator=torch.Generator().manual_seed(seed * 1_000_003 + epoch))
        for begin in range(0, len(inputs), batch_size):
            index = order[begin:begin + batch_size]
            opt.zero_grad()
            loss = loss_fn(model(inputs[index]), targets[index])
            loss.backward()
            opt.step()
            step_loss.append(float(loss.detach()))
        epoch_loss.append(full_loss())
    result = Trace(batch_size, np.array(step_loss), np.array(epoch_loss), math.ceil(len(inputs) / batch_size))
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp.npz")
    np.savez(temporary, step_loss=result.step_loss, epoch_loss=result.epoch_loss,
             updates_per_epoch=result.updates_per_epoch)
    temporary.replace(path)
    return result


def trace_figure(traces: dict[str, Trace]):
    """Loss against epochs (left: per-update batch losses thin, full training loss per epoch with markers)
    and against the number of updates, i.e. gradient evaluations (right, logarithmic)."""
    from cnnbook import plots

    fig, axes = plots.figure(1, 2, panel=(4.2, 3.0))
    for index, (label, t) in enumerate(traces.items()):
        colour = f"C{index}"
        updates = np.arange(1, len(t.step_loss) + 1)
        axes[0, 0].plot(updates / t.updates_per_epoch, t.step_loss, color=colour, lw=0.6, alpha=0.5)
        axes[0, 0].plot(np.arange(len(t.epoch_loss)), t.epoch_loss, color=colour, marker="o", ms=3, label=label)
        axes[0, 1].plot(updates, t.step_loss, color=colour, lw=0.6, alpha=0.5)
        axes[0, 1].plot(np.arange(len(t.epoch_loss)) * t.updates_per_epoch, t.epoch_loss, color=colour, marker="o",
                        ms=3, label=label)
    axes[0, 0].set_xlabel("epoch")
    axes[0, 1].set_xlabel("updates (gradient evaluations)")
    axes[0, 1].set_xscale("symlog", linthresh=1)
    for ax in axes[0]:
        ax.set_ylabel("training loss")
        ax.legend()
    return fig
