"""The command line: listing chapters and one clear line for bad input."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from cnnbook.cli import main

CNNBOOK = str(Path(sys.executable).with_name("cnnbook"))


def test_chapters_lists_ids_and_titles_in_both_languages(capsys):
    assert main(["chapters"]) == 0
    out = capsys.readouterr().out
    assert "ch01  Layer arithmetic  |  حساب لایه‌ها" in out
    # and under each chapter: up to date or why not, for which profile, when and where it last ran
    status = re.compile(r"^ +(up to date|stale: .+|never executed) for the quick profile; "
                        r"(last ran \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC on the \w+ profile.*|never ran)$")
    lines = out.splitlines()
    assert lines[1] and status.match(lines[1]), lines[1]
    assert sum(bool(status.match(line)) for line in lines) == sum(not line.startswith(" ") for line in lines)
    assert "errata  Errata of the source documents" in out  # notebook pages that are not chapters are listed with their titles too


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["run", "ch99"], "unknown chapter 'ch99'; valid chapters: ch01"),
        (["run", "ch01", "--profile", "huge"], "unknown profile 'huge'; valid profiles: quick, full"),
        (["build", "--profile", "huge"], "unknown profile 'huge'; valid profiles: quick, full"),
    ],
)
def test_bad_input_prints_one_line_naming_the_valid_choices(argv, message):
    result = subprocess.run([CNNBOOK, *argv], capture_output=True, text=True)
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0]


def test_run_accepts_every_page_a_stale_notice_names():
    """A stale-page notice suggests ``cnnbook run <id>`` for any notebook page, the errata page too."""
    from cnnbook.book.execution import find_unit
    from cnnbook.book.site import project_root

    root = project_root()
    assert find_unit(root, "errata").docname == "book/en/errata"
    assert find_unit(root, "ch01").docname == "book/en/ch01-layer-arithmetic"


def test_unknown_profile_in_the_environment_is_rejected(monkeypatch):
    from cnnbook.profiles import ProfileError, get_profile

    monkeypatch.setenv("BOOK_PROFILE", "gpu-farm")
    with pytest.raises(ProfileError, match="valid profiles: quick, full"):
        get_profile()


def test_pdf_without_tex_says_how_to_install_it():
    env = {**os.environ, "PATH": str(Path(sys.executable).parent)}  # the environment, no TeX
    result = subprocess.run([CNNBOOK, "pdf"], capture_output=True, text=True, env=env)
    assert result.returncode == 2 and result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "xelatex and latexmk not found" in lines[0] and "make pdf-deps" in lines[0]


def test_data_downloads_follow_the_environment_unless_told(monkeypatch):
    import cnnbook.data as data_module

    class FakeSet:
        image_shape = (1, 28, 28)

        def sizes(self):
            return {"train": 2, "test": 1}

    asked = []
    monkeypatch.setattr(data_module, "REGISTRY", {"mnist": SimpleNamespace(profile="full")})
    monkeypatch.setattr(data_module, "load", lambda name, root, download: asked.append(download) or FakeSet())
    assert main(["data", "mnist"]) == 0 and main(["data", "mnist", "--no-download"]) == 0
    assert asked == [None, False]  # None: data.download_allowed reads $CNNBOOK_DOWNLOAD
