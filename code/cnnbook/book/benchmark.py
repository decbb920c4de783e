"""``cnnbook benchmark``: time the builds a reader and an author live, in a throw-away copy of the book.

The copy (``book/``, ``code/cnnbook``, the configs and tables of contents; optionally only some
chapters) gets its own execution cache and training cache, so the measurements start cold and the
repository's caches are never touched. Phases, each a ``cnnbook`` command run in the copy:

1. ``cold-serial``: empty caches, ``cnnbook build --jobs 1`` (chapters one after another);
2. ``cold-parallel``: empty caches again, ``cnnbook build`` (one worker process per core);
3. ``warm``: ``cnnbook build`` again, nothing changed;
4. ``one-chapter``: a comment appended to a ``cnnbook`` module the chosen chapter imports, then
   ``cnnbook run <chapter>``.

It prints wall seconds, the executed chapters with their execution seconds, the largest peak
memory of a chapter's kernel, the machine's cores and its load average before and after each
phase (the figures depend on what else runs), and writes all of it to ``_build/benchmark.json``.
Builds are not strict: a subset of chapters may leave references to the others unresolved.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from cnnbook.book.execution import cores, units
from cnnbook.book.fingerprint import module_closure, page_imports

PHASES = ("cold-serial", "cold-parallel", "warm", "one-chapter")
RESULT_FILE = "_build/benchmark.json"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--chapters", help="comma-separated chapter ids to keep (default: all)")
    parser.add_argument("--touch", help="the chapter of the one-chapter phase (default: the first kept)")
    parser.add_argument("--phases", default=",".join(PHASES), help=f"comma-separated subset of {','.join(PHASES)}")
    parser.add_argument("--profile", default="quick", help="execution profile (default: quick)")
    parser.add_argument("--workdir", help="where to put the copy (default: a temporary folder, removed after)")


def _keep_chapters(node: Any, keep: set[str]) -> Any:
    """The table of contents without the chapters not in ``keep`` (other pages stay)."""
    if isinstance(node, dict):
        result = {}
        for key, value in node.items():
            if key in ("parts", "chapters", "sections") and isinstance(value, list):
                children = [_keep_chapters(child, keep) for child in value]
                result[key] = [c for c in children if c is not None]
            else:
                result[key] = value
        name = Path(str(node.get("file", ""))).name
        if name[:2] == "ch" and name[2:4].isdigit() and name[:4] not in keep:
            return None
        if "chapters" in result and not result["chapters"]:
            return None
        return result
    return node


def make_copy(root: Path, target: Path, keep: set[str] | None) -> Path:
    """Copy the book into ``target`` (without caches or build outputs); keep only ``keep`` chapters."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "_build")
    shutil.copytree(root / "book", target / "book", ignore=ignore)
    shutil.copytree(root / "code" / "cnnbook", target / "code" / "cnnbook", ignore=ignore)
    for name in ("_config.yml", "_config.fa.yml", "_toc.yml", "_toc.fa.yml"):
        text = (root / name).read_text(encoding="utf-8")
        if keep and name.startswith("_toc"):
            text = yaml.safe_dump(_keep_chapters(yaml.safe_load(text), keep), allow_unicode=True, sort_keys=False)
        (target / name).write_text(text, encoding="utf-8")
    return target


def touch_module(copy: Path, chapter: str) -> str:
    """Append a comment to a ``cnnbook`` module ``chapter`` imports, preferably one no other chapter
    imports; the module's name."""
    pages = {unit.id: unit.text() for unit in units(copy)}
    package = copy / "code" / "cnnbook"
    closures = {uid: module_closure(package, page_imports(text)) for uid, text in pages.items()}
    mine = closures[chapter]
    others = set().union(*(set(c) for uid, c in closures.items() if uid != chapter))
    candidates = sorted(set(mine) - others) or sorted(m for m in mine if m != "cnnbook")
    module = candidates[0]
    with mine[module].open("a", encoding="utf-8") as handle:
        handle.write("\n# benchmark: a change that alters nothing but the module's fingerprint\n")
    return module


