"""Build the bilingual site: two Jupyter Book builds sharing one execution cache, then one site.

The English build is plain ``jupyter-book build .`` (output ``_build/html``); the Persian build
is the same command with ``--config _config.fa.yml --toc _toc.fa.yml --path-output _build/fa``.
The English build executes stale chapters and fills the cache; the Persian build finds every
chapter there (identical code cells) and executes nothing. ``assemble_site`` puts both under
``_build/site/{en,fa}`` next to a language-choice landing page.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import cnnbook
from cnnbook.book.chapters import Chapter
from cnnbook.profiles import PROFILE_ENV, get_profile

CACHE_DIR = "_build/.jupyter_cache"
SITE_DIR = "_build/site"
_EXECUTED = re.compile(r"Executed notebook in ([\d.]+) seconds")


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

    def command(self, strict: bool, builder: str = "html") -> list[str]:
        jupyter_book = Path(sys.executable).with_name("jupyter-book")  # the environment's own CLI
        return [str(jupyter_book), "build", ".", *self.options, *(["--builder", builder] if builder != "html" else []),
                *(["-W", "--keep-going"] if strict else [])]


BUILDS = (
    LanguageBuild("en", (), "_build/html"),
    LanguageBuild("fa", ("--config", "_config.fa.yml", "--toc", "_toc.fa.yml", "--path-output", "_build/fa"),
                  "_build/fa/_build/html"),
)


@dataclass
class BuildReport:
    """What a site build did: notebooks executed per language and wall time."""

    executed: dict[str, int]
    seconds: float
    site: Path


def project_root() -> Path:
    """The book repository this ``cnnbook`` was installed from (editable install)."""
    root = Path(cnnbook.__file__).resolve().parents[2]
    if not (root / "_config.yml").is_file() or not (root / "_toc.yml").is_file():
        raise SiteError(f"no book found at {root}: install cnnbook from a clone of the book with `pip install -e .`")
    return root


def invalidate(root: Path, chapter: Chapter) -> int:
    """Drop the chapter's executed notebooks from the cache so the next build re-executes it."""
    from jupyter_cache import get_cache

    pages = {str(chapter.page(language).resolve()) for language in ("en", "fa")}
    cache = get_cache(str(root / CACHE_DIR))
    removed = 0
    for record in cache.list_cache_records():
        if str(Path(record.uri).resolve()) in pages:
            cache.remove_cache(record.pk)
            removed += 1
    return removed


def run_build(build: LanguageBuild, root: Path, strict: bool, env: dict[str, str], builder: str = "html") -> int:
    """Run one language build, streaming its output; returns the number of notebooks executed."""
    command = build.command(strict, builder)
    print(f"\n=== building the {build.language} book: jupyter-book {' '.join(command[1:])}", flush=True)
    process = subprocess.Popen(command, cwd=root, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, bufsize=1)
    executed = 0
    assert process.stdout is not None
    for line in process.stdout:
        sys.stdout.write(line)
        executed += bool(_EXECUTED.search(line))
    if process.wait() != 0:
        raise SiteError(f"the {build.language} build failed (exit {process.returncode}); see the messages above")
    return executed


def assemble_site(root: Path) -> Path:
    """Copy both builds under ``_build/site/<lang>/`` and add the language-choice page."""
    site = root / SITE_DIR
    for build in BUILDS:
        target = site / build.language
        if target.exists():
            shutil.rmtree(target)
        shutil.copytree(root / build.html_dir, target)
    shutil.copyfile(root / "book" / "landing.html", site / "index.html")
    return site


def build_environment(profile: str | None) -> dict[str, str]:
    """The environment of a book build: this process's, with the execution profile set.

    OpenMP threads sleep instead of spinning while they wait (unless the user says otherwise): on a
    shared or busy machine, spinning threads slow PyTorch's CPU kernels by an order of magnitude."""
    return {"OMP_WAIT_POLICY": "PASSIVE", **os.environ, PROFILE_ENV: get_profile(profile).name}


def build_site(root: Path, profile: str | None = None, strict: bool = True,
               force: Chapter | None = None) -> BuildReport:
    """Build both languages (executing only stale chapters) and assemble the site."""
    env = build_environment(profile)
    if force is not None:
        removed = invalidate(root, force)
        print(f"[cnnbook] forcing {force.id}: dropped {removed} cached execution(s)")
    started = time.perf_counter()
    executed = {build.language: run_build(build, root, strict, env) for build in BUILDS}
    site = assemble_site(root)
    return BuildReport(executed, time.perf_counter() - started, site)
