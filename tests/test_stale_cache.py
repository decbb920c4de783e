"""End to end: a tiny book in a temporary copy of the package re-executes exactly when it must.

An edit to a module the page imports, a profile switch or a forced run re-executes the page;
an unchanged rebuild or an edit to a module the page does not import executes nothing.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import notebook_page

import cnnbook
from cnnbook.book.chapters import Chapter
from cnnbook.book.site import invalidate

pytestmark = pytest.mark.slow

CONFIG = """title: Demo
only_build_toc_files: true
exclude_patterns: [_build, code]
execute:
  execute_notebooks: cache
  cache: _build/.jupyter_cache
sphinx:
  extra_extensions: [cnnbook.book.sphinx_ext]
  config:
    language: en
    nb_execution_raise_on_error: true
"""
TOC = """format: jb-book
root: book/en/index
chapters:
  - file: book/en/ch01-demo
"""
PAGE = notebook_page("Demo chapter", 'from cnnbook import demo_alpha\nprint(f"value={demo_alpha.VALUE}")')


@pytest.fixture(scope="module")
def book(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("book")
    shutil.copytree(Path(cnnbook.__file__).parent, root / "code" / "cnnbook",
                    ignore=shutil.ignore_patterns("__pycache__"))
    (root / "code" / "cnnbook" / "demo_alpha.py").write_text("VALUE = 1\n")
    (root / "code" / "cnnbook" / "demo_beta.py").write_text("VALUE = 1\n")
    (root / "book" / "en").mkdir(parents=True)
    (root / "book" / "en" / "index.md").write_text("# Demo book\n")
    (root / "book" / "en" / "ch01-demo.md").write_text(PAGE)
    (root / "_config.yml").write_text(CONFIG)
    (root / "_toc.yml").write_text(TOC)
    return root


def run_build(root: Path, profile: str = "quick") -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(root / "code"), "BOOK_PROFILE": profile}
    return subprocess.run([str(Path(sys.executable).with_name("jupyter-book")), "build", ".", "-W"],
                          cwd=root, env=env, capture_output=True, text=True)


def build(root: Path, profile: str = "quick") -> tuple[int, str]:
    """Build the demo book; return the number of executed notebooks and the chapter's HTML."""
    result = run_build(root, profile)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    executed = len(re.findall(r"Executed notebook in", result.stdout + result.stderr))
    html = (root / "_build" / "html" / "book" / "en" / "ch01-demo.html").read_text(encoding="utf-8")
    return executed, html


def test_outputs_are_never_stale_and_nothing_runs_twice(book: Path):
    executed, html = build(book)
    assert executed == 1 and "value=1" in html

    assert build(book)[0] == 0                                    # unchanged rebuild: nothing runs

    (book / "code" / "cnnbook" / "demo_beta.py").write_text("VALUE = 2\n")
    assert build(book)[0] == 0                                    # module the page does not import

    (book / "code" / "cnnbook" / "demo_alpha.py").write_text("VALUE = 2\n")
    executed, html = build(book)
    assert executed == 1 and "value=2" in html                    # module the page imports

    assert build(book, profile="full")[0] == 1                    # another profile, another execution
    executed, html = build(book, profile="quick")
    assert executed == 0 and "value=2" in html                    # back: cached outputs, page re-read

    chapter = Chapter("ch01", "book/en/ch01-demo", book)
    assert invalidate(book, chapter) >= 1
    assert build(book)[0] == 1                                    # forced: executes again


def test_a_failing_cell_fails_the_build(book: Path):
    page = book / "book" / "en" / "ch01-demo.md"
    original = page.read_text()
    try:
        page.write_text(notebook_page("Demo chapter", "raise ValueError('broken on purpose')"))
        result = run_build(book)
        assert result.returncode != 0
        assert "broken on purpose" in result.stdout + result.stderr
    finally:
        page.write_text(original)
