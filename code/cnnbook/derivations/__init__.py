"""SymPy derivations. Each returns a ``Derivation``: the expressions a page shows, in order,
and the identities ``lhs = rhs`` that prove its result (``simplify(lhs - rhs) == 0``)."""

from __future__ import annotations

from dataclasses import dataclass, field

import sympy


@dataclass
class Derivation:
    """Named SymPy steps to display and named identities ``(lhs, rhs)`` to verify."""

    steps: dict[str, sympy.Basic] = field(default_factory=dict)
    identities: dict[str, tuple[sympy.Basic, sympy.Basic]] = field(default_factory=dict)

    def verify(self) -> dict[str, bool]:
        """Each identity's name -> whether ``simplify(lhs - rhs) == 0`` (unevaluated parts done first;
        for matrices, every entry)."""
        return {name: _is_zero(sympy.simplify(sympy.sympify(lhs).doit() - sympy.sympify(rhs).doit()))
                for name, (lhs, rhs) in self.identities.items()}

    @property
    def verified(self) -> bool:
        """True when every identity holds."""
        return all(self.verify().values())


def _is_zero(expr: sympy.Basic) -> bool:
    return bool(expr.is_zero_matrix) if isinstance(expr, sympy.MatrixBase) else expr == 0
