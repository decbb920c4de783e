"""Sphinx extension of the book: fresh outputs, one shared execution cache, language switch.

- The profile of the build is a Sphinx tag, ``profile_quick`` or ``profile_full`` (``profile_tag``), so
  a sentence true on one profile only sits in an ``{only} profile_quick`` block and a build on
  the other profile leaves it out.
- ``source-read`` appends each notebook page's execution key (``fingerprint``) as a hidden cell,
  so jupyter-cache re-executes a page when a ``cnnbook`` module it imports or the profile changes.
  A page that ``cnnbook run`` leaves stale (``$CNNBOOK_PINS``, see ``cnnbook.book.execution``)
  gets the key of its most recent execution instead, and a visible notice that says so.
- ``env-get-outdated`` re-reads every notebook page read under another key (package edited,
  profile switched) or whose execution is no longer in the cache (``cnnbook run --force``);
  Sphinx alone would keep its stale outputs because the page source itself did not change.
- ``html-page-context`` gives templates the URL of the same page in the other language.
- Theme strings get the book's own message catalogs (the themes have none for Persian).
- The download menu offers the executed notebook and the edition's PDF (``cnnbook.book.downloads``).
- Every image gets an alt text in the page's language (``cnnbook.book.figures``).
- MathJax is loaded from one copy shared by both editions of the site (``cnnbook.book.site``).
- LaTeX builds (the PDF editions) get the transforms of ``cnnbook.book.latex``.
- A change to the static assets (CSS, JS, fonts) alone also triggers a write, since Sphinx copies
  them only when some page is written.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

from sphinx.application import Sphinx
from sphinx.config import Config
from sphinx.environment import BuildEnvironment
from sphinx.errors import ExtensionError
from sphinx.util import logging

from cnnbook.book.downloads import add_download_buttons, copy_notebooks
from cnnbook.book.execution import PINS_ENV, Pin, pin_notice, read_pins, with_notice
from cnnbook.book.figures import describe_images, describe_resolved_images
from cnnbook.book.fingerprint import execution_key, is_notebook_page, with_execution_key
from cnnbook.book.languages import LANGUAGES, counterpart_docname, site_relative_url
from cnnbook.profiles import ProfileError, get_profile

logger = logging.getLogger(__name__)


def _package_dir(app: Sphinx) -> Path:
    return (Path(app.srcdir) / app.config.cnnbook_package_dir).resolve()


def profile_tag(name: str) -> str:
    """The Sphinx tag of a build on profile ``name``: pages write ``{only} profile_quick`` around a passage
    that holds on that profile only."""
    return f"profile_{name}"


def _check_config(app: Sphinx, config: Config) -> None:
    """Fail early on a bad ``BOOK_PROFILE``; tag the build with its profile; share one cache wherever
    ``jupyter-book`` runs from."""
    try:
        profile = get_profile()
    except ProfileError as exc:
        raise ExtensionError(str(exc)) from None
    app.tags.add(profile_tag(profile.name))
    path = config.nb_execution_cache_path
    if path and not Path(path).is_absolute():
        config.nb_execution_cache_path = str((Path(app.srcdir) / path).resolve())


#: ``mathjax_path`` of the HTML builds: the one MathJax of the assembled site, relative to
#: ``_static`` (``_build/site/<lang>/_static/../../_shared/mathjax``), so it works under any base path.
SHARED_MATHJAX_PATH = "../../_shared/mathjax/tex-chtml.js"


def _share_mathjax(app: Sphinx, config: Config) -> None:
    """Both editions load the site's shared MathJax (``cnnbook.book.site.SHARED_MATHJAX``), not a
    copy of their own (``sphinx-mathjax-offline`` still writes one into each build's ``_static``)."""
    config.mathjax_path = SHARED_MATHJAX_PATH


def _link_build_mathjax(app: Sphinx, exception: Exception | None) -> None:
    """``build-finished``: a single build's pages find MathJax where the site keeps it, one folder
    up (``<outdir>/../_shared/mathjax``), as a link to the copy ``sphinx-mathjax-offline`` made."""
    own = Path(app.outdir) / "_static" / "mathjax"
    shared = Path(app.outdir).parent / "_shared" / "mathjax"
    if exception is None and app.builder.format == "html" and own.is_dir() and not shared.exists():
        shared.parent.mkdir(parents=True, exist_ok=True)
        shared.symlink_to(own.resolve(), target_is_directory=True)


def _read_keys(env: BuildEnvironment) -> dict[str, str]:
    """docname -> execution key the page was last read (and executed or fetched) with."""
    if not hasattr(env, "cnnbook_keys"):
        env.cnnbook_keys = {}
    return env.cnnbook_keys


def _pins(app: Sphinx) -> dict[str, Pin]:
    """The pins of this build (read once per process)."""
    if not hasattr(app, "_cnnbook_pins"):
        app._cnnbook_pins = read_pins(os.environ.get(PINS_ENV))
    return app._cnnbook_pins


def _effective_key(app: Sphinx, docname: str, text: str) -> tuple[str, Pin | None]:
    """The key the page is read with: its own, or the pinned key of its last execution."""
    pin = _pins(app).get(Path(docname).name)
    if pin is not None:
        return pin.key, pin
    return execution_key(text, _package_dir(app)), None


def _read_as(key: str, pin: Pin | None) -> str:
    """What a page was read with: its key and, when pinned, the notice it got."""
    return key if pin is None else f"{key} pinned {pin.reason} {pin.profile} {pin.executed_at} {pin.command}"


def _inject_key(app: Sphinx, docname: str, source: list[str]) -> None:
    if is_notebook_page(source[0]):
        key, pin = _effective_key(app, docname, source[0])
        _read_keys(app.env)[docname] = _read_as(key, pin)
        text = source[0] if pin is None else with_notice(source[0], pin_notice(pin, app.config.language or "en"))
        source[0] = with_execution_key(text, key)


def _purge_key(app: Sphinx, env: BuildEnvironment, docname: str) -> None:
    _read_keys(env).pop(docname, None)


def _merge_keys(app: Sphinx, env: BuildEnvironment, docnames: set[str], other: BuildEnvironment) -> None:
    _read_keys(env).update({d: k for d, k in _read_keys(other).items() if d in docnames})


def _static_fingerprint(app: Sphinx) -> str:
    digest = hashlib.sha256()
    for static in app.config.html_static_path:
        for path in sorted((Path(app.srcdir) / static).rglob("*")):
            if path.is_file():
                digest.update(path.as_posix().encode())
                digest.update(path.read_bytes())
    return digest.hexdigest()


def _changed_static(app: Sphinx, env: BuildEnvironment, added: set[str], changed: set[str],
                    removed: set[str]) -> list[str]:
    """The root page when the static assets changed, so that the build writes and copies them."""
    current = _static_fingerprint(app)
    if getattr(env, "cnnbook_static", None) == current:
        return []
    env.cnnbook_static = current
    return [app.config.root_doc] if app.config.root_doc in env.found_docs else []


def _unexecuted_notebooks(app: Sphinx, env: BuildEnvironment, added: set[str], changed: set[str],
                          removed: set[str]) -> list[str]:
    """Notebook pages read under another execution key, or whose execution left the cache."""
    if app.config.nb_execution_mode != "cache":
        return []
    from jupyter_cache import get_cache
    from myst_nb.core.read import read_myst_markdown_notebook

    cache = get_cache(app.config.nb_execution_cache_path)
    read_keys = _read_keys(env)
    stale = []
    for docname in sorted(env.found_docs - added - changed - removed):
        path = Path(env.doc2path(docname))
        if path.suffix != ".md":
            continue
        text = path.read_text(encoding="utf-8")
        if not is_notebook_page(text):
            continue
        key, pin = _effective_key(app, docname, text)
        if read_keys.get(docname) != _read_as(key, pin):
            stale.append(docname)
            continue
        notebook = read_myst_markdown_notebook(with_execution_key(text, key))
        try:
            cache.match_cache_notebook(notebook)
        except KeyError:
            stale.append(docname)
    if stale:
        logger.info(f"[cnnbook] re-reading {len(stale)} page(s) whose outputs are stale: {', '.join(stale)}")
    return stale


def _language_switch(app: Sphinx, pagename: str, templatename: str, context: dict[str, Any],
                     doctree: Any) -> None:
    language = app.config.language
    if language not in LANGUAGES:
        return
    other = LANGUAGES[language].other
    target = counterpart_docname(pagename, other)
    if target is None or not (Path(app.srcdir) / f"{target}.md").exists():
        target = counterpart_docname(app.config.root_doc, other)
    context["cnnbook_switch"] = {
        "url": site_relative_url(pagename, other, target),
        "label": LANGUAGES[other].native_name,
        "lang": other,
    }


def _add_theme_catalogs(app: Sphinx) -> None:
    """Compile and register ``<locale_dir>/<lang>/LC_MESSAGES/<domain>.po`` for every theme domain.

    Sphinx compiles its own ``sphinx`` domain from ``locale_dirs``; other domains (the book
    theme's ``booktheme``) must be compiled and registered by hand.
    """
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    for locale_dir in app.config.locale_dirs:
        base = Path(app.srcdir) / locale_dir
        for po in sorted(base.glob(f"{app.config.language}/LC_MESSAGES/*.po")):
            if po.stem == "sphinx":
                continue
            mo = po.with_suffix(".mo")
            if not mo.exists() or mo.stat().st_mtime < po.stat().st_mtime:
                with po.open("rb") as source, mo.open("wb") as target:
                    write_mo(target, read_po(source, locale=app.config.language))
            app.add_message_catalog(po.stem, str(base))


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_config_value("cnnbook_package_dir", "code/cnnbook", "env")
    app.setup_extension("cnnbook.book.latex")
    _add_theme_catalogs(app)
    app.connect("config-inited", _check_config, priority=100)
    app.connect("config-inited", _share_mathjax)
    app.connect("source-read", _inject_key)
    app.connect("env-get-outdated", _unexecuted_notebooks)
    app.connect("env-get-outdated", _changed_static)
    app.connect("env-purge-doc", _purge_key)
    app.connect("env-merge-info", _merge_keys)
    app.connect("html-page-context", _language_switch)
    app.connect("doctree-read", describe_images)
    app.connect("doctree-resolved", describe_resolved_images)
    app.connect("html-page-context", add_download_buttons, priority=600)  # after the theme's menu
    app.connect("build-finished", copy_notebooks)
    app.connect("build-finished", _link_build_mathjax, priority=600)  # after sphinx-mathjax-offline's copy
    return {"parallel_read_safe": True, "parallel_write_safe": True, "version": "1"}
