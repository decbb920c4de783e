"""Deployment: what a trained network costs on a CPU — size on disk, latency, and the same network
exported to ONNX and run by ONNX Runtime, with a check that both runtimes give the same logits.

- ``latency_ms(run)`` times any callable (PyTorch, ONNX Runtime, anything): a few warm-up calls
  that are not timed (first calls allocate buffers and pick kernels), then ``repeats`` timed calls
  with ``time.perf_counter``; it reports the median and the quartiles, not the mean, because a
  shared machine adds rare long outliers. The thread count is part of the result: latency without
  it means little.
- ``torch_latency(model, batch)`` is ``latency_ms`` for a PyTorch model in evaluation mode under
  ``torch.inference_mode`` on a seeded random batch of RGB images in [0, 1].
- ``size_on_disk(model)`` is the size of ``torch.save(model.state_dict())`` — what a checkpoint
  costs (quantised FX ``GraphModule`` s included: their packed weights are saved as int8);
  ``onnx_size(path)`` is an ONNX file's size.
- ``export_onnx(model, path)`` uses PyTorch's current exporter (``torch.onnx.export(...,
  dynamo=True)``: ``torch.export`` then onnxscript; the TorchScript exporter is deprecated) with a
  dynamic batch dimension, and keeps its progress messages out of the notebook. An error is raised
  with the exporter's messages attached. PyTorch's eager int8 models (``torch.ao`` ``convert_fx``)
  cannot be exported this way: ``torch.export`` does not trace their packed-weight objects.
- ``OnnxModel(path)`` wraps an ``onnxruntime.InferenceSession`` on the CPU with a stated number of
  threads; ``parity`` compares its logits with PyTorch's; ``runtime_frame`` puts size, latency of
  both runtimes and parity of several models in one table, caching exports under
  ``cache_dir()/onnx`` by a key of the weights (models named in ``torch_only``, such as int8
  GraphModules, get PyTorch columns only).

Guarantees: parity within 1e-4 on logits for the book's CNNs (``tests/test_deployment.py``);
latencies are measurements of the machine that ran them, never targets.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import re
import statistics
import tempfile
import time
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Collection, Iterator, Mapping, Sequence

import numpy as np
import pandas as pd
import torch
from torch import nn

from cnnbook.profiles import cache_dir
from cnnbook.training import weights_key

MB = 1e6
_ANSI = re.compile(r"\x1b\[[0-9;]*m")  # terminal colours in the exporter's messages


@dataclass(frozen=True)
class Latency:
    """Milliseconds per call: median and quartiles of ``repeats`` timed calls with ``threads`` threads."""

    median_ms: float
    q1_ms: float
    q3_ms: float
    repeats: int
    threads: int

    def as_dict(self) -> dict[str, float | int]:
        return asdict(self)


def latency_ms(run: Callable[[], object], repeats: int = 30, warmup: int = 5) -> Latency:
    """Time ``run()``: ``warmup`` untimed calls, then the median and quartiles of ``repeats`` timed ones."""
    if repeats < 1 or warmup < 0:
        raise ValueError(f"repeats must be >= 1 and warmup >= 0 (got repeats={repeats}, warmup={warmup})")
    for _ in range(warmup):
        run()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append((time.perf_counter() - start) * 1e3)
    if repeats == 1:
        q1 = q3 = times[0]
    else:
        q1, _, q3 = statistics.quantiles(times, n=4, method="inclusive")
    return Latency(statistics.median(times), q1, q3, repeats, torch.get_num_threads())


def random_images(batch: int, side: int = 32, seed: int = 0) -> torch.Tensor:
    """A seeded batch of RGB images in [0, 1], ``batch × 3 × side × side``."""
    return torch.rand(batch, 3, side, side, generator=torch.Generator().manual_seed(seed))


def _evaluable(model: object) -> nn.Module:
    if not isinstance(model, nn.Module):
        raise ValueError(
            f"expected a torch.nn.Module (a network to put in evaluation mode), got {type(model).__name__}; "
            "pass the model itself, not its state_dict or a checkpoint path"
        )
    return model.eval()


def torch_latency(model: nn.Module, batch: int, side: int = 32, repeats: int = 30, warmup: int = 5) -> Latency:
    """Latency of a PyTorch model (evaluation mode, ``torch.inference_mode``) on one random batch."""
    model = _evaluable(model)
    images = random_images(batch, side)

    def run() -> torch.Tensor:
        with torch.inference_mode():
            return model(images)

    return latency_ms(run, repeats, warmup)


def size_on_disk(model: nn.Module) -> int:
    """Bytes of ``torch.save(model.state_dict())`` written to a temporary file."""
    model = _evaluable(model)
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "state_dict.pt"
        torch.save(model.state_dict(), path)
        return path.stat().st_size


def onnx_size(path: str | os.PathLike) -> int:
    """Bytes of an ONNX file (with its external-data file next to it, if the export wrote one)."""
    path = Path(path)
    extra = path.with_name(path.name + ".data")
    return path.stat().st_size + (extra.stat().st_size if extra.exists() else 0)


def _writable_directory(path: Path) -> None:
    directory = path.parent
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ValueError(f"cannot create {directory} for {path.name} ({error}); choose a writable directory") from error
    if not os.access(directory, os.W_OK):
        raise ValueError(f"cannot write into {directory}; choose a writable directory for {path.name}")


@contextlib.contextmanager
def _quiet_exporter() -> Iterator[io.StringIO]:
    """Capture what the exporter prints and logs (its progress lines), so it can be shown on error."""
    captured = io.StringIO()
    handler = logging.StreamHandler(captured)
    loggers = [logging.getLogger(name) for name in ("torch.onnx", "torch.export", "torch._export", "onnxscript")]
    saved = [(logger.handlers[:], logger.propagate) for logger in loggers]
    for logger in loggers:
        logger.handlers = [handler]
        logger.propagate = False
    try:
        with contextlib.redirect_stdout(captured), contextlib.redirect_stderr(captured), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield captured
    finally:
        for logger, (handlers, propagate) in zip(loggers, saved):
            logger.handlers = handlers
            logger.propagate = propagate


def export_onnx(model: nn.Module, path: str | os.PathLike, side: int = 32, opset: int | None = None) -> Path:
    """Export ``model`` to ONNX with ``torch.onnx.export(..., dynamo=True)`` and a dynamic batch dimension.

    The exporter's progress messages are captured; if the export fails, a ``RuntimeError`` carries
    them and the original exception is its cause.
    """
    model = _evaluable(model)
    path = Path(path)
    _writable_directory(path)
    example = (random_images(2, side),)
    try:
        with _quiet_exporter() as captured:
            torch.onnx.export(
                model,
                example,
                str(path),
                dynamo=True,
                input_names=["images"],
                output_names=["logits"],
                dynamic_shapes=({0: torch.export.Dim("batch")},),
                opset_version=opset,
                external_data=False,
                verbose=False,
            )
    except Exception as error:
        log = _ANSI.sub("", captured.getvalue()).strip()
        raise RuntimeError(
            f"torch.onnx.export(dynamo=True) failed for {type(model).__name__}: {type(error).__name__}: "
            f"{_ANSI.sub('', str(error))}"
            + (f"\nexporter messages:\n{log}" if log else "")
        ) from error
    return path


class OnnxModel:
    """An ONNX file run by ONNX Runtime on the CPU: callable on a tensor or array, returns numpy logits."""

    def __init__(self, path: str | os.PathLike, threads: int | None = None, optimise: bool = True) -> None:
        """``optimise=False`` turns ONNX Runtime's graph optimisations (operator fusion, constant
        folding) off: the control that shows what they contribute to latency."""
        import onnxruntime as ort

        self.path = Path(path)
        self.threads = threads or torch.get_num_threads()
        options = ort.SessionOptions()
        options.intra_op_num_threads = self.threads
        options.inter_op_num_threads = 1
        level = ort.GraphOptimizationLevel
        options.graph_optimization_level = level.ORT_ENABLE_ALL if optimise else level.ORT_DISABLE_ALL
        options.log_severity_level = 3  # errors only
        self.session = ort.InferenceSession(str(self.path), options, providers=["CPUExecutionProvider"])
        self.input_name = self.session.get_inputs()[0].name

    def __call__(self, images: torch.Tensor | np.ndarray) -> np.ndarray:
        if isinstance(images, torch.Tensor):
            images = images.detach().cpu().numpy()
        return self.session.run(None, {self.input_name: np.ascontiguousarray(images, dtype=np.float32)})[0]

    def latency(self, batch: int, side: int = 32, repeats: int = 30, warmup: int = 5) -> Latency:
        """Latency of one call on a random batch; ``threads`` is ONNX Runtime's intra-op thread count."""
        images = random_images(batch, side).numpy()
        measured = latency_ms(lambda: self(images), repeats, warmup)
        return Latency(measured.median_ms, measured.q1_ms, measured.q3_ms, measured.repeats, self.threads)


