"""Training: one ``fit`` for every chapter, reproducible, resumable and cached.

``fit(model, train, validation, epochs=...)`` trains with mini-batches and returns a ``Run``: the
trained model, a per-epoch history (loss and accuracy on train and validation), the training
time, and whether it came from the cache. It is

- deterministic given ``seed``: epoch ``e`` shuffles and draws dropout masks from a generator
  seeded by ``(seed, e)``, so a resumed run continues exactly as an uninterrupted one would;
- resumable: a checkpoint is written atomically (temporary file, then rename) after every
  epoch into a run folder named by a key of the whole configuration (model, initial weights,
  data, optimiser, loss, seed, epochs, device, the code of the training loop and of the model's
  classes); an interrupted run restarts
  from its last epoch, a finished one is loaded instead of retrained (``cache=False`` retrains);
- safe: checkpoints are read with ``torch.load(..., weights_only=True)``; an unreadable one is
  reported, moved aside (``*.corrupt``) and training restarts from the first epoch.

Progress is shown with tqdm on a terminal and switched off otherwise (notebook pages stay clean).
Run folders live under ``profiles.cache_dir()/runs`` (git-ignored).
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import inspect
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
import pandas as pd
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, TensorDataset

from cnnbook.profiles import cache_dir, get_profile

CHECKPOINT = "checkpoint.pt"
FORMAT = 1  # version of the checkpoint layout
OPTIMIZERS = ("adam", "sgd")
SCHEDULES = (None, "cosine")
HISTORY_COLUMNS = ("epoch", "train_loss", "train_accuracy", "val_loss", "val_accuracy", "seconds")


@dataclass
class Run:
    """The outcome of ``fit``."""

    model: nn.Module  # trained, in eval mode
    history: pd.DataFrame  # one row per epoch: HISTORY_COLUMNS
    seconds: float  # training time of the run (measured when it was trained, also when cached)
    cached: bool  # loaded from a finished run without training
    resumed_from: int  # epochs taken from an interrupted run's checkpoint (0: trained from the start)
    directory: Path  # the run folder (checkpoint)
    key: str


@dataclass
class Predictions:
    """A model's logits on a data set, with the true labels."""

    logits: np.ndarray  # N×K
    labels: np.ndarray  # N

    @property
    def probabilities(self) -> np.ndarray:
        """Softmax of the logits."""
        return torch.softmax(torch.from_numpy(self.logits), dim=1).numpy()

    @property
    def predicted(self) -> np.ndarray:
        """The class with the largest logit."""
        return self.logits.argmax(axis=1)

    @property
    def accuracy(self) -> float:
        """Share of correctly classified examples."""
        return float((self.predicted == self.labels).mean())


