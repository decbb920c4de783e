"""Chapter 8 in SymPy: what 1×1 convolutions, depthwise separable convolutions, the width and
resolution multipliers and compound scaling cost (S3.Q6, S1.P2, S0.Q5).

Costs are MACs of one layer on a ``D_F × D_F`` output map ('same' padding, stride 1), as in the
MobileNet paper: ``D_K`` kernel side, ``M`` input and ``N`` output channels.
"""

from __future__ import annotations

import sympy as sp

from cnnbook.derivations import Derivation

D_K, D_F, M, N, r = sp.symbols("D_K D_F M N r", positive=True)
alpha, rho, phi = sp.symbols(r"\alpha \rho \phi", positive=True)
a, b, g = sp.symbols(r"\alpha_d \beta_w \gamma_r", positive=True)  # EfficientNet's depth, width, resolution bases


def standard_cost(k=D_K, m=M, n=N, f=D_F) -> sp.Expr:
    """MACs of a standard ``k×k`` convolution: every output (``f² n``) sums ``k² m`` products."""
    return k ** 2 * m * n * f ** 2


def separable_cost(k=D_K, m=M, n=N, f=D_F) -> sp.Expr:
    """MACs of a depthwise (``k² m f²``) plus a pointwise (``m n f²``) convolution."""
    return k ** 2 * m * f ** 2 + m * n * f ** 2


def separable_ratio() -> Derivation:
    """Depthwise separable over standard cost: ``1/N + 1/D_K²`` (MobileNet, eq. 5)."""
    ratio = sp.simplify(separable_cost() / standard_cost())
    return Derivation(
        steps={"standard": sp.Eq(sp.Symbol("C_{std}"), standard_cost()),
               "separable": sp.Eq(sp.Symbol("C_{sep}"), separable_cost()),
               "ratio": sp.Eq(sp.Symbol("C_{sep}") / sp.Symbol("C_{std}"), sp.apart(ratio, N))},
        identities={"ratio": (separable_cost() / standard_cost(), 1 / N + 1 / D_K ** 2)},
    )


def multipliers() -> Derivation:
    """A separable layer thinned by ``α`` (``αM`` and ``αN`` channels) on a map ``ρ`` times smaller
    per side: the pointwise term scales by ``α² ρ²``, the depthwise term by ``α ρ²`` only."""
    thinned = separable_cost(D_K, alpha * M, alpha * N, rho * D_F)
    depthwise, pointwise = D_K ** 2 * M * D_F ** 2, M * N * D_F ** 2
    return Derivation(
        steps={"thinned": sp.Eq(sp.Symbol(r"C_{sep}(\alpha, \rho)"), sp.factor(thinned))},
        identities={"split": (thinned, alpha * rho ** 2 * depthwise + alpha ** 2 * rho ** 2 * pointwise),
                    "resolution_law": (separable_cost(D_K, M, N, rho * D_F), rho ** 2 * separable_cost()),
                    "law_when_pointwise_dominates": (sp.limit(thinned / separable_cost(), N, sp.oo), alpha ** 2 * rho ** 2)},
        statements={"split": r"C_{sep}(\alpha, \rho) = \alpha\rho^2 D_K^2 M D_F^2 + \alpha^2\rho^2 M N D_F^2",
                    "resolution_law": r"C_{sep}(1, \rho) = \rho^2\, C_{sep}(1, 1)",
                    "law_when_pointwise_dominates": r"\lim_{N\to\infty} C_{sep}(\alpha, \rho) / C_{sep}(1, 1) = \alpha^2\rho^2"},
    )


def reduction_break_even() -> Derivation:
    """A 1×1 reduction to ``r`` channels before a ``k×k`` convolution (``M → r → N``) costs
    ``(M r + k² r N) D_F²`` against ``k² M N D_F²`` without it; it saves iff ``r < r*``."""
    reduced = (M * r + D_K ** 2 * r * N) * D_F ** 2
    (r_star,) = sp.solve(sp.Eq(reduced, standard_cost()), r)
    return Derivation(
        steps={"reduced": sp.Eq(sp.Symbol("C_{red}"), reduced), "break_even": sp.Eq(sp.Symbol("r^*"), r_star)},
        identities={"break_even": (reduced.subs(r, r_star), standard_cost()),
                    "closed_form": (r_star, D_K ** 2 * M * N / (M + D_K ** 2 * N))},
        statements={"break_even": r"C_{red}(r^*) = D_K^2 M N D_F^2",
                    "closed_form": r"r^* = \frac{D_K^2 M N}{M + D_K^2 N}"},
    )


def compound_scaling() -> Derivation:
    """FLOPs of a convolutional network grow with depth ``d``, width² and resolution²: scaling by
    ``(α^φ, β^φ, γ^φ)`` multiplies them by ``(α β² γ²)^φ`` (EfficientNet, eq. 3)."""
    d, w, res = sp.symbols("d w r_{in}", positive=True)
    flops = d * w ** 2 * res ** 2  # up to a constant of the baseline
    scaled = flops.subs({d: a ** phi * d, w: b ** phi * w, res: g ** phi * res}, simultaneous=True)
    return Derivation(
        steps={"flops": sp.Eq(sp.Symbol("F"), flops), "scaled": sp.Eq(sp.Symbol(r"F(\phi)"), scaled)},
        identities={"factor": (sp.powsimp(scaled / flops, force=True), (a * b ** 2 * g ** 2) ** phi)},
        statements={"factor": r"F(\phi) / F(0) = (\alpha_d \beta_w^2 \gamma_r^2)^\phi"},
    )
