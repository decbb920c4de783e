"""Build the bilingual site: execute stale chapters in parallel, then two Jupyter Book builds, one site.

``build_site`` first plans (``cnnbook.book.execution``): which notebook pages are stale for the
current code and profile, which of them this build executes (all, or the chapters ``cnnbook run``
names) and which it shows with their most recent outputs and a notice. It checks what the pages
to execute need (``cnnbook.book.requirements``), executes them in parallel worker processes into
the shared jupyter-cache, and only then runs the English build (``jupyter-book build .``, output
``_build/html``) and the Persian one (``--config _config.fa.yml --toc _toc.fa.yml --path-output
_build/fa``); both read every page from the cache and execute nothing. ``assemble_site`` puts them
under ``_build/site/{en,fa}`` next to a language-choice landing page, one MathJax both editions
share (``_build/site/_shared/mathjax``) and the PDF editions that exist; the build report (one row
per page: executed, cached or stale; seconds; peak memory) is printed and written to
``_build/report.json``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import cnnbook
from cnnbook.book.chapters import Chapter
from cnnbook.book.execution import (CACHE_DIR, PINS_ENV, Plan, Result, execute, package_dir, plan,
                                    worker_count, write_pins)
from cnnbook.book.requirements import check_data
from cnnbook.profiles import PROFILE_ENV, get_profile

SITE_DIR = "_build/site"
REPORT_FILE = "_build/report.json"
_EXECUTED = re.compile(r"Executed notebook in ([\d.]+) seconds")
#: Lines of a Jupyter Book build that say nothing about the book (shown with ``verbose``).
_NOISE = re.compile(r"^\s*(Running Jupyter-Book|Source Folder|Config Path|Output Path|Running Sphinx|=+$|"
                    r"Finished generating|Your book's HTML pages are here|You can look at your book|"
                    r"by double-clicking|Or paste this line|paste the following|file://|_build/|$)")
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


class SiteError(RuntimeError):
    """The project files are missing or a build failed."""


@dataclass(frozen=True)
class LanguageBuild:
    """How one language's Jupyter Book build is invoked and where its HTML (or LaTeX) lands."""

    language: str
    options: tuple[str, ...]
    html_dir: str

    @property
    def latex_dir(self) -> str:
        """Where ``--builder latex`` writes this language's LaTeX (next to its HTML)."""
        return str(Path(self.html_dir).with_name("latex"))

    def command(self, strict: bool, builder: str = "html", quiet: bool = False) -> list[str]:
        """The ``jupyter-book build`` command (``quiet``: Sphinx prints warnings and errors only)."""
        jupyter_book = Path(sys.executable).with_name("jupyter-book")  # the environment's own CLI
        return [str(jupyter_book), "build", ".", *self.options, *(["--builder", builder] if builder != "html" else []),
                *(["-W", "--keep-going"] if strict else []), *(["--quiet"] if quiet else [])]


BUILDS = (
    LanguageBuild("en", (), "_build/html"),
    LanguageBuild("fa", ("--config", "_config.fa.yml", "--toc", "_toc.fa.yml", "--path-output", "_build/fa"),
                  "_build/fa/_build/html"),
)


@dataclass(frozen=True)
class Row:
    """One notebook page in the build report."""

    chapter: str
    state: str  # "executed", "cached" or "stale" (shown with earlier outputs and a notice)
    seconds: float | None  # execution seconds (this build's, or those of the cached execution)
    peak_mb: float | None  # peak memory of the kernel that executed it (when known)
    profile: str  # the profile of the outputs shown
    executed_at: str  # when those outputs were computed