@dataclass(frozen=True)
class Parity:
    """How far ONNX Runtime's logits are from PyTorch's on the same images."""

    max_abs_diff: float
    argmax_agreement: float


def parity(model: nn.Module, onnx_model: OnnxModel, images: torch.Tensor, batch: int = 256) -> Parity:
    """Largest absolute logit difference and fraction of equal predicted classes, batch by batch."""
    model = _evaluable(model)
    worst, equal = 0.0, 0
    for start in range(0, len(images), batch):
        chunk = images[start : start + batch]
        with torch.inference_mode():
            expected = model(chunk).float().numpy()
        got = onnx_model(chunk)
        worst = max(worst, float(np.abs(expected - got).max()))
        equal += int((expected.argmax(1) == got.argmax(1)).sum())
    return Parity(worst, equal / len(images))


def onnx_path(model: nn.Module, directory: str | os.PathLike | None = None, name: str = "model", side: int = 32) -> Path:
    """Where ``runtime_frame`` keeps a model's export: keyed by its weights, structure and input side."""
    directory = Path(directory) if directory is not None else cache_dir() / "onnx"
    key = weights_key(model, torch.zeros(1, 3, side, side), f"onnx-{torch.__version__}")
    return directory / f"{name}-{key}.onnx"


def cached_export(model: nn.Module, directory: str | os.PathLike | None = None, name: str = "model", side: int = 32) -> tuple[Path, float]:
    """Export once per set of weights; returns the path and the export's seconds (0.0 if cached)."""
    path = onnx_path(_evaluable(model), directory, name, side)
    if path.exists():
        return path, 0.0
    start = time.perf_counter()
    partial = path.with_name(path.stem + ".partial.onnx")
    export_onnx(model, partial, side)
    partial.replace(path)
    return path, time.perf_counter() - start


