"""The errata list (``cnnbook.errata``) and its page: every entry links to a section that exists in
both editions, names a real question, is unique, cites only computed numbers, and is rendered
as a cross-reference the build resolves."""

from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace

import pytest
from docutils import nodes
from sphinx import addnodes

from cnnbook import errata
from cnnbook.book.mime import CnnbookMimeRenderer, errata_table
from cnnbook.errata import ERRATA, Erratum, ErratumError

ROOT = Path(__file__).resolve().parents[1]
SEEDS_README = ROOT.parent / "shared" / "seeds" / "README.md"
LABEL = re.compile(r"^\(([\w-]+)\)=$", re.MULTILINE)
SECTION_LABEL = re.compile(r"^\(([\w-]+)\)=\n#+ ", re.MULTILINE)  # a label a heading follows: it has a title
SEED_ID = re.compile(r"\bS\d\.[QTP]\d+\b")
PERSIAN = re.compile("[\u0600-\u06ff]")


def labels(language: str, pattern: re.Pattern = LABEL) -> set[str]:
    return {label for path in (ROOT / "book" / language).rglob("*.md")
            for label in pattern.findall(path.read_text(encoding="utf-8"))}


def seed_ids() -> set[str]:
    """The question ids: the seed list where it is beside the clone, else the exercise index."""
    source = SEEDS_README if SEEDS_README.exists() else ROOT / "book" / "en" / "exercises.md"
    return set(SEED_ID.findall(source.read_text(encoding="utf-8")))


def entry_id(erratum: Erratum) -> str:
    return f"{erratum.id}:{erratum.target}:{erratum.claim_en[:30]}"


@pytest.mark.parametrize("language", ["en", "fa"])
def test_every_entry_links_to_a_label_of_both_editions(language):
    known = labels(language)
    assert [e.target for e in ERRATA if e.target not in known] == []


@pytest.mark.parametrize("language", ["en", "fa"])
def test_every_entry_links_to_a_section_so_the_link_has_a_title(language):
    sections = labels(language, SECTION_LABEL)  # a label before a paragraph has no title to show
    assert [e.target for e in ERRATA if e.target not in sections] == []


def test_ids_are_questions_of_the_coursework():
    assert {e.id for e in ERRATA} <= seed_ids()


def test_entries_are_unique():
    for language in errata.LANGUAGES:
        for part in ("claim", "truth"):
            texts = [(e.id, e.text(part, language)) for e in ERRATA]
            assert len(texts) == len(set(texts)), f"two entries share a {part} ({language})"


def test_both_kinds_are_listed_and_answers_come_from_the_answer_sheets():
    assert {e.kind for e in ERRATA} == set(errata.KINDS)
    assert all(e.id.startswith(errata.ANSWER_SHEETS) for e in errata.entries("answer"))


@pytest.mark.parametrize("erratum", ERRATA, ids=entry_id)
def test_texts_are_complete_in_both_languages(erratum):
    for part in ("claim", "truth"):
        english, persian = erratum.text(part, "en"), erratum.text(part, "fa")
        assert english.strip() and persian.strip()
        assert PERSIAN.search(persian) and not PERSIAN.search(english)
        # the same computed numbers and the same math in both languages
        assert set(errata.PLACEHOLDER.findall(english)) == set(errata.PLACEHOLDER.findall(persian))
        for text in (english, persian):
            assert text.count("$") % 2 == 0, f"unbalanced inline math: {text}"
        assert re.findall(r"\$[^$]+\$", english) == re.findall(r"\$[^$]+\$", persian)
        # Persian punctuation: a comma or semicolon after a Persian word is the Persian one
        assert not re.search("[\u0600-\u06ff][,;]", persian), persian


@pytest.mark.parametrize("erratum", [e for e in ERRATA if e.placeholders()], ids=entry_id)
def test_cited_numbers_are_computed(erratum):
    assert erratum.values is not None
    values = erratum.values()
    assert erratum.placeholders() <= set(values)
    for language in errata.LANGUAGES:
        for text in erratum.render(language, values).values():
            assert "<<" not in text


