"""The build as a user lives it, on real small books: one chapter means one chapter, stale pages say
so, failures end in one short message, parallel and serial builds give the same pages, and a
build ends with its report.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from conftest import FRONT_MATTER, cnnbook_command, small_book

from cnnbook.book.execution import Pin, pin_notice, with_notice
from cnnbook.provenance import VERSION_ORDER, version_pairs



def chapter(title: str, cells: list[str], prose: str = "") -> str:
    """A page with ``cells`` as code cells and ``prose`` after them."""
    body = "".join(f"\n```{{code-cell}} ipython3\n{cell}\n```\n" for cell in cells)
    return f"{FRONT_MATTER}# {title}\n{body}\n{prose}\n"


ALPHA = chapter("Alpha", [
    "from myst_nb import glue\nfrom cnnbook import demo_alpha\nfrom cnnbook.provenance import Provenance\n"
    "provenance = Provenance.start()",
    'glue("alpha_value", demo_alpha.VALUE * 3, display=False)\nprint("alpha", demo_alpha.VALUE)',
    "provenance.box()",
], "Alpha is {glue:}`alpha_value`.")
BETA = chapter("Beta", [
    "import torch\nfrom myst_nb import glue\nfrom cnnbook import demo_beta\ntorch.manual_seed(0)\n"
    "w = torch.randn(64, 64) @ torch.randn(64, 64)",
    'glue("beta_sum", f"{float(w.sum()):.6g}", display=False)\nglue("beta_offset", demo_beta.OFFSET, display=False)',
], "Beta is {glue:}`beta_sum` plus {glue:}`beta_offset`.")
PAGES = {"ch01-alpha": ALPHA, "ch02-beta": BETA}
MODULES = {"demo_alpha": "VALUE = 1\n", "demo_beta": "OFFSET = 10\n"}
GLUE = re.compile(r"(Alpha|Beta) is ([^\n]*?)\.(?:\s|$)")
WALL_TIME = re.compile(r"(Wall time|زمان اجرا)(<span class=\"colon\">:</span></dt>\s*<dd[^>]*>\s*<p>)[\d.]+")


def page(root: Path, language: str, stem: str) -> str:
    return (root / "_build" / "site" / language / "book" / language / f"{stem}.html").read_text(encoding="utf-8")


def plain(html: str) -> str:
    """The page's text without tags (glued values sit in their own spans)."""
    return re.sub(r"<[^>]+>", "", html)


def report(root: Path) -> dict[str, str]:
    rows = json.loads((root / "_build" / "report.json").read_text(encoding="utf-8"))["rows"]
    return {row["chapter"]: row["state"] for row in rows}


def ok(result) -> str:
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout


# --- fast: the pieces ----------------------------------------------------------------------

def test_notice_follows_the_title_and_names_the_command():
    pin = Pin("profile=quick code=0", "profile", "quick", "2026-01-02T03:04:05+00:00", "cnnbook run ch03 --profile full")
    english = pin_notice(pin, "en")
    assert "quick profile" in english and "`cnnbook run ch03 --profile full`" in english
    assert "2026-01-02 03:04:05 UTC" in english
    persian = pin_notice(pin, "fa")
    assert "پروفایل quick" in persian and "`cnnbook run ch03 --profile full`" in persian
    text = with_notice("---\nfront: matter\n---\n(label)=\n# Title\n\nBody\n", english)
    assert text.index("# Title") < text.index("```{admonition}") < text.index("Body")


def test_versions_have_one_order_whatever_the_mapping_order():
    shuffled = {"numpy": "2", "cnnbook": "1", "python": "3.11", "sympy": "1.1", "torch": "2.1"}
    assert [name for name, _ in version_pairs(shuffled)] == list(VERSION_ORDER)
    from cnnbook.provenance import Provenance

    record = Provenance.start().record()
    assert [name for name, _ in record["versions"]] == list(VERSION_ORDER)
    assert json.loads(json.dumps(record))["versions"] == record["versions"]  # a JSON round trip keeps it


# --- slow: real small books ----------------------------------------------------------------

