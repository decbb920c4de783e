"""Backpropagation through convolution and pooling, with numbers: the exercises of Chapter 4 and
the PyTorch autograd oracle for the NumPy formulas of ``cnnbook.by_hand``.

All oracles run in float64; "agrees" means a largest absolute difference below ``TOLERANCE``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import sympy
import torch
import torch.nn.functional as F

from cnnbook import by_hand

TOLERANCE = 1e-12

# S1.T2: a 3×3 filter, valid padding, stride 1, on a 4×4 input, and the upstream gradient.
S1_T2_INPUT = np.array([[1, 2, 1, 0], [2, 1, 0, 1], [1, 0, 2, 1], [0, 1, 2, 1]], dtype=float)
S1_T2_FILTER = np.array([[1, -1, 0], [0, 1, -1], [-1, 0, 1]], dtype=float)
S1_T2_UPSTREAM = np.array([[1, -1], [-1, 1]], dtype=float)

# S3.Q2: what can still be read in the garbled source answer (a 3×3 input, a 2×2 filter, the
# mean of the 2×2 output, dL/df = 1; the extraction turned every "4" of the fractions into "ε").
# Its input-gradient entries are sums of filter weights over 4, which fixes the filter; their
# position labels are garbled, so each value is placed at the position whose weights it sums
# (one line repeats the (1, 1) entry). Its filter-gradient numerators are the sums of the input
# windows. The input itself is not legible.
S3_Q2_FILTER = np.array([[2, 0], [-3, 1]], dtype=float)
S3_Q2_SOURCE_WINDOW_SUMS = np.array([[10, 4], [4, -4]], dtype=float)
S3_Q2_SOURCE_INPUT_GRAD = {(1, 1): 0.5, (1, 2): 0.5, (1, 3): 0.0, (2, 1): -0.25, (2, 2): 0.0,
                           (2, 3): 0.25, (3, 1): -0.75, (3, 2): -0.5, (3, 3): 0.25}
# The input this book chooses: consistent with those window sums (which do not determine it).
S3_Q2_INPUT = np.array([[4, 2, 2], [2, 2, -2], [1, -1, -3]], dtype=float)


# --------------------------------------------------------------------------- the oracle
def torch_conv_grads(x: np.ndarray, kernel: np.ndarray, g: np.ndarray, stride: int = 1,
                     padding: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``(dL/dW, dL/dX)`` from ``torch.autograd`` for ``L = sum(g * conv2d(x, kernel))``."""
    xt = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    kt = torch.tensor(kernel, dtype=torch.float64, requires_grad=True)
    y = F.conv2d(xt[None, None], kt[None, None], stride=stride, padding=padding)[0, 0]
    (y * torch.tensor(g, dtype=torch.float64)).sum().backward()
    return kt.grad.numpy(), xt.grad.numpy()


def torch_pool_grad(x: np.ndarray, g: np.ndarray, kind: str, size: int = 2, stride: int = 2) -> np.ndarray:
    """``dL/dX`` from ``torch.autograd`` for ``L = sum(g * pool(x))``, ``kind`` 'max' or 'avg'."""
    xt = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    pool = F.max_pool2d if kind == "max" else F.avg_pool2d
    (pool(xt[None, None], size, stride)[0, 0] * torch.tensor(g, dtype=torch.float64)).sum().backward()
    return xt.grad.numpy()


def autograd_agreement(cases: int = 50, seed: int = 0) -> pd.DataFrame:
    """The NumPy backward formulas against autograd on random float64 tensors: per operation
    (convolution with random size, kernel, stride and padding; max and average pooling), the
    number of cases and the largest absolute difference. Columns ``key, cases, max_error``."""
    rng = np.random.default_rng(seed)
    errors: dict[str, list[float]] = {"bp_conv_weight": [], "bp_conv_input": [], "bp_max_pool": [], "bp_avg_pool": []}
    for _ in range(cases):
        kh, kw = rng.integers(1, 5, size=2)
        stride, padding = int(rng.integers(1, 4)), int(rng.integers(0, 3))
        h, w = rng.integers(max(kh, kw) + 1, 12, size=2)
        x, kernel = rng.normal(size=(h, w)), rng.normal(size=(kh, kw))
        g = rng.normal(size=by_hand.correlate2d(x, kernel, stride, padding).shape)
        dw, dx = torch_conv_grads(x, kernel, g, stride, padding)
        errors["bp_conv_weight"].append(np.abs(by_hand.conv_weight_grad(x, g, (kh, kw), stride, padding) - dw).max())
        errors["bp_conv_input"].append(np.abs(by_hand.conv_input_grad(g, kernel, (h, w), stride, padding) - dx).max())
        size = int(rng.integers(2, 4))
        pool_stride = int(rng.integers(1, size + 1))
        gp = rng.normal(size=by_hand.max_pool(x, size, pool_stride).shape)
        errors["bp_max_pool"].append(np.abs(by_hand.max_pool_grad(x, gp, size, pool_stride)
                                            - torch_pool_grad(x, gp, "max", size, pool_stride)).max())
        errors["bp_avg_pool"].append(np.abs(by_hand.avg_pool_grad(gp, (h, w), size, pool_stride)
                                            - torch_pool_grad(x, gp, "avg", size, pool_stride)).max())
    return pd.DataFrame([{"key": key, "cases": len(values), "max_error": float(max(values)),
                          "agree": bool(max(values) < TOLERANCE)} for key, values in errors.items()])