def fit(model: nn.Module, train: Dataset, validation: Dataset | None = None, *, epochs: int, batch_size: int = 64,
        optimizer: str = "adam", lr: float = 1e-3, weight_decay: float = 0.0, schedule: str | None = None,
        loss: nn.Module | None = None,
        seed: int = 0, device: str | None = None, name: str = "run", cache: bool = True,
        progress: bool | None = None, on_epoch: Callable[[int, dict], None] | None = None,
        runs_dir: Path | None = None) -> Run:
    """Train ``model`` on ``train`` for ``epochs`` epochs, evaluating on ``validation`` after each.

    ``train``/``validation``: a ``TensorDataset`` of ``(inputs, targets, *extra)`` (or any data set
    with a ``fingerprint()`` method); ``loss(outputs, targets, *extra)`` defaults to cross-entropy
    on class indices. Only parameters with ``requires_grad`` are optimised (``adam`` or ``sgd``
    with momentum 0.9); ``schedule="cosine"`` lowers the learning rate along a half cosine to zero
    over the epochs (stepped once per epoch), ``None`` keeps it constant. ``device`` defaults to the profile's; ``progress`` None means "on a
    terminal only"; ``on_epoch(epoch, record)`` is called after each epoch's checkpoint.
    """
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {OPTIMIZERS}, not {optimizer!r}")
    if schedule not in SCHEDULES:
        raise ValueError(f"schedule must be one of {SCHEDULES}, not {schedule!r}")
    if epochs < 1:
        raise ValueError(f"epochs must be at least 1, not {epochs}")
    device_ = torch.device(device or get_profile().device)
    loss_fn = loss if loss is not None else nn.CrossEntropyLoss()
    config = {"epochs": epochs, "batch_size": batch_size, "optimizer": optimizer, "lr": lr,
              "weight_decay": weight_decay, "schedule": schedule, "loss": repr(loss_fn), "seed": seed, "device": device_.type}
    key = run_key(model, loss_fn, train, validation, config)
    directory = Path(runs_dir or cache_dir() / "runs") / f"{name}-{key}"
    path = directory / CHECKPOINT
    if device_.type == "cuda":
        torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = True, False
    model.to(device_)
    loss_fn.to(device_)
    initial = copy.deepcopy(model.state_dict())
    opt, scheduler = _make_optimizer(model, optimizer, lr, weight_decay, schedule, epochs)
    history, start, seconds = [], 0, 0.0
    state = _read_checkpoint(path, key, epochs)
    if state is not None and not cache and state["epoch"] == epochs:
        state = None  # a finished run, but the caller asked to retrain
    if state is not None:
        try:
            model.load_state_dict(state["model"])
            opt.load_state_dict(state["optimizer"])
            scheduler.load_state_dict(state["scheduler"])
            history, start, seconds = list(state["history"]), state["epoch"], float(state["seconds"])
        except (RuntimeError, KeyError, ValueError, TypeError) as exc:
            _set_aside(path, f"it does not fit this model ({type(exc).__name__})")
            model.load_state_dict(initial)
            opt, scheduler = _make_optimizer(model, optimizer, lr, weight_decay, schedule, epochs)
    if start == epochs:
        return Run(model.eval(), _frame(history), seconds, True, 0, directory, key)
    resumed_from = start
    bar = _progress(range(start, epochs), progress, name, epochs, start)
    for epoch in bar:
        began = time.perf_counter()
        generator = _seed(seed, epoch)
        model.train()
        train_loss, train_accuracy = _pass(model, loss_fn, train, batch_size, device_, opt, generator)
        scheduler.step()
        val_loss, val_accuracy = (_pass(model, loss_fn, validation, 4 * batch_size, device_)
                                  if validation is not None else (float("nan"), float("nan")))
        elapsed = time.perf_counter() - began
        record = {"epoch": epoch + 1, "train_loss": train_loss, "train_accuracy": train_accuracy,
                  "val_loss": val_loss, "val_accuracy": val_accuracy, "seconds": elapsed}
        history.append(record)
        seconds += elapsed
        _write_checkpoint(path, {"format": FORMAT, "key": key, "epoch": epoch + 1, "history": history,
                                 "seconds": seconds, "model": _cpu(model.state_dict()),
                                 "optimizer": opt.state_dict(), "scheduler": scheduler.state_dict()})
        if hasattr(bar, "set_postfix"):
            bar.set_postfix(loss=f"{train_loss:.3f}", val_accuracy=f"{val_accuracy:.3f}")
        if on_epoch is not None:
            on_epoch(epoch + 1, record)
    return Run(model.eval(), _frame(history), seconds, False, resumed_from, directory, key)


@torch.no_grad()
def predict(model: nn.Module, data: Dataset, batch_size: int = 256, device: str | None = None) -> Predictions:
    """The model's logits on ``data`` (eval mode, in order) and the data's labels."""
    device_ = torch.device(device or get_profile().device)
    model.to(device_).eval()
    logits, labels = [], []
    for inputs, targets, *_ in _batches(data, batch_size, None):
        logits.append(model(inputs.to(device_)).float().cpu())
        labels.append(targets)
    return Predictions(torch.cat(logits).numpy(), torch.cat(labels).numpy())


def categorical_cross_entropy(probabilities: torch.Tensor, one_hot: torch.Tensor, eps: float = 1e-7) -> torch.Tensor:
    """Keras' ``CategoricalCrossentropy`` on softmax outputs and one-hot labels: mean of ``-Σ y log p``
    (probabilities clipped to ``[eps, 1 - eps]`` as Keras does)."""
    return -(one_hot * probabilities.clamp(eps, 1 - eps).log()).sum(dim=1).mean()


