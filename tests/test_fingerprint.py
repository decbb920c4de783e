"""Execution keys: which package modules a page depends on, and when its key changes."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import notebook_page

from cnnbook.book.fingerprint import (
    execution_key, is_notebook_page, module_closure, page_imports, with_execution_key,
)

PAGE = notebook_page("A page", "from cnnbook import alpha\nfrom cnnbook.sub.beta import value")


@pytest.fixture
def package(tmp_path: Path) -> Path:
    """A small fake ``cnnbook`` package with relative and absolute imports."""
    root = tmp_path / "cnnbook"
    (root / "sub").mkdir(parents=True)
    (root / "__init__.py").write_text("")
    (root / "alpha.py").write_text("from .gamma import helper\nVALUE = 1\n")
    (root / "gamma.py").write_text("import math\nhelper = math.pi\n")
    (root / "unused.py").write_text("X = 0\n")
    (root / "sub" / "__init__.py").write_text("from . import delta\n")
    (root / "sub" / "beta.py").write_text("from cnnbook.alpha import VALUE as value\n")
    (root / "sub" / "delta.py").write_text("D = 4\n")
    return root


def test_closure_follows_absolute_relative_and_package_imports(package: Path):
    closure = module_closure(package, {"cnnbook.alpha", "cnnbook.sub.beta"})
    assert set(closure) == {"cnnbook", "cnnbook.alpha", "cnnbook.gamma", "cnnbook.sub", "cnnbook.sub.beta",
                            "cnnbook.sub.delta"}


def test_key_changes_with_an_imported_module_but_not_with_an_unused_one(package: Path):
    before = execution_key(PAGE, package, "quick")
    (package / "unused.py").write_text("X = 1\n")
    assert execution_key(PAGE, package, "quick") == before
    (package / "sub" / "delta.py").write_text("D = 5\n")  # imported by sub/__init__
    changed = execution_key(PAGE, package, "quick")
    assert changed != before
    (package / "gamma.py").write_text("import math\nhelper = math.e\n")  # imported by alpha, relatively
    assert execution_key(PAGE, package, "quick") != changed


def test_key_changes_with_the_profile_and_package_data(package: Path):
    quick = execution_key(PAGE, package, "quick")
    assert execution_key(PAGE, package, "full") != quick
    (package / "table.csv").write_text("a,b\n")
    assert execution_key(PAGE, package, "quick") != quick


def test_key_cell_is_appended_only_to_notebook_pages(package: Path):
    key = execution_key(PAGE, package, "quick")
    keyed = with_execution_key(PAGE, key)
    assert keyed.startswith(PAGE.rstrip("\n")) and key in keyed and "remove-cell" in keyed
    assert is_notebook_page(PAGE)
    assert not is_notebook_page("# Plain page\n\nNo code here.\n")


def test_the_real_package_closure_of_chapter_one_is_small():
    root = Path(__file__).resolve().parents[1]
    text = (root / "book" / "en" / "ch01-layer-arithmetic.md").read_text(encoding="utf-8")
    closure = module_closure(root / "code" / "cnnbook", page_imports(text))
    assert "cnnbook.arithmetic" in closure and "cnnbook.book.mime" not in closure


@pytest.mark.parametrize("options", [":tags: [remove-input]\n\n", "---\ntags: [remove-input]\n---\n"])
def test_imports_are_found_in_cells_with_options(package: Path, options: str):
    page = notebook_page("A page", options + "from cnnbook import alpha\nalpha.VALUE")
    assert "cnnbook.alpha" in page_imports(page)
    before = execution_key(page, package, "quick")
    (package / "alpha.py").write_text("from .gamma import helper\nVALUE = 2\n")
    assert execution_key(page, package, "quick") != before
