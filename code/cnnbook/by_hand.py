"""Convolution, pooling and their gradients in plain NumPy, computed the way one does by hand.

Every function works on ordinary float arrays *and* on object arrays of SymPy symbols, so the
very code that produces the book's numbers is also the formula that ``cnnbook.derivations.backprop``
verifies symbolically. Convolution means cross-correlation (the kernel is not flipped), as in
PyTorch. Arrays are 2-D (one channel); ``matplotlib`` draws the annotated heatmaps.
"""

from __future__ import annotations

from typing import Mapping

import numpy as np

# S1.P1: the fixed 5×5 input and 3×3 filter of the exercise (stride 1, padding 1).
S1_P1_INPUT = np.array([[100, 150, 200, 50, 30],
                        [80, 120, 180, 255, 90],
                        [40, 70, 110, 230, 200],
                        [30, 60, 100, 150, 120],
                        [20, 50, 80, 100, 90]], dtype=float)
S1_P1_FILTER = np.array([[0.1, -0.2, 0.1],
                         [-0.1, 0.4, 0.1],
                         [0.2, -0.1, 0.1]])


# Titles of the S1.P1 stages in the heatmap figure.
S1_P1_TITLES = {
    "input": "input $X$",
    "conv": "$Z = X \\star W$ (stride 1, padding 1)",
    "relu": "ReLU$(Z)$",
    "residual": "ReLU$(Z) + X$ (skip connection)",
    "block": "ReLU(ReLU$(Z) + X$)",
    "pool": "max pool 2×2, stride 2",
    "gap": "global average pool",
}


# --------------------------------------------------------------------------- forward
def pad(x: np.ndarray, padding: int) -> np.ndarray:
    """Zero padding of ``padding`` rows and columns on every side."""
    return np.pad(x, padding) if padding else x


def correlate2d(x: np.ndarray, kernel: np.ndarray, stride: int = 1, padding: int = 0,
                dilation: int = 1) -> np.ndarray:
    """``y[i, j] = sum_{m,n} kernel[m, n] x_p[s i + d m, s j + d n]`` over the positions where the
    whole (dilated) kernel fits the zero-padded input ``x_p``."""
    xp = pad(x, padding)
    kh, kw = kernel.shape
    eh, ew = dilation * (kh - 1) + 1, dilation * (kw - 1) + 1
    oh, ow = (xp.shape[0] - eh) // stride + 1, (xp.shape[1] - ew) // stride + 1
    if oh < 1 or ow < 1:
        raise ValueError(f"kernel {kernel.shape} with dilation {dilation} does not fit input {xp.shape}")
    out = np.empty((oh, ow), dtype=np.result_type(x, kernel))
    for i in range(oh):
        for j in range(ow):
            window = xp[stride * i: stride * i + eh: dilation, stride * j: stride * j + ew: dilation]
            out[i, j] = np.sum(window * kernel)
    return out


def rot180(kernel: np.ndarray) -> np.ndarray:
    """The kernel rotated by 180° (flipped along both axes)."""
    return kernel[::-1, ::-1]


def dilate(g: np.ndarray, stride: int) -> np.ndarray:
    """Insert ``stride - 1`` zeros between neighbouring entries (undoes the skipping of a stride)."""
    if stride == 1:
        return g
    out = np.zeros(((g.shape[0] - 1) * stride + 1, (g.shape[1] - 1) * stride + 1), dtype=g.dtype)
    out[::stride, ::stride] = g
    return out


