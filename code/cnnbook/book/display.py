"""What page code cells show: bilingual tables, SymPy equations, glued numbers and figures.

A table is emitted as the custom mime type ``TABLE_MIME`` whose column headers are label keys
(``cnnbook.book.labels``); the book's renderer (``cnnbook.book.mime``) writes them in the page's
language. Plain Jupyter shows the English HTML/text fallback.
"""

from __future__ import annotations

import numbers
from typing import Any, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd
import sympy

from cnnbook.book.labels import label
from cnnbook.derivations import Derivation

TABLE_MIME = "application/vnd.cnnbook.table+json"


def _figures_for_print() -> None:
    """In a notebook, matplotlib figures (shown or glued) carry a PDF rendering beside the PNG:
    the site shows the PNG, the PDF editions embed the vector drawing (with TrueType text)."""
    try:
        from IPython import get_ipython
    except ImportError:
        return
    if get_ipython() is not None:
        import matplotlib
        from matplotlib_inline.backend_inline import set_matplotlib_formats

        matplotlib.rcParams["pdf.fonttype"] = 42
        set_matplotlib_formats("png", "pdf")


_figures_for_print()


class Text(dict):
    """A table cell that is itself a label key, translated by the renderer (e.g. yes/no)."""

    def __init__(self, key: str):
        label(key, "en")  # fail early on unknown keys
        super().__init__(label=key)


def format_cell(value: Any, language: str = "en") -> str:
    """Cell text: integers with thousands separators, floats to 4 significant digits, labels translated."""
    if value is None or (not isinstance(value, (dict, str)) and pd.isna(value)):  # missing / NaN / NA
        return "—"
    if isinstance(value, dict) and "label" in value:
        return label(value["label"], language)
    if isinstance(value, bool):
        return label("yes" if value else "no", language)
    if isinstance(value, numbers.Integral):
        return f"{int(value):,}"
    if isinstance(value, numbers.Real):
        return f"{float(value):.4g}"
    return str(value)


class Table:
    """A table with label-key headers, shown in the page's language by the book's renderer."""

    def __init__(self, frame: pd.DataFrame, columns: Mapping[str, str] | Sequence[str] | None = None):
        mapping = dict(columns) if isinstance(columns, Mapping) else {c: c for c in (columns or frame.columns)}
        for key in mapping.values():
            label(key, "en")
        self.keys = list(mapping.values())
        self.rows = [[_jsonable(v) for v in row] for row in frame[list(mapping)].itertuples(index=False)]

    def _repr_mimebundle_(self, include: Iterable[str] | None = None, exclude: Iterable[str] | None = None):
        english = pd.DataFrame([[format_cell(v) for v in row] for row in self.rows],
                               columns=[label(k, "en") for k in self.keys])
        return {
            TABLE_MIME: {"columns": self.keys, "rows": self.rows},
            "text/html": english.to_html(index=False),
            "text/plain": english.to_string(index=False),
        }


def _jsonable(value: Any) -> Any:
    if value is None or (not isinstance(value, (dict, str)) and pd.isna(value)):
        return None
    if isinstance(value, Text):
        return dict(value)
    if isinstance(value, (bool,)):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    return str(value)


def latex(expr: Any, lhs: Any | None = None) -> str:
    """LaTeX of a SymPy expression, optionally as ``lhs = expr``; a tuple of equations becomes
    one aligned block, an equation a line."""
    if isinstance(expr, sympy.Tuple) and all(isinstance(e, sympy.Eq) for e in expr):
        rows = (f"{sympy.latex(e.lhs)} &= {sympy.latex(e.rhs)}" for e in expr)
        return r"\begin{aligned}" + r" \\ ".join(rows) + r"\end{aligned}"
    body = sympy.latex(expr)
    return body if lhs is None else f"{sympy.latex(lhs) if not isinstance(lhs, str) else lhs} = {body}"


def glue_math(name: str, expr: Any, lhs: Any | None = None) -> None:
    """Glue a SymPy expression as display math under ``name`` (shown with ``{glue:math}``)."""
    from IPython.display import Math
    from myst_nb import glue

    glue(name, Math(latex(expr, lhs)), display=False)


def glue_derivation(prefix: str, derivation: Derivation) -> None:
    """Glue every step of a derivation as math, ``<prefix>_<step>``."""
    for step, expr in derivation.steps.items():
        glue_math(f"{prefix}_{step}", expr)


def identities(derivation: Derivation, layout: str = "inline") -> "Math":
    """The derivation's identities as display math, each marked ✓ (holds) or ✗: ``lhs = rhs`` on
    one line (``inline``), the right-hand side on a line of its own (``wide``), or what the
    identity states (``statements``, ``Derivation.statements``, for sides too long to read)."""
    from IPython.display import Math

    marks = {True: r"\checkmark", False: r"\times"}
    checked = zip(derivation.identities.items(), derivation.verify().values())
    if layout == "statements":
        missing = [name for name in derivation.identities if name not in derivation.statements]
        if missing:
            raise ValueError(f"no statement for the identities {missing}: add them to the derivation's statements")
        rows = [derivation.statements[name] + r" &\qquad " + marks[ok] for (name, _), ok in checked]
    elif layout in ("inline", "wide"):
        equals = r" \\ &\qquad = " if layout == "wide" else " &= "
        rows = [("&" if layout == "wide" else "") + sympy.latex(lhs) + equals + sympy.latex(rhs) + r" \qquad "
                + marks[ok] for (_, (lhs, rhs)), ok in checked]
    else:
        raise ValueError(f"layout must be 'inline', 'wide' or 'statements', not {layout!r}")
    return Math(r"\begin{aligned}" + r" \\ ".join(rows) + r"\end{aligned}")


def glue_rows(prefix: str, frame: pd.DataFrame, key: str = "key") -> None:
    """Glue every cell of ``frame`` as ``<prefix>_<row key>_<column>`` for the prose."""
    for record in frame.to_dict("records"):
        glue_numbers(f"{prefix}_{record[key]}", {c: v for c, v in record.items() if c != key})


def keyed_labels(frame: pd.DataFrame, key: str = "key", column: str = "variant") -> pd.DataFrame:
    """``frame`` with a first column of translatable labels made from its ``key`` column."""
    return frame.assign(**{column: [Text(k) for k in frame[key]]})[[column, *frame.columns]]


def glue_numbers(prefix: str, values: Mapping[str, Any]) -> None:
    """Glue each value as ``<prefix>_<key>`` so prose can cite it with ``{glue:text}``.

    NumPy scalars are glued as Python numbers: their repr (``np.float64(5.4)``) is what the
    page would show otherwise."""
    from myst_nb import glue

    for key, value in values.items():
        glue(f"{prefix}_{key}", value.item() if isinstance(value, np.generic) else value, display=False)


def glue_figure(name: str, fig: Any) -> None:
    """Glue a matplotlib figure under ``name`` (shown with a ``{glue:figure}`` block) and close it."""
    import matplotlib.pyplot as plt
    from myst_nb import glue

    glue(name, fig, display=False)
    plt.close(fig)
