"""LaTeX of the PDF editions: mixed-direction text, table layout, document class.

Sphinx extension part (set up by ``cnnbook.book.sphinx_ext``); its transforms act only on LaTeX
builds. The LaTeX packages it relies on are in ``book/_latex/``.

- Mixed directions. XeTeX orders the words of a paragraph in the paragraph's direction, so a
  Latin phrase inside a Persian sentence comes out with its words reversed unless it is wrapped
  in xepersian's ``\\lr{...}``; likewise a Persian phrase in the English edition needs
  polyglossia's ``\\textpersian{...}``. ``BidiRuns`` finds these runs in every paragraph,
  title, caption and table cell (roughly as the Unicode bidi algorithm would) and wraps them.
  Inline code always reads left to right. In the Persian edition it also writes standalone
  numbers with Persian digits, separators and percent sign, as the site does.
- Tables. Sphinx sets tables without explicit widths with ``tabulary``, which breaks under
  xepersian's ``bidi``, and Markdown tables as non-wrapping ``l`` columns that overflow the
  page. ``TableLayout`` makes every table a ``longtable``; LaTeX measures each column's widest
  cell and longest words (``\\cnnbookcolumn``) and fits the columns to the line.
- Document class. ``sphinx-jupyterbook-latex`` imposes ``jupyterBook.cls``, which needs
  ``bbm.sty`` (in no TeX package short of texlive-fonts-extra); the book uses its own
  ``cnnbook.cls``. Sphinx knows no babel name for Persian and warns whatever its babel keys say
  (failing ``-W``): the extension tells it the name; the Persian edition leaves Sphinx's
  babel/polyglossia keys empty and loads xepersian itself (``cnnbook-fa.sty``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from docutils import nodes
from sphinx import addnodes
from sphinx.application import Sphinx
from sphinx.config import Config
from sphinx.transforms.post_transforms import SphinxPostTransform
from sphinx.util.texescape import escape

#: Characters of the Arabic script (Persian letters, digits and punctuation) and the ZWNJ.
_ARABIC = re.compile("[\u0600-\u06ff\u0750-\u077f\u08a0-\u08ff\ufb50-\ufdff\ufe70-\ufeff\u200c]")
#: A standalone number in Persian text (not part of an identifier such as S0.Q1 or conv1d).
_NUMBER = re.compile(r"(?<![A-Za-z0-9_.\-])(\d+(?:[.,]\d+)*)(\s?%)?(?![A-Za-z0-9_])")
#: Scientific notation (9.3e-18) stays a Latin token, like code.
_SCIENTIFIC = re.compile(r"(\d+(?:\.\d+)?[eE][+\-]?\d+)")
_PERSIAN_DIGITS = str.maketrans("0123456789,.", "۰۱۲۳۴۵۶۷۸۹\u066c\u066b")
#: Characters that belong to a Latin token they touch (S0.Q1, CIFAR-10, cu130, C++).
_ATTACHED = set("0123456789-_./+'")
#: Punctuation that ends a sentence or clause rather than a token.
_TRAILING = set(".,;:!?'-")
_BRACKETS = {"(": 1, "[": 1, ")": -1, "]": -1}
#: A left-to-right isolate (U+2066 … U+2069) that the site's text carries for the browser's bidi algorithm.
_LTR_ISOLATE = re.compile("\u2066([^\u2069]*)\u2069")
#: Elements whose text is never rewritten (code, math, raw LaTeX, labels read with astext()).
_VERBATIM = (nodes.literal_block, nodes.doctest_block, nodes.math_block, nodes.raw, nodes.comment,
             nodes.label, nodes.math, nodes.image, nodes.footnote_reference, nodes.target)


def persian_number(text: str) -> str:
    """Persian digits, thousands separator (U+066C), decimal separator (U+066B) and percent sign."""
    def convert(match: re.Match) -> str:
        percent = match.group(2) or ""
        return match.group(1).translate(_PERSIAN_DIGITS) + percent.replace("%", "\u066a")
    parts = _SCIENTIFIC.split(text)
    return "".join(part if index % 2 else _NUMBER.sub(convert, part) for index, part in enumerate(parts))


def strength(char: str) -> str:
    """Bidi class of a character, simplified: R (Arabic script), L (other letters), D, S or N."""
    if _ARABIC.match(char):
        return "R"
    if char.isalpha():
        return "L"
    if "0" <= char <= "9":
        return "D"
    if char.isspace():
        return "S"
    return "N"


@dataclass(frozen=True)
class Direction:
    """How one edition wraps text of the other direction."""

    base: str        # strong class of the edition's own script: "R" (Persian) or "L" (English)
    open: str        # LaTeX that starts a run of the other direction
    close: str = "}"

    @property
    def rtl(self) -> bool:
        return self.base == "R"

    @property
    def foreign(self) -> str:
        return "L" if self.rtl else "R"


DIRECTIONS = {"fa": Direction("R", r"\lr{"), "en": Direction("L", r"\textpersian{")}
#: A left-to-right paragraph inside the Persian edition: its Persian runs are set right to left.
_LTR_IN_PERSIAN = Direction("L", r"\rl{")


@dataclass
class _Atom:
    """One character of a Text node, or one inline child element, with its bidi class."""

    kind: str            # "char" or "node"
    value: Any           # the character, or the element
    cls: str             # R, L, D, S, N for characters; base, foreign, "island" or "neutral" for elements


def _classes(text: str) -> set[str]:
    return {strength(c) for c in text}


def _element_class(element: nodes.Element, direction: Direction) -> str:
    """``base`` (contains the edition's script: processed on its own), ``foreign`` (an island of
    the other direction), ``island`` (never touched: math, raw LaTeX) or ``neutral``."""
    if isinstance(element, nodes.literal):
        return "foreign" if direction.rtl else "island"
    if isinstance(element, _VERBATIM):
        return "island"
    found = _classes(element.astext())
    if direction.base in found:
        return "base"
    return "foreign" if direction.foreign in found else "neutral"


def _isolate(text: str, direction: Direction) -> nodes.raw:
    """A left-to-right isolate as the PDF sets it: its own left-to-right group in the Persian edition, plain
    text in the English one. The marks themselves have no glyph in the PDF fonts."""
    latex = escape(text, "xelatex")
    return _raw(direction.open + latex + direction.close if direction.rtl else latex)


def _atoms(element: nodes.Element, direction: Direction) -> list[_Atom]:
    """The atoms of ``element``'s inline content; a left-to-right isolate is one atom, neutral to its
    surroundings (as in the Unicode bidi algorithm)."""
    atoms: list[_Atom] = []
    for child in element.children:
        if isinstance(child, nodes.Text):
            for index, part in enumerate(_LTR_ISOLATE.split(str(child))):
                if index % 2:
                    atoms.append(_Atom("node", _isolate(part, direction), "island"))
                else:
                    atoms.extend(_Atom("char", c, strength(c)) for c in part)
        else:
            atoms.append(_Atom("node", child, _element_class(child, direction)))
    return atoms


def _is_foreign(atom: _Atom, direction: Direction) -> bool:
    return atom.cls in (direction.foreign, "foreign")


def _is_base(atom: _Atom, direction: Direction) -> bool:
    return atom.cls in (direction.base, "base")


def foreign_runs(atoms: list[_Atom], direction: Direction) -> list[tuple[int, int]]:
    """Index ranges (first, last) of the runs to set in the other direction.

    A run starts at a strong character (or island) of the other direction and extends over
    neutrals up to the last such strong character before the next character of the edition's
    own script; digits and joiners touching its ends belong to it (``S0.Q1``, ``CIFAR-10``),
    sentence punctuation after it does not."""
    runs = []
    i = 0
    while i < len(atoms):
        if not _is_foreign(atoms[i], direction):
            i += 1
            continue
        first = i
        while first > 0 and atoms[first - 1].kind == "char" and atoms[first - 1].value in "0123456789":
            first -= 1
        last = k = i
        while k < len(atoms) and not _is_base(atoms[k], direction):
            # numbers after the run, before any text of the edition's script, belong to it (as
            # the Unicode bidi algorithm's rule W7 says): "numpy 2.4.6", "PyTorch 2.1"
            if _is_foreign(atoms[k], direction) or atoms[k].cls in ("D", "neutral"):
                last = k
            k += 1
        while last + 1 < len(atoms) and atoms[last + 1].kind == "char" and atoms[last + 1].value in _ATTACHED:
            last += 1
        while atoms[last].kind == "char" and atoms[last].value in _TRAILING:
            last -= 1
        # a bracket opened in the run closes in it: "کانولوشن (پیچش)"
        depth = sum(_BRACKETS.get(a.value, 0) for a in atoms[first:last + 1] if a.kind == "char")
        while depth > 0 and last + 1 < len(atoms) and not _is_base(atoms[last + 1], direction):
            last += 1
            depth += _BRACKETS.get(atoms[last].value, 0) if atoms[last].kind == "char" else 0
        runs.append((first, last))
        i = last + 1
    return runs


def _raw(latex: str) -> nodes.raw:
    return nodes.raw("", latex, format="latex")


def rewrite(element: nodes.Element, direction: Direction, whole: bool = False) -> None:
    """Wrap the runs of the other direction in ``element``'s inline content (recursively);
    with ``whole``, wrap all of it as one run. Persian text outside runs gets Persian numbers."""
    atoms = _atoms(element, direction)
    if not atoms:
        return
    runs = [(0, len(atoms) - 1)] if whole else foreign_runs(atoms, direction)
    starts = {first: last for first, last in runs}
    children: list[nodes.Node] = []
    text: list[str] = []

    def flush(in_run: bool) -> None:
        if text:
            value = "".join(text)
            children.append(nodes.Text(value if in_run or not direction.rtl else persian_number(value)))
            text.clear()

    i = 0
    while i < len(atoms):
        if i in starts:
            flush(False)
            last = starts[i]
            children.append(_raw(direction.open))
            for atom in atoms[i:last + 1]:
                if atom.kind == "char":
                    text.append(atom.value)
                else:
                    flush(True)
                    children.append(atom.value)
            flush(True)
            children.append(_raw(direction.close))
            i = last + 1
            continue
        atom = atoms[i]
        if atom.kind == "char":
            text.append(atom.value)
        else:
            flush(False)
            if atom.cls in ("base", "neutral"):
                rewrite(atom.value, direction)
            children.append(atom.value)
        i += 1
    flush(False)
    element.children = []
    element.extend(children)


def _ancestors(node: nodes.Node):
    parent = node.parent
    while parent is not None:
        yield parent
        parent = parent.parent


def _whole_ltr_cell(paragraph: nodes.Element, direction: Direction) -> bool:
    """A table cell without any Persian reads left to right as a whole (3×32×32, 4,736, L1)."""
    return direction.rtl and direction.base not in _classes(paragraph.astext())


def _starts_left_to_right(paragraph: nodes.Element, direction: Direction) -> bool:
    """A provenance value of the Persian edition whose first letter is Latin: the site sets these values
    with ``unicode-bidi: plaintext`` (the first strong letter decides the direction), and so does the PDF."""
    boxed = any("cnnbook-provenance" in a.get("classes", []) for a in _ancestors(paragraph)
                if isinstance(a, nodes.Element))
    first = next((c for c in map(strength, paragraph.astext()) if c in ("L", "R")), None)
    return direction.rtl and boxed and first == "L"


class BidiRuns(SphinxPostTransform):
    """Wrap text of the other direction in each edition (see the module docstring)."""

    builders = ("latex",)
    default_priority = 810  # after sphinx-jupyterbook-latex's restructuring (700)

    def run(self, **kwargs: Any) -> None:
        if self.config.language in DIRECTIONS:
            rewrite_document(self.document, DIRECTIONS[self.config.language])


def rewrite_document(document: nodes.document, direction: Direction) -> None:
    """Wrap the runs of the other direction in every paragraph, title, caption and table cell;
    in the Persian edition, set code blocks and text outputs left to right."""
    if direction.rtl:
        for block in list(document.findall(nodes.literal_block)):
            block.parent.insert(block.parent.index(block) + 1, _raw("\\end{latin}\n"))
            block.parent.insert(block.parent.index(block), _raw("\\begin{latin}\n"))
    for element in list(document.findall(nodes.TextElement)):
        if isinstance(element, (*_VERBATIM, nodes.Inline)):
            continue
        # sphinx-jupyterbook-latex's root-page headings are matched by their text; hidden cells are dropped
        if any(isinstance(a, nodes.TextElement) or type(a).__name__ in ("RootHeader", "HiddenCellNode")
               for a in _ancestors(element)):
            continue
        if _starts_left_to_right(element, direction):
            rewrite(element, _LTR_IN_PERSIAN)
            element.insert(0, _raw(direction.open))
            element.append(_raw(direction.close))
            continue
        rewrite(element, direction, isinstance(element.parent, nodes.entry) and _whole_ltr_cell(element, direction))


# --- tables -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Column:
    """What LaTeX measures to size a table column (``\\cnnbookcolumn`` in cnnbook.sty): its
    alignment (``R``: numbers, shapes and formulas, flush right; ``L``: words), its widest cell,
    the longest word of its head and the longest word of its cells."""

    align: str
    widest: str
    head_word: str
    body_word: str


def _inline_latex(node: nodes.Node) -> str:
    """LaTeX of inline content, as near to the writer's as measuring a width needs."""
    if isinstance(node, nodes.Text):
        return escape(str(node), "xelatex")
    if isinstance(node, nodes.raw):
        return node.astext()
    if isinstance(node, nodes.literal):
        return r"\sphinxcode{\sphinxupquote{" + escape(node.astext(), "xelatex") + "}}"
    if isinstance(node, nodes.math):
        return rf"\({node.astext()}\)"
    return "".join(_inline_latex(child) for child in node.children)


