"""The site as a reader uses it: alt text, downloads, one shared MathJax, publishing, a real browser.

The first tests need nothing built. The tests of the built site read ``_build/site`` (skipped
when there is none, failing instead under ``CNNBOOK_REQUIRE_SITE=1``, as ``.ci/run`` sets after
``make book``); the browser tests also need Debian's ``chromium`` (``make browser-deps``) and
load it from ``file://`` and from a local web server under a base path, with every other host
unreachable.
"""

from __future__ import annotations

import functools
import html
import http.server
import json
import os
import re
import shutil
import subprocess
import threading
import urllib.parse
from pathlib import Path

import pytest
from docutils import nodes

from cnnbook.book.downloads import (HAS_PDF_CLASS, LANDING_MARK, PDF_SCRIPT, landing_page, pdf_name,
                                    pdf_script, place_pdfs)
from cnnbook.book.figures import FALLBACK, describe, is_missing, short_description
from cnnbook.book.publish import PublishError, publish, publish_folder, publish_git, stale_reasons
from cnnbook.book.site import SHARED_MATHJAX, left_out_of_site, project_root, sync_tree

ROOT = project_root()
SITE = ROOT / "_build" / "site"
LANGUAGES = ("en", "fa")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


# --- alt text ------------------------------------------------------------------------------

def test_a_path_or_nothing_is_not_an_alt_text():
    assert is_missing(None) and is_missing("") and is_missing("  ")
    assert is_missing("../../_images/e50099.png", "../../_images/e50099.png")
    assert is_missing("_images/abc.png") and is_missing("figure.svg")
    assert not is_missing("Learning curves of the three models")
    assert not is_missing("منحنی‌های یادگیری سه مدل")
    assert not is_missing("Input / output sizes of every layer")


def test_a_long_caption_becomes_its_first_sentence_cut_short():
    caption = ("Left: receptive field against depth for plain layers and dilated layers and strided layers "
               "on a log scale with many more words. Right: the output length.")
    short = short_description(caption)
    assert short.startswith("Left") and short.endswith("…") and "Right" not in short
    assert len(short.split()) <= 16
    assert short_description("Confusion matrix on the test images.") == "Confusion matrix on the test images"
    assert short_description("ماتریس درهم‌ریختگی. سطرها: کلاس درست.") == "ماتریس درهم‌ریختگی"
    assert short_description("Left: loss. Right: accuracy.") == "Left: loss"


def _figure(caption: str | None, alt: str | None) -> nodes.image:
    image = nodes.image(uri="../../_images/x.png", **({"alt": alt} if alt is not None else {}))
    figure = nodes.figure("", nodes.container("", image))
    if caption is not None:
        figure += nodes.caption(caption, caption)
    return image


def test_a_figure_without_alt_text_is_described_by_its_caption_in_the_page_language():
    assert describe(_figure("Learning curves per epoch. Solid: training.", None), "en") == "Learning curves per epoch"
    assert describe(_figure("منحنی‌های یادگیری در هر دوره. خط پر: آموزش.", "../../_images/x.png"), "fa") \
        == "منحنی‌های یادگیری در هر دوره"
    assert describe(_figure("Caption.", "An explicit description"), "en") is None   # an explicit one stays
    assert describe(_figure(None, None), "fa") == FALLBACK["fa"]                    # no caption at all


# --- downloads -----------------------------------------------------------------------------

def _fake_site(tmp_path: Path) -> tuple[Path, Path, Path]:
    site, pdfs = tmp_path / "site", tmp_path / "pdf"
    for language in LANGUAGES:
        (site / language / "_static").mkdir(parents=True)
    landing = tmp_path / "landing.html"
    landing.write_text("<p>" + " ".join(LANDING_MARK.format(language=lang) for lang in LANGUAGES) + "</p>")
    return site, pdfs, landing


