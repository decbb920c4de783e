"""One figure style for the whole book: sizes, fonts, colours and colour maps in one place.

Every figure of a page comes from ``figure()`` (or a function built on it), so learning curves,
confusion matrices, ROC curves and heat maps look alike in every chapter and stay readable at
page width. Axis labels are English or mathematical, as the book's figures are shared by both
editions; captions are written in each language on the page.
"""

from __future__ import annotations

from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np

STYLE = {
    "figure.dpi": 110,
    "savefig.dpi": 110,
    "font.size": 9,
    "axes.titlesize": 9,
    "axes.labelsize": 9,
    "legend.fontsize": 8,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "lines.linewidth": 1.6,
    "figure.constrained_layout.use": True,
}
COLOURS = {"train": "#1f77b4", "validation": "#d62728", "test": "#2ca02c", "reference": "#7f7f7f"}
HEAT_MAP = "turbo"  # non-negative maps (Grad-CAM overlays)
SIGNED_MAP = "RdBu_r"  # signed maps, zero in white (raw Grad-CAM before the ReLU)
PANEL = (2.9, 2.4)  # inches per panel (width, height)
PAGE_WIDTH = 9.0  # inches: wider figures are scaled down to this


def use_style() -> None:
    """Apply the book's style to matplotlib (idempotent)."""
    plt.rcParams.update(STYLE)


def figure(nrows: int = 1, ncols: int = 1, panel: tuple[float, float] = PANEL, **kwargs) -> tuple[plt.Figure, np.ndarray]:
    """A styled figure with an ``nrows×ncols`` array of axes, at most ``PAGE_WIDTH`` wide."""
    use_style()
    width, height = panel[0] * ncols, panel[1] * nrows
    scale = min(1.0, PAGE_WIDTH / width)
    fig, axes = plt.subplots(nrows, ncols, figsize=(width * scale, height * scale), squeeze=False, **kwargs)
    return fig, axes


def show_image(ax: plt.Axes, image: np.ndarray) -> None:
    """Draw a ``C×H×W`` image (floats in [0, 1] or uint8; one channel in grey) without axes."""
    picture = np.asarray(image)
    picture = picture[0] if picture.shape[0] == 1 else picture.transpose(1, 2, 0)
    if picture.dtype == np.uint8:
        picture = picture / 255.0
    ax.imshow(picture, cmap="gray" if picture.ndim == 2 else None, vmin=0, vmax=1, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.grid(False)


def image_grid(images: np.ndarray, titles: Sequence[str], ncols: int = 10, panel: float = 1.2) -> plt.Figure:
    """Images ``N×C×H×W`` in a grid with one title each."""
    nrows = -(-len(images) // ncols)
    fig, axes = figure(nrows, ncols, panel=(panel, panel * 1.25))
    for ax in axes.ravel():
        ax.axis("off")
    for ax, image, title in zip(axes.ravel(), images, titles):
        ax.axis("on")
        show_image(ax, image)
        ax.set_title(title)
    return fig
