"""Chapter 4 in SymPy: gradients through convolution and pooling, and through the 1-D network of S2.Q3.

Gradients are obtained by differentiating a loss with SymPy; the claimed closed forms are the
functions of ``cnnbook.by_hand`` evaluated on arrays of symbols, so the identities check the
same code that computes the book's numbers.
"""

from __future__ import annotations

import numpy as np
import sympy as sp

from cnnbook import by_hand
from cnnbook.derivations import Derivation


def symbol_matrix(name: str, rows: int, cols: int, start: int = 0) -> np.ndarray:
    """An object array of symbols ``name_{i,j}``, indexed from ``start`` (0 like the arrays and
    formulas of the chapter; 1 where a question numbers from 1)."""
    return np.array([[sp.Symbol(f"{name}_{{{i + start},{j + start}}}", real=True) for j in range(cols)]
                     for i in range(rows)], dtype=object)


def _grad(loss: sp.Expr, variables: np.ndarray) -> sp.Matrix:
    return sp.Matrix(variables.shape[0], variables.shape[1], lambda i, j: sp.diff(loss, variables[i, j]))


def conv_gradients(height: int = 3, width: int = 3, kernel: tuple[int, int] = (2, 2), stride: int = 1,
                   padding: int = 0) -> Derivation:
    """For symbolic ``X`` (``height × width``), ``W`` (``kernel``) and upstream gradient ``G = dL/dY``:
    ``dL/dW`` is the valid cross-correlation of the (padded) input with ``G`` and ``dL/dX`` the
    full convolution of ``G`` with ``W`` (cross-correlation with ``rot180(W)``); with a stride,
    ``G`` is first spread out with ``stride - 1`` zeros between entries; padding is cut off ``dL/dX``.

    The loss is ``L = sum_ij G_ij Y_ij``: its gradient with respect to ``Y`` is exactly ``G``,
    so the chain rule gives the general case.
    """
    x = symbol_matrix("X", height, width)
    w = symbol_matrix("W", *kernel)
    y = by_hand.correlate2d(x, w, stride=stride, padding=padding)
    g = symbol_matrix("G", *y.shape)
    loss = sp.Add(*(g * y).flat)
    i, j, m, n, a, b = sp.symbols("i j m n a b", integer=True)
    s_ = sp.Symbol("s", integer=True, positive=True)
    X, W, G = sp.IndexedBase("X"), sp.IndexedBase("W"), sp.IndexedBase("G")
    kh, kw, ho, wo = sp.symbols("k_h k_w H_o W_o", integer=True, positive=True)
    settings = "" if (stride, padding) == (1, 0) else rf";\ s = {stride},\ p = {padding}"
    return Derivation(
        steps={
            "forward": sp.Eq(sp.Symbol("Y_{i,j}"), sp.Sum(W[m, n] * X[s_ * i + m, s_ * j + n], (m, 0, kh - 1), (n, 0, kw - 1))),
            "loss": sp.Eq(sp.Symbol(r"\frac{\partial L}{\partial Y_{i,j}}"), G[i, j]),
            "weight": sp.Eq(sp.Symbol(r"\frac{\partial L}{\partial W_{m,n}}"),
                            sp.Sum(G[i, j] * X[s_ * i + m, s_ * j + n], (i, 0, ho - 1), (j, 0, wo - 1))),
            "input": sp.Eq(sp.Symbol(r"\frac{\partial L}{\partial X_{a,b}}"),
                           sp.Sum(G[i, j] * W[a - s_ * i, b - s_ * j], (i, 0, ho - 1), (j, 0, wo - 1))),
            # one equation per weight: the 2-D matrix of these sums is wider than a printed page
            "dW": sp.Tuple(*(sp.Eq(sp.Symbol(rf"\frac{{\partial L}}{{\partial W_{{{p},{q}}}}}"), entry)
                             for (p, q), entry in np.ndenumerate(np.array(_grad(loss, w))))),
            "dX": sp.Eq(sp.Symbol(r"\frac{\partial L}{\partial X}"), _grad(loss, x), evaluate=False),
        },
        identities={
            "weight_is_correlation": (_grad(loss, w), sp.Matrix(by_hand.conv_weight_grad(x, g, kernel, stride, padding))),
            "input_is_full_convolution": (_grad(loss, x), sp.Matrix(by_hand.conv_input_grad(g, w, (height, width),
                                                                                             stride, padding))),
        },
        statements={
            "weight_is_correlation": r"\frac{\partial L}{\partial W} = \mathtt{conv\_weight\_grad}(X, G"
                                     + settings + ")",
            "input_is_full_convolution": r"\frac{\partial L}{\partial X} = \mathtt{conv\_input\_grad}(G, W"
                                         + settings + ")",
        },
    )