def full_convolve2d(g: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Full convolution: every position where ``g`` and the flipped kernel overlap at all,
    i.e. the cross-correlation of ``g`` padded by ``k - 1`` with ``rot180(kernel)``."""
    kh, kw = kernel.shape
    padded = np.pad(g, ((kh - 1, kh - 1), (kw - 1, kw - 1)))
    return correlate2d(padded, rot180(kernel))


def relu(x: np.ndarray) -> np.ndarray:
    """``max(x, 0)`` element-wise."""
    return np.maximum(x, 0)


def max_pool(x: np.ndarray, size: int = 2, stride: int = 2) -> np.ndarray:
    """Max pooling; windows that do not fit are dropped (PyTorch's default, ``ceil_mode=False``)."""
    oh, ow = (x.shape[0] - size) // stride + 1, (x.shape[1] - size) // stride + 1
    return np.array([[x[stride * i: stride * i + size, stride * j: stride * j + size].max() for j in range(ow)]
                     for i in range(oh)])


def avg_pool(x: np.ndarray, size: int = 2, stride: int = 2) -> np.ndarray:
    """Average pooling (windows that do not fit are dropped)."""
    oh, ow = (x.shape[0] - size) // stride + 1, (x.shape[1] - size) // stride + 1
    return np.array([[np.sum(x[stride * i: stride * i + size, stride * j: stride * j + size]) / size ** 2
                      for j in range(ow)] for i in range(oh)])


def global_average(x: np.ndarray) -> float:
    """Global average pooling of one channel: the mean of all entries."""
    return float(np.mean(x))


# --------------------------------------------------------------------------- backward
def conv_weight_grad(x: np.ndarray, g: np.ndarray, kernel_shape: tuple[int, int], stride: int = 1,
                     padding: int = 0) -> np.ndarray:
    """``dL/dW``: the valid cross-correlation of the (padded) input with the upstream gradient
    ``g = dL/dY``, the gradient spread out by the stride (entries ``stride`` apart)."""
    full = correlate2d(pad(x, padding), g, dilation=stride)
    return full[: kernel_shape[0], : kernel_shape[1]]


def conv_input_grad(g: np.ndarray, kernel: np.ndarray, input_shape: tuple[int, int], stride: int = 1,
                    padding: int = 0) -> np.ndarray:
    """``dL/dX``: the full convolution of the stride-dilated upstream gradient with the kernel
    (= cross-correlation with the kernel rotated by 180°), zero where no window reached, with the
    padding cut off."""
    grad = full_convolve2d(dilate(g, stride), kernel)
    height, width = input_shape[0] + 2 * padding, input_shape[1] + 2 * padding
    out = np.zeros((height, width), dtype=grad.dtype)
    out[: grad.shape[0], : grad.shape[1]] = grad
    return out[padding: height - padding, padding: width - padding]


def avg_pool_grad(g: np.ndarray, input_shape: tuple[int, int], size: int = 2, stride: int = 2) -> np.ndarray:
    """Average-pool backward: each input in a window receives the window's gradient over ``size²``."""
    out = np.zeros(input_shape, dtype=g.dtype)
    for i in range(g.shape[0]):
        for j in range(g.shape[1]):
            out[stride * i: stride * i + size, stride * j: stride * j + size] += g[i, j] / size ** 2
    return out


def max_pool_grad(x: np.ndarray, g: np.ndarray, size: int = 2, stride: int = 2) -> np.ndarray:
    """Max-pool backward: a window's gradient goes entirely to its largest input (the first one
    in row-major order on ties, as PyTorch does); the others receive nothing."""
    out = np.zeros(x.shape, dtype=np.result_type(x, g))
    for i in range(g.shape[0]):
        for j in range(g.shape[1]):
            window = x[stride * i: stride * i + size, stride * j: stride * j + size]
            a, b = np.unravel_index(int(np.argmax(window)), window.shape)
            out[stride * i + a, stride * j + b] += g[i, j]
    return out


# --------------------------------------------------------------------------- S1.P1
def residual_pipeline(x: np.ndarray = S1_P1_INPUT, kernel: np.ndarray = S1_P1_FILTER,
                      pool_ceil: bool = False) -> dict[str, np.ndarray]:
    """S1.P1: convolution (stride 1, padding 1), ReLU, skip connection (add the input), ReLU,
    max pool 2×2/2, global average. Returns every intermediate matrix by stage name; with
    ``pool_ceil=True`` the pool also keeps the partial windows at the border (ceil mode)."""
    stages = {"input": x}
    stages["conv"] = correlate2d(x, kernel, padding=1)
    stages["relu"] = relu(stages["conv"])
    stages["residual"] = stages["relu"] + x
    stages["block"] = relu(stages["residual"])
    block = stages["block"]
    if pool_ceil:  # pad with -inf so partial windows take the max of what is there
        extra = (-block.shape[0]) % 2
        block = np.pad(block, ((0, extra), (0, extra)), constant_values=-np.inf)
    stages["pool"] = max_pool(block)
    stages["gap"] = np.array([[global_average(stages["pool"])]])
    return stages


def heatmaps(stages: Mapping[str, np.ndarray], titles: Mapping[str, str] = S1_P1_TITLES, columns: int = 3):
    """One annotated heatmap per matrix (value written in every cell, up to 6 significant digits),
    in a grid of ``columns``."""
    import matplotlib.pyplot as plt

    rows = -(-len(stages) // columns)
    # the tight layout engine is chosen here, not by the global style (which may say "constrained")
    fig, axes = plt.subplots(rows, columns, figsize=(3.1 * columns, 2.9 * rows), squeeze=False, dpi=150,
                             layout="tight")
    for ax, (name, matrix) in zip(axes.flat, stages.items()):
        matrix = np.asarray(matrix, dtype=float)
        image = ax.imshow(matrix, cmap="viridis")
        low, high = np.nanmin(matrix), np.nanmax(matrix)
        for (i, j), value in np.ndenumerate(matrix):
            bright = high > low and (value - low) / (high - low) > 0.6
            ax.text(j, i, f"{value:g}", ha="center", va="center", fontsize=8,
                    color="black" if bright else "white")
        ax.set_title(titles.get(name, name), fontsize=10)
        ax.set_xticks(range(matrix.shape[1]))
        ax.set_yticks(range(matrix.shape[0]))
        ax.set_xlabel("column $j$", fontsize=8)
        ax.set_ylabel("row $i$", fontsize=8)
        ax.tick_params(labelsize=7)
        fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04).ax.tick_params(labelsize=7)
    for ax in list(axes.flat)[len(stages):]:
        ax.axis("off")
    return fig
