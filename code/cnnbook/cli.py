"""Command line: ``cnnbook chapters | build | run <chapter> | pdf | publish | data [names] | benchmark | layers``.

``build`` executes every stale chapter (in parallel) and builds the whole bilingual site (what
``make book`` calls); ``run`` brings one chapter up to date (re-executing it if its code, the
package or the profile changed, or always with ``--force``) and rebuilds the site around it,
leaving other stale chapters with their most recent outputs and a notice; ``chapters`` says
which chapters are up to date; ``pdf`` builds the two PDF editions from the same executed
outputs (what ``make pdf`` calls); ``publish`` puts the built site on the ``gh-pages`` branch of a
git remote or into a folder (``make publish``), refusing a missing or stale site; ``data``
checks (and downloads, where allowed) the real data sets of the full profile; ``benchmark`` times
cold, warm and one-chapter builds in a copy; ``layers`` is the book's layer calculator
(``cnnbook.calculator``) for any network.
"""

from __future__ import annotations

import argparse
import os
import sys

from cnnbook.book.chapters import Chapter, ChapterError
from cnnbook.book.execution import ExecutionFailed, find_unit, statuses, units
from cnnbook.book.pdf import OVERFULL_TOLERANCE, PdfReport, build_pdfs
from cnnbook.book.requirements import RequirementError
from cnnbook.book.site import REPORT_FILE, BuildReport, SiteError, build_site, project_root
from cnnbook.profiles import PROFILES, ProfileError, get_profile


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cnnbook", description="Build and run the bilingual CNN book.")
    commands = parser.add_subparsers(dest="command", required=True)
    listing = commands.add_parser("chapters", help="list the chapters, whether each is up to date, when it last ran")

    def add_profile(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("--profile", help=f"execution profile ({' or '.join(PROFILES)}; "
                         "default: $BOOK_PROFILE or quick)")

    add_profile(listing)

    def add_build_options(sub: argparse.ArgumentParser) -> None:
        add_profile(sub)
        sub.add_argument("--no-strict", dest="strict", action="store_false",
                         help="do not turn Sphinx warnings into errors")
        sub.add_argument("--jobs", "-j", type=int, help="worker processes executing chapters (default: one per core)")
        sub.add_argument("--verbose", "-v", action="store_true", help="show Jupyter Book's full output")

    add_build_options(commands.add_parser(
        "build", help="execute every stale chapter (in parallel), then build the site in both languages"))
    run = commands.add_parser(
        "run", help="execute one chapter (if stale) and rebuild the site; other stale chapters keep their outputs")
    run.add_argument("chapter", help="chapter id, e.g. ch01, or errata (see `cnnbook chapters`)")
    run.add_argument("--force", action="store_true", help="re-execute even if the outputs are current")
    add_build_options(run)
    pdf = commands.add_parser("pdf", help="build the PDF editions in _build/pdf (needs TeX: make pdf-deps)")
    pdf.add_argument("--language", choices=("en", "fa"), action="append",
                     help="build only this edition (repeatable; default: both)")
    add_profile(pdf)
    pdf.add_argument("--no-strict", dest="strict", action="store_false",
                     help="do not turn Sphinx warnings into errors")
    publish = commands.add_parser("publish", help="put _build/site on the gh-pages branch of a git remote "
                                  "(ghp-import) or into a folder; refuses a missing or stale site")
    publish.add_argument("--remote", default="origin", help="git remote (name or URL) to push to (default: origin)")
    publish.add_argument("--branch", default="gh-pages", help="branch that holds the site (default: gh-pages)")
    publish.add_argument("--folder", help="copy the site into this folder instead of pushing it")
    publish.add_argument("--message", default="Publish the book", help="commit message on the branch")
    add_profile(publish)
    from cnnbook.book.benchmark import add_arguments

    add_arguments(commands.add_parser("benchmark", help="time cold, warm and one-chapter builds in a copy of the book"))
    data = commands.add_parser("data", help="check or download the real data sets of the full profile")
    data.add_argument("names", nargs="*", help="data sets (default: all of the full profile's)")
    data.add_argument("--root", help="data folder (default: $CNNBOOK_DATA or data/ in the repository)")
    data.add_argument("--no-download", dest="download", action="store_const", const=False, default=None,
                      help="only check what is on disk (default: download unless $CNNBOOK_DOWNLOAD is 0)")
    from cnnbook.calculator import FORMATS, GRAMMAR, LANGUAGES

    layers = commands.add_parser(
        "layers", help="the layer calculator: sizes, parameters, receptive fields and FLOPs of a network",
        description="Per layer: output shape, weights, biases, receptive field, jump, MACs and FLOPs "
                    "(cnnbook.arithmetic.analyze, as in Chapter 1), then the totals.",
        epilog=GRAMMAR, formatter_class=argparse.RawDescriptionHelpFormatter)
    layers.add_argument("layers", nargs="*", metavar="LAYER", help='one layer, e.g. "conv 64 5 stride=2"')
    layers.add_argument("--input", required=True, metavar="SHAPE", help="input shape: CxL (1-D) or CxHxW (2-D)")
    layers.add_argument("--file", help="read the layers from this file (one per line, '#' comments)")
    layers.add_argument("--module", metavar="PACKAGE.MODULE:FACTORY",
                        help="read the layers from a PyTorch model (a module or a function returning one)")
    layers.add_argument("--language", choices=LANGUAGES, default="en", help="labels of the table (default: en)")
    layers.add_argument("--format", choices=FORMATS, default="text", help="output format (default: text)")
    layers.add_argument("--check", action="store_true",
                        help="build the real PyTorch layers and confirm every shape and count")
    return parser


def _layers(args: argparse.Namespace) -> int:
    from cnnbook.calculator import CalculatorError, run  # torch is imported only here

    try:
        return run(args.layers, args.input, file=args.file, module=args.module, language=args.language,
                   fmt=args.format, check=args.check)
    except CalculatorError as exc:
        print(f"cnnbook layers: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # the reader stopped early (`cnnbook layers ... | head`): not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


def _data(names: list[str], root: str | None, download: bool | None) -> int:
    from cnnbook.data import REGISTRY, DataError, DataUnavailable, load  # torch is imported only here

    full = [name for name, entry in REGISTRY.items() if entry.profile == "full"]
    try:
        for name in names or full:
            if name not in full:
                raise DataError(f"unknown data set {name!r}; the full profile's data sets are: {', '.join(full)}")
            dataset = load(name, root=root, download=download)
            sizes = ", ".join(f"{split} {count:,}" for split, count in dataset.sizes().items())
            print(f"{name}: ready ({sizes}; images {'×'.join(map(str, dataset.image_shape))})")
    except (DataError, DataUnavailable) as exc:
        print(f"cnnbook: error: {exc}", file=sys.stderr)
        return 2
    return 0


def _report(report: BuildReport) -> None:
    sphinx = ", ".join(f"{lang} {seconds:.1f} s" for lang, seconds in report.sphinx_seconds.items())
    print(f"\n[cnnbook] build report (also in {REPORT_FILE})")
    print(report.table())
    print(f"[cnnbook] executed {len(report.executed)} chapter(s) in {report.jobs} process(es); "
          f"Sphinx: {sphinx}; total {report.seconds:.1f} s; site: {report.site / 'index.html'}")
    if report.stale_commands:
        commands = "; ".join(f"{chapter}: `{command}`" for chapter, command in report.stale_commands.items())
        print(f"[cnnbook] STALE (shown with earlier outputs and a notice on the page): "
              f"{', '.join(report.stale_commands)}. Update them with `cnnbook build`, or one by one: {commands}")


def _chapters(root, profile: str | None) -> None:
    """Per notebook page: titles, whether it is up to date for ``profile``, when and where it last ran."""
    for status in statuses(root, profile, units(root)):
        page = Chapter(status.unit.id, status.unit.docname, root)  # a chapter or another notebook page
        print(f"{page.id}  {page.title('en')}  |  {page.title('fa')}")
        last = status.latest
        ran = (f"last ran {last.executed_at.replace('T', ' ').replace('+00:00', ' UTC')} on the {last.profile} "
               f"profile" + (f" ({last.seconds:.0f} s)" if last.seconds is not None else "")) if last else "never ran"
        print(f"      {status.describe()} for the {get_profile(profile).name} profile; {ran}")


def _report_pdf(report: PdfReport) -> None:
    visible = report.visible_overfull()
    worst = max((box.points for box in report.overfull), default=0.0)
    print(f"[cnnbook] {report.path}: {report.pages} pages, {report.seconds:.1f} s, "
          f"notebooks executed: {report.executed}; overfull boxes: {len(report.overfull)} "
          f"(largest {worst:.1f} pt, {len(visible)} above {OVERFULL_TOLERANCE:g} pt)")
    for box in visible:
        print(f"    overfull {box.kind}box {box.points:.1f} pt {box.where}")
    if report.missing:
        print(f"    characters missing from the fonts (dropped): {' '.join(report.missing)}")


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        root = project_root()
        if args.command == "layers":
            return _layers(args)
        if args.command == "data":
            return _data(args.names, args.root, args.download)
        if args.command == "benchmark":
            from cnnbook.book.benchmark import run_benchmark

            return run_benchmark(root, args)
        get_profile(args.profile)  # validate before any work
        if args.command == "chapters":
            _chapters(root, args.profile)
            return 0
        if args.command == "publish":
            from pathlib import Path

            from cnnbook.book.publish import publish

            folder = Path(args.folder) if args.folder else None
            print(f"[cnnbook] {publish(root, folder, args.remote, args.branch, args.profile, args.message)}")
            return 0
        if args.command == "pdf":
            for report in build_pdfs(root, args.profile, args.strict, tuple(args.language or ("en", "fa"))):
                _report_pdf(report)
            return 0
        only = [find_unit(root, args.chapter).id] if args.command == "run" else None
        _report(build_site(root, args.profile, args.strict, only, getattr(args, "force", False),
                           args.jobs, args.verbose))
        return 0
    except (ChapterError, ProfileError, SiteError, RequirementError) as exc:
        print(f"cnnbook: error: {exc}", file=sys.stderr)
        return 2
    except ExecutionFailed as exc:
        print(f"cnnbook: a cell failed; nothing was rendered.\n{exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
