"""The chapters of the book, read from the English table of contents (``_toc.yml``).

A chapter is a page pair ``book/en/chNN-<slug>.md`` / ``book/fa/chNN-<slug>.md``; its id is
``chNN``. Other pages (landing, exercise index, glossary) are not chapters.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml

_CHAPTER_FILE = re.compile(r"^book/en/(ch\d\d)-[\w-]+$")
_TITLE = re.compile(r"^# (.+)$", re.MULTILINE)


class ChapterError(ValueError):
    """An unknown chapter id."""


@dataclass(frozen=True)
class Chapter:
    id: str
    docname: str  # English docname, e.g. book/en/ch01-layer-arithmetic
    root: Path

    def page(self, language: str) -> Path:
        """Source file of the chapter's page in ``language``."""
        return self.root / (self.docname.replace("book/en/", f"book/{language}/", 1) + ".md")

    def title(self, language: str) -> str:
        """The page's first-level heading."""
        match = _TITLE.search(self.page(language).read_text(encoding="utf-8"))
        return match.group(1).strip() if match else self.id


def _toc_files(node: object) -> list[str]:
    if isinstance(node, dict):
        found = [node["file"]] if "file" in node else []
        for key in ("parts", "chapters", "sections"):
            for child in node.get(key, []) or []:
                found += _toc_files(child)
        return found
    return []


def toc_docnames(root: Path) -> list[str]:
    """Docnames of the English table of contents in reading order: its root page, then every file."""
    toc = yaml.safe_load((root / "_toc.yml").read_text(encoding="utf-8"))
    return [toc.get("root", "")] + _toc_files(toc)


def chapters(root: Path) -> list[Chapter]:
    """Chapters in table-of-contents order."""
    result = []
    for docname in toc_docnames(root):
        match = _CHAPTER_FILE.match(docname)
        if match:
            result.append(Chapter(match.group(1), docname, root))
    return result
