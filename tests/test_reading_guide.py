"""The reading guide of the landing page covers the whole book: every chapter of the table of
contents and the reference pages, in both languages. A new chapter without a line in the guide
fails here."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from cnnbook.book.chapters import chapters

ROOT = Path(__file__).resolve().parents[1]
GUIDE_HEADING = {"en": "## How to read it", "fa": "## راهنمای خواندن"}


def guide(language: str) -> str:
    text = (ROOT / "book" / language / "index.md").read_text(encoding="utf-8")
    heading = GUIDE_HEADING[language]
    assert heading in text, f"the {language} landing page has no reading guide ({heading!r})"
    section = text.split(heading, 1)[1]
    return re.split(r"^## ", section, maxsplit=1, flags=re.MULTILINE)[0]


@pytest.mark.parametrize("language", ["en", "fa"])
def test_the_guide_names_every_chapter_in_order(language):
    referenced = re.findall(r"\{ref\}`(ch\d\d)`", guide(language))
    assert referenced == [chapter.id for chapter in chapters(ROOT)]


@pytest.mark.parametrize("language", ["en", "fa"])
def test_the_guide_names_the_reference_pages(language):
    documents = set(re.findall(r"\{doc\}`[^`<]*<([\w-]+)>`", guide(language)))
    assert documents >= {"exercises", "errata", "glossary"}


def test_every_chapter_has_the_label_the_guide_uses():
    for chapter in chapters(ROOT):
        for language in ("en", "fa"):
            assert f"({chapter.id})=" in chapter.page(language).read_text(encoding="utf-8")