def seed_everything(seed: int) -> None:
    """Seed torch and NumPy's global generators, e.g. before building a model so its initial weights repeat."""
    torch.manual_seed(seed)
    np.random.seed(seed % 2**32)


@contextlib.contextmanager
def threads(count: int) -> Iterator[None]:
    """Run a block (training, prediction) on ``count`` CPU threads, then restore the previous number.

    Small models train fastest on one thread: extra threads mostly wait on each other, and on a
    shared machine they can make training several times slower."""
    previous = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


# --- the run key ------------------------------------------------------------------------------------

def _tensor_bytes(tensor: torch.Tensor) -> bytes:
    return tensor.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes()


def data_fingerprint(data: Dataset | None) -> str:
    """A hash of a data set's contents (``TensorDataset``) or its own ``fingerprint()``."""
    if data is None:
        return "none"
    if isinstance(data, TensorDataset):
        digest = hashlib.sha256()
        for tensor in data.tensors:
            digest.update(f"{tensor.dtype}{tuple(tensor.shape)}".encode())
            digest.update(_tensor_bytes(tensor))
        return digest.hexdigest()
    if hasattr(data, "fingerprint"):
        return str(data.fingerprint())
    raise TypeError(f"fit cannot tell {type(data).__name__} data sets apart: pass a TensorDataset or give "
                    "the data set a fingerprint() method returning a hash of its contents")


def _code(model: nn.Module) -> list[str]:
    """Source of the code a run's result depends on: the training loop and the model's own classes
    (not whole modules, so that adding an unrelated model or helper keeps finished runs valid)."""
    sources = [inspect.getsource(function) for function in (fit, _pass, _batches, _seed, _make_optimizer, _correct)]
    for cls in type(model).__mro__:
        if cls.__module__.split(".")[0] in ("torch", "builtins"):
            continue
        try:
            sources.append(inspect.getsource(cls))
        except (TypeError, OSError):  # a class defined interactively has no source file
            sources.append(cls.__qualname__)
    return sources


def run_key(model: nn.Module, loss: nn.Module, train: Dataset, validation: Dataset | None,
            config: dict[str, Any]) -> str:
    """A short hash of everything a run's result depends on."""
    digest = hashlib.sha256(json.dumps(config, sort_keys=True).encode())
    digest.update(repr(model).encode())
    for name, tensor in list(model.state_dict().items()) + list(loss.state_dict().items()):
        digest.update(name.encode())
        digest.update(_tensor_bytes(tensor))
    digest.update(str([(n, p.requires_grad) for n, p in model.named_parameters()]).encode())
    digest.update(data_fingerprint(train).encode())
    digest.update(data_fingerprint(validation).encode())
    for source in _code(model):
        digest.update(source.encode())
    digest.update(torch.__version__.encode())
    return digest.hexdigest()[:16]


def weights_key(module: nn.Module, images: torch.Tensor, extra: str = "") -> str:
    """A short hash of what a computation with a fixed network on fixed inputs depends on: ``extra``,
    the module's structure and weights, and the inputs; it names cached results (features, teacher
    logits, ONNX exports) that need no training run."""
    digest = hashlib.sha256(extra.encode())
    digest.update(repr(module).encode())
    for name, tensor in module.state_dict().items():
        digest.update(name.encode())
        digest.update(_tensor_bytes(tensor))
    digest.update(f"{tuple(images.shape)}".encode())
    digest.update(_tensor_bytes(images))
    return digest.hexdigest()[:16]


# --- the loop -----------------------------------------------------------------------------------------

def _make_optimizer(model: nn.Module, name: str, lr: float, weight_decay: float, schedule: str | None,
                    epochs: int) -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LRScheduler]:
    params = [p for p in model.parameters() if p.requires_grad]
    if name == "adam":
        opt: torch.optim.Optimizer = torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    else:
        opt = torch.optim.SGD(params, lr=lr, momentum=0.9, weight_decay=weight_decay)
    if schedule == "cosine":
        return opt, torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs)
    return opt, torch.optim.lr_scheduler.LambdaLR(opt, lambda epoch: 1.0)