def test_pdf_links_follow_the_pdfs_that_exist_in_either_order(tmp_path: Path):
    site, pdfs, landing = _fake_site(tmp_path)
    assert place_pdfs(site, pdfs, landing) == {"en": False, "fa": False}    # site built before any PDF
    assert "pdf/" not in (site / "index.html").read_text() and not (site / "pdf").exists()
    assert HAS_PDF_CLASS not in (site / "en" / "_static" / PDF_SCRIPT).read_text()
    pdfs.mkdir()
    (pdfs / pdf_name("fa")).write_bytes(b"%PDF-1.5 fa")
    assert place_pdfs(site, pdfs, landing) == {"en": False, "fa": True}     # `cnnbook pdf` afterwards
    assert (site / "pdf" / pdf_name("fa")).read_bytes() == b"%PDF-1.5 fa"
    landing_html = (site / "index.html").read_text()
    assert f'href="pdf/{pdf_name("fa")}"' in landing_html and pdf_name("en") not in landing_html
    assert HAS_PDF_CLASS in (site / "fa" / "_static" / PDF_SCRIPT).read_text()
    assert HAS_PDF_CLASS not in (site / "en" / "_static" / PDF_SCRIPT).read_text()
    (pdfs / pdf_name("fa")).unlink()                                       # a PDF that is gone loses its link
    place_pdfs(site, pdfs, landing)
    assert not (site / "pdf").exists() and "pdf/" not in (site / "index.html").read_text()


def test_the_landing_page_template_has_a_place_for_each_pdf():
    template = (ROOT / "book" / "landing.html").read_text(encoding="utf-8")
    for language in LANGUAGES:
        assert LANDING_MARK.format(language=language) in template
    linked = landing_page(template, {"en": True, "fa": True})
    assert all(f'href="pdf/{pdf_name(language)}"' in linked for language in LANGUAGES)
    assert pdf_script(True) != pdf_script(False)


# --- size: one MathJax, no source maps -------------------------------------------------------

def test_the_site_leaves_out_each_editions_mathjax_and_source_maps(tmp_path: Path):
    source = tmp_path / "html"
    for name in ("index.html", "_static/mathjax/tex-chtml.js", "_static/scripts/app.js", "_static/scripts/app.js.map"):
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        (source / name).write_text(name)
    target = tmp_path / "site"
    sync_tree(source, target, left_out_of_site)
    assert sorted(p.relative_to(target).as_posix() for p in target.rglob("*") if p.is_file()) \
        == ["_static/scripts/app.js", "index.html"]


# --- publishing ----------------------------------------------------------------------------

def _git(*args: str, cwd: Path) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


def test_publishing_puts_the_site_on_gh_pages_of_a_bare_remote(tmp_path: Path):
    site = tmp_path / "site"
    (site / "en" / "_static").mkdir(parents=True)
    (site / "index.html").write_text("<html>landing</html>")
    (site / "en" / "_static" / "x.css").write_text("body {}")
    remote, clone = tmp_path / "remote.git", tmp_path / "book"
    _git("init", "--bare", "-q", str(remote), cwd=tmp_path)
    _git("init", "-q", str(clone), cwd=tmp_path)
    for key, value in (("user.name", "Test"), ("user.email", "test@example.org")):
        _git("config", key, value, cwd=clone)
    _git("remote", "add", "origin", str(remote), cwd=clone)
    publish_git(site, clone, "origin", "gh-pages", "Publish the book")
    files = _git("ls-tree", "-r", "--name-only", "gh-pages", cwd=remote).split()
    assert sorted(files) == [".nojekyll", "en/_static/x.css", "index.html"]   # .nojekyll: _static is served
    assert _git("show", "gh-pages:index.html", cwd=remote) == "<html>landing</html>"
    (site / "index.html").write_text("<html>new</html>")                     # publishing again adds a commit
    publish_git(site, clone, "origin", "gh-pages", "Again")
    assert _git("show", "gh-pages:index.html", cwd=remote) == "<html>new</html>"
    assert len(_git("log", "--format=%s", "gh-pages", cwd=remote).split("\n")) >= 2


