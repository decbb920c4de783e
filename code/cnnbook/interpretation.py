"""Which parts of an image a CNN's decision rests on: Grad-CAM, CAM, and scores against known masks.

Grad-CAM (Selvaraju et al.) weighs each feature map ``A^k`` of a chosen layer by the spatial
average of the class score's gradient, ``α_k^c = (1/Z) Σ_ij ∂y_c/∂A^k_ij``, and sums:
``L^c = ReLU(Σ_k α_k^c A^k)``. It is computed here from scratch with a forward hook and autograd:
the raw map keeps the layer's resolution and its sign (``Cam.maps``); the ReLU and the bilinear
upsampling to the input size come after (``Cam.upsampled``). CAM (Zhou et al.) is the special
case of networks ending in global average pooling and one linear layer, whose class weights
replace ``α`` (``class_activation_map``).

``pointing_game`` and ``mass_inside`` score a map against the object's mask.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from cnnbook.plots import HEAT_MAP, SIGNED_MAP, figure, show_image

ROWS = ("raw", "overlay", "negative")  # what ``show`` can draw for a map


@dataclass
class Cam:
    """Class activation maps of a batch, at the resolution of the layer they were taken from."""

    maps: torch.Tensor  # N×h×w, signed: Σ_k weights_k A^k (before the ReLU)
    weights: torch.Tensor  # N×K: α_k^c (Grad-CAM) or the linear layer's w_k^c (CAM)
    classes: torch.Tensor  # N: the class c each map explains
    logits: torch.Tensor  # N×(number of classes): the network's outputs
    gradients: torch.Tensor | None = None  # N×K×h×w: ∂y_c/∂A (Grad-CAM only)

    @property
    def scores(self) -> torch.Tensor:
        """The class scores ``y_c`` (logits, before the softmax)."""
        return self.logits.gather(1, self.classes[:, None])[:, 0]

    def positive(self) -> torch.Tensor:
        """ReLU of the raw map: where the features raise the class score."""
        return self.maps.clamp(min=0)

    def negative(self) -> torch.Tensor:
        """The negative part, sign flipped: where the features lower the class score."""
        return (-self.maps).clamp(min=0)

    def upsampled(self, size: tuple[int, int], part: str = "positive") -> torch.Tensor:
        """The positive (or negative) part, bilinearly upsampled to ``size``: ``N×H×W``."""
        maps = self.positive() if part == "positive" else self.negative()
        return F.interpolate(maps[:, None], size=size, mode="bilinear", align_corners=False)[:, 0]


def resolve_layer(model: nn.Module, layer: nn.Module | str) -> nn.Module:
    """``layer`` itself, or the submodule of ``model`` with that dotted name (e.g. ``net._blocks.15``)."""
    return model.get_submodule(layer) if isinstance(layer, str) else layer


def _forward_with_features(model: nn.Module, layer: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(logits, A)``: the model's outputs and the layer's output, the latter a leaf that takes gradients.

    The hook replaces the layer's output by a copy of a fresh leaf tensor, so gradients reach it
    even when the model's parameters are frozen, and in-place operations after it stay legal.
    """
    captured: list[torch.Tensor] = []

    def hook(module: nn.Module, inputs: tuple, output: torch.Tensor) -> torch.Tensor:
        leaf = output.detach().requires_grad_(True)
        captured.append(leaf)
        return leaf.clone()

    handle = layer.register_forward_hook(hook)
    training = model.training
    model.eval()
    try:
        with torch.enable_grad():
            logits = model(x)
    finally:
        handle.remove()
        model.train(training)
    if len(captured) != 1:
        raise ValueError(f"the layer ran {len(captured)} times in one forward pass; Grad-CAM needs a module "
                         "that runs once (hook a block or a layer, not a shared activation module)")
    return logits, captured[0]


def _classes(logits: torch.Tensor, classes: int | Sequence[int] | torch.Tensor | None) -> torch.Tensor:
    if classes is None:
        return logits.argmax(dim=1)
    return torch.as_tensor(classes, device=logits.device).reshape(-1).expand(len(logits)).long()


def grad_cam(model: nn.Module, layer: nn.Module | str, x: torch.Tensor,
             classes: int | Sequence[int] | torch.Tensor | None = None) -> Cam:
    """Grad-CAM of ``model`` at ``layer`` for inputs ``x`` (``N×C×H×W``) and ``classes`` (default: predicted).

    ``α_k^c`` is the spatial mean of ``∂y_c/∂A^k``; the raw map is ``Σ_k α_k^c A^k``. The model runs
    in eval mode, so each example's score depends on its own features only.
    """
    logits, features = _forward_with_features(model, resolve_layer(model, layer), x)
    chosen = _classes(logits, classes)
    scores = logits.gather(1, chosen[:, None]).sum()
    (gradients,) = torch.autograd.grad(scores, features)
    weights = gradients.mean(dim=(2, 3))
    maps = (weights[:, :, None, None] * features).sum(dim=1)
    return Cam(maps.detach(), weights.detach(), chosen, logits.detach(), gradients.detach())


def class_activation_map(model: nn.Module, layer: nn.Module | str, linear: nn.Linear, x: torch.Tensor,
                         classes: int | Sequence[int] | torch.Tensor | None = None) -> Cam:
    """CAM: ``Σ_k w_k^c A^k`` with ``w^c`` the row of the final ``linear`` layer, for a network whose
    features ``A`` (at ``layer``) go through global average pooling straight into ``linear``."""
    with torch.no_grad():
        logits, features = _forward_with_features(model, resolve_layer(model, layer), x)
    chosen = _classes(logits, classes)
    weights = linear.weight.detach()[chosen]
    maps = (weights[:, :, None, None] * features.detach()).sum(dim=1)
    return Cam(maps, weights, chosen, logits.detach())


