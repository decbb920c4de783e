"""Sentences true on one profile only: the build is tagged with its profile, and a passage in an
``{only} profile_<name>`` block appears in that profile's build and nowhere else."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from cnnbook.book.sphinx_ext import profile_tag
from cnnbook.profiles import PROFILES

ROOT = Path(__file__).resolve().parents[1]
ONLY = re.compile(r"^```\{only\}\s*(.+?)\s*$", re.MULTILINE)


def build(tmp_path: Path, monkeypatch, profile: str) -> str:
    from sphinx.application import Sphinx

    source = tmp_path / "src"
    source.mkdir(exist_ok=True)
    (source / "conf.py").write_text('extensions = ["myst_nb", "cnnbook.book.sphinx_ext"]\ncnnbook_package_dir = "."\n')
    (source / "index.rst").write_text(
        "Page\n====\n\nAlways here.\n\n.. only:: profile_quick\n\n   On the stand-in.\n\n"
        ".. only:: profile_full\n\n   On CIFAR-100.\n")
    monkeypatch.setenv("BOOK_PROFILE", profile)
    out = tmp_path / f"out-{profile}"
    app = Sphinx(str(source), str(source), str(out), str(tmp_path / f"doctrees-{profile}"), "text",
                 status=None, warning=None, freshenv=True)
    app.build()
    return (out / "index.txt").read_text()


@pytest.mark.parametrize("profile", list(PROFILES))
def test_a_build_shows_only_the_passages_of_its_profile(tmp_path, monkeypatch, profile):
    text = build(tmp_path, monkeypatch, profile)
    assert "Always here." in text
    assert ("On the stand-in." in text) == (profile == "quick")
    assert ("On CIFAR-100." in text) == (profile == "full")


def test_pages_use_only_profile_tags_and_the_same_blocks_in_both_languages():
    known = {profile_tag(name) for name in PROFILES}
    for english in sorted((ROOT / "book" / "en").glob("*.md")):
        persian = ROOT / "book" / "fa" / english.name
        blocks = ONLY.findall(english.read_text(encoding="utf-8"))
        assert blocks == ONLY.findall(persian.read_text(encoding="utf-8")), english.name
        for expression in blocks:
            assert set(re.findall(r"\w+", expression)) - {"and", "or", "not"} <= known, (english.name, expression)
