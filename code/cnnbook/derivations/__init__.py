"""SymPy derivations. Each returns a ``Derivation``: the expressions a page shows, in order,
and the identities ``lhs = rhs`` that prove its result (``lhs - rhs`` simplifies to zero)."""

from __future__ import annotations

from dataclasses import dataclass, field

import sympy


@dataclass
class Derivation:
    """Named SymPy steps to display and named identities ``(lhs, rhs)`` to verify; where the two sides
    are too long to read, ``statements`` gives what an identity states, in short LaTeX."""

    steps: dict[str, sympy.Basic] = field(default_factory=dict)
    identities: dict[str, tuple[sympy.Basic, sympy.Basic]] = field(default_factory=dict)
    statements: dict[str, str] = field(default_factory=dict)

    def verify(self) -> dict[str, bool]:
        """Each identity's name -> whether ``lhs - rhs`` is zero (unevaluated parts done first; for
        matrices, every entry): ``expand`` settles polynomial identities quickly, ``simplify`` the rest."""
        return {name: _is_zero(sympy.sympify(lhs).doit() - sympy.sympify(rhs).doit())
                for name, (lhs, rhs) in self.identities.items()}

    @property
    def verified(self) -> bool:
        """True when every identity holds."""
        return all(self.verify().values())


def _is_zero(difference: sympy.Basic) -> bool:
    entries = list(difference) if isinstance(difference, sympy.MatrixBase) else [difference]
    return all(sympy.expand(entry) == 0 or sympy.simplify(entry) == 0 for entry in entries)
