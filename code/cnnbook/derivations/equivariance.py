"""Chapter 2 in SymPy: translation equivariance of discrete convolution and cross-correlation.

Signals and kernels are undefined SymPy functions of an integer index (``x(n)``, ``w(m)``), the
shift is the operator ``(T_t x)(n) = x(n - t)``, and the layers are built as Python functions
that return SymPy sums. Each identity compares "shift, then filter" with "filter, then shift";
SymPy verifies it (after re-indexing an infinite sum where needed), so nothing is typed by hand.
"""

from __future__ import annotations

from typing import Callable

import sympy as sp

from cnnbook.derivations import Derivation

Signal = Callable[..., sp.Expr]

n, m, t, u = sp.symbols("n m t u", integer=True)
n1, n2, m1, m2, t1, t2 = sp.symbols("n_1 n_2 m_1 m_2 t_1 t_2", integer=True)
k, k1, k2, s = sp.symbols("k k_1 k_2 s", integer=True, positive=True)
x, w = sp.Function("x"), sp.Function("w")


def shift(signal: Signal, *offsets: sp.Expr) -> Signal:
    """The translated signal ``(T_t x)(n) = x(n - t)``, in as many dimensions as offsets."""
    return lambda *index: signal(*(i - o for i, o in zip(index, offsets)))


def correlate(signal: Signal, kernel: Signal, taps: sp.Expr = k, stride: sp.Expr = 1) -> Signal:
    """1-D cross-correlation (what CNN layers compute): ``y(n) = sum_{m<taps} w(m) x(s n + m)``."""
    return lambda i: sp.Sum(kernel(m) * signal(stride * i + m), (m, 0, taps - 1))


def convolve(signal: Signal, kernel: Signal) -> Signal:
    """1-D convolution over the integers: ``y(n) = sum_m x(m) w(n - m)`` (kernel flipped)."""
    return lambda i: sp.Sum(signal(m) * kernel(i - m), (m, -sp.oo, sp.oo))


def correlate_2d(signal: Signal, kernel: Signal) -> Signal:
    """2-D cross-correlation with a ``k_1 × k_2`` kernel."""
    return lambda i, j: sp.Sum(kernel(m1, m2) * signal(i + m1, j + m2), (m1, 0, k1 - 1), (m2, 0, k2 - 1))


def convolve_2d(signal: Signal, kernel: Signal) -> Signal:
    """2-D convolution over the integer plane: ``y(n_1, n_2) = sum x(m_1, m_2) w(n_1 - m_1, n_2 - m_2)``."""
    return lambda i, j: sp.Sum(signal(m1, m2) * kernel(i - m1, j - m2), (m1, -sp.oo, sp.oo), (m2, -sp.oo, sp.oo))


def translation_equivariance() -> Derivation:
    """Filtering commutes with shifting: correlation and convolution, in 1-D and 2-D, for a
    symbolic signal, kernel and shift; with stride ``s`` only for shifts ``t = s u``.

    For correlation the two sides agree term by term; for convolution over the integers the
    left side needs the change of summation index ``m -> m + t``, which SymPy performs.
    """
    x2, w2 = sp.Function("x"), sp.Function("w")
    corr_lhs, corr_rhs = correlate(shift(x, t), w)(n), shift(correlate(x, w), t)(n)
    conv_lhs, conv_rhs = convolve(shift(x, t), w)(n), shift(convolve(x, w), t)(n)
    conv_reindexed = conv_lhs.change_index(m, m - t)  # new m = old m - t
    corr2_lhs, corr2_rhs = correlate_2d(shift(x2, t1, t2), w2)(n1, n2), shift(correlate_2d(x2, w2), t1, t2)(n1, n2)
    conv2_lhs, conv2_rhs = convolve_2d(shift(x2, t1, t2), w2)(n1, n2), shift(convolve_2d(x2, w2), t1, t2)(n1, n2)
    conv2_reindexed = conv2_lhs.change_index(m1, m1 - t1).change_index(m2, m2 - t2)
    strided_lhs = correlate(shift(x, s * u), w, stride=s)(n)
    strided_rhs = shift(correlate(x, w, stride=s), u)(n)
    y, yt = sp.Function("y"), sp.Function("y_t")
    return Derivation(
        steps={
            "shift": sp.Eq(sp.Symbol(r"\left(T_{t} x\right)(n)"), x(n - t)),
            "correlation": sp.Eq(y(n), correlate(x, w)(n)),
            "corr_lhs": sp.Eq(yt(n), corr_lhs),
            "corr_rhs": sp.Eq(y(n - t), corr_rhs),
            "convolution": sp.Eq(y(n), convolve(x, w)(n)),
            "conv_lhs": sp.Eq(yt(n), conv_lhs),
            "conv_reindexed": sp.Eq(yt(n), conv_reindexed),
            "conv_rhs": sp.Eq(y(n - t), conv_rhs),
            "strided": sp.Eq(y(n), correlate(x, w, stride=s)(n)),
            "strided_lhs": sp.Eq(yt(n), strided_lhs),
            "strided_rhs": sp.Eq(y(n - u), strided_rhs),
        },
        identities={
            "correlation_1d": (corr_lhs, corr_rhs),
            "convolution_1d": (conv_reindexed, conv_rhs),
            "correlation_2d": (corr2_lhs, corr2_rhs),
            "convolution_2d": (conv2_reindexed, conv2_rhs),
            "strided_multiple_of_stride": (strided_lhs, strided_rhs),
        },
    )


def circular_equivariance(length: int = 6, taps: int = 3, stride: int = 1) -> dict[int, int | None]:
    """Circular cross-correlation of a length-``length`` signal with symbolic entries ``x_i`` and
    kernel ``w_j``: for each input shift ``t``, the output shift ``u`` with
    ``corr(roll(x, t)) == roll(corr(x), u)`` identically in all symbols, or ``None`` if none exists.

    With stride 1 every shift is reproduced (``u = t``); with stride ``s`` only multiples of ``s``.
    """
    xs = sp.symbols(f"x_0:{length}")
    ws = sp.symbols(f"w_0:{taps}")

    def corr(signal):
        return [sum(ws[j] * signal[(stride * i + j) % length] for j in range(taps)) for i in range(length // stride)]

    def roll(values, by):
        return [values[(i - by) % len(values)] for i in range(len(values))]

    base = corr(xs)
    found: dict[int, int | None] = {}
    for shift_ in range(length):
        shifted = corr(roll(xs, shift_))
        found[shift_] = next((out for out in range(len(base))
                              if all(sp.expand(a - b) == 0 for a, b in zip(shifted, roll(base, out)))), None)
    return found


def equivariant_shifts(length: int = 6, taps: int = 3, stride: int = 1) -> list[int]:
    """The input shifts for which ``circular_equivariance`` finds an output shift."""
    return [shift for shift, out in circular_equivariance(length, taps, stride).items() if out is not None]
