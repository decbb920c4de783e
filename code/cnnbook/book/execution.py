"""Executing the book's notebook pages into the shared execution cache, before Sphinx renders.

Every notebook page of the English table of contents is a *unit* (a chapter ``chNN``, or another
page with code cells). A unit is *current* when the jupyter-cache holds an execution of its code
cells plus its execution key (``fingerprint``): then both language builds read its outputs from
the cache and execute nothing. ``plan`` decides what a build executes (every stale unit, or only
the chapters asked for) and, for the stale units it leaves alone, which earlier execution the
pages show instead (``Pin``, with a notice on the page). ``execute`` runs the units in parallel
worker processes, one chapter per process, each with its share of the machine's cores as torch
and BLAS threads, and the parent stores every executed notebook in the cache, exactly as myst-nb
would have (same notebook, same hash, same working directory).

A failing cell stops nothing else that is running; the build then ends with ``ExecutionFailed``:
chapter, cell number, line of the page, the exception's message, and the path of the full log
(``_build/logs/<unit>.log``), where the traceback and all kernel output go.
"""

from __future__ import annotations

import concurrent.futures
import json
import multiprocessing
import os
import re
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import yaml

from cnnbook.book.chapters import ChapterError, toc_docnames
from cnnbook.book.fingerprint import (KEY_CELL_MARKER, execution_key, is_notebook_page, module_closure, page_imports,
                                      with_execution_key)
from cnnbook.profiles import get_profile

CACHE_DIR = "_build/.jupyter_cache"
LOG_DIR = "_build/logs"
PINS_FILE = "_build/cnnbook-pins.json"
#: The environment variable through which the Sphinx extension finds the pins of this build.
PINS_ENV = "CNNBOOK_PINS"
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
_CHAPTER = re.compile(r"(ch\d\d)-[\w-]+$")
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_KEY_PROFILE = re.compile(r"profile=(\S+)")
_FRONT_MATTER = re.compile(r"\A---\n(.*?)\n---\n", re.DOTALL)


class ExecutionFailed(RuntimeError):
    """A cell raised during execution; the message is the short summary (the log has the rest)."""


@dataclass(frozen=True)
class Unit:
    """One executable page of the book: its id (``chNN`` or the page name) and English source."""

    id: str
    docname: str  # e.g. book/en/ch01-layer-arithmetic
    root: Path

    @property
    def path(self) -> Path:
        return self.root / f"{self.docname}.md"

    @property
    def stem(self) -> str:
        """File name without suffix; the same in both languages, so it names the page in either."""
        return Path(self.docname).name

    def text(self) -> str:
        return self.path.read_text(encoding="utf-8")

    def after(self) -> frozenset[str]:
        """The units this page reuses the training runs of, from ``cnnbook: {after: [...]}`` in its
        front matter: when both are executed, it starts once they have finished, so that it finds
        their runs in the training cache instead of training the same networks at the same time."""
        match = _FRONT_MATTER.match(self.text())
        settings = (yaml.safe_load(match.group(1)) or {}).get("cnnbook", {}) if match else {}
        return frozenset(settings.get("after", ()))


@dataclass(frozen=True)
class Record:
    """An execution held in the cache: its key, when it ran, and what it cost."""

    pk: int
    key: str
    executed_at: str  # ISO 8601, UTC
    seconds: float | None
    peak_mb: float | None

    @property
    def profile(self) -> str:
        match = _KEY_PROFILE.search(self.key)
        return match.group(1) if match else "?"


@dataclass(frozen=True)
class Status:
    """Where a unit stands for the current code and profile."""

    unit: Unit
    key: str  # its current execution key
    current: Record | None  # the cached execution matching the current code and key
    usable: Record | None  # the most recent cached execution of the current code cells (any key)
    latest: Record | None  # the most recent cached execution of the page at all

    @property
    def up_to_date(self) -> bool:
        return self.current is not None

    def describe(self) -> str:
        """``up to date`` or why not, in a few words."""
        if self.current is not None:
            return "up to date"
        if self.latest is None:
            return "never executed"
        if self.usable is None:
            return "stale: its code cells changed"
        if self.usable.profile != _KEY_PROFILE.search(self.key).group(1):
            return f"stale: executed on the {self.usable.profile} profile"
        return "stale: the cnnbook code it imports changed"