@dataclass
class BuildReport:
    """What a build did: a row per notebook page, Sphinx seconds per language, wall time, site."""

    rows: list[Row]
    sphinx_seconds: dict[str, float]
    seconds: float
    site: Path | None
    jobs: int = 0
    stale_commands: dict[str, str] = field(default_factory=dict)  # stale chapter -> command updating it

    @property
    def executed(self) -> list[str]:
        return [row.chapter for row in self.rows if row.state == "executed"]

    def table(self) -> str:
        """The report as an aligned text table."""
        lines = [f"{'chapter':<12} {'state':<9} {'seconds':>8} {'peak MB':>8}  outputs from"]
        for row in self.rows:
            seconds = f"{row.seconds:.1f}" if row.seconds is not None else "-"
            peak = f"{row.peak_mb:.0f}" if row.peak_mb is not None else "-"
            lines.append(f"{row.chapter:<12} {row.state:<9} {seconds:>8} {peak:>8}  "
                         f"{row.profile} profile, {row.executed_at.replace('T', ' ').replace('+00:00', ' UTC')}")
        return "\n".join(lines)

    def to_json(self) -> dict:
        return {"rows": [asdict(row) for row in self.rows], "sphinx_seconds": self.sphinx_seconds,
                "seconds": round(self.seconds, 1), "jobs": self.jobs, "stale": self.stale_commands,
                "site": str(self.site) if self.site else None}


def project_root() -> Path:
    """The book repository this ``cnnbook`` was installed from (editable install)."""
    root = Path(cnnbook.__file__).resolve().parents[2]
    if not (root / "_config.yml").is_file() or not (root / "_toc.yml").is_file():
        raise SiteError(f"no book found at {root}: install cnnbook from a clone of the book with `pip install -e .`")
    return root


def invalidate(root: Path, chapter: Chapter) -> int:
    """Drop the chapter's executed notebooks from the cache so the next build re-executes it."""
    from jupyter_cache import get_cache

    cache = get_cache(str(root / CACHE_DIR))
    removed = 0
    for record in cache.list_cache_records():
        if Path(record.uri).name == chapter.page("en").name:
            cache.remove_cache(record.pk)
            removed += 1
    return removed


def run_build(build: LanguageBuild, root: Path, strict: bool, env: dict[str, str], builder: str = "html",
              verbose: bool = False) -> int:
    """Run one language build; returns the number of notebooks Sphinx itself executed (normally 0).

    Lines that say nothing about the book (banners, paths) are shown only when ``verbose``."""
    command = build.command(strict, builder, quiet=not verbose)
    print(f"=== building the {build.language} book: jupyter-book {' '.join(command[1:])}", flush=True)
    process = subprocess.Popen(command, cwd=root, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, bufsize=1)
    executed = 0
    assert process.stdout is not None
    for line in process.stdout:
        if verbose or not _NOISE.match(_ANSI.sub("", line)):
            sys.stdout.write(line)
        executed += bool(_EXECUTED.search(line))
    if process.wait() != 0:
        raise SiteError(f"the {build.language} build failed (exit {process.returncode}); see the messages above")
    return executed


def sync_tree(source: Path, target: Path, skip: Callable[[Path], bool] = lambda relative: False) -> int:
    """Make ``target`` a copy of ``source``, copying only files whose size or time differ; the count copied.

    Paths (relative to ``source``) for which ``skip`` is true are left out, with everything under them."""
    copied = 0
    wanted = set()
    for path in source.rglob("*"):
        relative = path.relative_to(source)
        if skip(relative) or any(skip(parent) for parent in relative.parents if parent != Path(".")):
            continue
        wanted.add(relative)
        destination = target / relative
        if path.is_dir():
            destination.mkdir(parents=True, exist_ok=True)
            continue
        state, known = path.stat(), destination.stat() if destination.exists() else None
        if known is None or known.st_size != state.st_size or int(known.st_mtime) != int(state.st_mtime):
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, destination)
            copied += 1
    for path in sorted(target.rglob("*"), reverse=True):  # files before their folders
        if path.relative_to(target) not in wanted:
            shutil.rmtree(path) if path.is_dir() else path.unlink()
    return copied


#: Where the site keeps the one MathJax both editions load (``mathjax_path`` in ``_config*.yml``
#: points there: ``_static/../../_shared/mathjax``, relative, so any base path and file:// work).
SHARED_MATHJAX = "_shared/mathjax"
_EDITION_MATHJAX = Path("_static/mathjax")


