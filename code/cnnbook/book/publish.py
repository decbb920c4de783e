"""Publish the built site: ``cnnbook publish`` (``make publish``).

The site in ``_build/site`` goes either onto the ``gh-pages`` branch of a git remote, the way
Jupyter Book's documentation recommends (``ghp-import``: one commit of the whole site on that
branch, with a ``.nojekyll`` file so GitHub Pages serves the ``_static`` folders, then a push), or
into a folder (``--folder``, e.g. a web server's document root). Every URL of the site is
relative, so it works under any base path.

Publishing refuses, saying why and what to run, when the site is missing or stale
(``stale_reasons``): a chapter whose code, package or profile changed since it was executed, a
build that showed pages with earlier outputs, or a page, configuration or template edited after
the last build.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from cnnbook.book.site import REPORT_FILE, SITE_DIR, SiteError, sync_tree

#: What the site is built from: editing one of them after the last build makes the site stale.
SOURCES = ("book", "_config.yml", "_config.fa.yml", "_toc.yml", "_toc.fa.yml", "code/cnnbook/book")


class PublishError(SiteError):
    """The site cannot be published (missing, stale, or git failed)."""


def _newest(paths: list[Path]) -> tuple[float, Path | None]:
    newest, which = 0.0, None
    for path in paths:
        for file in ([path] if path.is_file() else path.rglob("*") if path.is_dir() else []):
            if file.is_file() and file.stat().st_mtime > newest:
                newest, which = file.stat().st_mtime, file
    return newest, which


def stale_reasons(root: Path, profile: str | None = None, check_execution: bool = True) -> list[str]:
    """Why the site in ``_build/site`` should not be published as it is (empty: it is current)."""
    site, report_file = root / SITE_DIR, root / REPORT_FILE
    if not (site / "index.html").is_file() or not report_file.is_file():
        return [f"there is no built site in {site}: run `cnnbook build` (make book) first"]
    reasons = []
    report = json.loads(report_file.read_text(encoding="utf-8"))
    if report.get("stale"):
        reasons.append("the last build showed earlier outputs for " + ", ".join(report["stale"])
                       + ": run `cnnbook build` to execute them")
    built = report_file.stat().st_mtime
    newest, which = _newest([root / name for name in SOURCES])
    if newest > built and which is not None:
        reasons.append(f"{which.relative_to(root)} changed after the last build: run `cnnbook build`")
    if check_execution:
        from cnnbook.book.execution import statuses, units

        outdated = [status.unit.id for status in statuses(root, profile, units(root)) if status.current is None]
        if outdated:
            reasons.append(f"not executed for the current code and profile: {', '.join(outdated)}: "
                           "run `cnnbook build`")
    return reasons


def publish_folder(site: Path, folder: Path) -> int:
    """Make ``folder`` a copy of the site (files that did not change are not copied); the count copied."""
    if folder.resolve() == site.resolve() or site.resolve() in folder.resolve().parents:
        raise PublishError(f"cannot publish the site into itself ({folder})")
    folder.mkdir(parents=True, exist_ok=True)
    return sync_tree(site, folder)


def publish_git(site: Path, repository: Path, remote: str = "origin", branch: str = "gh-pages",
                message: str = "Publish the book", push: bool = True) -> None:
    """Commit the site as the whole of ``branch`` in ``repository`` (ghp-import) and push it to ``remote``."""
    command = [sys.executable, "-m", "ghp_import", "--no-jekyll", "--remote", remote, "--branch", branch,
               "--message", message, *(["--push"] if push else []), str(site.resolve())]
    result = subprocess.run(command, cwd=repository, capture_output=True, text=True)
    if result.returncode != 0:
        raise PublishError(f"ghp-import failed (exit {result.returncode}): "
                           f"{(result.stderr or result.stdout).strip()}")


def publish(root: Path, folder: Path | None = None, remote: str = "origin", branch: str = "gh-pages",
            profile: str | None = None, message: str = "Publish the book") -> str:
    """Publish ``_build/site`` of ``root`` into ``folder`` or onto ``branch`` of ``remote``; what was done."""
    reasons = stale_reasons(root, profile)
    if reasons:
        raise PublishError("the site is not published because it is not current:\n  - " + "\n  - ".join(reasons))
    site = root / SITE_DIR
    if folder is not None:
        copied = publish_folder(site, folder)
        return f"published {site} into {folder} ({copied} file(s) copied)"
    publish_git(site, root, remote, branch, message)
    return f"published {site} on the {branch} branch of {remote}"