def test_publishing_a_missing_site_refuses_and_says_what_to_run(tmp_path: Path):
    (tmp_path / "book").mkdir()
    reasons = stale_reasons(tmp_path, check_execution=False)
    assert len(reasons) == 1 and "cnnbook build" in reasons[0]
    with pytest.raises(PublishError, match="not current"):
        publish(tmp_path, folder=tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_a_site_older_than_its_pages_or_with_stale_chapters_is_stale(tmp_path: Path):
    site = tmp_path / "_build" / "site"
    site.mkdir(parents=True)
    (site / "index.html").write_text("x")
    page = tmp_path / "book" / "en" / "ch01.md"
    page.parent.mkdir(parents=True)
    page.write_text("# page")
    report = tmp_path / "_build" / "report.json"
    report.write_text(json.dumps({"stale": {}}))
    os.utime(page, (1_000_000, 1_000_000))
    assert stale_reasons(tmp_path, check_execution=False) == []
    os.utime(page, None)                                                     # edited after the build
    os.utime(report, (1_000_000, 1_000_000))
    assert any("book/en/ch01.md changed" in r for r in stale_reasons(tmp_path, check_execution=False))
    os.utime(report, None)
    report.write_text(json.dumps({"stale": {"ch03": "cnnbook run ch03"}}))   # shown with earlier outputs
    assert any("ch03" in r for r in stale_reasons(tmp_path, check_execution=False))


def test_the_publish_command_refuses_a_missing_site(tmp_path: Path, monkeypatch, capsys):
    import cnnbook.cli

    monkeypatch.setattr(cnnbook.cli, "project_root", lambda: tmp_path)
    assert cnnbook.cli.main(["publish", "--folder", str(tmp_path / "www")]) == 2
    assert "no built site" in capsys.readouterr().err and not (tmp_path / "www").exists()


def test_publishing_into_a_folder_copies_the_site(tmp_path: Path):
    site = tmp_path / "site"
    (site / "fa").mkdir(parents=True)
    (site / "fa" / "index.html").write_text("fa")
    assert publish_folder(site, tmp_path / "www" / "book") == 1
    assert (tmp_path / "www" / "book" / "fa" / "index.html").read_text() == "fa"
    with pytest.raises(PublishError):
        publish_folder(site, site / "inside")


# --- the built site ------------------------------------------------------------------------

def _need_site() -> None:
    if not (SITE / "index.html").is_file():
        if os.environ.get("CNNBOOK_REQUIRE_SITE") == "1":
            pytest.fail(f"no built site in {SITE} (CNNBOOK_REQUIRE_SITE=1): run `cnnbook build`")
        pytest.skip(f"no built site in {SITE}: run `cnnbook build` (make book)")


def _pages(language: str) -> list[Path]:
    return sorted((SITE / language / "book" / language).glob("*.html"))


def _chapters(language: str) -> list[Path]:
    return [page for page in _pages(language) if re.match(r"ch\d\d-", page.name)]


_IMG = re.compile(r"<img\b[^>]*>")
_ATTR = re.compile(r'(\w[\w-]*)="([^"]*)"')


def test_every_image_of_both_editions_has_a_description():
    _need_site()
    seen = 0
    for language in LANGUAGES:
        for page in _pages(language):
            for tag in _IMG.findall(page.read_text(encoding="utf-8")):
                attributes = {k: html.unescape(v) for k, v in _ATTR.findall(tag)}
                seen += 1
                assert not is_missing(attributes.get("alt"), attributes.get("src")), \
                    f"{page.relative_to(SITE)}: an image without a description: {tag[:160]}"
                if language == "fa" and "_images/" in attributes.get("src", ""):
                    assert re.search("[\u0600-\u06ff]", attributes["alt"]), \
                        f"{page.relative_to(SITE)}: the alt text is not in Persian: {attributes['alt']!r}"
    assert seen > 0


def test_every_chapter_offers_its_executed_notebook_in_its_language():
    _need_site()
    for language in LANGUAGES:
        for page in _chapters(language):
            text = page.read_text(encoding="utf-8")
            link = re.search(r'href="([^"]+\.ipynb)"', text)
            assert link, f"{page.name} ({language}) offers no notebook"
            notebook_path = (page.parent / link.group(1)).resolve()
            notebook = json.loads(notebook_path.read_text(encoding="utf-8"))
            outputs = [o for cell in notebook["cells"] if cell["cell_type"] == "code" for o in cell.get("outputs", [])]
            assert outputs, f"{notebook_path} has no outputs"
            prose = " ".join("".join(c["source"]) for c in notebook["cells"] if c["cell_type"] == "markdown")
            assert bool(re.search("[\u0600-\u06ff]{4}", prose)) == (language == "fa"), notebook_path


def test_pdf_links_are_shown_only_for_pdfs_the_site_has():
    _need_site()
    landing = (SITE / "index.html").read_text(encoding="utf-8")
    for language in LANGUAGES:
        present = (SITE / "pdf" / pdf_name(language)).is_file()
        assert (f"pdf/{pdf_name(language)}" in landing) == present
        assert (HAS_PDF_CLASS in (SITE / language / "_static" / PDF_SCRIPT).read_text()) == present
        for page in _chapters(language):
            link = re.search(r'href="([^"]+/pdf/' + re.escape(pdf_name(language)) + ')"', page.read_text(encoding="utf-8"))
            assert link, f"{page.name}: no link to the {language} PDF edition in the download menu"
            assert (page.parent / link.group(1)).resolve() == (SITE / "pdf" / pdf_name(language)).resolve()


def test_both_editions_load_one_shared_mathjax_by_a_relative_url():
    _need_site()
    assert (SITE / SHARED_MATHJAX / "tex-chtml.js").is_file()
    for language in LANGUAGES:
        assert not (SITE / language / "_static" / "mathjax").exists()
        page = _chapters(language)[0]
        source = re.search(r'<script[^>]*src="([^"?]*tex-chtml\.js)', page.read_text(encoding="utf-8")).group(1)
        assert not source.startswith(("/", "http")) and (page.parent / source).resolve().is_file()


def test_no_page_loads_anything_from_another_host():
    _need_site()
    loads = re.compile(r'<(?:script|img|link|iframe|source)\b[^>]*(?:src|href)="((?:https?:)?//[^"]+)"')
    for page in SITE.rglob("*.html"):
        found = [u for u in loads.findall(page.read_text(encoding="utf-8"))
                 if not re.search(r'rel="(?:canonical|alternate)"', u)]
        assert not found, f"{page.relative_to(SITE)} loads {found[:3]}"


# --- in a real browser -----------------------------------------------------------------------

HARNESS = """<!DOCTYPE html><html><head><meta charset="utf-8"></head><body><pre id="result">pending</pre>
<iframe id="f" style="width:1200px;height:900px"></iframe>
<script>
var frame = document.getElementById("f"), started = Date.now();
function poll() {
  var doc = frame.contentDocument, win = frame.contentWindow;
  var waited = Date.now() - started;
  var mathDone = !doc || !doc.querySelector(".math") || doc.querySelector("mjx-container");
  var searchDone = !doc || !doc.getElementById("search-results") ||
                   /\\S/.test((doc.querySelector("#search-results > p") || {}).textContent || "");
  if (!(doc && doc.readyState === "complete" && mathDone && searchDone) && waited < 20000) { setTimeout(poll, 100); return; }
  var dir = function (sel) { var e = doc.querySelector(sel); return e ? win.getComputedStyle(e).direction : null; };
  var link = doc.querySelector("a.cnnbook-lang-switch");
  document.getElementById("result").textContent = JSON.stringify({
    lang: doc.documentElement.getAttribute("lang"), dir: doc.documentElement.getAttribute("dir"),
    body: win.getComputedStyle(doc.body).direction, code: dir("div.highlight pre"),
    math: dir("mjx-container[display='true']"), switch: link ? link.href : null,
    resources: win.performance.getEntriesByType("resource").map(function (e) { return e.name; }),
    results: Array.prototype.map.call(doc.querySelectorAll("#search-results ul.search li a"),
                                      function (a) { return a.href; })});
}
frame.onload = function () { setTimeout(poll, 200); };
frame.src = decodeURIComponent(location.hash.slice(1));
</script></body></html>
"""
BASE = "/any/base/path/"


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # the test reads what was requested from the server's list
        self.server.requested.append(self.path)


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """The site under ``BASE`` of a local web server, with the harness page at its root."""
    _need_site()
    if CHROMIUM is None:
        pytest.skip("Chromium is not installed (Debian: `make browser-deps`, i.e. apt-get install chromium)")
    root = tmp_path_factory.mktemp("www")
    (root / BASE.strip("/")).parent.mkdir(parents=True)
    (root / BASE.strip("/")).symlink_to(SITE, target_is_directory=True)
    (root / "harness.html").write_text(HARNESS, encoding="utf-8")
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(root)))
    server.requested = []
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", server, tmp_path_factory.mktemp("chromium")
    server.shutdown()