def left_out_of_site(relative: Path) -> bool:
    """What the site leaves out of an edition: its own MathJax (the site has one shared copy) and
    source maps (``*.map``, read only by a browser's developer tools)."""
    return relative == _EDITION_MATHJAX or relative.suffix == ".map"


def assemble_site(root: Path) -> Path:
    """Mirror both builds under ``_build/site/<lang>/`` with one shared MathJax, add the
    language-choice page and the PDF editions that have been built (``cnnbook.book.downloads``)."""
    from cnnbook.book.downloads import place_pdfs
    from cnnbook.book.pdf import PDF_DIR

    site = root / SITE_DIR
    for build in BUILDS:
        sync_tree(root / build.html_dir, site / build.language, left_out_of_site)
    sync_tree(root / BUILDS[0].html_dir / _EDITION_MATHJAX, site / SHARED_MATHJAX)
    place_pdfs(site, root / PDF_DIR, root / "book" / "landing.html", tuple(build.language for build in BUILDS))
    return site


def build_environment(profile: str | None) -> dict[str, str]:
    """The environment of a book build: this process's, with the execution profile set.

    OpenMP threads sleep instead of spinning while they wait (unless the user says otherwise): on a
    shared or busy machine, spinning threads slow PyTorch's CPU kernels by an order of magnitude."""
    return {"OMP_WAIT_POLICY": "PASSIVE", **os.environ, PROFILE_ENV: get_profile(profile).name}


@dataclass
class Prepared:
    """The executions a build did before rendering, and its pins (stale pages left as they are)."""

    plan: Plan
    results: list[Result]
    env: dict[str, str]
    jobs: int


def prepare(root: Path, profile: str | None = None, only: list[str] | None = None, force: bool = False,
            jobs: int | None = None) -> Prepared:
    """Plan, check what the pages to execute need, execute them in parallel, and save the pins.

    Raises ``RequirementError`` before anything executes, ``ExecutionFailed`` when a cell fails."""
    env = build_environment(profile)
    planned = plan(root, profile, only, force)
    check_data(((unit.id, unit.text()) for unit in planned.execute), package_dir(root), profile)
    results = execute(root, planned.execute, profile, jobs, env=env)
    env[PINS_ENV] = str(write_pins(root, planned.pins))
    used = worker_count(jobs, len(planned.execute)) if planned.execute else 0
    return Prepared(planned, results, env, used)


def report(prepared: Prepared, sphinx_seconds: dict[str, float], seconds: float, site: Path | None,
           root: Path) -> BuildReport:
    """The build report of a prepared build; also written to ``_build/report.json``."""
    done = {result.unit: result for result in prepared.results}
    rows = []
    stale = {}
    profile = prepared.env[PROFILE_ENV]
    for status in prepared.plan.statuses:
        unit = status.unit
        if unit.id in done:
            result = done[unit.id]
            rows.append(Row(unit.id, "executed", result.seconds, result.peak_mb, profile, result.executed_at))
        elif status.current is not None:
            record = status.current
            rows.append(Row(unit.id, "cached", record.seconds, record.peak_mb, record.profile, record.executed_at))
        else:
            record = status.usable
            pin = prepared.plan.pins[unit.stem]
            stale[unit.id] = pin.command
            rows.append(Row(unit.id, "stale", record.seconds, record.peak_mb, record.profile, record.executed_at))
    result = BuildReport(rows, sphinx_seconds, seconds, site, prepared.jobs, stale)
    path = root / REPORT_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result.to_json(), indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return result


def build_site(root: Path, profile: str | None = None, strict: bool = True, only: list[str] | None = None,
               force: bool = False, jobs: int | None = None, verbose: bool = False) -> BuildReport:
    """Execute what is stale (or the chapters ``only`` names), build both languages, assemble the site."""
    started = time.perf_counter()
    prepared = prepare(root, profile, only, force, jobs)
    sphinx_seconds = {}
    for build in BUILDS:
        began = time.perf_counter()
        run_build(build, root, strict, prepared.env, verbose=verbose)
        sphinx_seconds[build.language] = round(time.perf_counter() - began, 1)
    site = assemble_site(root)
    return report(prepared, sphinx_seconds, time.perf_counter() - started, site, root)