def test_a_placeholder_without_a_value_is_refused():
    bad = Erratum("S0.Q4", "premise", "ex-s0-q4", "a <<size>>", "الف <<size>>", "b", "ب")
    with pytest.raises(ErratumError, match="no value for <<size>>"):
        bad.render("en")


@pytest.mark.parametrize("seed_id, kind", [("S0.Q99x", "premise"), ("S0.Q4", "wrong"), ("S0.Q4", "answer")])
def test_bad_entries_are_refused(seed_id, kind):
    with pytest.raises(ErratumError):
        Erratum(seed_id, kind, "ex-s0-q4", "a", "الف", "b", "ب")


def test_order_follows_the_sheets():
    assert sorted(["S4.Q1", "S1.P1", "S1.T4", "S0.Q10", "S0.Q2"], key=errata.order) == \
        ["S0.Q2", "S0.Q10", "S1.T4", "S1.P1", "S4.Q1"]
    ids = [e.id for e in errata.entries("premise")]
    assert ids == sorted(ids, key=errata.order)


def test_values_are_written_as_prose():
    assert errata.format_value(7904, "en") == "7,904"
    assert errata.format_value((32, 64, 128), "en") == "32, 64 and 128"
    assert errata.format_value((32, 64, 128), "fa") == "32، 64 و 128"


@pytest.mark.parametrize("language", ["en", "fa"])
def test_rendered_rows_link_to_their_sections(language):
    output = errata.table("answer")._repr_mimebundle_()
    content = output[errata.ERRATA_MIME]
    table = errata_table(content, language, f"book/{language}/errata")
    rows = table.next_node(nodes.tbody).children
    assert len(rows) == len(errata.entries("answer"))
    references = [ref["reftarget"] for ref in table.findall(addnodes.pending_xref)]
    assert references == [e.target for e in errata.entries("answer")]
    assert all(ref["refdomain"] == "std" and ref["reftype"] == "ref" for ref in table.findall(addnodes.pending_xref))
    assert any(True for _ in table.findall(nodes.math)), "inline $...$ should become math"
    if language == "fa":  # numbers in Persian prose take Persian digits; ids and math keep theirs
        cells = [row[column] for row in rows for column in (1, 2)]  # the claim and what holds
        prose = " ".join(t.astext() for cell in cells for t in cell.findall(nodes.Text)
                         if not isinstance(t.parent, nodes.math))
        prose += " " + " ".join(entry.astext() for entry in table.next_node(nodes.thead).findall(nodes.entry))
        assert "پرسش" in prose and not re.search(r"[0-9]", SEED_ID.sub("", prose))


def test_both_pages_show_both_tables():
    for language in ("en", "fa"):
        text = (ROOT / "book" / language / "errata.md").read_text(encoding="utf-8")
        for kind in errata.KINDS:
            assert f'errata.table("{kind}")' in text
    for toc, language in (("_toc.yml", "en"), ("_toc.fa.yml", "fa")):
        assert f"book/{language}/errata" in (ROOT / toc).read_text(encoding="utf-8")


def test_the_book_renderer_writes_the_table_in_the_page_language():
    env = SimpleNamespace(config=SimpleNamespace(language="fa"), docname="book/fa/errata")
    renderer = SimpleNamespace(renderer=SimpleNamespace(document=SimpleNamespace(settings=SimpleNamespace(env=env))))
    bundle = errata.table("premise")._repr_mimebundle_()
    data = SimpleNamespace(mime_type=errata.ERRATA_MIME, content=bundle[errata.ERRATA_MIME])
    [table] = CnnbookMimeRenderer.handle_mime(renderer, data, inline=False)
    assert table.next_node(nodes.thead).astext().split("\n")[0] == "پرسش"
    assert {ref["refdoc"] for ref in table.findall(addnodes.pending_xref)} == {"book/fa/errata"}