def _render(served, path: str) -> tuple[dict, list[str]]:
    """Load ``BASE + path`` in headless Chromium; what the page's DOM says, and every URL it requested."""
    origin, server, scratch = served
    netlog = scratch / f"net-{abs(hash(path))}.json"
    url = f"{origin}/harness.html#{urllib.parse.quote(origin + BASE + path, safe='')}"
    command = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-extensions",
               "--disable-background-networking", "--disable-component-update", "--disable-sync",
               f"--user-data-dir={scratch / 'profile'}", "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
               f"--log-net-log={netlog}", "--virtual-time-budget=30000", "--dump-dom", url]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    found = re.search(r'<pre id="result">(.*?)</pre>', result.stdout, re.S)
    assert found and found.group(1) != "pending", f"Chromium rendered nothing for {path}: {result.stderr[-2000:]}"
    # the requests a page made (the browser's own, such as its update checks, have no initiator)
    log = netlog.read_text(encoding="utf-8", errors="replace") if netlog.exists() else ""
    requested = [url for line in log.splitlines() for initiator, url in _REQUEST.findall(line)
                 if initiator != "not an origin"]
    assert any(BASE in url for url in requested), "the network log shows none of the page's requests"
    return json.loads(html.unescape(found.group(1))), requested


_REQUEST = re.compile(r'"initiator":"([^"]*)".*?"url":"([^"]+)"')  # one event per line of Chromium's NetLog


