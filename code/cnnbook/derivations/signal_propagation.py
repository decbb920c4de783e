"""How signals and gradients propagate through deep networks (S1.T1), in SymPy.

Initialisation. A unit of a fully connected or convolutional layer computes
``y = Σ_{i=1}^{n} w_i x_i`` over its fan-in ``n`` (``n = C_in k²`` for a ``k×k`` convolution).
With weights drawn independently, with mean zero and variance ``Var(w)``, independent of the
inputs, the cross terms of ``E[y²]`` vanish and ``Var(y) = n Var(w) E[x²]``; for zero-mean
inputs ``E[x²] = Var(x)``. A ReLU keeps half of a symmetric pre-activation:
``E[ReLU(y)²] = Var(y)/2``. So through a ReLU layer ``Var(y_l) = (n/2) Var(w) Var(y_{l-1})``,
which is constant in depth only for He's ``Var(w) = 2/n_in``; Xavier's ``2/(n_in + n_out)``
keeps it constant for a linear (or tanh-like) unit with ``n_in = n_out``, and halves it per ReLU
layer. The backward pass has the same form with ``n_out`` in place of ``n_in``.

Residual blocks. ``x_{l+1} = x_l + F_l(x_l)`` has ``∂x_{l+1}/∂x_l = 1 + F_l'``; through ``L``
blocks the gradient is ``Π (1 + F_l')``, whose expansion keeps the term ``1`` (the identity
path) however small the ``F_l'`` are, while a plain chain ``Π F_l'`` has no such term.

The identities are checked with symbolic moments (independence written out monomial by
monomial) at several fan-ins, with ``sympy.stats`` for the ReLU and uniform-distribution
integrals, and for the residual chain with undefined functions ``F_l``.
"""

from __future__ import annotations

import sympy as sp
import sympy.stats as stats

from cnnbook.derivations import Derivation

n, n_in, n_out = sp.symbols("n n_in n_out", positive=True, integer=True)
var_w, var_x, mean_x, var_y, sigma = sp.symbols(r"\sigma_w^2 \sigma_x^2 \mu_x \sigma_y^2 sigma", positive=True)
FAN_INS = (1, 2, 3, 4, 5)  # the variance identity is verified at these fan-ins with symbolic moments
DEPTH = 3  # the residual-gradient identity is verified through this many blocks


def expectation(expr: sp.Expr, weights: list[sp.Symbol], inputs: list[sp.Symbol]) -> sp.Expr:
    """``E[expr]`` for a polynomial in independent weights (mean 0, variance ``var_w``) and
    independent inputs (mean ``mean_x``, variance ``var_x``), weights independent of inputs."""
    moments_w = {0: 1, 1: 0, 2: var_w}
    moments_x = {0: 1, 1: mean_x, 2: var_x + mean_x**2}
    total = sp.Integer(0)
    for monomial, coefficient in sp.Poly(sp.expand(expr), *weights, *inputs).terms():
        term = sp.Integer(coefficient)
        for power in monomial[:len(weights)]:
            term *= moments_w[power]
        for power in monomial[len(weights):]:
            term *= moments_x[power]
        total += term
    return sp.expand(total)


def preactivation_variance(fan_in: int) -> sp.Expr:
    """``Var(Σ_{i=1}^{fan_in} w_i x_i)`` computed from the moments (not from the formula)."""
    weights = list(sp.symbols(f"w1:{fan_in + 1}", real=True))
    inputs = list(sp.symbols(f"x1:{fan_in + 1}", real=True))
    y = sum(w * x for w, x in zip(weights, inputs))
    return sp.expand(expectation(y**2, weights, inputs) - expectation(y, weights, inputs) ** 2)


def relu_second_moment() -> sp.Expr:
    """``E[ReLU(y)²]`` for ``y ~ N(0, σ²)``, integrated by ``sympy.stats``."""
    y = stats.Normal("y", 0, sigma)
    return sp.simplify(stats.E(sp.Piecewise((y, y > 0), (0, True)) ** 2))