@pytest.mark.slow
def test_run_executes_one_chapter_and_the_other_says_it_is_stale(tmp_path: Path):
    root = small_book(tmp_path / "book", PAGES, MODULES)
    out = ok(cnnbook_command(root, "build"))
    assert report(root) == {"ch01": "executed", "ch02": "executed"}
    assert "Alpha is 3." in plain(page(root, "en", "ch01-alpha"))
    assert "chapter" in out and "peak MB" in out                       # the report table
    for noise in ("reading sources", "Traceback", "zmq", "kernel", "Using cached notebook"):
        assert noise not in out, noise                                  # quiet logs

    (root / "code" / "cnnbook" / "demo_alpha.py").write_text("VALUE = 2\n")
    (root / "code" / "cnnbook" / "demo_beta.py").write_text("OFFSET = 20\n")
    out = ok(cnnbook_command(root, "run", "ch02"))
    assert report(root) == {"ch01": "stale", "ch02": "executed"}       # one chapter means one chapter
    assert "STALE" in out and "ch01" in out and "`cnnbook run ch01`" in out
    assert "plus 20." in plain(page(root, "en", "ch02-beta"))
    for language in ("en", "fa"):
        html = page(root, language, "ch01-alpha")
        assert "Alpha is 3." in plain(html)                                    # its most recent outputs ...
        assert "cnnbook run ch01" in plain(html) and "cnnbook-stale" in html  # ... with the notice
        assert "cnnbook-stale" not in page(root, language, "ch02-beta")
    listing = ok(cnnbook_command(root, "chapters"))
    assert re.search(r"ch01.*\n.*stale: the cnnbook code it imports changed", listing)
    assert re.search(r"ch02.*\n.*up to date for the quick profile; last ran .* on the quick profile", listing)

    out = ok(cnnbook_command(root, "run", "ch02", "--profile", "full"))
    assert report(root) == {"ch01": "stale", "ch02": "executed"}
    assert "`cnnbook run ch01 --profile full`" in out
    assert "on the quick profile" in plain(page(root, "en", "ch01-alpha"))

    ok(cnnbook_command(root, "build"))                                  # everything up to date again
    assert report(root) == {"ch01": "executed", "ch02": "cached"}
    for language in ("en", "fa"):
        assert "cnnbook-stale" not in page(root, language, "ch01-alpha")
    assert "Alpha is 6." in plain(page(root, "en", "ch01-alpha"))


@pytest.mark.slow
def test_parallel_and_serial_builds_give_the_same_pages(tmp_path: Path):
    root = small_book(tmp_path / "book", PAGES, MODULES)
    ok(cnnbook_command(root, "build", "--jobs", "2"))
    assert json.loads((root / "_build" / "report.json").read_text())["jobs"] == 2
    parallel = {p.relative_to(root / "_build" / "site"): WALL_TIME.sub(r"\1\2#", p.read_text(encoding="utf-8"))
                for p in sorted((root / "_build" / "site").rglob("*.html"))}
    glued = {(lang, stem): GLUE.findall(plain(page(root, lang, stem))) for lang in ("en", "fa") for stem in PAGES}
    shutil.rmtree(root / "_build")
    shutil.rmtree(root / ".cnnbook", ignore_errors=True)

    ok(cnnbook_command(root, "build", "--jobs", "1"))                   # cold again, one chapter at a time
    assert json.loads((root / "_build" / "report.json").read_text())["jobs"] == 1
    assert {(lang, stem): GLUE.findall(plain(page(root, lang, stem))) for lang in ("en", "fa") for stem in PAGES} == glued
    assert all(values for values in glued.values())
    serial = {p.relative_to(root / "_build" / "site"): WALL_TIME.sub(r"\1\2#", p.read_text(encoding="utf-8"))
              for p in sorted((root / "_build" / "site").rglob("*.html"))}
    assert serial.keys() == parallel.keys()
    assert sum(text.count("<p># ") for text in serial.values()) == 2  # the mask found both wall times
    different = [str(path) for path in serial if serial[path] != parallel[path]]
    assert not different


@pytest.mark.slow
def test_a_failing_cell_ends_in_a_short_summary_and_a_log(tmp_path: Path):
    broken = chapter("Broken", ["x = 1", "raise ValueError('broken on purpose')", "print(x)"])
    root = small_book(tmp_path / "book", {"ch01-fine": "print('fine')", "ch02-broken": broken})
    result = cnnbook_command(root, "build")
    assert result.returncode == 1
    assert "Traceback" not in result.stdout + result.stderr
    summary = result.stderr.strip().splitlines()
    assert len(summary) <= 4
    assert re.search(r"ch02 failed at code cell 2 \(line \d+ of book/en/ch02-broken\.md\): "
                     r"ValueError: broken on purpose", result.stderr)
    log = root / "_build" / "logs" / "ch02.log"
    assert f"full log: {log}" in result.stderr
    assert "Traceback" in log.read_text(encoding="utf-8") or "ValueError" in log.read_text(encoding="utf-8")
    assert not (root / "_build" / "site").exists()                      # nothing rendered


@pytest.mark.slow
def test_missing_data_stops_before_anything_executes(tmp_path: Path):
    needs_mnist = "from cnnbook import data\nmnist = data.for_profile('mnist')"
    root = small_book(tmp_path / "book", {"ch01-fine": "print('fine')", "ch02-mnist": needs_mnist})
    empty = tmp_path / "no-data"
    empty.mkdir()
    result = cnnbook_command(root, "build", profile="full",
                             extra_env={"CNNBOOK_DATA": str(empty), "CNNBOOK_DOWNLOAD": "0"})
    assert result.returncode == 2 and result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "ch02 needs mnist" in lines[0] and "cnnbook data mnist" in lines[0]
    assert not (root / "_build" / "logs").exists()                      # nothing executed