def _cell_latex(entry: nodes.entry, direction: Direction, text: str | None = None) -> str:
    """LaTeX of a cell (or of ``text`` set in it) with the edition's direction handling."""
    paragraph = nodes.paragraph("", text) if text is not None else nodes.paragraph(
        "", "", *[child.deepcopy() for para in entry.findall(nodes.paragraph) for child in para.children])
    rewrite(paragraph, direction, _whole_ltr_cell(paragraph, direction))
    return _inline_latex(paragraph)


def _rows(table: nodes.table, part: type[nodes.Element]) -> list[list[nodes.entry]]:
    return [list(row.findall(nodes.entry)) for group in table.findall(part) for row in group.findall(nodes.row)]


def _contenders(texts: list[str], share: float = 0.6, most: int = 6) -> list[int]:
    """Indices of the texts that may be the widest once set, longest first: a text with fewer characters
    can still be wider ("hexagon" against "triangle"), but not one under ``share`` of the longest's
    length; at most ``most``, one per distinct text."""
    longest = max((len(t) for t in texts), default=0)
    order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
    kept: dict[str, int] = {}
    for i in order:
        if len(texts[i]) >= share * longest and texts[i] not in kept and len(kept) < most:
            kept[texts[i]] = i
    return list(kept.values())


def _widest_of(latex: list[str]) -> str:
    """LaTeX as wide as the widest of ``latex``: the text itself, or a one-column tabular of them."""
    return latex[0] if len(latex) == 1 else r"\begin{tabular}{@{}l@{}}" + r"\\".join(latex) + r"\end{tabular}"