# --------------------------------------------------------------------------- S1.T2 and S3.Q2
# How the matrices of S1.T2 and S3.Q2 are written in the text.
SYMBOLS = {"X": "X", "W": "W", "G": r"G = \frac{\partial L}{\partial Y}", "Y": "Y",
           "Y_conv": r"Y = X \ast W", "dW_conv": r"\frac{\partial L}{\partial W}\Big|_{X \ast W}",
           "dX_conv": r"\frac{\partial L}{\partial X}\Big|_{X \ast W}",
           "dW": r"\frac{\partial L}{\partial W}", "dX": r"\frac{\partial L}{\partial X}", "F": "F",
           "O": "O", "f": "f", "dO": r"\frac{\partial L}{\partial O}", "dF": r"\frac{\partial L}{\partial F}"}


def exact(matrix: np.ndarray) -> sympy.Matrix:
    """A float array with rational entries as an exact SymPy matrix (for display)."""
    return sympy.Matrix(np.atleast_2d(matrix)).applyfunc(lambda v: sympy.nsimplify(v, rational=True))


def s1_t2() -> dict[str, np.ndarray]:
    """S1.T2: the input ``X``, filter ``W`` and upstream gradient ``G``; the forward output ``Y``,
    ``dL/dW`` (a) and ``dL/dX`` (b)."""
    return {
        "X": S1_T2_INPUT, "W": S1_T2_FILTER, "G": S1_T2_UPSTREAM,
        "Y": by_hand.correlate2d(S1_T2_INPUT, S1_T2_FILTER),
        "dW": by_hand.conv_weight_grad(S1_T2_INPUT, S1_T2_UPSTREAM, S1_T2_FILTER.shape),
        "dX": by_hand.conv_input_grad(S1_T2_UPSTREAM, S1_T2_FILTER, S1_T2_INPUT.shape),
    }


def s1_t2_autograd_error() -> float:
    """Largest difference between ``s1_t2``'s gradients and autograd's."""
    result = s1_t2()
    dw, dx = torch_conv_grads(S1_T2_INPUT, S1_T2_FILTER, S1_T2_UPSTREAM)
    return float(max(np.abs(result["dW"] - dw).max(), np.abs(result["dX"] - dx).max()))


def s1_t2_true_convolution() -> dict[str, np.ndarray]:
    """S1.T2 read as a true convolution, ``Y = X * W`` with the kernel flipped: the layer
    cross-correlates with ``rot180(W)``, so ``dL/dW = rot180(X ⋆ G)`` and ``dL/dX`` is the full
    convolution of ``G`` with ``rot180(W)``. Returns ``Y``, ``dW`` and ``dX`` (keys suffixed ``_conv``)."""
    flipped = by_hand.rot180(S1_T2_FILTER)
    return {
        "Y_conv": by_hand.correlate2d(S1_T2_INPUT, flipped),
        "dW_conv": by_hand.rot180(by_hand.conv_weight_grad(S1_T2_INPUT, S1_T2_UPSTREAM, flipped.shape)),
        "dX_conv": by_hand.conv_input_grad(S1_T2_UPSTREAM, flipped, S1_T2_INPUT.shape),
    }


def s1_t2_true_convolution_autograd_error() -> float:
    """Largest difference between ``s1_t2_true_convolution`` and autograd on a layer that flips
    the kernel before PyTorch's cross-correlation (the gradient flows back through the flip)."""
    result = s1_t2_true_convolution()
    xt = torch.tensor(S1_T2_INPUT, dtype=torch.float64, requires_grad=True)
    wt = torch.tensor(S1_T2_FILTER, dtype=torch.float64, requires_grad=True)
    y = F.conv2d(xt[None, None], torch.flip(wt, dims=(0, 1))[None, None])[0, 0]
    (y * torch.tensor(S1_T2_UPSTREAM, dtype=torch.float64)).sum().backward()
    return float(max(np.abs(result["Y_conv"] - y.detach().numpy()).max(),
                     np.abs(result["dW_conv"] - wt.grad.numpy()).max(),
                     np.abs(result["dX_conv"] - xt.grad.numpy()).max()))