def _foreign(urls: list[str]) -> list[str]:
    return [u for u in urls if urllib.parse.urlsplit(u).scheme in ("http", "https", "ws", "wss")
            and urllib.parse.urlsplit(u).hostname not in ("127.0.0.1", "localhost")]


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_chapter_renders_in_its_direction_with_code_and_math_left_to_right(served, language):
    page = f"{language}/book/{language}/ch02-why-convolution.html"
    dom, requested = _render(served, page)
    assert dom["lang"] == language
    if language == "fa":
        assert dom["dir"] == "rtl" and dom["body"] == "rtl"
    else:
        assert dom["dir"] in (None, "ltr") and dom["body"] == "ltr"
    assert dom["code"] == "ltr" and dom["math"] == "ltr"
    other = "en" if language == "fa" else "fa"
    assert dom["switch"] == f"{served[0]}{BASE}{other}/book/{other}/ch02-why-convolution.html"
    assert any("_shared/mathjax/" in url for url in dom["resources"]), "MathJax did not load from the shared copy"
    assert not _foreign(dom["resources"]) and not _foreign(requested), \
        f"requests to other hosts: {_foreign(dom['resources'] + requested)[:5]}"


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_chapter_works_from_file_urls_with_the_shared_mathjax(served, language):
    page = SITE / language / "book" / language / "ch02-why-convolution.html"
    _, _, scratch = served
    command = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-extensions",
               f"--user-data-dir={scratch / 'profile-file'}", "--host-resolver-rules=MAP * ~NOTFOUND",
               "--virtual-time-budget=20000", "--dump-dom", page.as_uri()]
    dom = subprocess.run(command, capture_output=True, text=True, timeout=120).stdout
    root = re.search(r"<html\b[^>]*>", dom)
    assert root, f"Chromium rendered nothing for {page.as_uri()}"
    assert ('dir="rtl"' in root.group(0)) == (language == "fa")
    assert "<mjx-container" in dom, "MathJax did not typeset the page from file://"


def test_searching_the_persian_edition_for_a_word_with_a_half_space_finds_its_page(served):
    word = "شبکه\u200cها"
    containing = {p.stem for p in (ROOT / "book" / "fa").glob("*.md") if word in p.read_text(encoding="utf-8")}
    assert containing, f"no Persian page contains {word!r}: pick another word"
    dom, _ = _render(served, f"fa/search.html?q={urllib.parse.quote(word)}")
    found = {Path(urllib.parse.urlsplit(url).path).stem for url in dom["results"]}
    assert found & containing, f"searching {word!r} found {sorted(found)}, not one of {sorted(containing)}"
