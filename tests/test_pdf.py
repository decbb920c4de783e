"""The PDF editions: LaTeX log parsing, text checks, and the built PDFs themselves.

The tests of the book's PDFs need `make pdf` first; they skip when `_build/pdf` holds no PDF,
unless CNNBOOK_REQUIRE_PDF is set (CI sets it after building them). The end-to-end test of a
small book with a figure needs TeX (`make pdf-deps`) and skips without it on the same terms.
"""

from __future__ import annotations

import os
import re
import shutil
import unicodedata
from pathlib import Path

import pytest
import yaml
from conftest import notebook_page

import cnnbook
from cnnbook.book import pdf
from cnnbook.book.pdf import (
    PdfError, build_pdf, comparable, missing_in_order, parse_log, pdf_path, pdf_text,
)
from cnnbook.book.site import BUILDS, build_environment

ROOT = Path(__file__).resolve().parents[1]
REQUIRED = bool(os.environ.get("CNNBOOK_REQUIRE_PDF"))

#: Sentences of Chapter 1, in page order: plain prose, English terms and inline code inside
#: Persian sentences (whose words must keep their left-to-right order), and the chapter's end.
KNOWN_SENTENCES = {
    "en": [
        "Before a network is trained, a good deal about it is already fixed",
        "convolution means PyTorch's convolution, which is a cross-correlation (the kernel is not flipped)",
        "applies the formulas above layer by layer to a list of layer specifications "
        "(or a torch.nn.Sequential), in 1-D or 2-D, and returns a table",
        "The question lists no activation functions, so none are counted",
        "Its running mean and variance",
    ],
    "fa": [
        "پیش از آن‌که شبکه‌ای آموزش ببیند، بخش بزرگی از ویژگی‌های آن معلوم است",
        "منظور از کانولوشن (convolution) همان کانولوشن PyTorch است که در واقع همبستگی متقابل "
        "(cross-correlation) است و هسته را وارونه نمی‌کند",
        "تابع cnnbook.arithmetic.analyze فرمول‌های بالا را لایه‌به‌لایه روی فهرستی از مشخصات لایه‌ها "
        "(یا یک torch.nn.Sequential)، یک‌بعدی یا دوبعدی، اعمال می‌کند و جدولی برمی‌گرداند",
        "صورت پرسش تابع فعال‌سازی‌ای ذکر نمی‌کند، پس هیچ‌کدام شمرده نشده است",
        "میانگین و واریانس جاری آن",
    ],
}

LOG = r"""
Overfull \hbox (12.5pt too wide) in paragraph at lines 10--12
Overfull \vbox (3.1pt too high) has occurred while \output is active []
Output written on cnn-book-fa.xdv (29 pages, 123456 bytes).
Missing character: There is no → (U+2192) in font [./Vazirmatn-Regular.ttf]/OT:script=arab;language=dflt;!
Missing character: There is no → (U+2192) in font [./Vazirmatn-Bold.ttf]/OT:script=arab;language=dflt;!
"""


def test_the_log_gives_pages_and_overfull_boxes():
    pages, boxes = parse_log(LOG)
    assert pages == 29
    assert [(b.kind, b.points) for b in boxes] == [("h", 12.5), ("v", 3.1)]
    assert "lines 10--12" in boxes[0].where
    assert pdf.missing_glyphs(LOG) == ["→"]


def test_comparison_ignores_shapes_spacing_and_punctuation_but_not_order():
    # presentation forms (as PDFs encode Arabic glyphs), a lost ZWNJ, a line break, Persian digits
    extracted = unicodedata.normalize("NFKC", "ﺷﺒﮑﻪﻫﺎی ۱۲ لایه (feature\nmap)")
    assert comparable(extracted) == comparable("شبکه‌های 12 لایه (feature map)")
    assert comparable("map feature") != comparable("feature map")
    assert missing_in_order("a b c d", ["b", "d"]) == []
    assert missing_in_order("a b c d", ["d", "b"]) == ["b"]


def test_missing_tex_gives_one_clear_message(monkeypatch):
    monkeypatch.setattr(pdf.shutil, "which", lambda tool: None)
    with pytest.raises(PdfError, match=r"xelatex and latexmk not found.*make pdf-deps"):
        pdf.check_tools()


def test_missing_latex_package_is_named_before_anything_builds(monkeypatch):
    monkeypatch.setattr(pdf.shutil, "which", lambda tool: f"/usr/bin/{tool}")
    monkeypatch.setattr(pdf, "installed_tex_packages", lambda names: set(names) - {"xepersian"})
    with pytest.raises(PdfError, match=r"LaTeX package\(s\) xepersian not found.*make pdf-deps"):
        pdf.check_tools()


# --- the book's PDFs ----------------------------------------------------------------------

def built_pdf(language: str) -> Path:
    path = pdf_path(ROOT, language)
    if not path.exists():
        if REQUIRED:
            pytest.fail(f"{path} was not built")
        pytest.skip(f"{path} not built (make pdf)")
    return path


def page_titles(language: str) -> list[str]:
    """First-level headings of every page of the edition's table of contents but the root."""
    toc = yaml.safe_load((ROOT / ("_toc.yml" if language == "en" else "_toc.fa.yml")).read_text(encoding="utf-8"))
    files = re.findall(r"'file': '([^']+)'", str(toc["parts"]))
    return [re.search(r"^# (.+)$", (ROOT / f"{name}.md").read_text(encoding="utf-8"), re.MULTILINE).group(1)
            for name in files]