def s3_q2(x: np.ndarray = S3_Q2_INPUT, kernel: np.ndarray = S3_Q2_FILTER) -> dict[str, np.ndarray]:
    """S3.Q2 rebuilt: valid 2×2 convolution of a 3×3 input, then the average of the four
    outputs ``f``, with ``dL/df = 1``. Returns ``X``, ``F``, ``O``, ``f``, ``dO``, ``dF``, ``dX``."""
    out = by_hand.correlate2d(x, kernel)
    upstream = np.full(out.shape, 1.0 / out.size)  # d mean / d O_ij
    return {"X": x, "F": kernel, "O": out, "f": np.array([[out.mean()]]), "dO": upstream,
            "dF": by_hand.conv_weight_grad(x, upstream, kernel.shape),
            "dX": by_hand.conv_input_grad(upstream, kernel, x.shape)}


def windows_covering(input_shape: tuple[int, int], kernel_shape: tuple[int, int]) -> np.ndarray:
    """How many positions of a valid, stride-1 window cover each input pixel."""
    return by_hand.conv_input_grad(np.ones((input_shape[0] - kernel_shape[0] + 1, input_shape[1] - kernel_shape[1] + 1)),
                                   np.ones(kernel_shape), input_shape)


def filter_from_input_gradient(input_grad: dict[tuple[int, int], float], input_shape: tuple[int, int],
                               kernel_shape: tuple[int, int], upstream: float) -> np.ndarray:
    """The filter that a legible input gradient fixes: a pixel covered by one window only
    receives ``upstream × F[m, n]`` for a single weight, so those pixels (the corners, for a
    2×2 filter) give the filter; ``input_grad`` is keyed by 1-based (row, column)."""
    kernel = np.full(kernel_shape, np.nan)
    covering = windows_covering(input_shape, kernel_shape)
    for (i, j), value in input_grad.items():
        a, b = i - 1, j - 1
        if covering[a, b] == 1:
            m = a if a < kernel_shape[0] else a - (input_shape[0] - kernel_shape[0])
            n = b if b < kernel_shape[1] else b - (input_shape[1] - kernel_shape[1])
            kernel[m, n] = value / upstream
    return kernel


def s3_q2_source_check(source_input_grad: dict[tuple[int, int], float] = S3_Q2_SOURCE_INPUT_GRAD) -> dict[str, int]:
    """How many of the legible numbers of the source answer the rebuilt S3.Q2 reproduces, and
    which of them could have failed. The input was chosen to give the source's window sums, and
    the filter gradient is those sums over 4, so both match by construction; the filter was read
    from the input-gradient entries of pixels that one window covers (``input_fixing``), so those
    match by construction too; the other input-gradient entries (``input_independent``, each a
    sum of several weights over 4) are the checks that could fail."""
    result = s3_q2()
    windows = by_hand.correlate2d(S3_Q2_INPUT, np.ones_like(S3_Q2_FILTER))
    covering = windows_covering(S3_Q2_INPUT.shape, S3_Q2_FILTER.shape)
    matched = {(i, j): bool(np.isclose(result["dX"][i - 1, j - 1], value))
               for (i, j), value in source_input_grad.items()}
    independent = [(i, j) for (i, j) in matched if covering[i - 1, j - 1] > 1]
    return {"windows_matched": int(np.sum(windows == S3_Q2_SOURCE_WINDOW_SUMS)), "windows": windows.size,
            "filter_matched": int(np.sum(np.isclose(result["dF"], S3_Q2_SOURCE_WINDOW_SUMS / 4))),
            "input_matched": sum(matched.values()), "input_legible": len(source_input_grad),
            "input_fixing": len(matched) - len(independent),
            "input_independent": len(independent),
            "input_independent_matched": sum(matched[key] for key in independent)}


def s1_p1_torch_error(stages: dict[str, np.ndarray]) -> float:
    """S1.P1 recomputed with PyTorch layers (conv2d, relu, max_pool2d, mean): the largest
    difference from the NumPy stages of ``by_hand.residual_pipeline``."""
    x = torch.tensor(stages["input"], dtype=torch.float64)[None, None]
    w = torch.tensor(by_hand.S1_P1_FILTER, dtype=torch.float64)[None, None]
    conv = F.conv2d(x, w, padding=1)
    block = torch.relu(torch.relu(conv) + x)
    pooled = F.max_pool2d(block, 2)
    reference = {"conv": conv, "block": block, "pool": pooled, "gap": pooled.mean().reshape(1, 1)}
    return float(max(np.abs(stages[name] - value.numpy().reshape(stages[name].shape)).max()
                     for name, value in reference.items()))