def pointing_game(maps: torch.Tensor | np.ndarray, masks: torch.Tensor | np.ndarray) -> np.ndarray:
    """Per map: does its maximum fall inside the object's mask? A map that is zero everywhere
    points nowhere and counts as a miss. ``maps`` and ``masks`` are ``N×H×W`` of the same size."""
    maps, masks = np.asarray(maps, dtype=np.float64), np.asarray(masks, dtype=bool)
    flat = maps.reshape(len(maps), -1)
    peak = flat.argmax(axis=1)
    hit = masks.reshape(len(masks), -1)[np.arange(len(maps)), peak]
    return hit & (flat.max(axis=1) > 0)


def mass_inside(maps: torch.Tensor | np.ndarray, masks: torch.Tensor | np.ndarray) -> np.ndarray:
    """Per map: the share of its (non-negative) mass inside the mask; NaN for an all-zero map.
    A map spread evenly over the image scores the mask's share of the image area."""
    maps, masks = np.asarray(maps, dtype=np.float64), np.asarray(masks, dtype=bool)
    total = maps.sum(axis=(1, 2))
    inside = (maps * masks).sum(axis=(1, 2))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, inside / total, np.nan)


def localisation(model: nn.Module, layer: nn.Module | str, images: torch.Tensor, regions: Mapping[str, np.ndarray],
                 classes: np.ndarray | torch.Tensor | None = None, batch_size: int = 500) -> pd.DataFrame:
    """Grad-CAM of every image (for ``classes``, default the predicted ones), upsampled to the image and
    scored against each named region (``N×H×W`` or one ``H×W`` mask for all): one row per image with
    the class explained, the predicted class, ``pointing_<region>`` and ``mass_<region>``."""
    rows = []
    for start in range(0, len(images), batch_size):
        chunk = slice(start, start + batch_size)
        cam = grad_cam(model, layer, images[chunk], None if classes is None else torch.as_tensor(classes[chunk]))
        maps = cam.upsampled(tuple(images.shape[-2:])).cpu().numpy()
        part = {"class": cam.classes.cpu().numpy(), "predicted": cam.logits.argmax(dim=1).cpu().numpy()}
        for name, region in regions.items():
            region = np.broadcast_to(region if np.ndim(region) == 2 else region[chunk], maps.shape)
            part[f"pointing_{name}"] = pointing_game(maps, region)
            part[f"mass_{name}"] = mass_inside(maps, region)
        rows.append(pd.DataFrame(part))
    return pd.concat(rows, ignore_index=True)


def score_maps(model: nn.Module, layer: nn.Module | str, images: torch.Tensor, labels: np.ndarray,
               regions: Mapping[str, np.ndarray]) -> dict[str, float]:
    """How well Grad-CAM for the true classes localises each region, in percent: the model's
    ``accuracy``, and per region its ``area`` (the score of an even map), ``pointing`` and ``mass``."""
    scores = localisation(model, layer, images, regions, classes=labels)
    summary = {"accuracy": 100 * float((scores.predicted == scores["class"]).mean())}
    for name, region in regions.items():
        summary[f"area_{name}"] = 100 * float(np.mean(region))
        summary[f"pointing_{name}"] = 100 * float(scores[f"pointing_{name}"].mean())
        summary[f"mass_{name}"] = 100 * float(np.nanmean(scores[f"mass_{name}"]))
    return summary


def show(images: np.ndarray, cams: Mapping[str, Cam], titles: Sequence[str], rows: Sequence[str] = ("overlay",),
         masks: np.ndarray | None = None, panel: float = 1.3):
    """A figure with one column per image: the input, then for each named ``Cam`` the ``rows``
    asked for — ``raw`` (signed map at the layer's resolution, zero in white), ``overlay``
    (positive part upsampled on the image) and ``negative`` (negative part upsampled).
    ``masks`` (``N×H×W``) are outlined on the overlays."""
    unknown = set(rows) - set(ROWS)
    if unknown:
        raise ValueError(f"unknown rows {sorted(unknown)}; choose from {ROWS}")
    size = tuple(images.shape[-2:])
    layout = [("input", None, "")] + [(row, cam, name) for name, cam in cams.items() for row in rows]
    fig, axes = figure(len(layout), len(images), panel=(panel, panel))
    for r, (row, cam, name) in enumerate(layout):
        axes[r, 0].set_ylabel(f"{name} {row}".strip())
        for n, ax in enumerate(axes[r]):
            if row == "raw":
                raw = cam.maps[n].cpu().numpy()
                limit = float(np.abs(raw).max()) or 1.0
                ax.imshow(raw, cmap=SIGNED_MAP, vmin=-limit, vmax=limit, interpolation="nearest")
                ax.set_xticks([])
                ax.set_yticks([])
                ax.grid(False)
                continue
            show_image(ax, images[n])
            if row == "input":
                ax.set_title(titles[n])
                continue
            heat = cam.upsampled(size, "positive" if row == "overlay" else "negative")[n].cpu().numpy()
            peak = float(heat.max())
            heat = heat / peak if peak > 0 else heat
            ax.imshow(heat, cmap=HEAT_MAP, alpha=0.75 * heat, vmin=0, vmax=1)  # transparent where the map is zero
            if masks is not None:
                ax.contour(masks[n], levels=[0.5], colors="white", linewidths=0.8)
    return fig
