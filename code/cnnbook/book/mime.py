"""myst-nb renderer for the book's custom outputs, written in the language of the page.

Errata tables (``cnnbook.errata``) link each entry to its section with a Sphinx cross-reference,
created while the page is read, so it resolves in the HTML and the LaTeX builds alike.

Registered through the ``myst_nb.mime_renderers`` entry point (see ``pyproject.toml``), so the
same cached cell output becomes an English table in the English build and a Persian one in
the Persian build.
"""

from __future__ import annotations

import re
from typing import Any

from docutils import nodes
from sphinx import addnodes

from cnnbook.book.display import TABLE_MIME, format_cell
from cnnbook.book.labels import label
from cnnbook.errata import ERRATA_MIME
from cnnbook.provenance import PROVENANCE_MIME, version_pairs

_INLINE_MATH = re.compile(r"\$([^$]+)\$")


def _language(renderer: Any) -> str:
    env = getattr(renderer.renderer.document.settings, "env", None)
    return (env.config.language if env is not None else None) or "en"


def _docname(renderer: Any) -> str | None:
    env = getattr(renderer.renderer.document.settings, "env", None)
    return getattr(env, "docname", None)


def _paragraph(text: str) -> nodes.paragraph:
    return nodes.paragraph(text=text)


def table_node(header: list[str], rows: list[list[str]], classes: list[str]) -> nodes.table:
    """A docutils table (works in every Sphinx builder) from header and row texts."""
    table = nodes.table(classes=classes)
    group = nodes.tgroup(cols=len(header))
    table += group
    for _ in header:
        group += nodes.colspec(colwidth=1)
    head = nodes.thead()
    head += nodes.row("", *[nodes.entry("", _paragraph(h)) for h in header])
    body = nodes.tbody()
    for cells in rows:
        body += nodes.row("", *[nodes.entry("", _paragraph(c)) for c in cells])
    group += head
    group += body
    return table


def _table(content: dict, language: str) -> list[nodes.Node]:
    header = [label(key, language) for key in content["columns"]]
    rows = [[format_cell(value, language) for value in row] for row in content["rows"]]
    return [table_node(header, rows, ["cnnbook-table"])]


def _data_text(source: dict, language: str) -> str:
    if source["real"]:
        kind = label("real", language)
    elif source["stands_in_for"]:
        kind = f"{label('stand_in', language)} {source['stands_in_for']}"
    else:  # generated on purpose, not in place of a real data set
        kind = label("procedural", language)
    # the size as a left-to-right isolate: after a Persian word, "3×224×224" would otherwise reverse
    return f"{source['name']} ({kind}), \u2066{source['size']}\u2069"


def _provenance(record: dict, language: str) -> list[nodes.Node]:
    data = "; ".join(_data_text(s, language) for s in record["data"]) or label("data_none", language)
    versions = ", ".join(f"{name} {version}" for name, version in version_pairs(record["versions"]))
    rows = [
        [label("profile", language), label(f"profile_{record['profile']}", language)],
        [label("data", language), data],
        [label("device", language), record["device"]],
        [label("seed", language), str(record["seed"])],
        [label("wall_time", language), f"{record['wall_time']} {label('seconds', language)}"],
        [label("versions", language), versions],
    ]
    box = nodes.admonition(classes=["cnnbook-provenance", "note"])
    box += nodes.title(text=label("provenance", language))
    fields = nodes.field_list()
    for name, value in rows:
        fields += nodes.field("", nodes.field_name(text=name), nodes.field_body("", _paragraph(value)))
    box += fields
    return [box]


def prose(text: str, language: str) -> nodes.paragraph:
    """A paragraph of text with inline ``$...$`` math; Persian text gets Persian digits (the site's
    script leaves cell outputs alone)."""
    from cnnbook.book.latex import persian_number

    paragraph = nodes.paragraph()
    for index, part in enumerate(_INLINE_MATH.split(text)):
        if index % 2:
            paragraph += nodes.math(part, part)
        elif part:
            paragraph += nodes.Text(persian_number(part) if language == "fa" else part)
    return paragraph


def section_reference(target: str, docname: str | None) -> nodes.paragraph:
    """A cross-reference to the section labelled ``target``, shown with its title, as ``{ref}``
    writes it: Sphinx resolves it in every builder and warns (failing a strict build) if the
    label does not exist."""
    reference = addnodes.pending_xref("", nodes.inline(target, target, classes=["xref", "std", "std-ref"]),
                                      refdomain="std", reftype="ref", reftarget=target,
                                      refexplicit=False, refwarn=True)
    if docname is not None:
        reference["refdoc"] = docname
    return nodes.paragraph("", "", reference)


def errata_table(content: dict, language: str, docname: str | None) -> nodes.table:
    """The errata of one kind (``cnnbook.errata.table``): id, claim, what holds, and a link."""
    keys = ["errata_id", f"errata_{content['kind']}", "errata_truth", "errata_section"]
    table = table_node([label(key, language) for key in keys], [], ["cnnbook-table", "cnnbook-errata"])
    body = table.next_node(nodes.tbody)
    for row in content["rows"]:
        cells = [nodes.paragraph(text=row["id"]), prose(row[language]["claim"], language),
                 prose(row[language]["truth"], language), section_reference(row["target"], docname)]
        body += nodes.row("", *[nodes.entry("", cell) for cell in cells])
    return table


class CnnbookMimeRenderer:
    """Renders ``TABLE_MIME``, ``PROVENANCE_MIME`` and ``ERRATA_MIME`` outputs; other mime types are left to myst-nb."""

    mime_priority_overrides = [("*", TABLE_MIME, 1), ("*", PROVENANCE_MIME, 1), ("*", ERRATA_MIME, 1)]

    @staticmethod
    def handle_mime(renderer: Any, data: Any, inline: bool) -> list[nodes.Node] | None:
        if inline:
            return None
        if data.mime_type == TABLE_MIME:
            return _table(data.content, _language(renderer))
        if data.mime_type == PROVENANCE_MIME:
            return _provenance(data.content, _language(renderer))
        if data.mime_type == ERRATA_MIME:
            return [errata_table(data.content, _language(renderer), _docname(renderer))]
        return None
