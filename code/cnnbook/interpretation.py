"""Which parts of an image a CNN's decision rests on: Grad-CAM, CAM, and scores against known masks.

Grad-CAM (Selvaraju et al.) weighs each feature map ``A^k`` of a chosen layer by the spatial
average of the class score's gradient, ``α_k^c = (1/Z) Σ_ij ∂y_c/∂A^k_ij``, and sums:
``L^c = ReLU(Σ_k α_k^c A^k)``. It is computed here from scratch with a forward hook and autograd:
the raw map keeps the layer's resolution and its sign (``Cam.maps``); the ReLU and the bilinear
upsampling to the input size come after (``Cam.upsampled``). CAM (Zhou et al.) is the special
case of networks ending in global average pooling and one linear layer, whose class weights
replace ``α`` (``class_activation_map``). HiResCAM (Draelos & Carin) keeps the gradient location by
location instead of averaging it (``hires_cam``), so a location that cannot reach the output gets no mass.

``pointing_game`` and ``mass_inside`` score a map against the object's mask.

``feature_maps`` reads the outputs of chosen layers. ``deconvnet`` (Zeiler & Fergus) projects
one activation of a layer back to pixel space through the layers below it: max pooling is
undone with the *switches* (where each maximum was in the forward pass), a ReLU rectifies the
signal going down, and a convolution is undone with its own filters transposed
(``conv_transpose2d``, no bias). The same pass with the ReLU rule of backpropagation gives the
gradient of the activation with respect to the input, and with both rules guided backpropagation
(Springenberg et al.), so the three differ only in how they treat a ReLU (``RULES``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from cnnbook.plots import HEAT_MAP, SIGNED_MAP, figure, show_image

ROWS = ("raw", "overlay", "negative")  # what ``show`` can draw for a map
RULES = ("deconvnet", "gradient", "guided")  # how ``deconvnet`` passes a signal down through a ReLU


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


def _gradient_cam(model: nn.Module, layer: nn.Module | str, x: torch.Tensor,
                  classes: int | Sequence[int] | torch.Tensor | None, elementwise: bool) -> Cam:
    """The one mechanism of Grad-CAM and HiResCAM: the layer's features ``A`` and ``∂y_c/∂A`` by autograd,
    then either the channel weights ``α`` (spatial means) times ``A`` or, ``elementwise``, the gradient
    times ``A`` location by location, summed over channels."""
    logits, features = _forward_with_features(model, resolve_layer(model, layer), x)
    chosen = _classes(logits, classes)
    scores = logits.gather(1, chosen[:, None]).sum()
    (gradients,) = torch.autograd.grad(scores, features)
    weights = gradients.mean(dim=(2, 3))
    maps = ((gradients if elementwise else weights[:, :, None, None]) * features).sum(dim=1)
    return Cam(maps.detach(), weights.detach(), chosen, logits.detach(), gradients.detach())


def grad_cam(model: nn.Module, layer: nn.Module | str, x: torch.Tensor,
             classes: int | Sequence[int] | torch.Tensor | None = None) -> Cam:
    """Grad-CAM of ``model`` at ``layer`` for inputs ``x`` (``N×C×H×W``) and ``classes`` (default: predicted).

    ``α_k^c`` is the spatial mean of ``∂y_c/∂A^k``; the raw map is ``Σ_k α_k^c A^k``. The model runs
    in eval mode, so each example's score depends on its own features only.
    """
    return _gradient_cam(model, layer, x, classes, elementwise=False)


def hires_cam(model: nn.Module, layer: nn.Module | str, x: torch.Tensor,
              classes: int | Sequence[int] | torch.Tensor | None = None) -> Cam:
    """HiResCAM (Draelos & Carin): the raw map is ``Σ_k ∂y_c/∂A^k ⊙ A^k``, the gradient times the features
    at each location instead of their channel average (``Cam.weights`` still holds the averages).

    A location whose gradient is zero (one that cannot reach the output) gets zero, and when the head
    after ``layer`` is linear in ``A`` the map sums exactly to ``y_c`` minus the bias, location by location;
    for global average pooling and one linear layer it equals Grad-CAM.
    """
    return _gradient_cam(model, layer, x, classes, elementwise=True)


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
                 classes: np.ndarray | torch.Tensor | None = None, batch_size: int = 500,
                 method: Callable[..., Cam] | None = None) -> pd.DataFrame:
    """Grad-CAM (or ``method``, e.g. ``hires_cam``) of every image (for ``classes``, default the predicted
    ones), upsampled to the image and scored against each named region (``N×H×W`` or one ``H×W`` mask for
    all): one row per image with the class explained, the predicted class, ``pointing_<region>`` and
    ``mass_<region>``."""
    method = method or grad_cam
    rows = []
    for start in range(0, len(images), batch_size):
        chunk = slice(start, start + batch_size)
        cam = method(model, layer, images[chunk], None if classes is None else torch.as_tensor(classes[chunk]))
        maps = cam.upsampled(tuple(images.shape[-2:])).cpu().numpy()
        part = {"class": cam.classes.cpu().numpy(), "predicted": cam.logits.argmax(dim=1).cpu().numpy()}
        for name, region in regions.items():
            region = np.broadcast_to(region if np.ndim(region) == 2 else region[chunk], maps.shape)
            part[f"pointing_{name}"] = pointing_game(maps, region)
            part[f"mass_{name}"] = mass_inside(maps, region)
        rows.append(pd.DataFrame(part))
    return pd.concat(rows, ignore_index=True)


def score_maps(model: nn.Module, layer: nn.Module | str, images: torch.Tensor, labels: np.ndarray | None,
               regions: Mapping[str, np.ndarray]) -> dict[str, float]:
    """How well Grad-CAM for the true classes (``labels``; None: the predicted ones) localises each region,
    in percent: the model's ``accuracy`` (100 when explaining its own answers), and per region its ``area``
    (the score of an even map), ``pointing`` and ``mass``."""
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
        axes[r, 0].set_ylabel("\n".join(part for part in (name, row) if part))  # two short lines fit a row
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


# --- feature maps and DeconvNet -----------------------------------------------------------------------

@torch.no_grad()
def feature_maps(model: nn.Module, layers: Mapping[str, nn.Module | str], x: torch.Tensor) -> dict[str, torch.Tensor]:
    """The outputs of ``layers`` (modules of ``model`` or their dotted names) for inputs ``x``, with the
    model in eval mode: ``{name: N×C×h×w}``."""
    captured: dict[str, torch.Tensor] = {}
    handles = [resolve_layer(model, layer).register_forward_hook(
        lambda module, inputs, output, name=name: captured.__setitem__(name, output.detach()))
        for name, layer in layers.items()]
    training = model.training
    model.eval()
    try:
        model(x)
    finally:
        for handle in handles:
            handle.remove()
        model.train(training)
    return {name: captured[name] for name in layers}


DECONV_LAYERS = (nn.Conv2d, nn.BatchNorm2d, nn.ReLU, nn.MaxPool2d, nn.Dropout, nn.Identity)


@dataclass
class Projection:
    """One activation per image of a layer, projected back to pixel space."""

    images: torch.Tensor  # N×C×H×W, signed: the projection in the input's space
    units: torch.Tensor  # N×3: (channel, row, column) of the projected activation in the layer's output
    activations: torch.Tensor  # N: the value of that activation in the forward pass

    def energy(self) -> torch.Tensor:
        """``N×H×W``: the magnitude of the projection at each pixel, summed over colour channels."""
        return self.images.abs().sum(dim=1)


def _chain(features: nn.Module, layer: nn.Module | str) -> list[nn.Module]:
    """The leaf modules of ``features`` in order, up to the last one inside ``layer`` (whose output it is)."""
    leaves = [m for m in features.modules() if next(m.children(), None) is None]
    inside = {id(m) for m in resolve_layer(features, layer).modules()}
    positions = [index for index, module in enumerate(leaves) if id(module) in inside]
    if not positions:
        raise ValueError("the layer is not a module of the feature extractor")
    chain = leaves[:positions[-1] + 1]
    unsupported = sorted({type(m).__name__ for m in chain if not isinstance(m, DECONV_LAYERS)})
    if unsupported:
        raise ValueError(f"DeconvNet cannot go back through {', '.join(unsupported)}; supported: "
                         f"{', '.join(t.__name__ for t in DECONV_LAYERS)}")
    return chain


def _padding(conv: nn.Conv2d) -> tuple[int, int]:
    """The convolution's padding as two integers ('same' only where it is symmetric)."""
    if not isinstance(conv.padding, str):
        return tuple(conv.padding)  # type: ignore[return-value]
    if conv.padding == "valid":
        return (0, 0)
    total = [d * (k - 1) for d, k in zip(conv.dilation, conv.kernel_size)]
    if any(t % 2 for t in total):
        raise ValueError("padding='same' with an even kernel pads unevenly; DeconvNet needs symmetric padding")
    return tuple(t // 2 for t in total)  # type: ignore[return-value]


def unpool(signal: torch.Tensor, switches: torch.Tensor, size: tuple[int, int] | torch.Size) -> torch.Tensor:
    """Unpooling with switches: each value of ``signal`` (``N×C×h×w``, the pooled space) goes back to the
    position its maximum came from (``switches``, the flat indices ``max_pool2d(..., return_indices=True)``
    returns), in a map of ``size``; zero elsewhere. Values whose windows overlap and share a maximum are
    added, as the transpose of pooling requires (``max_unpool2d`` keeps only one of them)."""
    n, c = signal.shape[:2]
    back = signal.new_zeros(n, c, size[0] * size[1])
    return back.scatter_add_(2, switches.flatten(2), signal.flatten(2)).reshape(n, c, *size)


def _back(module: nn.Module, signal: torch.Tensor, size: torch.Size, saved: torch.Tensor | None,
        rule: str) -> torch.Tensor:
    """Take ``signal`` (the module's output space) down to the module's input space (``size``)."""
    if isinstance(module, nn.MaxPool2d):
        return unpool(signal, saved, size)
    if isinstance(module, nn.ReLU):
        if rule in ("deconvnet", "guided"):
            signal = signal.clamp(min=0)  # rectify the signal going down
        if rule in ("gradient", "guided"):
            signal = signal * saved  # backpropagation: only where the forward input was positive
        return signal
    if isinstance(module, nn.BatchNorm2d):  # eval mode: a per-channel scale and shift; the transpose is the scale
        if module.running_var is None:
            raise ValueError("DeconvNet needs batch normalisation with running statistics (eval mode)")
        scale = torch.rsqrt(module.running_var + module.eps)
        return signal * (scale * module.weight if module.affine else scale)[:, None, None]
    if isinstance(module, nn.Conv2d):  # the same filters, transposed; the bias is not used
        if module.padding_mode != "zeros":
            raise ValueError(f"DeconvNet needs zero padding, not {module.padding_mode!r}")
        padding = _padding(module)
        natural = [(n - 1) * s - 2 * p + d * (k - 1) + 1 for n, s, p, d, k in
                   zip(signal.shape[-2:], module.stride, padding, module.dilation, module.kernel_size)]
        extra = tuple(target - n for target, n in zip(size, natural))  # rows and columns the convolution dropped
        return F.conv_transpose2d(signal, module.weight, None, module.stride, padding, extra, module.groups,
                                  module.dilation)
    return signal  # Dropout (eval mode) and Identity


@torch.no_grad()
def deconvnet(features: nn.Module, layer: nn.Module | str, x: torch.Tensor,
              units: torch.Tensor | np.ndarray | None = None, rule: str = "deconvnet") -> Projection:
    """Project one activation per image of ``layer``'s output back to pixel space (Zeiler & Fergus).

    ``features`` runs its leaf modules one after another (an ``nn.Sequential``, possibly nested, of
    ``DECONV_LAYERS``); ``layer`` is one of its modules. ``units`` gives per image the
    ``(channel, row, column)`` to project, by default the image's strongest activation. Every other
    activation of the layer is set to zero and the signal goes down: max pooling is undone with the
    switches recorded in the forward pass, a ReLU rectifies it, a convolution applies its filters
    transposed. ``rule="gradient"`` instead masks at each ReLU where its forward input was negative
    (exactly backpropagation: the result is the gradient of the activation with respect to ``x``),
    ``rule="guided"`` does both (guided backpropagation).
    """
    if rule not in RULES:
        raise ValueError(f"rule must be one of {RULES}, not {rule!r}")
    chain = _chain(features, layer)
    training = features.training
    features.eval()
    saved: list[torch.Tensor | None] = []
    sizes: list[torch.Size] = []
    try:
        signal = x
        for module in chain:
            sizes.append(signal.shape[-2:])
            if isinstance(module, nn.MaxPool2d):
                if module.dilation not in (1, (1, 1)):
                    raise ValueError("DeconvNet's unpooling needs max pooling without dilation")
                signal, switches = F.max_pool2d(signal, module.kernel_size, module.stride, module.padding,
                                                ceil_mode=module.ceil_mode, return_indices=True)
                saved.append(switches)
            else:
                signal = module(signal)
                saved.append((signal > 0).to(signal.dtype) if isinstance(module, nn.ReLU) else None)
    finally:
        features.train(training)
    n, _, height, width = signal.shape
    if units is None:
        flat = signal.reshape(n, -1).argmax(dim=1)
        units = torch.stack([flat // (height * width), flat % (height * width) // width, flat % width], dim=1)
    # a copy of anything else: NumPy views (e.g. a DataFrame's columns) may be read-only
    units = (units.long() if isinstance(units, torch.Tensor)
             else torch.from_numpy(np.array(units, dtype=np.int64))).reshape(n, 3)
    index = torch.arange(n)
    activations = signal[index, units[:, 0], units[:, 1], units[:, 2]]
    kept = torch.zeros_like(signal)
    kept[index, units[:, 0], units[:, 1], units[:, 2]] = activations
    for module, size, mask in zip(reversed(chain), reversed(sizes), reversed(saved)):
        kept = _back(module, kept, size, mask, rule)
    return Projection(kept, units, activations)


def top_activations(features: nn.Module, layer: nn.Module | str, x: torch.Tensor, k: int) -> pd.DataFrame:
    """The ``k`` channels of ``layer`` with the largest activations over the images ``x`` (strongest first):
    per channel, the ``image``, ``channel``, ``row``, ``column`` and ``activation`` of its maximum, i.e. the
    units whose projections Zeiler & Fergus show for a layer."""
    maps = feature_maps(features, {"layer": layer}, x)["layer"]
    n, channels, height, width = maps.shape
    per_channel = maps.transpose(0, 1).reshape(channels, -1)
    values, flat = per_channel.max(dim=1)
    order = values.argsort(descending=True)[:k]
    image, place = flat[order] // (height * width), flat[order] % (height * width)
    return pd.DataFrame({"image": image.numpy(), "channel": order.numpy(), "row": (place // width).numpy(),
                         "column": (place % width).numpy(), "activation": values[order].numpy()})


def signed_pictures(projections: torch.Tensor) -> np.ndarray:
    """Projections ``N×C×H×W`` as images in [0, 1]: zero in mid-grey, each scaled so that its largest
    magnitude reaches black or white."""
    limit = projections.abs().flatten(1).amax(dim=1).clamp(min=1e-12)[:, None, None, None]
    return (0.5 + 0.5 * projections / limit).clamp(0, 1).cpu().numpy()


def support_box(projection: torch.Tensor) -> tuple[int, int, int, int]:
    """``(top, bottom, left, right)`` (end exclusive) of the pixels a ``C×H×W`` projection reaches: the
    receptive field of the projected unit, clipped to the image (the whole image if it reaches nothing)."""
    rows, cols = np.nonzero(projection.abs().sum(dim=0).cpu().numpy())
    if len(rows) == 0:
        return 0, projection.shape[-2], 0, projection.shape[-1]
    return int(rows.min()), int(rows.max()) + 1, int(cols.min()), int(cols.max()) + 1


def show_projections(groups: Mapping[str, tuple[np.ndarray, Projection]], panel: float = 1.1):
    """For each named group two rows, one column per projected unit (titled with its channel): the input
    with the unit's receptive field outlined, and the projection cropped to that field (zero in grey,
    scaled to its largest magnitude), as Zeiler & Fergus show image patches next to their projections."""
    from matplotlib.patches import Rectangle

    columns = max(len(images) for images, _ in groups.values())
    fig, axes = figure(2 * len(groups), columns, panel=(panel, panel))
    for ax in axes.ravel():
        ax.axis("off")
    for g, (name, (images, projection)) in enumerate(groups.items()):
        for n in range(len(images)):
            top, bottom = axes[2 * g, n], axes[2 * g + 1, n]
            for ax in (top, bottom):
                ax.axis("on")
            y0, y1, x0, x1 = support_box(projection.images[n])
            show_image(top, images[n])
            top.add_patch(Rectangle((x0 - 0.5, y0 - 0.5), x1 - x0, y1 - y0, fill=False, edgecolor="white",
                                    linewidth=1.2))
            top.set_title(f"ch {int(projection.units[n, 0])}")
            show_image(bottom, signed_pictures(projection.images[n:n + 1, :, y0:y1, x0:x1])[0])
            bottom.set_xlabel(f"{y1 - y0}×{x1 - x0} px", fontsize=7)
        axes[2 * g, 0].set_ylabel(f"{name}\ninput")
        axes[2 * g + 1, 0].set_ylabel(f"{name}\nprojection")
    return fig


def show_feature_maps(maps: Mapping[str, torch.Tensor], channels: int = 8, panel: float = 0.95):
    """One row per named feature map of one image (``C×h×w``): its ``channels`` channels with the largest
    mean activation, each scaled to its own maximum (titled with the channel and that maximum)."""
    fig, axes = figure(len(maps), channels, panel=(panel, panel))
    for r, (name, stack) in enumerate(maps.items()):
        stack = stack.detach().cpu()
        order = stack.mean(dim=(1, 2)).argsort(descending=True)[:channels]
        for ax in axes[r]:
            ax.axis("off")
        for c, channel in enumerate(order.tolist()):
            ax = axes[r, c]
            ax.axis("on")
            peak = float(stack[channel].max())
            ax.imshow(stack[channel].numpy(), cmap="viridis", vmin=0, vmax=peak or 1.0, interpolation="nearest")
            ax.set_title(f"ch {channel}: {peak:.2g}", fontsize=7)
            ax.set_xticks([])
            ax.set_yticks([])
            ax.grid(False)
        c, h, w = stack.shape
        axes[r, 0].set_ylabel(f"{name}\n{c}×{h}×{w}")
    return fig


def cosine(a: torch.Tensor, b: torch.Tensor) -> np.ndarray:
    """Per image, the cosine similarity of two batches of maps or projections of the same shape (``N×…``)."""
    return F.cosine_similarity(a.flatten(1), b.flatten(1), dim=1).cpu().numpy()


@torch.no_grad()
def transpose_round_trip(conv: nn.Conv2d, x: torch.Tensor) -> float:
    """How far the transposed convolution is from undoing the convolution: the relative error
    ``‖x − s·Wᵀ(W x)‖ / ‖x‖`` with the best scale ``s`` (no bias). Zero only if ``Wᵀ`` acted as an
    inverse."""
    there = F.conv2d(x, conv.weight, None, conv.stride, _padding(conv), conv.dilation, conv.groups)
    back = _back(conv, there, x.shape[-2:], None, "deconvnet")
    scale = float((back * x).sum() / (back * back).sum())
    return float((x - scale * back).norm() / x.norm())


def show_rows(rows: Mapping[str, np.ndarray], titles: Sequence[str] = (), panel: float = 1.0):
    """Rows of images (``N×C×H×W`` each, uint8 or floats in [0, 1]), one labelled row per name, one column per
    image; ``titles`` above the first row."""
    columns = max(len(images) for images in rows.values())
    fig, axes = figure(len(rows), columns, panel=(panel, panel))
    for r, (name, images) in enumerate(rows.items()):
        for n, ax in enumerate(axes[r]):
            show_image(ax, images[n])
        axes[r, 0].set_ylabel(name)
    for ax, title in zip(axes[0], titles):
        ax.set_title(title)
    return fig
