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
        """Each identity's name -> whether ``simplify(lhs - rhs) == 0`` (unevaluated parts done first)."""
        return {name: sympy.simplify(sympy.sympify(lhs).doit() - sympy.sympify(rhs).doit()) == 0
                for name, (lhs, rhs) in self.identities.items()}

    @property
    def verified(self) -> bool:
        """True when every identity holds."""
        return all(self.verify().values())
