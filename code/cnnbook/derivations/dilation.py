"""Chapter 3 in SymPy: dilated convolution (S2.Q4).

The definition is S2.Q4's: ``(K *_D I)(i, j) = sum_{m,n} K(m, n) I(i + D m, j + D n)`` with
``K`` indexed ``0 .. F-1`` on each axis, computed only where every tap lands in the image.
"""

from __future__ import annotations

import numpy as np
import sympy as sp

from cnnbook import by_hand
from cnnbook.derivations import Derivation
from cnnbook.derivations.backprop import symbol_matrix
from cnnbook.derivations import layer_arithmetic as la

M, N, F, D = sp.symbols("M N F D", integer=True, positive=True)
i, m = sp.symbols("i m", integer=True, nonnegative=True)


def receptive_field() -> Derivation:
    """One ``K × K`` layer with stride 1 and dilation ``D``: its taps ``i + D m`` (``m = 0 .. K-1``)
    span ``D(K - 1) + 1`` pixels per axis (``K`` when ``D = 1``), which is Chapter 1's recurrence
    for a single layer."""
    K = sp.Symbol("K", integer=True, positive=True)
    width = D * (K - 1) - 0 + 1  # last tap minus first tap plus one
    one_layer = la.receptive_field(depth=1).steps["unrolled"].rhs
    k1, d1 = sp.IndexedBase("k")[1], sp.IndexedBase("d")[1]
    return Derivation(
        steps={"width": sp.Eq(sp.Symbol("r"), width)},
        identities={"plain": (width.subs(D, 1), K), "chapter1_recurrence": (one_layer.subs({k1: K, d1: D}), width)},
    )


def output_size() -> Derivation:
    """Count the valid output rows: position ``i`` needs ``0 <= i + D m <= M - 1`` for every tap
    ``m = 0 .. F-1``; the tightest constraint is the last tap, so ``i`` runs from 0 to
    ``M - 1 - D(F - 1)`` and there are ``M - DF + D`` rows (columns: ``N`` for ``M``)."""
    last_tap = i + D * (F - 1)
    (i_max,) = sp.solve(sp.Eq(last_tap, M - 1), i)
    rows = i_max - 0 + 1
    columns = rows.subs(M, N)
    return Derivation(
        steps={
            "constraint": sp.Le(last_tap, M - 1),
            "last_row": sp.Eq(sp.Symbol("i_{max}"), i_max),
            "size": sp.Eq(sp.Symbol(r"\mathrm{rows} \times \mathrm{columns}"), sp.Mul(rows, columns, evaluate=False)),
        },
        identities={
            "rows": (rows, M - D * F + D),
            "columns": (columns, N - D * F + D),
            "chapter1_formula": (sp.Subs(la.output_size_expr(), (la.n, la.k, la.p, la.s, la.d), (M, F, 0, 1, D)),
                                 M - D * F + D),
        },
    )


def selector(dilation: int) -> np.ndarray:
    """``A``: the ``D × D`` matrix with a single 1 in its top-left corner, so that ``K ⊗ A`` puts
    each weight of ``K`` at a multiple of ``D`` and zeros in between."""
    a = np.zeros((dilation, dilation), dtype=int)
    a[0, 0] = 1
    return a


def dilated_kernel(kernel: np.ndarray, dilation: int) -> np.ndarray:
    """``K' = K ⊗ A`` with its last ``D - 1`` rows and columns (all zero) removed, so that it spans
    exactly ``D(F - 1) + 1`` pixels."""
    extent = dilation * (kernel.shape[0] - 1) + 1
    return np.kron(kernel, selector(dilation))[:extent, :extent]


def kronecker_equivalence(size: int = 2, dilation: int = 2, image: tuple[int, int] = (4, 5)) -> Derivation:
    """For a symbolic ``size × size`` kernel ``K`` and symbolic image ``I``: the dilated convolution
    (by its definition) equals the plain convolution with ``K' = K ⊗ A`` once the trailing zero
    rows and columns of the Kronecker product are dropped; with the untrimmed ``K ⊗ A`` the
    plain convolution gives the same values but ``D - 1`` fewer rows and columns."""
    k = symbol_matrix("K", size, size)
    img = symbol_matrix("I", *image)
    dilated = by_hand.correlate2d(img, k, dilation=dilation)
    trimmed = by_hand.correlate2d(img, dilated_kernel(k, dilation))
    full = np.kron(k, selector(dilation))
    untrimmed = by_hand.correlate2d(img, full)
    rows, cols = untrimmed.shape
    return Derivation(
        steps={
            "A": sp.Eq(sp.Symbol("A"), sp.Matrix(selector(dilation)), evaluate=False),
            "kron": sp.Eq(sp.Symbol(r"K \otimes A"), sp.Matrix(full), evaluate=False),
            "dilated_kernel": sp.Eq(sp.Symbol("K'"), sp.Matrix(dilated_kernel(k, dilation)), evaluate=False),
            "first_output": sp.Eq(sp.Symbol(r"(K \ast_{D} I)(0, 0)"), dilated[0, 0]),
        },
        identities={
            "trimmed_kernel": (sp.Matrix(dilated), sp.Matrix(trimmed)),
            "untrimmed_kernel": (sp.Matrix(dilated[:rows, :cols]), sp.Matrix(untrimmed)),
            "untrimmed_size": (sp.Integer(dilated.shape[0] - rows), sp.Integer(dilation - 1)),
        },
        statements={
            "trimmed_kernel": r"K \ast_{D} I = K' \ast I",
            "untrimmed_kernel": r"\big((K \otimes A) \ast I\big)_{i,j} = (K \ast_{D} I)_{i,j}",
            "untrimmed_size": r"h(K \ast_{D} I) - h\big((K \otimes A) \ast I\big) = D - 1",
        },
    )


def stacked_field() -> Derivation:
    """Receptive field of ``L`` stride-1 ``3 × 3`` layers from the recurrence of Chapter 1
    (``r = 1 + sum_l d_l (k - 1)`` at jump 1): plain layers give ``2L + 1``, dilations
    ``1, 2, 4, ..., 2^{L-1}`` give ``2^{L+1} - 1``."""
    L, l_ = sp.symbols("L l", integer=True, positive=True)
    plain = 1 + sp.Sum(1 * (3 - 1), (l_, 1, L))
    dilated = 1 + sp.Sum(2 ** (l_ - 1) * (3 - 1), (l_, 1, L))
    return Derivation(
        steps={"plain": sp.Eq(sp.Symbol("r_L"), plain), "dilated": sp.Eq(sp.Symbol("r_L"), dilated),
               "plain_closed": sp.Eq(sp.Symbol("r_L"), 2 * L + 1),
               "dilated_closed": sp.Eq(sp.Symbol("r_L"), 2 ** (L + 1) - 1)},
        identities={"plain_closed_form": (plain, 2 * L + 1), "dilated_closed_form": (dilated, 2 ** (L + 1) - 1)},
    )
