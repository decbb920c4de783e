"""Attacks on a trained classifier: L∞ FGSM and PGD, accuracy against ε, and an untrusted checkpoint.

FGSM (Goodfellow et al. 2015) and PGD (Madry et al. 2018) push images in [0, 1] up the gradient of the
cross-entropy inside an ε-ball, to measure how much accuracy a small, bounded change of the pixels takes
away. ``untrusted_pickle`` and ``load_outcome`` show, harmlessly, why checkpoints are read with
``torch.load(..., weights_only=True)`` (as ``cnnbook.training._read_checkpoint`` does).
"""

from __future__ import annotations

import contextlib
import pathlib
from pathlib import Path
from typing import Iterator, Literal, Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from cnnbook import plots
from cnnbook.profiles import get_profile

Attack = Literal["fgsm", "pgd"]
MARKER_SUFFIX = ".code-ran.txt"  # the file an untrusted checkpoint of this module writes when unpickled
MARKER_TEXT = "Unpickling this checkpoint ran code chosen by whoever wrote it.\n"


def device_of(model: nn.Module) -> torch.device:
    """The device of the model's parameters (or buffers); the profile's device for a model with neither."""
    for tensor in model.parameters():
        return tensor.device
    for tensor in model.buffers():
        return tensor.device
    return torch.device(get_profile().device)


@contextlib.contextmanager
def evaluating(model: nn.Module) -> Iterator[nn.Module]:
    """The model in eval mode for the block (batch norm uses its running statistics); its mode restored after."""
    was_training = model.training
    model.eval()
    try:
        yield model
    finally:
        model.train(was_training)


