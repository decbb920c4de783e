"""Chapter 1 in SymPy: output size, 'same' padding, parameters, receptive field and cost of a layer."""

from __future__ import annotations

import sympy as sp

from cnnbook.derivations import Derivation

n, k, s, d = sp.symbols("n k s d", integer=True, positive=True)
p = sp.Symbol("p", integer=True, nonnegative=True)
i = sp.Symbol("i", integer=True, nonnegative=True)
f = sp.Symbol("f", integer=True, positive=True)


def output_size() -> Derivation:
    """Count the kernel positions that fit: ``o = floor((n + 2p - d(k-1) - 1)/s) + 1``.

    Window ``i`` (0-based) starts at ``i s`` in the padded input and ends at ``i s + e - 1``
    with extent ``e = d(k-1) + 1``; it fits while that end is ``<= n + 2p - 1``, so the valid
    ``i`` are ``0 .. floor((n + 2p - e)/s)``.
    """
    extent = d * (k - 1) + 1
    last = sp.floor((n + 2 * p - extent) / s)
    o = last + 1
    return Derivation(
        steps={
            "extent": sp.Eq(sp.Symbol("e"), extent),
            "window_end": sp.Le(i * s + extent - 1, n + 2 * p - 1),
            "last_index": sp.Eq(sp.Symbol("i_{max}"), last),
            "output": sp.Eq(sp.Symbol("o"), o),
        },
        identities={
            # stride 1: the floor disappears, o = n + 2p - d(k-1)
            "stride_1": (sp.Subs(o, s, 1), n + 2 * p - d * (k - 1)),
            # plain valid convolution: o = n - k + 1
            "valid_plain": (sp.Subs(o, (s, p, d), (1, 0, 1)), n - k + 1),
            # dilated valid convolution (S2.Q4 form): o = n - d k + d
            "valid_dilated": (sp.Subs(o, (s, p), (1, 0)), n - d * k + d),
        },
    )


def output_size_expr() -> sp.Expr:
    """The output-size formula as a SymPy expression in ``n, k, p, s, d``."""
    return output_size().steps["output"].rhs


def same_padding() -> Derivation:
    """Padding that keeps the size at stride 1: solve ``n + 2p - d(k-1) = n`` for ``p``.

    With ``d = 1`` and kernel size ``f`` this is ``p = (f - 1)/2`` (S4.Q5b): an integer only for odd ``f``.
    """
    o_stride_1 = n + 2 * p - d * (k - 1)
    (p_same,) = sp.solve(sp.Eq(o_stride_1, n), p)
    p_f = sp.factor(p_same.subs({d: 1, k: f}))
    return Derivation(
        steps={
            "equation": sp.Eq(o_stride_1, n),
            "solution": sp.Eq(sp.Symbol("p_{same}"), p_same),
            "plain_kernel": sp.Eq(sp.Symbol("p_{same}"), p_f),
        },
        identities={
            "keeps_size": (sp.Subs(output_size_expr(), (s, p), (1, p_same)), n),
        },
    )


def layer_cost() -> Derivation:
    """Parameters, multiply-accumulates and FLOPs of a conv layer (a linear layer is the 1×1 case)."""
    c_in, c_out, g, kh, kw, ho, wo = sp.symbols("C_{in} C_{out} g k_h k_w H_o W_o", integer=True, positive=True)
    b = sp.Symbol("b", integer=True, nonnegative=True)  # 1 with a bias, 0 without
    fan_in = c_in / g * kh * kw
    weights = c_out * fan_in
    biases = c_out * b
    macs = ho * wo * c_out * fan_in
    per_output = fan_in + (fan_in - 1) + b  # multiplications, additions of the products, bias
    flops = ho * wo * c_out * per_output
    n_in, n_out = sp.symbols("n_{in} n_{out}", integer=True, positive=True)
    return Derivation(
        steps={
            "weights": sp.Eq(sp.Symbol("W"), weights),
            "biases": sp.Eq(sp.Symbol("B"), biases),
            "macs": sp.Eq(sp.Symbol("MACs"), macs),
            "flops": sp.Eq(sp.Symbol("FLOPs"), flops),
        },
        identities={
            "flops_with_bias": (sp.Subs(flops, b, 1), 2 * macs),
            "flops_without_bias": (sp.Subs(flops, b, 0), 2 * macs - ho * wo * c_out),
            # a linear layer n_in -> n_out is a 1x1 convolution on a 1x1 map
            "linear_as_conv": (sp.Subs(weights, (c_in, c_out, g, kh, kw), (n_in, n_out, 1, 1, 1)), n_in * n_out),
        },
    )


def receptive_field(depth: int = 4) -> Derivation:
    """Receptive field of a stack: recurrence ``r_l = r_{l-1} + d_l (k_l - 1) j_{l-1}``, ``j_l = j_{l-1} s_l``.

    The closed form ``r_L = 1 + sum_l d_l (k_l - 1) prod_{i<l} s_i`` and ``j_L = prod_l s_l``,
    evaluated at ``L = depth``, equals the recurrence unrolled layer by layer.
    """
    L, l_, m = sp.symbols("L l i", integer=True, positive=True)
    K, D, S = sp.IndexedBase("k"), sp.IndexedBase("d"), sp.IndexedBase("s")
    r, j = sp.Integer(1), sp.Integer(1)
    for layer in range(1, depth + 1):  # the recurrence, layer by layer
        r, j = r + D[layer] * (K[layer] - 1) * j, j * S[layer]
    closed_r = 1 + sp.Sum(D[l_] * (K[l_] - 1) * sp.Product(S[m], (m, 1, l_ - 1)), (l_, 1, L))
    closed_j = sp.Product(S[m], (m, 1, L))
    return Derivation(
        steps={
            "recurrence": sp.Eq(sp.Symbol("r_l"), sp.Symbol("r_{l-1}") + sp.Symbol("d_l") * (sp.Symbol("k_l") - 1)
                                * sp.Symbol("j_{l-1}")),
            "general": sp.Eq(sp.Symbol("r_L"), closed_r),
            "jump": sp.Eq(sp.Symbol("j_L"), closed_j),
            "unrolled": sp.Eq(sp.Symbol(f"r_{depth}"), r),
        },
        identities={
            "recurrence_equals_closed_form": (sp.Subs(closed_r, L, depth), r),
            "jump_is_product_of_strides": (sp.Subs(closed_j, L, depth), j),
        },
    )


def output_size_oracle(max_n: int = 12, max_k: int = 4, max_p: int = 2, max_s: int = 3, max_d: int = 3) -> tuple[int, int]:
    """Numeric oracle: the SymPy formula against ``torch.nn.functional.conv1d`` on every valid
    ``(n, k, p, s, d)`` of a grid. Returns ``(cases, mismatches)``."""
    import torch
    import torch.nn.functional as F

    formula = sp.lambdify((n, k, p, s, d), output_size_expr(), "math")
    cases = mismatches = 0
    for n_ in range(1, max_n + 1):
        x = torch.zeros(1, 1, n_)
        for k_ in range(1, max_k + 1):
            for p_ in range(max_p + 1):
                for d_ in range(1, max_d + 1):
                    if d_ * (k_ - 1) + 1 > n_ + 2 * p_:
                        continue
                    w = torch.zeros(1, 1, k_)
                    for s_ in range(1, max_s + 1):
                        cases += 1
                        got = F.conv1d(x, w, stride=s_, padding=p_, dilation=d_).shape[-1]
                        mismatches += int(formula(n_, k_, p_, s_, d_) != got)
    return cases, mismatches