@dataclass(frozen=True)
class Pin:
    """A stale unit shown with an earlier execution (``key``), and the notice that says so."""

    key: str
    reason: str  # "profile" or "code"
    profile: str  # the profile that execution ran on
    executed_at: str
    command: str  # what updates it


@dataclass
class Plan:
    """What a build executes, and which stale units it shows with earlier outputs."""

    statuses: list[Status]
    execute: list[Unit]
    pins: dict[str, Pin] = field(default_factory=dict)  # by unit stem


@dataclass
class Result:
    """The outcome of executing one unit (what a worker returns)."""

    unit: str
    ok: bool
    seconds: float
    peak_mb: float
    threads: int
    log: str
    notebook: dict | None = None
    cell: int | None = None  # 1-based code cell number of the failure
    line: int | None = None  # line of the page where that cell starts
    error: str = ""
    executed_at: str = ""  # when the execution finished (ISO 8601, UTC)


def units(root: Path) -> list[Unit]:
    """The notebook pages of the English table of contents, in its order (chapters get ``chNN``)."""
    found = []
    for docname in toc_docnames(root):
        path = root / f"{docname}.md"
        if not docname or not path.is_file() or not is_notebook_page(path.read_text(encoding="utf-8")):
            continue
        match = _CHAPTER.search(Path(docname).name)
        found.append(Unit(match.group(1) if match else Path(docname).name, docname, root))
    return found


def find_unit(root: Path, unit_id: str) -> Unit:
    """The notebook page ``unit_id`` (a chapter such as ``ch01``, or ``errata``); an unknown id names
    the valid ones, so every ``cnnbook run`` that a stale-page notice suggests is accepted."""
    known = units(root)
    for unit in known:
        if unit.id == unit_id:
            return unit
    raise ChapterError(f"unknown chapter {unit_id!r}; valid chapters: {', '.join(unit.id for unit in known)}")


def package_dir(root: Path) -> Path:
    return root / "code" / "cnnbook"


def cache(root: Path) -> Any:
    from jupyter_cache import get_cache

    return get_cache(str(root / CACHE_DIR))


def page_notebook(text: str, key: str, source_map: bool = False) -> Any:
    """The notebook myst-nb reads from the page once the execution key cell is appended."""
    from myst_nb.core.read import read_myst_markdown_notebook

    return read_myst_markdown_notebook(with_execution_key(text, key), add_source_map=source_map)


def _record_key(jcache: Any, pk: int) -> str | None:
    """The execution key carried by a cached notebook's last cell."""
    try:
        notebook = jcache.get_cache_bundle(pk).nb
    except KeyError:
        return None
    for cell in reversed(notebook.cells):
        if cell.cell_type == "code" and KEY_CELL_MARKER in cell.source:
            return cell.source.split(KEY_CELL_MARKER, 1)[1].strip()
    return None


def _as_record(jcache: Any, row: Any, key: str | None = None) -> Record | None:
    data = row.data or {}
    key = key or data.get("cnnbook_key") or _record_key(jcache, row.pk)
    if key is None:
        return None
    executed = data.get("cnnbook_executed_at") or row.created.replace(tzinfo=timezone.utc).isoformat(timespec="seconds")
    return Record(row.pk, key, executed, data.get("execution_seconds"), data.get("cnnbook_peak_mb"))


