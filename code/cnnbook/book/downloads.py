"""What a reader can take away from the site: each chapter's executed notebook and the PDF editions.

- **Notebooks.** myst-nb writes every notebook page it reads as a notebook
  (``<build>/jupyter_execute/<docname>.ipynb``: the page's prose in its language and its code
  cells) but, reading from the execution cache, without the outputs. ``copy_notebooks``
  (``build-finished``) merges the outputs of the shared execution into it from the jupyter-cache
  and writes it into the HTML output at ``_sources/<docname>.ipynb``;
  ``add_download_buttons`` (``html-page-context``) adds it to the theme's download menu, next to
  the MyST source.
- **PDF editions.** ``cnnbook pdf`` writes ``_build/pdf/cnn-book-<lang>.pdf``. The download menu
  of every page has a link to ``pdf/cnn-book-<lang>.pdf`` at the root of the site, hidden by the
  stylesheet; ``place_pdfs`` (run when the site is assembled and after ``cnnbook pdf``) copies the
  PDFs that exist into ``_build/site/pdf/`` and writes ``_static/cnnbook-pdf.js`` of each edition,
  which shows the link only where that edition's PDF is there. So ``make pdf`` before or after
  ``make book`` leaves working links, and a site without PDFs shows none. The landing page links
  each PDF that exists (``landing_page``).
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

#: The script each edition loads; the site's copy says whether that edition's PDF is there.
PDF_SCRIPT = "cnnbook-pdf.js"
#: The theme's class of the PDF link (the button's label; hidden unless <html> has ``HAS_PDF_CLASS``).
PDF_LINK_LABEL = "download-edition-pdf-button"
HAS_PDF_CLASS = "cnnbook-has-pdf"
#: Folder of the PDFs in the assembled site.
SITE_PDF_DIR = "pdf"
#: Where each edition's card on the landing page gets its PDF link.
LANDING_MARK = "<!-- cnnbook:pdf-{language} -->"
LINK_TEXT = {"en": "PDF edition", "fa": "نسخهٔ PDF"}
NOTEBOOK_TOOLTIP = {"en": "Download the executed notebook (with outputs)",
                    "fa": "دریافت نوت‌بوک اجراشده (همراه با خروجی‌ها)"}
PDF_TOOLTIP = {"en": "Download the whole book as PDF", "fa": "دریافت کل کتاب به صورت PDF"}


def pdf_name(language: str) -> str:
    """File name of an edition's PDF (``cnnbook.book.pdf.pdf_path``)."""
    return f"cnn-book-{language}.pdf"


def pdf_script(present: bool) -> str:
    """The content of ``_static/cnnbook-pdf.js``: mark the page when the edition's PDF is there."""
    if not present:
        return "/* This edition's PDF is not part of the site: its links stay hidden. */\n"
    return f'document.documentElement.classList.add("{HAS_PDF_CLASS}");\n'


def _notebook_folder(app: Any) -> Path:
    return Path(app.outdir).parent / "jupyter_execute"


def executed_notebook(app: Any, docname: str) -> Path | None:
    """The executed notebook myst-nb wrote for ``docname``, if the page is a notebook."""
    path = _notebook_folder(app) / f"{docname}.ipynb"
    return path if path.is_file() else None


def site_root_url(pagename: str) -> str:
    """Relative URL from a page of an edition to the root of the assembled site."""
    return "../" * (pagename.count("/") + 1)


def add_download_buttons(app: Any, pagename: str, templatename: str, context: dict, doctree: Any) -> None:
    """Add the executed notebook and the edition's PDF to the theme's download menu."""
    language = app.config.language if app.config.language in LINK_TEXT else "en"
    group = next((b for b in context.get("header_buttons", []) if b.get("label") == "download-buttons"), None)
    if group is None:
        return
    buttons = group["buttons"]
    if executed_notebook(app, pagename) is not None:
        buttons.insert(0, {"type": "link", "url": f"{context['pathto']('_sources', 1)}/{pagename}.ipynb",
                           "text": ".ipynb", "icon": "fas fa-code", "tooltip": NOTEBOOK_TOOLTIP[language],
                           "label": "download-notebook-button"})
    buttons.append({"type": "link", "url": f"{site_root_url(pagename)}{SITE_PDF_DIR}/{pdf_name(language)}",
                    "text": LINK_TEXT[language], "icon": "fas fa-book", "tooltip": PDF_TOOLTIP[language],
                    "label": PDF_LINK_LABEL})


def executed(notebook_path: Path, cache_path: str | None) -> str:
    """The notebook at ``notebook_path`` with the outputs of its execution in the jupyter-cache
    (as it is when the cache holds none), as notebook JSON."""
    import nbformat

    notebook = nbformat.read(str(notebook_path), as_version=4)
    if cache_path:
        from jupyter_cache import get_cache

        try:
            _, notebook = get_cache(cache_path).merge_match_into_notebook(notebook)
        except KeyError:  # no execution of this code in the cache
            pass
    return nbformat.writes(notebook)


def copy_notebooks(app: Any, exception: Exception | None) -> None:
    """``build-finished``: every page's executed notebook, with its outputs, into ``_sources/``."""
    if exception is not None or app.builder.format != "html":
        return
    cache_path = app.config.nb_execution_cache_path if app.config.nb_execution_mode == "cache" else None
    for docname in sorted(app.env.found_docs):
        source = executed_notebook(app, docname)
        if source is None:
            continue
        target = Path(app.outdir) / "_sources" / f"{docname}.ipynb"
        text = executed(source, cache_path)
        if not target.exists() or target.read_text(encoding="utf-8") != text:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")


def landing_page(template: str, present: dict[str, bool]) -> str:
    """The landing page with a link to each edition's PDF that is there."""
    for language, text in LINK_TEXT.items():
        link = (f'<a class="download" href="{SITE_PDF_DIR}/{pdf_name(language)}" download>{text}</a>'
                if present.get(language) else "")
        template = template.replace(LANDING_MARK.format(language=language), link)
    return template


def place_pdfs(site: Path, pdf_dir: Path, landing: Path, languages: tuple[str, ...] = ("en", "fa")) -> dict[str, bool]:
    """Copy the PDFs in ``pdf_dir`` into the site and make its links match: which editions have one."""
    present = {}
    target_dir = site / SITE_PDF_DIR
    for language in languages:
        source, target = pdf_dir / pdf_name(language), target_dir / pdf_name(language)
        present[language] = source.is_file()
        if present[language]:
            target_dir.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
        elif target.exists():
            target.unlink()
        script = site / language / "_static" / PDF_SCRIPT
        if script.parent.is_dir():
            script.write_text(pdf_script(present[language]), encoding="utf-8")
    if target_dir.is_dir() and not any(target_dir.iterdir()):
        target_dir.rmdir()
    (site / "index.html").write_text(landing_page(landing.read_text(encoding="utf-8"), present), encoding="utf-8")
    return present