def uniform_variance() -> sp.Expr:
    """``Var(U(-a, a))`` by ``sympy.stats``, to turn a variance into a uniform bound."""
    a = sp.Symbol("a", positive=True)
    return sp.simplify(stats.variance(stats.Uniform("u", -a, a)))


def initialisation() -> Derivation:
    """Variance of a pre-activation, the ReLU halving, Xavier's and He's scales, and the gain per layer."""
    xavier = 2 / (n_in + n_out)
    he = 2 / n_in
    a = sp.Symbol("a", positive=True)
    gain = sp.Symbol("g")  # Var(y_l) / Var(y_{l-1}) through one ReLU layer
    identities: dict[str, tuple[sp.Basic, sp.Basic]] = {}
    for fan_in in FAN_INS:
        identities[f"variance_n{fan_in}"] = (preactivation_variance(fan_in), fan_in * var_w * (var_x + mean_x**2))
    identities["relu_halves"] = (relu_second_moment(), sigma**2 / 2)
    identities["he_gain_is_one"] = ((n_in / 2 * he), 1)
    identities["xavier_gain_relu"] = ((n_in / 2 * xavier).subs(n_out, n_in), sp.Rational(1, 2))
    identities["xavier_gain_linear"] = ((n_in * xavier).subs(n_out, n_in), 1)
    identities["xavier_uniform_bound"] = (uniform_variance().subs(a, sp.sqrt(6 / (n_in + n_out))), xavier)
    identities["he_uniform_bound"] = (uniform_variance().subs(a, sp.sqrt(6 / n_in)), he)
    depth = sp.Symbol("L", positive=True, integer=True)
    return Derivation(
        steps={
            "preactivation": sp.Eq(sp.Symbol(r"\operatorname{Var}(y)"), n * var_w * sp.Symbol(r"\mathbb{E}[x^2]")),
            "zero_mean": sp.Eq(sp.Symbol(r"\operatorname{Var}(y)"), n * var_w * var_x),
            "relu": sp.Eq(sp.Symbol(r"\mathbb{E}[\operatorname{ReLU}(y)^2]"), var_y / 2),
            "recursion": sp.Eq(sp.Symbol(r"\operatorname{Var}(y_l)"),
                               n_in / 2 * var_w * sp.Symbol(r"\operatorname{Var}(y_{l-1})")),
            "gain": sp.Eq(gain, n_in * var_w / 2),
            "after_depth": sp.Eq(sp.Symbol(r"\operatorname{Var}(y_L)"),
                                 gain**depth * sp.Symbol(r"\operatorname{Var}(y_0)")),
            "he": sp.Eq(sp.Symbol(r"\sigma^2_{w,\mathrm{He}}"), he),
            "xavier": sp.Eq(sp.Symbol(r"\sigma^2_{w,\mathrm{Xavier}}"), xavier),
            "backward": sp.Eq(sp.Symbol(r"\operatorname{Var}(\partial \mathcal{L}/\partial x_{l-1})"),
                              n_out / 2 * var_w * sp.Symbol(r"\operatorname{Var}(\partial \mathcal{L}/\partial y_l)")),
        },
        identities=identities,
        statements={
            **{f"variance_n{fan_in}": rf"\operatorname{{Var}}\Big(\sum_{{i=1}}^{{{fan_in}}} w_i x_i\Big) "
               rf"= {fan_in}\,\sigma_w^2\,(\sigma_x^2 + \mu_x^2)" for fan_in in FAN_INS},
            "relu_halves": r"\mathbb{E}[\operatorname{ReLU}(y)^2] = \sigma^2/2 \quad (y \sim \mathcal{N}(0, \sigma^2))",
            "he_gain_is_one": r"\tfrac{n_{in}}{2}\,\sigma^2_{w,\mathrm{He}} = 1",
            "xavier_gain_relu": r"\tfrac{n_{in}}{2}\,\sigma^2_{w,\mathrm{Xavier}} = \tfrac{1}{2} \quad (n_{out} = n_{in})",
            "xavier_gain_linear": r"n_{in}\,\sigma^2_{w,\mathrm{Xavier}} = 1 \quad (n_{out} = n_{in})",
            "xavier_uniform_bound": r"\operatorname{Var}\,U\big(\pm\sqrt{6/(n_{in}+n_{out})}\big) = \sigma^2_{w,\mathrm{Xavier}}",
            "he_uniform_bound": r"\operatorname{Var}\,U\big(\pm\sqrt{6/n_{in}}\big) = \sigma^2_{w,\mathrm{He}}",
        },
    )


