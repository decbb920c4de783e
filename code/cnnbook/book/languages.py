"""The book's two languages and how a page finds its counterpart in the other one.

Pages live at ``book/<lang>/<name>.md``; the site puts each language's build under
``<lang>/`` so that ``en/book/en/x.html`` and ``fa/book/fa/x.html`` are counterparts.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Language:
    code: str
    native_name: str
    other: str
    direction: str


LANGUAGES = {
    "en": Language("en", "English", "fa", "ltr"),
    "fa": Language("fa", "فارسی", "en", "rtl"),
}


def counterpart_docname(docname: str, language: str) -> str | None:
    """``book/en/x`` -> ``book/fa/x`` for ``language='fa'``; None outside ``book/<lang>/``."""
    parts = docname.split("/")
    if len(parts) < 3 or parts[0] != "book" or parts[1] not in LANGUAGES:
        return None
    return "/".join(["book", language, *parts[2:]])


def site_relative_url(from_docname: str, language: str, to_docname: str) -> str:
    """Relative URL in the assembled site from one language's page to another language's page."""
    return "../" * (from_docname.count("/") + 1) + f"{language}/{to_docname}.html"