def pooling_gradients(size: int = 4, window: int = 2) -> Derivation:
    """Average pooling: every input of a window receives ``G / window²``. Max pooling: the
    derivative of ``max`` is a step function of the margin to the other entries, so the whole
    gradient goes to the largest entry (checked for each possible position of the maximum)."""
    x = symbol_matrix("X", size, size)
    pooled = by_hand.avg_pool(x, window, window)
    g = symbol_matrix("G", *pooled.shape)
    loss = sp.Add(*(g * pooled).flat)
    entries = sp.symbols(f"a_1:{window * window + 1}", real=True)
    peak = sp.Max(*entries)
    top = sp.Symbol("t", real=True)
    margins = sp.symbols(f"epsilon_1:{window * window}", positive=True)
    identities = {"avg_pool": (_grad(loss, x), sp.Matrix(by_hand.avg_pool_grad(g, (size, size), window, window)))}
    statements = {"avg_pool": rf"\frac{{\partial L}}{{\partial X_{{a,b}}}} = \frac{{1}}{{{window * window}}}\,"
                              rf"G_{{\lfloor a/{window} \rfloor,\, \lfloor b/{window} \rfloor}}"}
    gradient_of_y = r"\frac{\partial y}{\partial (" + ", ".join(sp.latex(e) for e in entries) + ")}"
    for winner in range(len(entries)):
        # the maximum at position `winner`, the others strictly below it in a fixed order
        others = [e for k, e in enumerate(entries) if k != winner]
        values = {entries[winner]: top}
        below = top
        for other, margin in zip(others, margins):
            below = below - margin
            values[other] = below
        gradient = sp.Matrix([[sp.diff(peak, e).subs(values) for e in entries]])
        unit = sp.Matrix([[int(k == winner) for k in range(len(entries))]])
        identities[f"max_pool_winner_{winner + 1}"] = (gradient, unit)
        statements[f"max_pool_winner_{winner + 1}"] = (rf"\left.{gradient_of_y}\right|_{{{sp.latex(entries[winner])}"
                                                       rf" = \max}} = {sp.latex(unit)}")
    return Derivation(
        steps={
            "avg_dX": sp.Eq(sp.Symbol(r"\frac{\partial L}{\partial X}"), _grad(loss, x), evaluate=False),
            "max_forward": sp.Eq(sp.Symbol("y"), peak),
            "max_derivative": sp.Eq(sp.Symbol(r"\frac{\partial y}{\partial a_1}"), sp.diff(peak, entries[0])),
        },
        identities=identities,
        statements=statements,
    )


#: The closed form of dCost/dW^C_1 in ``one_d_network`` (``half``: the factor that average pooling puts on it).
_DW1_CLOSED_FORM = r"\sum_i {half} \sum_k \delta\, W^F_k \theta(p_k)\, W^A_{{k,\lceil i/2 \rceil}} \theta(q_i)\, x_{{i-1}}"