def _seed(seed: int, epoch: int) -> torch.Generator:
    """Seed the global generator (dropout) and return one for this epoch's shuffle, both from (seed, epoch)."""
    value = seed * 1_000_003 + epoch
    torch.manual_seed(value)
    return torch.Generator().manual_seed(value)


def _batches(data: Dataset, batch_size: int, generator: torch.Generator | None) -> Iterator[tuple[torch.Tensor, ...]]:
    """Mini-batches in a random order drawn from ``generator`` (or in order when it is None)."""
    n = len(data)  # type: ignore[arg-type]
    order = torch.randperm(n, generator=generator) if generator is not None else torch.arange(n)
    if isinstance(data, TensorDataset):
        for start in range(0, n, batch_size):
            index = order[start:start + batch_size]
            yield tuple(tensor[index] for tensor in data.tensors)
    else:
        # its own generator: a DataLoader otherwise draws a seed from the global one, shifting dropout
        yield from DataLoader(data, batch_size=batch_size, sampler=order.tolist(), generator=torch.Generator())


def _correct(outputs: torch.Tensor, targets: torch.Tensor) -> int:
    if targets.is_floating_point() and targets.dim() == 2:  # soft or one-hot targets
        targets = targets.argmax(dim=1)
    return int((outputs.argmax(dim=1) == targets).sum())


def _pass(model: nn.Module, loss_fn: nn.Module, data: Dataset, batch_size: int, device: torch.device,
          opt: torch.optim.Optimizer | None = None, generator: torch.Generator | None = None) -> tuple[float, float]:
    """One epoch of training (``opt`` given) or of evaluation: mean loss and accuracy."""
    if opt is None:
        model.eval()
    total_loss, correct, count = 0.0, 0, 0
    with torch.set_grad_enabled(opt is not None):
        for inputs, targets, *extra in _batches(data, batch_size, generator):
            inputs, targets = inputs.to(device), targets.to(device)
            outputs = model(inputs)
            value = loss_fn(outputs, targets, *(e.to(device) for e in extra))
            if opt is not None:
                opt.zero_grad(set_to_none=True)
                value.backward()
                opt.step()
            total_loss += float(value.detach()) * len(inputs)
            correct += _correct(outputs.detach(), targets)
            count += len(inputs)
    return total_loss / count, correct / count


def _progress(epochs: range, progress: bool | None, name: str, total: int, start: int) -> Any:
    from tqdm import tqdm  # plain tqdm: off when stderr is not a terminal (tqdm.auto would warn in notebooks)

    return tqdm(epochs, desc=name, total=total, initial=start, unit="epoch",
                disable=None if progress is None else not progress)


def _frame(history: list[dict]) -> pd.DataFrame:
    return pd.DataFrame(history, columns=list(HISTORY_COLUMNS))


# --- checkpoints ----------------------------------------------------------------------------------------

def _cpu(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k: v.detach().cpu() for k, v in state.items()}


def _write_checkpoint(path: Path, state: dict) -> None:
    """Write ``state`` so that ``path`` always holds a complete checkpoint: temporary file, fsync, rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(temporary, "wb") as handle:
        torch.save(state, handle)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)


def _set_aside(path: Path, reason: str) -> None:
    aside = path.with_name(path.name + ".corrupt")
    os.replace(path, aside)
    print(f"[cnnbook] the checkpoint {path} is unusable: {reason}. It was moved to {aside.name} "
          "and training restarts from the first epoch.", flush=True)


def _read_checkpoint(path: Path, key: str, epochs: int) -> dict | None:
    """The checkpoint at ``path`` if it is readable and belongs to this run; None if absent.

    An unreadable or inconsistent file is reported and moved aside (never raised)."""
    if not path.exists():
        return None
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # truncated zip, pickle errors, disallowed objects: all mean "unusable"
        _set_aside(path, f"it cannot be read ({type(exc).__name__})")
        return None
    valid = (isinstance(state, dict) and state.get("format") == FORMAT and state.get("key") == key
             and isinstance(state.get("epoch"), int) and 1 <= state["epoch"] <= epochs
             and len(state.get("history", ())) == state["epoch"]
             and all(part in state for part in ("model", "optimizer", "scheduler")))
    if not valid:
        _set_aside(path, "its contents do not describe this run")
        return None
    return state