def residual_gradient(depth: int = DEPTH) -> Derivation:
    """``∂x_L/∂x_0`` through ``depth`` residual blocks ``x + F_l(x)`` against a plain chain ``F_l(x)``."""
    x0 = sp.Symbol("x_0", real=True)
    blocks = [sp.Function(f"F_{l}") for l in range(1, depth + 1)]
    residual, plain = [x0], [x0]
    for block in blocks:
        residual.append(residual[-1] + block(residual[-1]))
        plain.append(block(plain[-1]))
    product_residual = sp.Integer(1)
    product_plain = sp.Integer(1)
    for l, block in enumerate(blocks):
        u = sp.Dummy("u")
        product_residual *= 1 + sp.diff(block(u), u).subs(u, residual[l])
        product_plain *= sp.diff(block(u), u).subs(u, plain[l])
    # with linear blocks F_l(x) = a_l x, the gradient is Π(1 + a_l): the constant term is the identity path
    slopes = sp.symbols(f"a1:{depth + 1}", real=True)
    linear = x0
    linear_plain = x0
    for a in slopes:
        linear = linear + a * linear
        linear_plain = a * linear_plain
    gradient_linear = sp.expand(sp.diff(linear, x0))
    l_, k_ = sp.symbols("l k", integer=True, positive=True)
    big_l = sp.Symbol("L", integer=True, positive=True)
    f_prime = sp.IndexedBase("F'")
    return Derivation(
        steps={
            "block": sp.Eq(sp.Symbol("x_{l+1}"), sp.Symbol("x_l") + sp.Symbol(r"F_l(x_l)")),
            "local": sp.Eq(sp.Symbol(r"\frac{\partial x_{l+1}}{\partial x_l}"), 1 + sp.Symbol(r"F_l'(x_l)")),
            "chain_residual": sp.Eq(sp.Symbol(r"\frac{\partial x_L}{\partial x_0}"),
                                    sp.Product(1 + f_prime[l_], (l_, 0, big_l - 1))),
            "chain_plain": sp.Eq(sp.Symbol(r"\frac{\partial x_L}{\partial x_0}"),
                                 sp.Product(f_prime[l_], (l_, 0, big_l - 1))),
            "linear_expanded": sp.Eq(sp.Symbol(r"\frac{\partial x_%d}{\partial x_0}" % depth), gradient_linear),
        },
        identities={
            "residual_chain": (sp.diff(residual[-1], x0), product_residual),
            "plain_chain": (sp.diff(plain[-1], x0), product_plain),
            "identity_term": (gradient_linear.subs({a: 0 for a in slopes}), 1),
            "plain_vanishes": (sp.diff(linear_plain, x0).subs(slopes[0], 0), 0),
        },
        statements={
            "residual_chain": r"\frac{\partial x_%d}{\partial x_0} = \prod_{l}\left(1 + F_l'(x_{l-1})\right)" % depth,
            "plain_chain": r"\frac{\partial x_%d}{\partial x_0} = \prod_{l} F_l'(x_{l-1})" % depth,
            "identity_term": r"\left.\frac{\partial x_%d}{\partial x_0}\right|_{a_l = 0} = 1" % depth,
            "plain_vanishes": r"\left.\frac{\partial}{\partial x_0} a_3 a_2 a_1 x_0\right|_{a_1 = 0} = 0",
        },
    )