def run_phase(copy: Path, name: str, argv: list[str], env: dict[str, str]) -> dict:
    """Run ``cnnbook <argv>`` in the copy; wall seconds, load, and the build report's figures."""
    report_path = copy / "_build" / "report.json"
    report_path.unlink(missing_ok=True)
    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    log = copy / f"benchmark-{name}.log"
    with log.open("w", encoding="utf-8") as out:
        code = subprocess.run([sys.executable, "-m", "cnnbook.cli", *argv], cwd=copy, env=env,
                              stdout=out, stderr=subprocess.STDOUT).returncode
    seconds = round(time.perf_counter() - started, 1)
    report = json.loads(report_path.read_text(encoding="utf-8")) if report_path.is_file() else {}
    executed = {row["chapter"]: row["seconds"] for row in report.get("rows", []) if row["state"] == "executed"}
    peaks = [row["peak_mb"] for row in report.get("rows", []) if row["state"] == "executed" and row["peak_mb"]]
    return {"phase": name, "command": "cnnbook " + " ".join(argv), "exit": code, "seconds": seconds,
            "executed": executed, "execution_seconds": round(sum(executed.values()), 1),
            "peak_mb": max(peaks, default=None), "jobs": report.get("jobs"),
            "sphinx_seconds": report.get("sphinx_seconds"),
            "load_before": round(load_before, 2), "load_after": round(os.getloadavg()[0], 2), "log": str(log)}


def run_benchmark(root: Path, args: argparse.Namespace) -> int:
    """Run the phases, print a table, write ``_build/benchmark.json``; exit 1 if a phase failed."""
    keep = set(args.chapters.split(",")) if args.chapters else None
    phases = [p for p in args.phases.split(",") if p]
    unknown = [p for p in phases if p not in PHASES]
    if unknown:
        print(f"cnnbook: error: unknown phase(s) {', '.join(unknown)}; phases: {', '.join(PHASES)}", file=sys.stderr)
        return 2
    workdir = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="cnnbook-benchmark-"))
    copy = make_copy(root, workdir / "book-copy", keep)
    chapters = [unit.id for unit in units(copy)]
    chapter = args.touch or next(c for c in chapters if c.startswith("ch"))
    training_cache = workdir / "training-cache"
    env = {**os.environ, "PYTHONPATH": str(copy / "code"), "BOOK_PROFILE": args.profile,
           "CNNBOOK_CACHE": str(training_cache)}
    print(f"[benchmark] {cores()} cores; chapters: {', '.join(chapters)}; profile {args.profile}; copy in {copy}",
          flush=True)
    results = []
    for phase in phases:
        if phase.startswith("cold"):
            shutil.rmtree(copy / "_build", ignore_errors=True)
            shutil.rmtree(training_cache, ignore_errors=True)
        argv = ["build", "--no-strict"] + (["--jobs", "1"] if phase == "cold-serial" else [])
        if phase == "one-chapter":
            module = touch_module(copy, chapter)
            print(f"[benchmark] changed {module}", flush=True)
            argv = ["run", chapter, "--no-strict"]
        result = run_phase(copy, phase, argv, env)
        results.append(result)
        executed = ", ".join(f"{c} {s:.0f} s" for c, s in result["executed"].items()) or "none"
        print(f"[benchmark] {phase:<13} {result['seconds']:7.1f} s  exit {result['exit']}  executed: {executed}; "
              f"peak {result['peak_mb'] or 0:.0f} MB; load {result['load_before']}->{result['load_after']}",
              flush=True)
    by_phase = {r["phase"]: r for r in results}
    summary = {"cores": cores(), "chapters": chapters, "profile": args.profile, "phases": results}
    if "cold-serial" in by_phase and "cold-parallel" in by_phase:
        summary["parallel_over_serial"] = round(by_phase["cold-parallel"]["seconds"] / by_phase["cold-serial"]["seconds"], 3)
        print(f"[benchmark] cold parallel / cold serial = {summary['parallel_over_serial']:.2f}")
    out = root / RESULT_FILE
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(summary, indent=1) + "\n", encoding="utf-8")
    print(f"[benchmark] results: {out}")
    if not args.workdir:
        shutil.rmtree(workdir, ignore_errors=True)
    return 1 if any(r["exit"] != 0 for r in results) else 0