def statuses(root: Path, profile: str | None = None, targets: list[Unit] | None = None) -> list[Status]:
    """The status of every unit (or of ``targets``) for the current code and ``profile``."""
    jcache = cache(root)
    rows = sorted(jcache.list_cache_records(), key=lambda r: ((r.data or {}).get("cnnbook_executed_at", ""),
                                                              r.created, r.pk), reverse=True)
    result = []
    for unit in targets if targets is not None else units(root):
        text = unit.text()
        key = execution_key(text, package_dir(root), profile)
        mine = [row for row in rows if Path(row.uri).name == unit.path.name]
        current = usable = latest = None
        try:
            row = jcache.match_cache_notebook(page_notebook(text, key))
            current = _as_record(jcache, row, key)
        except KeyError:
            pass
        for row in mine:
            record = _as_record(jcache, row)
            if record is None:
                continue
            latest = latest or record
            if usable is None:
                try:
                    if jcache.match_cache_notebook(page_notebook(text, record.key)).pk == row.pk:
                        usable = record
                except KeyError:
                    pass
            if usable is not None:
                break
        result.append(Status(unit, key, current, usable or current, latest or current))
    return result


def plan(root: Path, profile: str | None = None, only: list[str] | None = None, force: bool = False) -> Plan:
    """What to execute: every stale unit, or (``only``) just those units, when stale or ``force``d.

    A stale unit that is not executed keeps its most recent execution of the same code cells and
    gets a ``Pin``; a unit without any such execution (new page, edited code cells) must execute,
    since there is nothing truthful to show."""
    all_status = statuses(root, profile)
    name = get_profile(profile).name
    execute, pins = [], {}
    for status in all_status:
        wanted = only is None or status.unit.id in only
        if wanted and (force or not status.up_to_date):
            execute.append(status.unit)
        elif not status.up_to_date:
            if status.usable is None:
                execute.append(status.unit)
                continue
            reason = "profile" if status.usable.profile != name else "code"
            command = f"cnnbook run {status.unit.id}" + (f" --profile {name}" if name != "quick" else "")
            pins[status.unit.stem] = Pin(status.usable.key, reason, status.usable.profile,
                                         status.usable.executed_at, command)
    last = {status.unit.id: status.latest.seconds if status.latest else None for status in all_status}
    execute.sort(key=lambda unit: expected_cost(unit, last[unit.id]), reverse=True)
    return Plan(all_status, execute, pins)


def expected_cost(unit: Unit, seconds: float | None) -> tuple[float, int, int]:
    """A sort key for "longest first", so that parallel workers finish close together: the seconds of
    the page's last execution; without one (ranked first), pages whose imports train networks
    (``cnnbook.training``), then pages with more imported code."""
    closure = module_closure(package_dir(unit.root), page_imports(unit.text()))
    trains = int(any(module.startswith("cnnbook.training") for module in closure))
    return (float("inf") if seconds is None else seconds, trains, sum(p.stat().st_size for p in closure.values()))


def write_pins(root: Path, pins: dict[str, Pin]) -> Path:
    """Save the pins of this build where the Sphinx extension reads them (``$CNNBOOK_PINS``)."""
    path = root / PINS_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({stem: asdict(pin) for stem, pin in sorted(pins.items())}, indent=1) + "\n",
                    encoding="utf-8")
    return path


def read_pins(path: str | os.PathLike | None) -> dict[str, Pin]:
    if not path or not Path(path).is_file():
        return {}
    return {stem: Pin(**pin) for stem, pin in json.loads(Path(path).read_text(encoding="utf-8")).items()}


def cores() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def _failure(notebook: Any) -> tuple[int | None, int | None, str]:
    """Code cell number, page line and ``Type: message`` of the first error output."""
    source_map = notebook.metadata.get("source_map") or []
    number = 0
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type != "code":
            continue
        number += 1
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                line = source_map[index] + 1 if index < len(source_map) else None
                return number, line, f"{output.get('ename', 'Error')}: {_ANSI.sub('', output.get('evalue', ''))}"
    return None, None, ""