def _longest_word(entries: list[nodes.entry], direction: Direction) -> str:
    """LaTeX as wide as the widest word of ``entries`` once set (every contender measured), or ``""``."""
    words = [(word, entry) for entry in entries for word in entry.astext().split()]
    latex = [_cell_latex(words[i][1], direction, words[i][0]) for i in _contenders([w for w, _ in words])]
    return _widest_of(latex) if latex else ""


def table_columns(table: nodes.table, direction: Direction) -> list[Column]:
    """The columns of ``table`` with the LaTeX that sizes them. The widest cell and the longest word
    (of the head and of the body) are the widest once set, so every contender (``_contenders``) is measured."""
    head, body = _rows(table, nodes.thead), _rows(table, nodes.tbody)
    columns = []
    for j in range(max(len(row) for row in head + body)):
        cells = [row[j] for row in body if j < len(row)]
        heads = [row[j] for row in head if j < len(row)]
        numeric = bool(cells) and not any(c.isalpha() for cell in cells for c in cell.astext())
        widest = [_cell_latex(cells[i], direction) for i in _contenders([c.astext() for c in cells])]
        columns.append(Column(
            "R" if numeric else "L",
            _widest_of(widest) if widest else "",
            _longest_word(heads, direction),
            _longest_word(cells, direction),
        ))
    return columns