def one_d_network(length: int = 5, hidden: int = 2) -> Derivation:
    """S2.Q3 part 2 with symbols, for one sample: ``x`` of ``length`` values padded by one zero on
    each side, ``c_i = ReLU(q_i)`` with ``q_i = W^C_1 x_{i-1} + W^C_2 x_i + b^C``,
    ``a_j = (c_{2j-1} + c_{2j})/2``, ``f_k = ReLU(p_k)`` with ``p_k = sum_j W^A_{kj} a_j + b^M_k``,
    ``z = sigmoid(u)`` with ``u = sum_k W^F_k f_k + b^F``, and binary cross-entropy.

    Identities: ``dCost/du = z - Y`` (sigmoid and cross-entropy together), and, with
    ``delta = z - Y`` and ``H`` the step function, SymPy's ``delta * du/dW`` against the closed
    forms ``dCost/dW^A_{kj} = delta W^F_k H(p_k) a_j`` and
    ``dCost/dW^C_1 = sum_i (1/2) sum_k delta W^F_k H(p_k) W^A_{k,ceil(i/2)} H(q_i) x_{i-1}``.
    """
    xs = [sp.Integer(0)] + list(sp.symbols(f"x_1:{length + 1}", real=True)) + [sp.Integer(0)]
    w1, w2, bc, bf, target = sp.symbols("W^C_1 W^C_2 b^C b^F Y", real=True)
    delta = sp.Symbol(r"\delta", real=True)
    conv_len = length + 1
    pooled_len = conv_len // 2
    wa = symbol_matrix("W^A", hidden, pooled_len, start=1)
    bm = sp.symbols(f"b^M_1:{hidden + 1}", real=True)
    wf = sp.symbols(f"W^F_1:{hidden + 1}", real=True)
    pre_c = [w1 * xs[i - 1] + w2 * xs[i] + bc for i in range(1, conv_len + 1)]
    c = [sp.Max(0, v) for v in pre_c]
    a = [(c[2 * j] + c[2 * j + 1]) / 2 for j in range(pooled_len)]
    pre_f = [sum(wa[k, j] * a[j] for j in range(pooled_len)) + bm[k] for k in range(hidden)]
    f = [sp.Max(0, v) for v in pre_f]
    u = sum(wf[k] * f[k] for k in range(hidden)) + bf
    H = sp.Heaviside
    # error reaching each conv output: half of what its pooled unit receives (none if pooling drops it)
    to_conv = [sp.Rational(1, 2) * sum(delta * wf[k] * H(pre_f[k]) * wa[k, i // 2] for k in range(hidden))
               if i < 2 * pooled_len else sp.Integer(0) for i in range(conv_len)]
    closed_w1 = sum(to_conv[i] * H(pre_c[i]) * xs[i] for i in range(conv_len))
    u_ = sp.Symbol("u", real=True)
    sigmoid = 1 / (1 + sp.exp(-u_))
    identities = {"dcost_du": (sp.diff(-target * sp.log(sigmoid) - (1 - target) * sp.log(1 - sigmoid), u_),
                               sigmoid - target),
                  "dcost_dW1": (delta * sp.diff(u, w1), closed_w1)}
    identities.update({f"dcost_dWA_{k + 1}{j + 1}": (delta * sp.diff(u, wa[k, j]), delta * wf[k] * H(pre_f[k]) * a[j])
                       for k in range(hidden) for j in range(pooled_len)})
    statements = {"dcost_du": r"\frac{\partial \mathrm{Cost}}{\partial u} = z - Y",
                  "dcost_dW1": r"\delta\,\frac{\partial u}{\partial W^C_1} = " + _DW1_CLOSED_FORM.format(half=r"\tfrac{1}{2}")}
    statements.update({f"dcost_dWA_{k}{j}": rf"\delta\,\frac{{\partial u}}{{\partial W^A_{{{k},{j}}}}} = "
                                            rf"\delta\, W^F_{k} \theta(p_{k})\, a_{j}"
                       for k in range(1, hidden + 1) for j in range(1, pooled_len + 1)})
    i_, j_, k_ = sp.symbols("i j k", integer=True, positive=True)
    Wa, Wf, P, Q, X_, A_ = (sp.IndexedBase(name) for name in ("W^A", "W^F", "p", "q", "x", "a"))
    delta_s = delta
    d_c = sp.Symbol(r"\frac{\partial \mathrm{Cost}}{\partial c_i}")
    return Derivation(
        steps={
            "preact": sp.Eq(sp.Symbol("q_i"), w1 * X_[i_ - 1] + w2 * X_[i_] + bc),
            "preact_fc": sp.Eq(sp.Symbol("p_k"), sp.Sum(Wa[k_, j_] * A_[j_], (j_, 1, sp.Symbol("J"))) + sp.Symbol("b^M_k")),
            "delta": sp.Eq(sp.Symbol(r"\delta = \frac{\partial \mathrm{Cost}}{\partial u}"), sp.Symbol("z") - target),
            "dWA": sp.Eq(sp.Symbol(r"\frac{\partial \mathrm{Cost}}{\partial W^A_{k,j}}"), delta_s * Wf[k_] * H(P[k_]) * A_[j_]),
            "da": sp.Eq(sp.Symbol(r"\frac{\partial \mathrm{Cost}}{\partial a_j}"),
                        sp.Sum(delta_s * Wf[k_] * H(P[k_]) * Wa[k_, j_], (k_, 1, sp.Symbol("K")))),
            "dc": sp.Eq(d_c, sp.Symbol(r"\frac{1}{2}\,\frac{\partial \mathrm{Cost}}{\partial a_{\lceil i/2 \rceil}}")),
            "dW1": sp.Eq(sp.Symbol(r"\frac{\partial \mathrm{Cost}}{\partial W^C_1}"),
                         sp.Sum(d_c * H(Q[i_]) * X_[i_ - 1], (i_, 1, 2 * sp.Symbol("J")))),
        },
        identities=identities,
        statements=statements,
    )


def s2_q3_source_claims(length: int = 3, hidden: int = 2) -> Derivation:
    """What the source answer to S2.Q3 writes, set against the network of ``one_d_network``
    (each claim is an identity that does *not* hold):

    - pooling as ``a_j = (x_{2j-1} + c_{2j}) / 2``, mixing an input with a conv output;
    - ``dCost/dW^C_1`` without the factor 1/2 that average pooling puts on the gradient;
    - ``dCost/dW^A_{ji}`` written with the indices of ``dCost/dW^A_{ij}``
      (with the answer's own convention ``f_i = ReLU(sum_j W^A_{ij} a_j + b^M_i)``).
    """
    correct = one_d_network(length, hidden)
    xs = sp.symbols(f"x_1:{length + 1}", real=True)
    w1, w2, bc = sp.symbols("W^C_1 W^C_2 b^C", real=True)
    padded = [sp.Integer(0), *xs, sp.Integer(0)]
    c = [sp.Max(0, w1 * padded[i - 1] + w2 * padded[i] + bc) for i in range(1, length + 2)]
    a_true = (c[0] + c[1]) / 2
    a_source = (padded[1] + c[1]) / 2  # j = 1: (x_1 + c_2) / 2
    lhs_w1, rhs_w1 = correct.identities["dcost_dW1"]
    lhs_wa, rhs_wa = correct.identities["dcost_dWA_21"]  # W^A_{21}: hidden unit 2, pooled unit 1
    _, rhs_swapped = correct.identities["dcost_dWA_12"]   # the formula of W^A_{12}
    return Derivation(
        steps={"pool_source": sp.Eq(sp.Symbol("a_1"), a_source), "pool_correct": sp.Eq(sp.Symbol("a_1"), a_true)},
        identities={
            "pool_mixes_input": (a_source, a_true),
            "dW1_without_half": (lhs_w1, 2 * rhs_w1),
            "dWA_swapped_indices": (lhs_wa, rhs_swapped),
        },
        statements={
            "pool_mixes_input": r"a_1 = \frac{x_1 + c_2}{2}",
            "dW1_without_half": r"\frac{\partial \mathrm{Cost}}{\partial W^C_1} = " + _DW1_CLOSED_FORM.format(half=""),
            "dWA_swapped_indices": r"\frac{\partial \mathrm{Cost}}{\partial W^A_{2,1}} = \delta\, W^F_1 \theta(p_1)\, a_2",
        },
    )