def _execute_unit(unit_id: str, path: str, key: str, threads: int, log: str, env: dict[str, str]) -> Result:
    """Worker: execute one page (in its folder, ``threads`` threads, ``env``), all output to ``log``."""
    import logging
    import resource
    import sys

    os.environ.update(env)
    for variable in THREAD_VARIABLES:
        os.environ[variable] = str(threads)
    Path(log).parent.mkdir(parents=True, exist_ok=True)
    stream = open(log, "w", encoding="utf-8")  # noqa: SIM115 - stays open for the worker's life
    os.dup2(stream.fileno(), 1)
    os.dup2(stream.fileno(), 2)
    sys.stdout = sys.stderr = stream
    logging.basicConfig(stream=stream, level=logging.WARNING, force=True)

    from jupyter_cache.executors.utils import single_nb_execution

    page = Path(path)
    notebook = page_notebook(page.read_text(encoding="utf-8"), key, source_map=True)
    print(f"[cnnbook] executing {page} with {threads} thread(s); key {key}", flush=True)
    # the kernel talks over local sockets (IPC), not TCP: nothing to warn about, nothing to intercept
    from traitlets.config import Config

    sockets = tempfile.mkdtemp(prefix="cnnbook-kernel-")
    ipc = Config({"KernelManager": {"transport": "ipc", "ip": os.path.join(sockets, "kernel")}})
    try:
        outcome = single_nb_execution(notebook, cwd=str(page.parent), timeout=None, allow_errors=False,
                                      meta_override=True, config=ipc)
    finally:
        shutil.rmtree(sockets, ignore_errors=True)
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # the kernel (kB on Linux)
    result = Result(unit_id, outcome.err is None, round(outcome.time, 2), round(peak_mb, 1), threads, log,
                    executed_at=datetime.now(timezone.utc).isoformat(timespec="seconds"))
    if outcome.err is None:
        result.notebook = dict(outcome.nb)
    else:
        result.cell, result.line, result.error = _failure(outcome.nb)
        if not result.error:
            result.error = " ".join(_ANSI.sub("", str(outcome.err)).split())[-300:]
        stream.write(_ANSI.sub("", outcome.exc_string or ""))
    stream.flush()
    return result


def _store(root: Path, unit: Unit, key: str, result: Result, jobs: int) -> None:
    import nbformat
    from jupyter_cache.base import CacheBundleIn

    notebook = nbformat.from_dict(result.notebook)
    cache(root).cache_notebook_bundle(
        CacheBundleIn(notebook, str(unit.path), data={
            "execution_seconds": result.seconds, "cnnbook_key": key, "cnnbook_peak_mb": result.peak_mb,
            "cnnbook_executed_at": result.executed_at,
            "cnnbook_jobs": jobs, "cnnbook_threads": result.threads}),
        check_validity=False, overwrite=True)


def worker_count(jobs: int | None, units_to_run: int) -> int:
    """Worker processes for ``units_to_run`` pages: ``jobs`` (default: one per core), at most one per page."""
    return max(1, min(jobs or cores(), units_to_run))


