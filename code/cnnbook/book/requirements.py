"""What the chapters to execute need, checked before anything executes.

A page needs a real data set when its code cells, or a ``cnnbook`` module they import (directly
or not), call ``data.load("<name>")`` for a data set of the full profile, or
``data.for_profile("<name>")`` on a profile with real data. ``check_data`` loads each such data set
once (from disk, or downloading it where ``$CNNBOOK_DOWNLOAD`` allows) and turns every
``DataUnavailable`` into one ``RequirementError`` naming the chapters and saying what to do.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

from cnnbook.book.fingerprint import module_closure, page_imports
from cnnbook.profiles import get_profile

_CODE_CELL = re.compile(r"^(`{3,}|~{3,})\{code-cell\}[^\n]*\n(.*?)^\1", re.MULTILINE | re.DOTALL)
_DATA_CALL = re.compile(r"\b(for_profile|load)\(\s*[\"'](\w+)[\"']")


class RequirementError(RuntimeError):
    """Something the chapters to execute need is missing; the message says what to do."""


def data_calls(page_text: str, package_dir: Path) -> set[tuple[str, str]]:
    """``(function, data set)`` pairs (``for_profile`` or ``load``) in a page's code and its modules."""
    sources = [match.group(2) for match in _CODE_CELL.finditer(page_text)]
    sources += [path.read_text(encoding="utf-8")
                for path in module_closure(package_dir, page_imports(page_text)).values()]
    return {(m.group(1), m.group(2)) for source in sources for m in _DATA_CALL.finditer(source)}


def datasets_needed(page_text: str, package_dir: Path, profile: str | None = None) -> list[str]:
    """The real (full-profile) data sets a page needs on ``profile``, sorted."""
    calls = data_calls(page_text, package_dir)
    if not calls:
        return []
    from cnnbook.data import REGISTRY  # imports torch: only when a page loads data

    real_data = get_profile(profile).real_data
    needed = set()
    for function, name in calls:
        entry = REGISTRY.get(name)
        if entry is None or entry.profile != "full":
            continue
        if function == "load" or real_data:
            needed.add(name)
    return sorted(needed)


def check_data(pages: Iterable[tuple[str, str]], package_dir: Path, profile: str | None = None) -> list[str]:
    """Make sure the data sets of ``pages`` (``(chapter id, page text)``) are available on ``profile``.

    Returns the data sets checked; raises ``RequirementError`` with one message for all that are not."""
    users: dict[str, list[str]] = {}
    for chapter, text in pages:
        for name in datasets_needed(text, package_dir, profile):
            users.setdefault(name, []).append(chapter)
    if not users:
        return []
    from cnnbook.data import DataError, DataUnavailable, load

    problems: list[tuple[str, str]] = []  # (data set, message)
    for name, chapters in sorted(users.items()):
        try:
            load(name)
        except (DataUnavailable, DataError) as exc:
            problems.append((name, f"{', '.join(chapters)} need{'s' if len(chapters) == 1 else ''} {name}: {exc}"))
    if not problems:
        return sorted(users)
    head = f"cannot execute on the {get_profile(profile).name} profile: "
    if len(problems) == 1:
        raise RequirementError(head + problems[0][1])
    # several: each one's diagnosis, then what to do once (DataUnavailable ends in the same advice)
    advice = " To get it,"
    reasons = [message.split(advice)[0] for _, message in problems]
    names = " ".join(name for name, _ in problems)
    raise RequirementError(head + " ".join(reasons) + f" To get them, run `cnnbook data {names}` on a machine with "
                           "internet access and copy the data folder here, or use the quick profile "
                           "(BOOK_PROFILE=quick), which runs offline on stand-ins.")
