"""Grad-CAM in SymPy (S1.T4): the channel weights, Grad-CAM = CAM / (HW) for global-average-pooling
networks, and why the ReLU keeps the locations that raise the class score.

Feature maps ``A^k`` (``k = 1..K``, ``H×W``) of the last convolutional layer feed a head whose
class score (logit, before the softmax) is ``y_c``. Grad-CAM weighs channel ``k`` by
``α_k^c = (1/HW) Σ_ij ∂y_c/∂A^k_ij`` and forms ``L^c = ReLU(Σ_k α_k^c A^k)``. For the head
"global average pooling, then a linear layer" the gradient is the constant ``w_k^c / HW``, so
``L^c = ReLU(M^c) / HW`` with ``M^c = Σ_k w_k^c A^k`` the class activation map (CAM), and the
raw map splits the score over locations: ``y_c - b_c = Σ_ij Σ_k α_k^c A^k_ij``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import sympy as sp
import torch
from torch import nn

from cnnbook.derivations import Derivation

H, W, K = sp.symbols("H W K", integer=True, positive=True)
i, j, k, l, p, q, u, v = sp.symbols("i j k l p q u v", integer=True, positive=True)
A = sp.IndexedBase("A", real=True)  # A[k, i, j]: channel k at row i, column j
w = sp.IndexedBase("w", real=True)  # w[k]: the linear layer's weight of channel k for class c
b = sp.Symbol("b_c", real=True)
CHECK = {H: 2, W: 3, K: 2}  # the identities are verified at these sizes, with symbolic entries


class ReLU(sp.Function):
    """``max(x, 0)``; ``doit`` writes it as ``(x + |x|)/2`` so that SymPy can simplify with it."""

    def doit(self, deep: bool = True, **hints) -> sp.Expr:
        arg = self.args[0].doit(deep=deep, **hints) if deep else self.args[0]
        return (arg + sp.Abs(arg)) / 2

    def _latex(self, printer) -> str:
        return r"\operatorname{ReLU}\left(%s\right)" % printer._print(self.args[0])


def gap_linear_score(sizes: dict | None = None) -> sp.Expr:
    """``y_c`` of a head made of global average pooling and a linear layer (at ``sizes`` if given)."""
    score = sp.Sum(w[l] * sp.Sum(A[l, u, v], (u, 1, H), (v, 1, W)) / (H * W), (l, 1, K)) + b
    return score.subs(sizes) if sizes else score


class Score(sp.Symbol):
    """``y_c`` shown as a symbol; ``doit`` writes out the pooling-and-linear score at the check sizes."""

    def doit(self, **hints) -> sp.Expr:
        return gap_linear_score(CHECK).doit(**hints)


Y = Score("y_c", real=True)


class Partial(sp.Derivative):
    """A derivative written with ∂ (SymPy writes d when the expression shows one symbol)."""

    def _latex(self, printer) -> str:
        return r"\frac{\partial %s}{\partial %s}" % (printer._print(self.expr), printer._print(self.variables[0]))


def channel_weight(channel: sp.Expr, sizes: dict = CHECK) -> sp.Expr:
    """Grad-CAM's weight of ``channel``: the spatial average of ``∂y_c/∂A^channel`` (at ``sizes``)."""
    height, width = sizes[H], sizes[W]
    return sp.Sum(Partial(Y, A[channel, p, q]), (p, 1, height), (q, 1, width)) / (height * width)


class Alpha(sp.Function):
    """``α^c_k`` shown as a symbol; ``doit`` writes out its definition at the check sizes."""

    def doit(self, deep: bool = True, **hints) -> sp.Expr:
        return channel_weight(self.args[0]).doit(deep=deep, **hints)

    def _latex(self, printer) -> str:
        return r"\alpha^c_{%s}" % printer._print(self.args[0])


class Raw(sp.Function):
    """The raw map at ``(i, j)``, ``Σ_k α^c_k A^k_ij``, shown as ``L̃^c_ij``; ``doit`` writes it out."""

    def doit(self, deep: bool = True, **hints) -> sp.Expr:
        row, column = self.args
        return sp.Sum(Alpha(k) * A[k, row, column], (k, 1, CHECK[K])).doit(deep=deep, **hints)

    def _latex(self, printer) -> str:
        return r"\tilde{L}^c_{%s %s}" % tuple(printer._print(a) for a in self.args)