def execute(root: Path, to_run: list[Unit], profile: str | None = None, jobs: int | None = None,
            announce: Any = print, env: dict[str, str] | None = None) -> list[Result]:
    """Execute ``to_run`` in up to ``jobs`` worker processes (default: one per core) and cache them.

    Raises ``ExecutionFailed`` (after every started unit finished and the successful ones were
    cached) when a cell failed."""
    if not to_run:
        return []
    jobs = worker_count(jobs, len(to_run))
    threads = max(1, cores() // jobs)
    keys = {unit.id: execution_key(unit.text(), package_dir(root), profile) for unit in to_run}
    announce(f"[cnnbook] executing {len(to_run)} chapter(s) in {jobs} process(es), {threads} thread(s) each: "
             f"{', '.join(unit.id for unit in to_run)}")
    results: list[Result] = []
    context = multiprocessing.get_context("spawn")
    by_id = {unit.id: unit for unit in to_run}
    # in the plan's order, except that a unit another one comes after starts first (it is on the
    # critical path); a unit starts when the units it comes after are done
    after = {unit.id: unit.after() for unit in to_run}
    awaited = set().union(*after.values())
    waiting = sorted(to_run, key=lambda unit: unit.id not in awaited)
    with concurrent.futures.ProcessPoolExecutor(jobs, mp_context=context, max_tasks_per_child=1) as pool:
        futures: dict[concurrent.futures.Future, Unit] = {}
        while waiting or futures:
            unfinished = {unit.id for unit in waiting} | {unit.id for unit in futures.values()}
            for unit in [u for u in waiting if not (after[u.id] & unfinished)][:max(0, jobs - len(futures))]:
                waiting.remove(unit)
                futures[pool.submit(_execute_unit, unit.id, str(unit.path), keys[unit.id], threads,
                                    str(root / LOG_DIR / f"{unit.id}.log"), env or {})] = unit
            if not futures:
                raise ExecutionFailed("these pages wait on each other (`cnnbook: after:` in their front matter): "
                                      + ", ".join(f"{u.id} after {', '.join(sorted(after[u.id]))}" for u in waiting))
            done, _ = concurrent.futures.wait(futures, return_when=concurrent.futures.FIRST_COMPLETED)
            for future in done:
                unit = futures.pop(future)
                try:
                    result = future.result()
                except Exception as exc:  # the worker died (out of memory, killed): no cell to blame
                    log = str(root / LOG_DIR / f"{unit.id}.log")
                    result = Result(unit.id, False, 0.0, 0.0, threads, log,
                                    error=f"the worker process stopped: {type(exc).__name__}: {exc}")
                results.append(result)
                if result.ok:
                    _store(root, by_id[result.unit], keys[result.unit], result, jobs)
                    announce(f"[cnnbook] {result.unit}: executed in {result.seconds:.1f} s "
                             f"(peak memory {result.peak_mb:.0f} MB)")
                else:
                    announce(f"[cnnbook] {result.unit}: FAILED after {result.seconds:.1f} s")
    failed = [r for r in results if not r.ok]
    if failed:
        lines = []
        for r in failed:
            where = (f" at code cell {r.cell}" + (f" (line {r.line} of {by_id[r.unit].docname}.md)" if r.line else "")
                     if r.cell else "")
            lines.append(f"{r.unit} failed{where}: {r.error}\n    full log: {r.log}")
        raise ExecutionFailed("\n".join(lines))
    order = {unit.id: i for i, unit in enumerate(units(root))}
    return sorted(results, key=lambda r: order.get(r.unit, len(order)))


def pin_notice(pin: Pin, language: str) -> str:
    """The MyST warning a page shows while it displays an earlier execution."""
    when = pin.executed_at.replace("T", " ").replace("+00:00", " UTC")
    if language == "fa":
        when = f"\u2066{when}\u2069"  # a left-to-right isolate inside the Persian sentence
        why = (f"این خروجی‌ها در {when} با پروفایل {pin.profile} محاسبه شده‌اند، نه با پروفایل این ساخت."
               if pin.reason == "profile" else
               f"این خروجی‌ها در {when} محاسبه شده‌اند، پیش از آخرین تغییر در کد `cnnbook` که این فصل به کار می‌برد.")
        return (f"```{{admonition}} خروجی‌های این فصل به‌روز نیستند\n:class: warning cnnbook-stale\n\n{why} "
                f"برای به‌روزرسانی آن‌ها `{pin.command}` یا `cnnbook build` را اجرا کنید.\n```\n")
    why = (f"They were computed on {when} on the {pin.profile} profile, not on this build's profile."
           if pin.reason == "profile" else
           f"They were computed on {when}, before the latest change to the `cnnbook` code this chapter uses.")
    return (f"```{{admonition}} The outputs of this chapter are out of date\n:class: warning cnnbook-stale\n\n"
            f"{why} Run `{pin.command}` or `cnnbook build` to update them.\n```\n")


def with_notice(page_text: str, notice: str) -> str:
    """``page_text`` with ``notice`` right after its first-level heading (or at the top of the body)."""
    lines = page_text.splitlines(keepends=True)
    for index, line in enumerate(lines):
        if line.startswith("# "):
            return "".join(lines[: index + 1]) + "\n" + notice + "\n" + "".join(lines[index + 1:])
    return page_text + "\n" + notice


def elapsed(start: float) -> float:
    return round(time.perf_counter() - start, 1)