@pytest.mark.parametrize("language", ["en", "fa"])
def test_known_sentences_of_chapter_1_are_in_the_page_in_this_order(language):
    source = (ROOT / "book" / language / "ch01-layer-arithmetic.md").read_text(encoding="utf-8")
    assert missing_in_order(source, KNOWN_SENTENCES[language]) == [], "the chapter's prose changed: update the test"


@pytest.mark.parametrize("language", ["en", "fa"])
def test_known_sentences_of_chapter_1_read_in_order_in_the_pdf(language):
    text = pdf_text(built_pdf(language))
    assert missing_in_order(text, KNOWN_SENTENCES[language]) == []


@pytest.mark.parametrize("language", ["en", "fa"])
def test_every_chapter_title_is_in_the_pdf(language):
    text = comparable(pdf_text(built_pdf(language)))
    titles = page_titles(language)
    assert len(titles) >= 4
    assert [title for title in titles if comparable(title) not in text] == []


@pytest.mark.parametrize("build", BUILDS, ids=lambda b: b.language)
def test_no_content_overflows_the_margins(build):
    built_pdf(build.language)
    log = (ROOT / build.latex_dir / f"cnn-book-{build.language}.log").read_text(encoding="utf-8", errors="replace")
    pages, overfull = parse_log(log)
    assert pages > 0
    assert [box for box in overfull if box.points > pdf.OVERFULL_TOLERANCE] == []


@pytest.mark.parametrize("build", BUILDS, ids=lambda b: b.language)
def test_no_character_is_missing_from_the_fonts(build):
    built_pdf(build.language)
    log = (ROOT / build.latex_dir / f"cnn-book-{build.language}.log").read_text(encoding="utf-8", errors="replace")
    assert pdf.missing_glyphs(log) == [], "add the characters to the symbol font list in book/_latex/cnnbook.sty"


# --- end to end: a small book with a figure, a table and math, in both languages -----------

CODE = """import matplotlib.pyplot as plt
import pandas as pd
from myst_nb import glue
from cnnbook.book.display import Table, glue_numbers

fig, ax = plt.subplots(figsize=(5, 3))
ax.plot([0, 1, 2, 3], [2.0, 1.1, 0.7, 0.5], marker="o", label="training loss")
ax.set_xlabel("epoch")
ax.set_ylabel("loss")
ax.legend()
glue("demo_curve", fig, display=False)
plt.close(fig)
glue_numbers("demo", {"count": 1797})
Table(pd.DataFrame({"layer": ["L1", "L2"], "output": ["3×32×32", "8×16×16"], "params": [448, 1160]}),
      ["layer", "output", "params"])"""
AFTER_CODE = """
{prose} {{glue:text}}`demo_count:,`.

```{{glue:figure}} demo_curve
:name: fig-demo-curve

{caption}
```

$$
e = d(k - 1) + 1
$$ (eq-demo)
"""
TEXTS = {
    "en": ("Demo chapter", "The curve in the figure below has", "Training loss of the demo model by epoch"),
    "fa": ("فصل نمونه", "منحنی شکل زیر (training loss) این تعداد نقطه دارد:", "خطای آموزش مدل نمونه در هر دوره"),
}


def tex_or_skip() -> None:
    missing = [tool for tool in (*pdf.TOOLS, "pdftotext") if shutil.which(tool) is None]
    if missing:
        if REQUIRED:
            pytest.fail(f"{', '.join(missing)} not installed")
        pytest.skip(f"{', '.join(missing)} not installed (make pdf-deps)")


@pytest.fixture(scope="module")
def small_book(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The book's configs, LaTeX files and package, with one chapter holding a figure."""
    tex_or_skip()
    root = tmp_path_factory.mktemp("pdfbook")
    for name in ("_config.yml", "_config.fa.yml"):
        shutil.copy(ROOT / name, root / name)
    for folder in ("_latex", "_static", "_templates", "_locales"):
        shutil.copytree(ROOT / "book" / folder, root / "book" / folder)
    shutil.copy(ROOT / "book" / "references.bib", root / "book" / "references.bib")
    shutil.copytree(Path(cnnbook.__file__).parent, root / "code" / "cnnbook",
                    ignore=shutil.ignore_patterns("__pycache__"))
    for language, toc in (("en", "_toc.yml"), ("fa", "_toc.fa.yml")):
        title, prose, caption = TEXTS[language]
        pages = root / "book" / language
        pages.mkdir(parents=True)
        (pages / "index.md").write_text(f"# {title}\n\n{prose}\n", encoding="utf-8")
        (pages / "ch01-demo.md").write_text(notebook_page(title, CODE) + AFTER_CODE.format(prose=prose, caption=caption),
                                            encoding="utf-8")
        (root / toc).write_text(yaml.safe_dump({
            "format": "jb-book", "root": f"book/{language}/index",
            "parts": [{"caption": title, "chapters": [{"file": f"book/{language}/ch01-demo"}]}],
        }, allow_unicode=True), encoding="utf-8")
    return root


@pytest.mark.slow
@pytest.mark.parametrize("build", BUILDS, ids=lambda b: b.language)
def test_a_figure_table_and_equation_reach_the_pdf(small_book, build):
    env = {**build_environment("quick"), "PYTHONPATH": str(small_book / "code")}
    report = build_pdf(small_book, build, strict=True, env=env)
    title, prose, caption = TEXTS[build.language]
    text = pdf_text(report.path)
    assert missing_in_order(text, [title, prose, "training loss", "epoch", caption]) == []  # vector figure
    assert comparable("3×32×32") in comparable(text) and comparable("1,160") in comparable(text)
    assert report.visible_overfull() == []