def grad_cam() -> Derivation:
    """The channel weights and Grad-CAM for a global-average-pooling network, against CAM.

    The steps are general; the identities are checked at ``CHECK`` sizes with symbolic feature
    values ``A[k, i, j]``, weights ``w[k]`` and bias ``b_c``."""
    n_h, n_w, n_k = CHECK[H], CHECK[W], CHECK[K]
    raw = Raw(i, j)  # Σ_k α_k A^k_ij

    def over_map(expr: sp.Expr) -> sp.Sum:
        return sp.Sum(expr, (i, 1, n_h), (j, 1, n_w))

    identities = {f"alpha_{c}": (channel_weight(c), w[c] / (n_h * n_w)) for c in range(1, n_k + 1)}
    identities["grad_cam_is_cam"] = (ReLU(sp.Sum(Alpha(k) * A[k, 1, 2], (k, 1, n_k))),
                                     ReLU(sp.Sum(w[k] * A[k, 1, 2], (k, 1, n_k))) / (n_h * n_w))
    identities["score_decomposition"] = (over_map(raw), Y - b)
    identities["positive_minus_negative"] = (Y - b, over_map(ReLU(raw)) - over_map(ReLU(-raw)))

    z = H * W
    alpha, y_c, m_c = sp.Symbol(r"\alpha^c_k"), sp.Symbol("y_c"), sp.Symbol("M^c_{ij}")
    grad = sp.Symbol(r"\frac{\partial y_c}{\partial A^k_{ij}}")
    w_k, a_k, a_kij = sp.Symbol("w^c_k"), sp.Symbol("A^k"), sp.Symbol("A^k_{ij}")
    return Derivation(
        steps={
            "alpha": sp.Eq(alpha, sp.Sum(grad, (i, 1, H), (j, 1, W)) / z),
            "map": sp.Eq(sp.Symbol(r"L^c_{\mathrm{Grad\text{-}CAM}}"), ReLU(sp.Sum(alpha * a_k, (k, 1, K)))),
            "gap_score": sp.Eq(y_c, sp.Sum(w_k / z * sp.Sum(a_kij, (i, 1, H), (j, 1, W)), (k, 1, K)) + b),
            "gap_gradient": sp.Eq(grad, w_k / z),
            "gap_alpha": sp.Eq(alpha, w_k / z),
            "gap_map": sp.Eq(sp.Symbol(r"L^c_{ij}"), ReLU(sp.Sum(w_k * a_kij, (k, 1, K))) / z),
            "cam": sp.Eq(m_c, sp.Sum(w_k * a_kij, (k, 1, K))),
            "decomposition": sp.Eq(y_c - b, sp.Sum(m_c / z, (i, 1, H), (j, 1, W))),
            "split": sp.Eq(y_c - b, sp.Sum(ReLU(m_c / z), (i, 1, H), (j, 1, W))
                           - sp.Sum(ReLU(-m_c / z), (i, 1, H), (j, 1, W))),
        },
        identities=identities,
    )


# --- numeric examples (PyTorch) ---------------------------------------------------------------------

class GapLinear(nn.Module):
    """Global average pooling and one linear layer: the head for which Grad-CAM equals CAM / HW."""

    def __init__(self, weights: torch.Tensor, bias: torch.Tensor):
        super().__init__()
        self.features = nn.Identity()  # the feature maps A enter here (a hook point)
        self.linear = nn.Linear(weights.shape[1], weights.shape[0])
        with torch.no_grad():
            self.linear.weight.copy_(weights)
            self.linear.bias.copy_(bias)

    def forward(self, a: torch.Tensor) -> torch.Tensor:
        return self.linear(self.features(a).mean(dim=(2, 3)))


RELU_EXAMPLE_FEATURES = torch.tensor([  # two channels of a 2×3 map: "edge" and "blob" detectors
    [[2.0, 0.0, 1.0], [0.0, 3.0, 0.0]],
    [[0.0, 4.0, 0.0], [1.0, 0.0, 2.0]],
])
RELU_EXAMPLE_WEIGHTS = torch.tensor([[1.0, -0.5], [-1.0, 1.0]])  # classes c = 0 and c = 1
RELU_EXAMPLE_BIAS = torch.tensor([0.1, -0.2])


def relu_example(cls: int = 0) -> tuple[pd.DataFrame, dict[str, float]]:
    """A numeric example of the score decomposition, checked by removing features location by location.

    Returns one row per location (raw map, its positive and negative part, and the change of
    ``y_c`` measured by zeroing all channels at that location) and the totals: the score minus the
    bias equals the positive minus the negative mass, and each removal changes ``y_c`` by minus
    the raw value, so removing a positive location lowers the score and a negative one raises it.
    """
    from cnnbook.interpretation import grad_cam as grad_cam_map

    model = GapLinear(RELU_EXAMPLE_WEIGHTS, RELU_EXAMPLE_BIAS).eval()
    features = RELU_EXAMPLE_FEATURES[None]
    result = grad_cam_map(model, model.features, features, cls)
    raw = result.maps[0]
    score = float(result.scores[0])
    rows = []
    for (r, c), value in np.ndenumerate(raw.numpy()):
        occluded = features.clone()
        occluded[0, :, r, c] = 0
        with torch.no_grad():
            changed = float(model(occluded)[0, cls])
        rows.append({"location": f"({r + 1}, {c + 1})", "raw": float(value), "positive": max(float(value), 0.0),
                     "negative": max(-float(value), 0.0), "delta_score": changed - score})
    frame = pd.DataFrame(rows)
    totals = {"score": score, "bias": float(RELU_EXAMPLE_BIAS[cls]), "positive": frame.positive.sum(),
              "negative": frame.negative.sum(), "max_removal_error": float((frame.delta_score + frame.raw).abs().max())}
    return frame, totals


def cam_oracle(seed: int = 0, channels: int = 8, height: int = 5, width: int = 7, classes: int = 4) -> dict[str, float]:
    """Numeric oracle: on random features and a random GAP + linear head, the autograd Grad-CAM
    equals CAM / HW and the raw map sums to ``y_c - b_c`` (largest absolute deviations)."""
    from cnnbook.interpretation import class_activation_map, grad_cam as grad_cam_map

    generator = torch.Generator().manual_seed(seed)
    features = torch.randn(3, channels, height, width, generator=generator)
    model = GapLinear(torch.randn(classes, channels, generator=generator),
                      torch.randn(classes, generator=generator)).eval()
    targets = torch.arange(3) % classes
    gradcam = grad_cam_map(model, model.features, features, targets)
    cam = class_activation_map(model, model.features, model.linear, features, targets)
    bias = model.linear.bias.detach()[targets]
    return {
        "grad_cam_vs_cam": float((gradcam.maps - cam.maps / (height * width)).abs().max()),
        "alpha_vs_w": float((gradcam.weights - cam.weights / (height * width)).abs().max()),
        "decomposition": float((gradcam.maps.sum(dim=(1, 2)) - (gradcam.scores - bias)).abs().max()),
    }
