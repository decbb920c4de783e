"""The two editions stay in step: same code cells, labels, glue keys, tables of contents, configs;
every question of the coursework is in the exercise index of both."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest
import yaml

from cnnbook.book.chapters import chapters
from cnnbook.book.fingerprint import is_notebook_page

ROOT = Path(__file__).resolve().parents[1]
SEEDS_README = ROOT.parent / "shared" / "seeds" / "README.md"
CODE_CELL = re.compile(r"^```\{code-cell\}[^\n]*\n(.*?)^```$", re.MULTILINE | re.DOTALL)
LABEL = re.compile(r"^\(([\w-]+)\)=$", re.MULTILINE)
GLUE = re.compile(r"\{glue(?::\w+)?\}`([^`:]+)|```\{glue:\w+\} (\S+)")
FIGURE = re.compile(r"```\{glue:figure\} (\S+)|```\{figure\} (\S+)")
SEED_ID = re.compile(r"\bS\d\.[QTP]\d+\b")

PAGES = sorted(p.relative_to(ROOT / "book" / "en") for p in (ROOT / "book" / "en").rglob("*.md"))


def page(language: str, name: Path) -> str:
    return (ROOT / "book" / language / name).read_text(encoding="utf-8")


def test_every_page_exists_in_both_languages():
    persian = sorted(p.relative_to(ROOT / "book" / "fa") for p in (ROOT / "book" / "fa").rglob("*.md"))
    assert PAGES == persian


@pytest.mark.parametrize("name", PAGES, ids=str)
def test_code_cells_are_identical_in_both_languages(name):
    english, persian = CODE_CELL.findall(page("en", name)), CODE_CELL.findall(page("fa", name))
    assert english == persian, "code cells differ: the chapter would execute twice or show different outputs"


@pytest.mark.parametrize("name", PAGES, ids=str)
def test_labels_glue_keys_and_figures_match(name):
    en, fa = page("en", name), page("fa", name)
    assert LABEL.findall(en) == LABEL.findall(fa)
    assert {a or b for a, b in GLUE.findall(en)} == {a or b for a, b in GLUE.findall(fa)}
    assert FIGURE.findall(en) == FIGURE.findall(fa)


@pytest.mark.parametrize("name", PAGES, ids=str)
def test_pages_have_no_placeholders(name):
    for language in ("en", "fa"):
        assert not re.search(r"\b(TODO|FIXME|XXX|lorem ipsum)\b", page(language, name), re.IGNORECASE)


def test_every_glued_key_is_glued_by_a_code_cell():
    for name in PAGES:
        text = page("en", name)
        cells = "\n".join(CODE_CELL.findall(text))
        used = {a or b for a, b in GLUE.findall(text)}
        if not used:
            continue
        # a key is glued directly, or through a prefix helper (glue_numbers / glue_rows / glue_derivation),
        # or by a glue call with an f-string name f"<prefix>_{...}"
        prefixes = set(re.findall(r"glue_(?:numbers|rows|derivation)\(\"(\w+)\"", cells))
        prefixes |= set(re.findall(r"glue(?:_\w+)?\(f\"(\w+?)_\{", cells))
        direct = set(re.findall(r"glue(?:_figure)?\(\"(\w+)\"", cells))
        for key in used:
            assert key in direct or any(key.startswith(prefix + "_") for prefix in prefixes), key


def test_tables_of_contents_mirror_each_other():
    en = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))
    fa = yaml.safe_load((ROOT / "_toc.fa.yml").read_text(encoding="utf-8"))

    def files(toc):
        return re.findall(r"'file': '([^']+)'", str(toc)) + [toc["root"]]

    assert [f.replace("book/en/", "book/fa/") for f in files(en)] == files(fa)


def test_configs_differ_only_in_language_keys():
    def significant(path: Path) -> list[str]:
        lines = path.read_text(encoding="utf-8").splitlines()
        return [line for line in lines if not line.startswith("#") and "# language" not in line]

    assert significant(ROOT / "_config.yml") == significant(ROOT / "_config.fa.yml")


def test_chapters_are_notebooks_with_a_provenance_box():
    found = chapters(ROOT)
    assert found, "the table of contents lists no chapter"
    for chapter in found:
        for language in ("en", "fa"):
            text = chapter.page(language).read_text(encoding="utf-8")
            assert is_notebook_page(text)
            assert CODE_CELL.findall(text)[-1].strip().endswith("provenance.box()")


def exercise_ids(language: str) -> list[str]:
    rows = [line for line in page(language, Path("exercises.md")).splitlines() if line.startswith("| S")]
    return [SEED_ID.search(row).group(0) for row in rows]


def test_exercise_index_lists_every_seed_question_in_both_languages():
    if not SEEDS_README.exists():
        pytest.skip(f"the seed list {SEEDS_README} is not beside this clone")
    seeds = sorted(set(SEED_ID.findall(SEEDS_README.read_text(encoding="utf-8"))))
    assert sorted(exercise_ids("en")) == seeds
    assert exercise_ids("fa") == exercise_ids("en")


def test_answered_exercises_point_to_labels_that_exist():
    labels = {label for name in PAGES for label in LABEL.findall(page("en", name))}
    for language in ("en", "fa"):
        for ref in re.findall(r"\{ref\}`([\w-]+)`", page(language, Path("exercises.md"))):
            assert ref in labels, ref


def test_glossary_rows_have_both_terms():
    with (ROOT / "book" / "glossary.csv").open(encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["English", "فارسی"]
    for english, persian in rows[1:]:
        assert english.strip() and persian.strip()
        assert re.search(r"[\u0600-\u06FF]", persian), persian


def test_theme_strings_of_our_templates_have_persian_translations():
    # the sidebar toggles are overridden only to translate their tooltips: each string needs a msgstr
    used = {m for path in (ROOT / "book" / "_templates").glob("*.html")
            for m in re.findall(r"translate\('([^']+)'\)", path.read_text(encoding="utf-8"))}
    catalogue = (ROOT / "book" / "_locales" / "fa" / "LC_MESSAGES" / "booktheme.po").read_text(encoding="utf-8")
    translated = dict(re.findall(r'^msgid "(.+)"\nmsgstr "(.*)"$', catalogue, re.MULTILINE))
    assert used >= {"Toggle primary sidebar", "Toggle secondary sidebar"}
    assert [s for s in sorted(used) if not translated.get(s)] == []