def runtime_frame(
    models: Mapping[str, nn.Module],
    directory: str | os.PathLike | None = None,
    batches: Sequence[int] = (1, 64),
    images: torch.Tensor | None = None,
    side: int = 32,
    repeats: int = 30,
    warmup: int = 5,
    torch_only: Collection[str] = (),
) -> pd.DataFrame:
    """One row per model: sizes (MB), median latency (ms) of PyTorch and ONNX Runtime per batch, parity.

    Parity is measured on ``images`` (default: 64 seeded random images). Models named in
    ``torch_only`` (e.g. ``torch.ao`` int8 GraphModules, which the exporter cannot trace) are
    measured in PyTorch only; their ONNX columns are NaN.
    """
    images = images if images is not None else random_images(64, side, seed=1)
    rows = []
    for name, model in models.items():
        model = _evaluable(model)
        session, path, seconds = None, None, float("nan")
        if name not in torch_only:
            path, seconds = cached_export(model, directory, name, side)
            session = OnnxModel(path)
        row: dict[str, object] = {
            "model": name,
            "size_torch_mb": size_on_disk(model) / MB,
            "size_onnx_mb": onnx_size(path) / MB if path else float("nan"),
            "export_s": seconds,
        }
        for batch in batches:
            row[f"torch_ms_b{batch}"] = torch_latency(model, batch, side, repeats, warmup).median_ms
            row[f"onnx_ms_b{batch}"] = session.latency(batch, side, repeats, warmup).median_ms if session else float("nan")
        agreement = parity(model, session, images) if session else Parity(float("nan"), float("nan"))
        row["max_abs_diff"] = agreement.max_abs_diff
        row["argmax_agreement"] = agreement.argmax_agreement
        row["threads"] = torch.get_num_threads()
        rows.append(row)
    return pd.DataFrame(rows).set_index("model")