# --------------------------------------------------------------------------- S2.Q3 numerically
@dataclass
class OneDNetwork:
    """Parameters of the S2.Q3 network (conv ``w`` of width 2 and ``b_c``, FC1 ``wa`` and ``bm``,
    output ``wf`` and ``bf``), as float64 arrays."""

    w: np.ndarray
    b_c: float
    wa: np.ndarray
    bm: np.ndarray
    wf: np.ndarray
    bf: float

    @classmethod
    def random(cls, length: int = 785, hidden: int = 20, seed: int = 0) -> "OneDNetwork":
        """Random parameters of the sizes of S2.Q3 (``length`` inputs, ``hidden`` FC1 units)."""
        rng = np.random.default_rng(seed)
        pooled = (length + 1) // 2
        return cls(rng.normal(size=2), float(rng.normal()), rng.normal(size=(hidden, pooled)) / np.sqrt(pooled),
                   rng.normal(size=hidden) * 0.1, rng.normal(size=hidden) / np.sqrt(hidden), float(rng.normal()))

    def forward(self, x: np.ndarray) -> dict[str, np.ndarray]:
        """Every intermediate value of one forward pass on ``x``."""
        padded = np.concatenate([[0.0], x, [0.0]])
        q = self.w[0] * padded[:-1] + self.w[1] * padded[1:] + self.b_c
        c = np.maximum(q, 0)
        pooled = len(c) // 2
        a = (c[0: 2 * pooled: 2] + c[1: 2 * pooled: 2]) / 2
        p = self.wa @ a + self.bm
        f = np.maximum(p, 0)
        z = 1 / (1 + np.exp(-(self.wf @ f + self.bf)))
        return {"padded": padded, "q": q, "c": c, "a": a, "p": p, "f": f, "z": z}

    def gradients(self, x: np.ndarray, y: float) -> dict[str, np.ndarray]:
        """The closed forms of ``derivations.backprop.one_d_network`` at full size:
        ``dCost/dW^A`` (hidden × pooled) and ``dCost/dW^C_1``."""
        v = self.forward(x)
        delta = v["z"] - y
        to_hidden = delta * self.wf * (v["p"] > 0)            # dCost/dp_k
        d_wa = np.outer(to_hidden, v["a"])                   # dCost/dW^A_kj
        to_pooled = self.wa.T @ to_hidden                    # dCost/da_j
        to_conv = np.zeros_like(v["c"])
        to_conv[: 2 * len(to_pooled)] = np.repeat(to_pooled, 2) / 2   # dCost/dc_i
        d_w1 = float(np.sum(to_conv * (v["q"] > 0) * v["padded"][:-1]))
        return {"dWA": d_wa, "dW1": d_w1}

    def autograd(self, x: np.ndarray, y: float) -> dict[str, np.ndarray]:
        """The same gradients from ``torch.autograd`` (binary cross-entropy on the sigmoid output)."""
        t = {name: torch.tensor(np.asarray(value, dtype=np.float64), requires_grad=True)
             for name, value in vars(self).items()}
        xt = torch.tensor(x, dtype=torch.float64)[None, None]
        c = torch.relu(F.conv1d(xt, t["w"][None, None], t["b_c"][None], padding=1))
        a = F.avg_pool1d(c, 2)[0, 0]
        f = torch.relu(t["wa"] @ a + t["bm"])
        z = torch.sigmoid(t["wf"] @ f + t["bf"])
        F.binary_cross_entropy(z, torch.tensor(float(y), dtype=torch.float64)).backward()
        return {"dWA": t["wa"].grad.numpy(), "dW1": float(t["w"].grad[0])}


def s2_q3_check(seed: int = 0) -> dict[str, float]:
    """S2.Q3 at full size (785 inputs, 20 hidden units, one random sample with label 1): the
    largest difference between the closed forms and autograd, and the output ``z``."""
    rng = np.random.default_rng(seed + 1)
    net = OneDNetwork.random(seed=seed)
    x, y = rng.normal(size=785), 1.0
    closed, auto = net.gradients(x, y), net.autograd(x, y)
    return {"z": float(net.forward(x)["z"]), "dW1": closed["dW1"],
            "error_dW1": abs(closed["dW1"] - auto["dW1"]),
            "error_dWA": float(np.abs(closed["dWA"] - auto["dWA"]).max()),
            "active_hidden": int((net.forward(x)["p"] > 0).sum())}