def reverse_columns(table: nodes.table) -> None:
    """Put a table's columns in the opposite order (tables without spanning cells)."""
    for group in table.findall(nodes.tgroup):
        specs = [child for child in group.children if isinstance(child, nodes.colspec)]
        others = [child for child in group.children if not isinstance(child, nodes.colspec)]
        group.children = []
        group.extend(specs[::-1] + others)
        for row in group.findall(nodes.row):
            entries = row.children[:]
            row.children = []
            row.extend(entries[::-1])


def _has_spans(table: nodes.table) -> bool:
    return any(entry.get("morecols") or entry.get("morerows") for entry in table.findall(nodes.entry))


class TableLayout(SphinxPostTransform):
    """Every table becomes a ``longtable`` whose columns LaTeX sizes from their cells.

    In the Persian edition a table reads right to left, first column on the right. bidi would do
    that by mirroring, but its longtable output routine then mirrors everything above the table
    on the same page as well (headings flush left, code frames displaced, colours leaking), so
    the table is set left to right with its columns reversed instead (``\\setLTRtable`` in
    cnnbook-fa.sty)."""

    builders = ("latex",)
    default_priority = 800

    def run(self, **kwargs: Any) -> None:
        direction = DIRECTIONS.get(self.config.language, DIRECTIONS["en"])
        for table in list(self.document.findall(nodes.table)):
            if not list(table.findall(nodes.entry)):
                continue
            if direction.rtl and not _has_spans(table):
                reverse_columns(table)
            for paragraph in list(table.findall(nodes.paragraph)):
                if not paragraph.astext().strip():  # Sphinx would write a \par into the cell: a blank line
                    paragraph.parent.remove(paragraph)
            columns = table_columns(table, direction)
            measure = "".join(rf"\cnnbookcolumn{{{c.align}}}{{{c.widest}}}{{{c.head_word}}}{{{c.body_word}}}"
                              for c in columns)
            table["classes"] = [c for c in table["classes"] if c != "colwidths-given"] + ["longtable"]
            parent, index = table.parent, table.parent.index(table)
            parent.insert(index + 1, _raw(r"\endgroup"))
            parent.insert(index, addnodes.tabular_col_spec(
                spec="".join(rf"\cnnbook{c.align}{{{n}}}" for n, c in enumerate(columns, 1))))
            parent.insert(index, _raw(rf"\begingroup\cnnbooktablefont\cnnbooktable{measure}\cnnbookfit" + "\n"))


# --- configuration ------------------------------------------------------------------------

def _configure(app: Sphinx, config: Config) -> None:
    """The book's document class instead of jupyterBook.cls; Persian's babel name for Sphinx."""
    from docutils.writers.latex2e import Babel

    config.latex_theme = "cnnbook"
    Babel.language_codes.setdefault("fa", "persian")


def setup(app: Sphinx) -> dict[str, Any]:
    app.connect("config-inited", _configure, priority=600)  # after sphinx-jupyterbook-latex (500)
    app.add_post_transform(TableLayout)
    app.add_post_transform(BidiRuns)
    return {"parallel_read_safe": True, "parallel_write_safe": True, "version": "1"}