def test_the_site_mirrors_the_builds_copying_only_what_changed(tmp_path: Path):
    from cnnbook.book.site import sync_tree

    source, target = tmp_path / "html", tmp_path / "site"
    (source / "a").mkdir(parents=True)
    (source / "a" / "one.html").write_text("one")
    (source / "two.html").write_text("two")
    assert sync_tree(source, target) == 2
    assert sync_tree(source, target) == 0                               # nothing changed, nothing copied
    (source / "two.html").write_text("two, longer")
    (source / "a" / "one.html").unlink()
    (source / "a").rmdir()
    assert sync_tree(source, target) == 1
    assert sorted(p.relative_to(target).as_posix() for p in target.rglob("*")) == ["two.html"]
    assert (target / "two.html").read_text() == "two, longer"


def test_missing_data_sets_are_reported_together_in_one_message(monkeypatch):
    import cnnbook.data as data
    from cnnbook.book.requirements import RequirementError, check_data, datasets_needed

    package = Path(data.__file__).parent
    page = chapter("Data", ["from cnnbook import data\nmnist = data.for_profile('mnist')",
                            "digits = data.load('digits')\ncifar = data.load(\"cifar10\")"])
    assert datasets_needed(page, package, "quick") == ["cifar10"]      # load() needs it on every profile
    assert datasets_needed(page, package, "full") == ["cifar10", "mnist"]

    def unavailable(name, **options):
        raise data.DataUnavailable(f"{name.upper()} is not in /nowhere (downloads are disabled). To get it, ...")

    monkeypatch.setattr(data, "load", unavailable)
    with pytest.raises(RequirementError) as caught:
        check_data([("ch05", page), ("ch06", page)], package, "full")
    message = str(caught.value)
    assert "\n" not in message and message.startswith("cannot execute on the full profile: ")
    assert "ch05, ch06 need cifar10: CIFAR10 is not in /nowhere" in message
    assert "`cnnbook data cifar10 mnist`" in message
    assert check_data([("ch01", "print(1)")], package, "full") == []


def test_longest_chapters_start_first(tmp_path: Path):
    from cnnbook.book.execution import expected_cost, units

    root = small_book(tmp_path / "book", {"ch01-small": "print(1)", "ch02-trains": "from cnnbook import training"})
    small, trains = units(root)
    first = lambda seconds: max((small, trains), key=lambda u: expected_cost(u, seconds[u.id])).id  # noqa: E731
    assert first({"ch01": None, "ch02": None}) == "ch02"                # never executed: training first
    assert first({"ch01": 100.0, "ch02": 10.0}) == "ch01"               # else the last execution's seconds
    assert first({"ch01": None, "ch02": 10.0}) == "ch01"                # unknown before known


@pytest.mark.slow
def test_a_page_that_comes_after_another_starts_when_it_has_finished(tmp_path: Path):
    """``cnnbook: {after: [ch01]}`` in a page's front matter holds it back while ch01 executes,
    even with a free worker; a page with no such line starts at once (the control)."""
    from cnnbook.book import execution

    stamps = tmp_path / "stamps"
    stamps.mkdir()

    def timed(title: str, after: str = "") -> str:
        front = FRONT_MATTER.replace("---\n", f"---\ncnnbook:\n  after: [{after}]\n", 1) if after else FRONT_MATTER
        cell = (f"import time, pathlib\nstart = time.time()\ntime.sleep(3)\n"
                f"pathlib.Path({str(stamps / title)!r}).write_text(f'{{start}} {{time.time()}}')")
        return chapter(title, [cell]).replace(FRONT_MATTER, front, 1)

    root = small_book(tmp_path / "book", {"ch01-first": timed("first"), "ch02-second": timed("second", "ch01"),
                                          "ch03-third": timed("third")})
    units = execution.units(root)
    assert [unit.after() for unit in units] == [frozenset(), frozenset({"ch01"}), frozenset()]
    results = execution.execute(root, [units[2], units[1], units[0]], jobs=1, announce=lambda message: None)
    assert all(result.ok for result in results)
    (first_start, first_end), (second_start, _), (third_start, third_end) = (
        map(float, (stamps / name).read_text().split()) for name in ("first", "second", "third"))
    assert first_end <= third_start         # one worker: the page another waits for goes first ...
    assert third_end <= second_start        # ... and the waiting page last, the rest in the plan's order
    for name in ("first", "second", "third"):
        (stamps / name).unlink()
    results = execution.execute(root, units, jobs=2, announce=lambda message: None)
    assert all(result.ok for result in results)
    (first_start, first_end), (second_start, _), (third_start, _) = (
        map(float, (stamps / name).read_text().split()) for name in ("first", "second", "third"))
    assert second_start >= first_end        # waited for ch01 ...
    assert third_start < first_end          # ... while ch03 took the free worker at once
