"""Build the PDF editions and check their text.

For each language, ``build_pdfs`` runs the same Jupyter Book build as the site with the LaTeX
builder (``jupyter-book build . --builder latex``, plus ``--config _config.fa.yml --toc
_toc.fa.yml --path-output _build/fa`` for Persian). It reads every notebook from the shared
execution cache, so with a warm cache it executes nothing. ``latexmk -xelatex`` then typesets
the LaTeX, and the PDF is copied to ``_build/pdf/cnn-book-<lang>.pdf``. The LaTeX itself is
shaped by ``cnnbook.book.latex`` and ``book/_latex/``.

``pdf_text`` and ``missing_in_order`` check a built PDF: its text, as ``pdftotext`` extracts it,
must contain given sentences in the given order.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import time
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from cnnbook.book.downloads import place_pdfs
from cnnbook.book.site import BUILDS, SITE_DIR, LanguageBuild, SiteError, prepare, run_build

PDF_DIR = "_build/pdf"
#: Overfull boxes up to this size (points) are invisible in print; larger ones are reported.
OVERFULL_TOLERANCE = 3.0
TOOLS = ("xelatex", "latexmk")
#: LaTeX packages that book/_latex and Sphinx's LaTeX need beyond a base TeX Live (see PDF_DEPS in the Makefile).
TEX_PACKAGES = ("xepersian", "polyglossia", "fontspec", "changepage", "newunicodechar", "etoolbox", "xcolor",
                "fncychap", "titlesec", "tabulary", "framed", "wrapfig", "capt-of", "needspace")
_OVERFULL = re.compile(r"^Overfull \\([hv])box \(([\d.]+)pt too (?:wide|high)\)(.*)$", re.MULTILINE)
#: pdftotext crop of an A4 page to the text block (points): no running heads or page numbers.
_BODY_AREA = ("-x", "0", "-y", "55", "-W", "596", "-H", "720")
_PAGES = re.compile(r"^Output written on .*?\((\d+) pages?", re.MULTILINE)
_MISSING = re.compile(r"^Missing character: There is no (.)", re.MULTILINE)


class PdfError(SiteError):
    """A PDF could not be built: TeX missing or a LaTeX error."""


@dataclass(frozen=True)
class Overfull:
    """An overfull box in the LaTeX log: ``h`` (too wide) or ``v`` (too high), its excess, where."""

    kind: str
    points: float
    where: str


@dataclass
class PdfReport:
    """One PDF edition: where it is, its size, the overfull boxes, notebooks executed, wall time, and the
    characters its fonts lack (dropped from the page)."""

    language: str
    path: Path
    pages: int
    overfull: list[Overfull]
    executed: int
    seconds: float
    missing: list[str]

    def visible_overfull(self, tolerance: float = OVERFULL_TOLERANCE) -> list[Overfull]:
        """Overfull boxes larger than ``tolerance`` points."""
        return [box for box in self.overfull if box.points > tolerance]


def pdf_path(root: Path, language: str) -> Path:
    """Where ``make pdf`` puts the edition in ``language``."""
    return root / PDF_DIR / f"cnn-book-{language}.pdf"


def installed_tex_packages(names: tuple[str, ...]) -> set[str]:
    """Those of the LaTeX packages ``names`` that TeX finds (one ``kpsewhich`` call; all when TeX has none)."""
    if shutil.which("kpsewhich") is None:
        return set(names)
    result = subprocess.run(["kpsewhich", *(f"{name}.sty" for name in names)], capture_output=True, text=True)
    return {Path(line).stem for line in result.stdout.splitlines() if line.strip()}


def check_tools() -> None:
    """Fail with one clear message when the TeX toolchain or a LaTeX package it needs is not installed."""
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if missing:
        raise PdfError(f"{' and '.join(missing)} not found: the PDF needs TeX Live with XeLaTeX and xepersian; "
                       "install it with `make pdf-deps` (Debian/Ubuntu, see the README)")
    packages = [name for name in TEX_PACKAGES if name not in installed_tex_packages(TEX_PACKAGES)]
    if packages:
        raise PdfError(f"LaTeX package(s) {', '.join(packages)} not found by TeX (kpsewhich): "
                       "install them with `make pdf-deps` (Debian/Ubuntu, see the README)")


def parse_log(log: str) -> tuple[int, list[Overfull]]:
    """Page count and overfull boxes of a (Xe)LaTeX log."""
    pages = _PAGES.findall(log)
    boxes = [Overfull(kind, float(points), where.strip()) for kind, points, where in _OVERFULL.findall(log)]
    return (int(pages[-1]) if pages else 0), boxes


def missing_glyphs(log: str) -> list[str]:
    """The characters a (Xe)LaTeX log says no font had: XeTeX drops them from the page without an error."""
    return sorted(set(_MISSING.findall(log)))


def _latex_errors(log: str) -> str:
    """The error lines of a LaTeX log with two lines of context each."""
    lines = log.splitlines()
    picked = [n for n, line in enumerate(lines) if line.startswith("!") or ".tex:" in line and "error" in line.lower()]
    return "\n".join("\n".join(lines[n:n + 3]) for n in picked[:5])


def typeset(latex_dir: Path, name: str) -> str:
    """Run latexmk with XeLaTeX on ``<latex_dir>/<name>.tex``; the log."""
    command = ["latexmk", "-xelatex", "-interaction=nonstopmode", "-halt-on-error", f"{name}.tex"]
    print(f"=== typesetting {latex_dir / name}.tex: {' '.join(command)}", flush=True)
    result = subprocess.run(command, cwd=latex_dir, capture_output=True, text=True)
    log_file = latex_dir / f"{name}.log"
    log = log_file.read_text(encoding="utf-8", errors="replace") if log_file.exists() else ""
    if result.returncode != 0:
        detail = _latex_errors(log) or result.stdout[-2000:]
        raise PdfError(f"XeLaTeX failed on {latex_dir / name}.tex (see {log_file}):\n{detail}")
    return log


def build_pdf(root: Path, build: LanguageBuild, strict: bool, env: dict[str, str]) -> PdfReport:
    """LaTeX from Jupyter Book, then XeLaTeX, for one language; the PDF lands in ``_build/pdf``."""
    started = time.perf_counter()
    target = pdf_path(root, build.language)
    target.unlink(missing_ok=True)  # a failed build leaves no stale edition behind
    executed = run_build(build, root, strict, env, builder="latex")
    name = f"cnn-book-{build.language}"
    latex_dir = root / build.latex_dir
    if not (latex_dir / f"{name}.tex").exists():
        raise PdfError(f"Jupyter Book wrote no {name}.tex in {latex_dir}: check latex_documents in the config")
    log = typeset(latex_dir, name)
    pages, overfull = parse_log(log)
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(latex_dir / f"{name}.pdf", target)
    return PdfReport(build.language, target, pages, overfull, executed, time.perf_counter() - started,
                     missing_glyphs(log))


def build_pdfs(root: Path, profile: str | None = None, strict: bool = True,
               languages: tuple[str, ...] = ("en", "fa")) -> list[PdfReport]:
    """Build the PDF edition of each language from the shared execution cache (stale chapters are
    executed first, in parallel, as for the site)."""
    check_tools()
    env = prepare(root, profile).env
    try:
        return [build_pdf(root, build, strict, env) for build in BUILDS if build.language in languages]
    finally:  # a site built before links the PDFs that now exist (and no longer one that failed)
        site = root / SITE_DIR
        if (site / "index.html").is_file():
            place_pdfs(site, root / PDF_DIR, root / "book" / "landing.html", tuple(b.language for b in BUILDS))


# --- checking the text of a built PDF -----------------------------------------------------

#: Arabic-script letter variants and digits folded for comparison (Persian digits -> ASCII).
_FOLD = str.maketrans({"\u064a": "\u06cc", "\u0649": "\u06cc", "\u0643": "\u06a9", "\u06d5": "\u0647",
                       **{chr(0x06F0 + d): str(d) for d in range(10)}})


def pdf_text(path: Path) -> str:
    """The body text of a PDF (running heads and page numbers cropped off) as ``pdftotext``
    extracts it, NFKC-normalised: Arabic presentation forms become letters, mathematical
    italic letters plain ones."""
    if shutil.which("pdftotext") is None:
        raise PdfError("pdftotext not found: install poppler-utils (`make pdf-deps`)")
    result = subprocess.run(["pdftotext", *_BODY_AREA, "-enc", "UTF-8", str(path), "-"],
                            capture_output=True, text=True, check=True)
    return unicodedata.normalize("NFKC", result.stdout)


def comparable(text: str) -> str:
    """Letters and digits only, lower case, diacritics dropped, Arabic-script variants and
    Persian digits folded: robust to line breaks, hyphenation, spacing and punctuation, but not
    to a change in the order of characters or words."""
    text = unicodedata.normalize("NFKD", text).translate(_FOLD).lower()
    return "".join(c for c in text if c.isalnum() and not unicodedata.combining(c))


def missing_in_order(text: str, sentences: list[str]) -> list[str]:
    """The sentences that do not occur in ``text`` after the previous one (empty: all in order)."""
    haystack, position, missing = comparable(text), 0, []
    for sentence in sentences:
        found = haystack.find(comparable(sentence), position)
        if found < 0:
            missing.append(sentence)
        else:
            position = found
    return missing
