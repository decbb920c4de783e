"""Shared test helpers."""

from __future__ import annotations


#: The front matter of a MyST notebook page, as the book's pages start.
FRONT_MATTER = """---
jupytext:
  text_representation:
    format_name: myst
kernelspec:
  name: python3
  display_name: Python 3
---
"""


def notebook_page(title: str, code: str) -> str:
    """A MyST notebook page with one code cell, as the book's pages are written."""
    return f"{FRONT_MATTER}# {title}\n\n```{{code-cell}} ipython3\n{code}\n```\n"


SMALL_CONFIG = """title: Demo
only_build_toc_files: true
exclude_patterns: [_build, code]
execute:
  execute_notebooks: cache
  cache: _build/.jupyter_cache
  stderr_output: remove-warn
sphinx:
  extra_extensions: [cnnbook.book.sphinx_ext]
  config:
    language: {language}
    nb_execution_raise_on_error: true
"""


def small_book(root, pages: dict[str, str], modules: dict[str, str] | None = None):
    """A bilingual book in ``root`` built by ``cnnbook build``: a copy of the package (plus
    ``modules``: name -> source), one chapter per entry of ``pages`` (``chNN-slug`` -> code of its
    one cell, the same in both languages; or a whole page when it starts with ``---``), configs and
    tables of contents for both languages."""
    import shutil
    from pathlib import Path

    import cnnbook

    root = Path(root)
    shutil.copytree(Path(cnnbook.__file__).parent, root / "code" / "cnnbook",
                    ignore=shutil.ignore_patterns("__pycache__"))
    for name, source in (modules or {}).items():
        (root / "code" / "cnnbook" / f"{name}.py").write_text(source)
    for language in ("en", "fa"):
        folder = root / "book" / language
        folder.mkdir(parents=True)
        (folder / "index.md").write_text(f"# Demo book ({language})\n")
        for stem, code in pages.items():
            page = code if code.startswith("---") else notebook_page(f"Chapter {stem} ({language})", code)
            (folder / f"{stem}.md").write_text(page)
        toc = "".join(f"  - file: book/{language}/{stem}\n" for stem in pages)
        suffix = "" if language == "en" else ".fa"
        (root / f"_toc{suffix}.yml").write_text(f"format: jb-book\nroot: book/{language}/index\nchapters:\n{toc}")
        (root / f"_config{suffix}.yml").write_text(SMALL_CONFIG.format(language=language))
    (root / "book" / "landing.html").write_text("<html><body>demo</body></html>\n")
    return root


def cnnbook_command(root, *argv: str, profile: str = "quick", extra_env: dict | None = None):
    """Run ``cnnbook <argv>`` on the small book in ``root``; the completed process."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    env = {**os.environ, "PYTHONPATH": str(Path(root) / "code"), "BOOK_PROFILE": profile,
           "CNNBOOK_CACHE": str(Path(root) / ".cnnbook"), **(extra_env or {})}
    return subprocess.run([sys.executable, "-m", "cnnbook.cli", *argv], cwd=root, env=env,
                          capture_output=True, text=True)