def input_gradient(model: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """∂/∂x of the summed cross-entropy (each image's own gradient); no parameter ``.grad`` is touched.

    Gradients are enabled here, so an attack also works when called inside ``torch.no_grad()``."""
    with torch.enable_grad():
        x = images.detach().requires_grad_(True)
        loss = F.cross_entropy(model(x), labels, reduction="sum")
        (gradient,) = torch.autograd.grad(loss, x)
    return gradient


def project(adversarial: torch.Tensor, images: torch.Tensor, epsilon: float) -> torch.Tensor:
    """The nearest point (L∞) of the ε-ball around ``images`` that is also inside [0, 1]."""
    return torch.clamp(torch.minimum(torch.maximum(adversarial, images - epsilon), images + epsilon), 0.0, 1.0)


def _prepare(model: nn.Module, images: torch.Tensor, labels: torch.Tensor,
             epsilon: float) -> tuple[torch.Tensor, torch.Tensor]:
    if epsilon < 0:
        raise ValueError(f"epsilon must be non-negative, not {epsilon}")
    device = device_of(model)
    return images.detach().to(device, torch.float32), labels.to(device, torch.long)


def fgsm(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, epsilon: float) -> torch.Tensor:
    """Untargeted L∞ FGSM: ``clamp(x + ε·sign(∇x CE(f(x), y)), 0, 1)`` for a batch ``N×C×H×W`` in [0, 1].

    Computed on the model's device in eval mode; returned on the images' device. ε = 0 returns a copy."""
    x, y = _prepare(model, images, labels, epsilon)
    if epsilon == 0:
        return images.detach().clone()
    with evaluating(model):
        step = epsilon * input_gradient(model, x, y).sign()
    return torch.clamp(x + step, 0.0, 1.0).to(images.device)


def uniform_start(images: torch.Tensor, epsilon: float, seed: int) -> torch.Tensor:
    """A uniform point of the ε-ball around ``images``, clamped to [0, 1]; the same for the same seed on any device."""
    generator = torch.Generator().manual_seed(seed)
    noise = torch.rand(images.shape, generator=generator, dtype=images.dtype).to(images.device)
    return torch.clamp(images + (2 * noise - 1) * epsilon, 0.0, 1.0)


def pgd(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, epsilon: float, steps: int = 10,
        step_size: float | None = None, random_start: bool = True, seed: int = 0) -> torch.Tensor:
    """Untargeted L∞ PGD: ``steps`` signed-gradient steps of ``step_size`` (default 2.5·ε/steps, Madry et al.),
    each followed by the projection onto the ε-ball around the original images and onto [0, 1].

    ``random_start`` begins at a uniform point of the ball drawn from ``seed`` (reproducible);
    without it PGD's first step is FGSM with ``step_size``. ε = 0 returns a copy of the images."""
    x, y = _prepare(model, images, labels, epsilon)
    if epsilon == 0 or steps == 0:
        return images.detach().clone()
    size = 2.5 * epsilon / steps if step_size is None else step_size
    adversarial = uniform_start(x, epsilon, seed) if random_start else x.clone()
    with evaluating(model):
        for _ in range(steps):
            adversarial = project(adversarial + size * input_gradient(model, adversarial, y).sign(), x, epsilon)
    return adversarial.to(images.device)


def perturb(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, epsilon: float, method: Attack = "pgd",
           **options: object) -> torch.Tensor:
    """The adversarial images of ``method`` ("fgsm" or "pgd"; ``options`` go to ``pgd``)."""
    if method == "fgsm":
        return fgsm(model, images, labels, epsilon)
    if method == "pgd":
        return pgd(model, images, labels, epsilon, **options)  # type: ignore[arg-type]
    raise ValueError(f"unknown attack {method!r}: use 'fgsm' or 'pgd'")


def attacked(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, epsilon: float, attack: Attack = "pgd",
             batch_size: int = 100, **options: object) -> torch.Tensor:
    """The adversarial images of ``attack`` with budget ``epsilon`` on ``model``, batch by batch
    (``options`` go to ``pgd``), on the images' device."""
    return torch.cat([perturb(model, images[i:i + batch_size], labels[i:i + batch_size], float(epsilon), attack,
                              **options).to(images.device) for i in range(0, len(images), batch_size)])


def scores(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, batch_size: int = 100) -> tuple[float, float]:
    """Accuracy (in [0, 1]) and mean cross-entropy of ``model`` on ``images``."""
    device = device_of(model)
    correct, loss = 0, 0.0
    with torch.no_grad(), evaluating(model):
        for i in range(0, len(images), batch_size):
            logits = model(images[i:i + batch_size].to(device))
            target = labels[i:i + batch_size].to(device, torch.long)
            loss += float(F.cross_entropy(logits, target, reduction="sum"))
            correct += int((logits.argmax(1) == target).sum())
    return correct / len(images), loss / len(images)


def robust_accuracy(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, epsilons: Sequence[float],
                    attack: Attack = "pgd", batch_size: int = 100, surrogate: nn.Module | None = None,
                    **options: object) -> pd.DataFrame:
    """Accuracy and mean cross-entropy of ``model`` on images attacked with budget ε, one row per ε.

    ε = 0 is the clean accuracy. The attack is crafted on ``surrogate`` when given (a transfer attack,
    e.g. on the float model for its quantised copy, whose integer kernels have no gradient), else on
    ``model``; ``options`` go to ``pgd`` (steps, step_size, random_start, seed). Columns: epsilon,
    accuracy (in [0, 1]) and loss."""
    source = model if surrogate is None else surrogate
    rows = []
    for epsilon in epsilons:
        accuracy, loss = scores(model, attacked(source, images, labels, epsilon, attack, batch_size, **options), labels,
                                batch_size)
        rows.append({"epsilon": float(epsilon), "accuracy": accuracy, "loss": loss})
    return pd.DataFrame(rows, columns=["epsilon", "accuracy", "loss"])


def robustness_frame(models: Mapping[str, nn.Module], images: torch.Tensor, labels: torch.Tensor,
                     epsilons: Sequence[float], sources: Mapping[str, str] | None = None, attack: Attack = "pgd",
                     batch_size: int = 100, **options: object) -> pd.DataFrame:
    """Accuracy (in [0, 1]) of every model at every ε: one row per model, one column per ε named
    ``eps_<255·ε>`` (``eps_0.5`` for ε = 0.5/255), and the model whose gradients crafted its attack (``source``). A model named in ``sources``
    is scored on the adversarial images of that other model (e.g. an int8 copy on those of its
    float original, the same images the original is scored on); each source's images are made once."""
    sources = dict(sources or {})
    made: dict[tuple[str, int], torch.Tensor] = {}
    rows = []
    for name, model in models.items():
        source = sources.get(name, name)
        row: dict[str, object] = {"key": name, "source": source}
        for i, epsilon in enumerate(epsilons):
            if (source, i) not in made:
                made[source, i] = attacked(models[source], images, labels, epsilon, attack, batch_size, **options)
            row[f"eps_{255 * epsilon:g}"] = scores(model, made[source, i], labels, batch_size)[0]
        rows.append(row)
    return pd.DataFrame(rows)


def predictions(model: nn.Module, images: torch.Tensor) -> torch.Tensor:
    """The predicted classes of a batch (eval mode, no gradients), on the CPU."""
    with torch.no_grad(), evaluating(model):
        return model(images.to(device_of(model), torch.float32)).argmax(1).cpu()


def epsilon_label(epsilon: float) -> str:
    """ε as the book writes it: ``k/255`` when it is a whole number or a quarter of 8-bit grey levels
    below one (``0.5/255``), else 3 digits."""
    levels = epsilon * 255
    quarters = 4 * levels
    if levels > 0 and (abs(levels - round(levels)) < 1e-6 or (levels < 1 and abs(quarters - round(quarters)) < 1e-6)):
        return f"{levels:g}/255"
    return f"{epsilon:.3g}"


def example_row(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, epsilon: float,
                attack: Attack = "fgsm", class_names: Sequence[str] | None = None, count: int = 3,
                **options: object) -> plt.Figure:
    """One row of ``count`` examples, each as clean image, perturbation and adversarial image.

    The examples are the first images the model classifies correctly (the first images if fewer are).
    The perturbation δ lies in [-ε, ε]; it is drawn as ``0.5 + δ/(2ε)`` so that ±ε are black and white
    and grey is no change, and its title says so. Titles name the predicted class before and after."""
    if epsilon <= 0:
        raise ValueError("the examples need a positive epsilon")
    right = (predictions(model, images) == labels.cpu()).nonzero().flatten().tolist()
    chosen = (right + [i for i in range(len(images)) if i not in right])[:count]
    x, y = images[chosen].detach().cpu(), labels[chosen].cpu()
    adversarial = perturb(model, x, y, epsilon, attack, **options).cpu()
    before, after = predictions(model, x), predictions(model, adversarial)
    name = (lambda k: class_names[k]) if class_names is not None else (lambda k: f"class {k}")
    budget = f"ε={epsilon_label(epsilon)}"
    fig, axes = plots.figure(1, 3 * len(chosen), panel=(1.0, 1.35))
    for i in range(len(chosen)):
        delta = adversarial[i] - x[i]
        panels = [(x[i], f"clean\n{name(int(before[i]))}"),
                  ((0.5 + delta / (2 * epsilon)).clamp(0, 1), "δ, shown as\n0.5 + δ/2ε"),
                  (adversarial[i], f"{attack.upper()} {budget}\n{name(int(after[i]))}")]
        for ax, (picture, title) in zip(axes[0, 3 * i:3 * i + 3], panels):
            plots.show_image(ax, picture.numpy())
            fooled = title.startswith(attack.upper()) and after[i] != y[i]
            ax.set_title(title, color=plots.COLOURS["validation"] if fooled else "black")
    return fig


# Supply chain: a checkpoint is a pickle, and unpickling may call any importable function.

class _RunsCode:
    """An object whose unpickling calls ``pathlib.Path.write_text(marker, MARKER_TEXT)``: harmless, but it
    could as well be ``os.system`` with any command."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[object, ...]]:
        return pathlib.Path.write_text, (self.marker, MARKER_TEXT)


def marker_of(checkpoint: Path) -> Path:
    """The file that unpickling ``checkpoint`` (made by ``untrusted_pickle``) writes next to it."""
    checkpoint = Path(checkpoint).resolve()
    return checkpoint.with_name(checkpoint.name + MARKER_SUFFIX)


def untrusted_pickle(path: Path | str) -> Path:
    """Write a checkpoint-shaped file (a state dict and a little more) at ``path`` whose unpickling runs code.

    The code it runs writes the marker file ``marker_of(path)``; make the file in a temporary directory."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {"model": {"weight": torch.zeros(2, 2)}, "epoch": 1, "note": _RunsCode(marker_of(path))}
    torch.save(state, path)
    return path


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else ""


def load_outcome(path: Path | str) -> dict[str, object]:
    """Load ``path`` twice and say what happened: first as ``cnnbook.training._read_checkpoint`` does
    (``weights_only=True``: only tensors and plain containers may be unpickled), then with
    ``weights_only=False`` (the full pickle machine). Records, for each load, whether it was refused
    (exception type and the first line of its message) and whether the marker file appeared, i.e. whether
    the file ran code. A stale marker is removed before, and the marker the second load writes after."""
    path = Path(path)
    marker = marker_of(path)
    marker.unlink(missing_ok=True)
    outcome: dict[str, object] = {}
    for mode, weights_only in (("weights_only=True", True), ("weights_only=False", False)):
        try:
            loaded = torch.load(path, map_location="cpu", weights_only=weights_only)
            error, message = None, None
        except Exception as exc:  # the refusal is the point: any exception type is recorded
            loaded, error, message = None, type(exc).__name__, _first_line(exc)
        outcome[mode] = {"refused": error is not None, "error": error, "message": message,
                         "ran_code": marker.exists(),
                         "loaded": None if loaded is None else sorted(loaded) if isinstance(loaded, dict)
                         else type(loaded).__name__}
    outcome["marker_text"] = marker.read_text() if marker.exists() else None
    marker.unlink(missing_ok=True)
    return outcome


def robustness_figure(frame: pd.DataFrame, names: Mapping[str, str] | None = None) -> plt.Figure:
    """Accuracy (%) against ε (in 1/255) for every row of ``robustness_frame`` (in %): solid when the
    attack was made on the network itself, dashed when it was transferred from another."""
    columns = list(frame.filter(like="eps_").columns)
    radii = [float(c.removeprefix("eps_")) for c in columns]
    fig, axes = plots.figure(1, 1, panel=(5.2, 3.2))
    ax = axes[0, 0]
    for _, row in frame.iterrows():
        own = row.key == row.source
        ax.plot(radii, [row[c] for c in columns], marker="o", markersize=3, linestyle="-" if own else "--",
                label=(names or {}).get(row.key, row.key) + ("" if own else " (transfer)"))
    ax.set_xlabel("ε (grey levels of 255)")
    ax.set_ylabel("accuracy under PGD (%)")
    ax.set_ylim(0, 100)
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=7)
    return fig
