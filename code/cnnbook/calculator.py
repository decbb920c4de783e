"""The layer calculator as a command: a short grammar for layer specs, and the book's table.

``cnnbook layers`` reads a network written one layer per argument (or per line of a file, or as
a PyTorch module), runs ``cnnbook.arithmetic.analyze`` on it and prints the table Chapter 1
shows: per layer the output shape, weights and biases, receptive field and jump, MACs and FLOPs,
then the totals and the FLOP convention. This module holds the grammar (``parse_layer``,
``parse_network``, ``parse_input``), the other two sources (``read_file``, ``load_module``) and
the formats (``render``); ``cnnbook.cli`` only wires the subcommand to ``run``.

Every problem with the input (an unknown word, a malformed option, an impossible layer, a
module that cannot be imported) raises ``CalculatorError`` with one line that names the layer
and the reason; the command prints it and exits with status 2.
"""

from __future__ import annotations

import csv
import importlib
import importlib.util
import io
import json
import re
import sys
import textwrap
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence, TextIO, Union

from cnnbook.book.labels import label

if TYPE_CHECKING:  # the command line imports this module for its help; torch and pandas load on use
    from cnnbook.arithmetic import ArchitectureReport, Conv, Layer, Linear, Pool

IntOrTuple = Union[int, tuple[int, ...]]

GRAMMAR = """\
layers (one per argument, or one per line of --file; words and keys are case-insensitive):
  conv C K [stride=S] [padding=P|same] [dilation=D] [groups=G] [bias=yes|no]
  maxpool K [stride=S] [padding=P]        (stride defaults to K, as in PyTorch)
  avgpool K [stride=S] [padding=P]
  gap                                     (global average pooling; also globalavgpool)
  flatten
  linear N [bias=yes|no]                  (the input size comes from the layer before)
  relu
  dropout [P]                             (default 0.5; also p=P)
  batchnorm                               (also bn)
K, S, P, D are integers, or one per axis of a 2-D input such as 3x5; every layer also takes
name=NAME. --input is CxL for 1-D signals and CxHxW for 2-D images. In a --file, '#' starts a
comment. --module takes package.module:factory or path/to/file.py:factory, a torch.nn.Module
(a Sequential of the layers above) or a function of no arguments that returns one.

example:
  cnnbook layers --input 3x128x128 "conv 32 7" "conv 64 5 stride=2" "maxpool 2" \\
      "conv 128 3 dilation=2" "avgpool 2" flatten "linear 1024" "linear 10"
"""

FORMATS = ("text", "markdown", "csv", "json")
LANGUAGES = ("en", "fa")

#: Columns of the table, as label keys of ``cnnbook.book.labels`` (``output`` per dimension).
COLUMNS = ("layer", "type", "output", "weights", "biases", "params", "buffers", "rf", "jump", "macs", "flops")
#: Columns summed in the totals row.
SUMMED = ("weights", "biases", "params", "buffers", "macs", "flops")

#: The FLOP convention of ``cnnbook.arithmetic`` (Chapter 1, "Weights, biases and cost"), stated
#: once below every table, and the meaning of a starred receptive field.
CONVENTION = {
    "en": ("FLOPs: a MAC is one multiply–accumulate; a convolution or linear output element with "
           "fan-in F costs F multiplications, F − 1 additions and one addition for the bias, so "
           "FLOPs = 2 × MACs with a bias and 2 × MACs − outputs without one. A max pool costs k − 1 "
           "comparisons per output (k: window size), an average pool k − 1 additions and one division, "
           "ReLU one comparison per element, batch normalisation (at inference) one multiply–add per "
           "element; dropout and flatten cost nothing. A starred receptive field is the union of the "
           "fields of all units, cut to the input."),
    "fa": ("FLOPs: هر MAC یک ضرب‌وانباشت است؛ هر درایهٔ خروجی کانولوشن یا لایهٔ خطی که تعداد ورودی‌های "
           "واحد (fan-in) در آن F است، F ضرب، F − 1 جمع و یک جمع برای بایاس هزینه دارد، پس با بایاس "
           "FLOPs = 2 × MACs است و بدون آن، 2 × MACs منهای شمار درایه‌های خروجی. ادغام بیشینه برای هر خروجی k − 1 مقایسه دارد (k اندازهٔ "
           "پنجره)، ادغام میانگین k − 1 جمع و یک تقسیم، ReLU برای هر درایه یک مقایسه و نرمال‌سازی "
           "دسته‌ای (هنگام استنتاج) برای هر درایه یک ضرب‌وجمع؛ حذف تصادفی و تخت‌سازی هزینه‌ای ندارند. "
           "میدان تأثیر ستاره‌دار اجتماع میدان‌های همهٔ واحدهاست که به ورودی محدود شده است."),
}

_CHECK = {
    "agree": {
        "en": "PyTorch check: all {n} layers agree (output shape, parameters, 2×MACs of convolution and "
              "linear layers against FlopCounterMode, receptive field measured from gradients).",
        "fa": "بررسی با PyTorch: هر {n} لایه همخوان‌اند (شکل خروجی، پارامترها، 2×MACs لایه‌های کانولوشن و "
              "خطی در برابر FlopCounterMode، میدان تأثیر اندازه‌گیری‌شده از گرادیان).",
    },
    "disagree": {
        "en": "PyTorch check: {bad} of {n} layers disagree: {layers}.",
        "fa": "بررسی با PyTorch: {bad} لایه از {n} لایه ناهمخوان‌اند: {layers}.",
    },
}


class CalculatorError(ValueError):
    """Bad input to the calculator: one line naming the layer (or the argument) and the reason."""


# --------------------------------------------------------------------------- the grammar
@dataclass(frozen=True)
class _Word:
    """One layer word: its positional arguments (name, parser) and the options it accepts."""

    build: Callable[..., Layer]
    positional: tuple[str, ...]
    optional_positional: tuple[str, ...]
    options: tuple[str, ...]
    usage: str


def _positive(text: str, what: str) -> int:
    if not re.fullmatch(r"\d+", text) or int(text) < 1:
        raise ValueError(f"{what} must be a positive integer, got {text!r}")
    return int(text)


def _per_axis(text: str, what: str, minimum: int = 1) -> IntOrTuple:
    """``'3'`` -> 3, ``'3x5'`` (or ``3×5``, ``3,5``) -> (3, 5); each entry an integer >= minimum."""
    parts = re.split(r"[x×,]", text.lower())
    if not all(re.fullmatch(r"\d+", part) for part in parts) or len(parts) > 2:
        kind = "a positive integer" if minimum else "a non-negative integer"
        raise ValueError(f"{what} must be {kind} or one per axis like 3x5, got {text!r}")
    values = tuple(int(part) for part in parts)
    if min(values) < minimum:
        raise ValueError(f"{what} must be at least {minimum}, got {text!r}")
    return values[0] if len(values) == 1 else values


def _padding(text: str, allow_same: bool) -> IntOrTuple | str:
    if text.lower() == "same":
        if not allow_same:
            raise ValueError("padding=same is for convolutions; give a pool its padding as an integer")
        return "same"
    return _per_axis(text, "padding" + ("" if not allow_same else " (or same)"), minimum=0)


def _bias(text: str) -> bool:
    value = text.lower()
    if value in ("yes", "true", "1", "on"):
        return True
    if value in ("no", "false", "0", "off"):
        return False
    raise ValueError(f"bias must be yes or no, got {text!r}")


def _probability(text: str) -> float:
    try:
        p = float(text)
    except ValueError:
        p = -1.0
    if not 0 <= p < 1:
        raise ValueError(f"the dropout probability must be a number in [0, 1), got {text!r}")
    return p


def _conv(channels: str, kernel: str, stride: str = "1", padding: str = "0", dilation: str = "1",
          groups: str = "1", bias: str = "yes", name: str = "") -> Conv:
    from cnnbook.arithmetic import Conv

    return Conv(_positive(channels, "the number of output channels C"), _per_axis(kernel, "the kernel size K"),
                _per_axis(stride, "stride"), _padding(padding, True), _per_axis(dilation, "dilation"),
                _positive(groups, "groups"), _bias(bias), name)


def _pool(kind: str) -> Callable[..., Pool]:
    def build(kernel: str, stride: str | None = None, padding: str = "0", name: str = "") -> Pool:
        from cnnbook.arithmetic import Pool

        return Pool(kind, _per_axis(kernel, "the window size K"),
                    None if stride is None else _per_axis(stride, "stride"), _padding(padding, False), name)
    return build


def _linear(features: str, bias: str = "yes", name: str = "") -> Linear:
    from cnnbook.arithmetic import Linear

    return Linear(_positive(features, "the number of output features N"), _bias(bias), name)


def _dropout(p: str = "0.5", name: str = "") -> Layer:
    from cnnbook.arithmetic import Dropout

    return Dropout(_probability(p), name)


def _plain(kind: str) -> Callable[..., Layer]:
    """Builder of a spec without arguments (``GlobalAvgPool``, ``Flatten``, ``ReLU``, ``BatchNorm``)."""
    def build(name: str = "") -> Layer:
        from cnnbook import arithmetic

        return getattr(arithmetic, kind)(name)
    return build


WORDS: dict[str, _Word] = {
    "conv": _Word(_conv, ("channels", "kernel"), (), ("stride", "padding", "dilation", "groups", "bias"),
                  "conv C K [stride=S] [padding=P|same] [dilation=D] [groups=G] [bias=yes|no]"),
    "maxpool": _Word(_pool("max"), ("kernel",), (), ("stride", "padding"), "maxpool K [stride=S] [padding=P]"),
    "avgpool": _Word(_pool("avg"), ("kernel",), (), ("stride", "padding"), "avgpool K [stride=S] [padding=P]"),
    "gap": _Word(_plain("GlobalAvgPool"), (), (), (), "gap"),
    "flatten": _Word(_plain("Flatten"), (), (), (), "flatten"),
    "linear": _Word(_linear, ("features",), (), ("bias",), "linear N [bias=yes|no]"),
    "relu": _Word(_plain("ReLU"), (), (), (), "relu"),
    "dropout": _Word(_dropout, (), ("p",), ("p",), "dropout [P]"),
    "batchnorm": _Word(_plain("BatchNorm"), (), (), (), "batchnorm"),
}
ALIASES = {"globalavgpool": "gap", "bn": "batchnorm"}


def parse_layer(text: str, index: int, where: str = "") -> Layer:
    """The layer spec written as ``text`` (see ``GRAMMAR``), the ``index``-th of the network.

    Unnamed layers are called after their word and index (``conv1``, ``maxpool3``). ``where``
    (e.g. ``'net.txt line 4, '``) is put in front of error messages.
    """
    context = f"{where}layer {index} ({text.strip()!r})"
    tokens = text.split()
    if not tokens:
        raise CalculatorError(f"{context}: empty layer")
    word = ALIASES.get(tokens[0].lower(), tokens[0].lower())
    if word not in WORDS:
        known = ", ".join([*WORDS, *ALIASES])
        raise CalculatorError(f"{context}: unknown layer word {tokens[0]!r}; known words: {known}")
    spec = WORDS[word]
    positional = [t for t in tokens[1:] if "=" not in t]
    options: dict[str, str] = {}
    for token in (t for t in tokens[1:] if "=" in t):
        key, _, value = token.partition("=")
        key = key.lower()
        if key not in (*spec.options, "name"):
            accepted = ", ".join(f"{k}=" for k in (*spec.options, "name"))
            raise CalculatorError(f"{context}: {word} takes no option {key!r} (it takes {accepted}); "
                                  f"usage: {spec.usage}")
        if not value:
            raise CalculatorError(f"{context}: option {key}= has no value; usage: {spec.usage}")
        if key in options:
            raise CalculatorError(f"{context}: option {key}= is given twice")
        options[key] = value
    names = (*spec.positional, *spec.optional_positional)
    if not len(spec.positional) <= len(positional) <= len(names):
        raise CalculatorError(f"{context}: {word} takes {len(spec.positional)}"
                              + (f" to {len(names)}" if spec.optional_positional else "")
                              + f" value(s) before its options, got {len(positional)}; usage: {spec.usage}")
    arguments = dict(zip(names, positional))
    for key in set(arguments) & set(options):
        raise CalculatorError(f"{context}: {key} is given both as a value and as {key}=")
    arguments.update(options)
    arguments.setdefault("name", f"{word}{index}")
    try:
        return spec.build(**arguments)
    except ValueError as exc:
        raise CalculatorError(f"{context}: {exc}; usage: {spec.usage}") from None


def parse_network(texts: Sequence[str], where: Sequence[str] | None = None) -> list[Layer]:
    """Layer specs of a network written one layer per string."""
    places = list(where) if where is not None else [""] * len(texts)
    return [parse_layer(text, index, place) for index, (text, place) in enumerate(zip(texts, places), start=1)]


def parse_input(text: str) -> tuple[int, ...]:
    """``'3x128x128'`` -> ``(3, 128, 128)``; ``'7x500'`` -> ``(7, 500)`` (1-D)."""
    parts = re.split(r"[x×,]", text.strip().lower())
    if len(parts) not in (2, 3) or not all(re.fullmatch(r"\d+", p) and int(p) > 0 for p in parts):
        raise CalculatorError(f"--input {text!r}: expected CxL (1-D) or CxHxW (2-D) with positive integers, "
                              "e.g. 7x500 or 3x128x128")
    return tuple(int(p) for p in parts)


def read_file(path: str | Path) -> tuple[list[str], list[str]]:
    """Layer texts of a network file (one per line, ``#`` comments, blank lines skipped) and,
    for each, where it stands (``'net.txt line 4, '``) for error messages."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise CalculatorError(f"--file {str(path)!r}: cannot read it ({exc.strerror or exc})") from None
    texts, places = [], []
    for number, line in enumerate(lines, start=1):
        text = line.split("#", 1)[0].strip()
        if text:
            texts.append(text)
            places.append(f"{path.name} line {number}, ")
    if not texts:
        raise CalculatorError(f"--file {str(path)!r}: no layers in it (one per line, '#' starts a comment)")
    return texts, places


def load_module(target: str) -> tuple[list[Layer], Any]:
    """Layer specs of the model named ``package.module:factory`` or ``path/to/file.py:factory``
    (through ``arithmetic.from_torch``), and the model. ``factory`` is a ``torch.nn.Module`` or a
    callable of no arguments returning one; the current directory is searched for the module first."""
    from torch import nn

    from cnnbook.arithmetic import LayerError, from_torch

    module_name, colon, attribute = target.rpartition(":")
    if not colon or not module_name or not attribute:
        raise CalculatorError(f"--module {target!r}: expected package.module:factory or file.py:factory")
    try:
        if module_name.endswith(".py"):
            path = Path(module_name)
            if not path.is_file():
                raise CalculatorError(f"--module {target!r}: no file {module_name!r}")
            spec = importlib.util.spec_from_file_location(path.stem, path)
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
        else:
            if "" not in sys.path and str(Path.cwd()) not in sys.path:
                sys.path.insert(0, str(Path.cwd()))
            module = importlib.import_module(module_name)
    except CalculatorError:
        raise
    except Exception as exc:  # a submitted model may fail to import in any way
        raise CalculatorError(f"--module {target!r}: importing {module_name!r} failed: "
                              f"{type(exc).__name__}: {exc}") from None
    if not hasattr(module, attribute):
        raise CalculatorError(f"--module {target!r}: {module_name!r} has no attribute {attribute!r}")
    model = getattr(module, attribute)
    if not isinstance(model, nn.Module):
        if not callable(model):
            raise CalculatorError(f"--module {target!r}: {attribute!r} is neither a torch.nn.Module nor callable")
        try:
            model = model()
        except Exception as exc:
            raise CalculatorError(f"--module {target!r}: calling {attribute}() failed: "
                                  f"{type(exc).__name__}: {exc}") from None
        if not isinstance(model, nn.Module):
            raise CalculatorError(f"--module {target!r}: {attribute}() returned {type(model).__name__}, "
                                  "not a torch.nn.Module")
    try:
        return from_torch(model), model
    except LayerError as exc:
        raise CalculatorError(f"--module {target!r}: {exc}") from None


def _leaves(model: Any) -> list[Any]:
    """The modules of ``model`` that ``from_torch`` turns into specs, in the same order."""
    from torch import nn

    children = list(model.named_children()) or [("", model)]
    return [leaf for _, child in children
            for leaf in (_leaves(child) if isinstance(child, nn.Sequential) else [child])]


def model_mismatches(model: Any, report: ArchitectureReport) -> list[str]:
    """Where the real modules of ``model`` expect another input size than the layer before them
    gives (``from_torch`` reads only a layer's output side, so a submitted model whose
    ``in_features`` or ``in_channels`` is wrong would otherwise be analysed as if it were right)."""
    from torch import nn

    mismatches = []
    shape = report.input_shape
    for module, info in zip(_leaves(model), report.layers):
        expected = None
        if isinstance(module, nn.Linear):
            expected, what = module.in_features, "inputs"
        elif isinstance(module, (nn.Conv1d, nn.Conv2d)):
            expected, what = module.in_channels, "input channels"
        elif isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d)):
            expected, what = module.num_features, "features"
        if expected is not None and expected != shape[0]:
            mismatches.append(f"layer {info.index} ({info.name}: {type(module).__name__}) "
                              f"expects {expected} {what}, but the layer before gives {shape[0]} "
                              f"(shape {'×'.join(map(str, shape))})")
        shape = info.out_shape
    return mismatches


def calculate(layers: Sequence[Layer], input_shape: Sequence[int], texts: Sequence[str] | None = None,
              places: Sequence[str] | None = None) -> ArchitectureReport:
    """``analyze``, with its refusal of an impossible layer turned into a ``CalculatorError``
    that also quotes the layer as the user wrote it (``texts``) and where (``places``)."""
    from cnnbook.arithmetic import LayerError, analyze

    try:
        return analyze(layers, input_shape)
    except LayerError as exc:
        message = str(exc)
        found = re.match(r"layer (\d+) ", message)
        if texts is not None and found and 1 <= int(found.group(1)) <= len(texts):
            index = int(found.group(1)) - 1
            place = (places[index] if places else "").rstrip(", ")
            message += f" [written {texts[index]!r}" + (f", {place}" if place else "") + "]"
        raise CalculatorError(message) from None


# --------------------------------------------------------------------------- the table
def rows(report: ArchitectureReport) -> tuple[list[str], list[dict[str, Any]], dict[str, Any]]:
    """Column keys, one row per layer and the totals row, with raw values (numbers stay numbers).

    The buffers column appears only when some layer has buffers (batch normalisation)."""
    frame = report.frame()
    columns = [c for c in COLUMNS if c != "buffers" or frame.buffers.any()]
    body = [{c: (int(v) if c in SUMMED else str(v)) for c, v in record.items() if c in columns}
            for record in frame.to_dict("records")]
    totals = {c: (int(frame[c].sum()) if c in SUMMED else "") for c in columns}
    return columns, body, totals


def _header(column: str, report: ArchitectureReport, language: str) -> str:
    if column == "output" and len(report.input_shape) == 2:
        return label("output_1d", language)
    return label(column, language)


def _cells(row: dict[str, Any], columns: Sequence[str], language: str) -> list[str]:
    from cnnbook.book.display import format_cell

    return [format_cell(row[c], language) if c in SUMMED and row[c] != "" else str(row[c]) for c in columns]


def _width(text: str) -> int:
    """Columns ``text`` takes in a terminal: zero-width joiners and non-joiners (frequent in
    Persian) and combining marks take none."""
    return sum(unicodedata.category(ch) not in ("Mn", "Me", "Cf") for ch in text)


def render(report: ArchitectureReport, fmt: str = "text", language: str = "en", check: str | None = None) -> str:
    """The table in ``fmt`` (text, markdown, csv or json) with the book's labels in ``language``.

    Text and markdown put the totals row last and the FLOP convention (and the ``check`` line,
    if any) below the table; csv is only the table (raw numbers, for spreadsheets); json carries
    everything under keys (``layers``, ``totals``, ``flop_convention``, ``check``, ``labels``).
    """
    if fmt not in FORMATS:
        raise CalculatorError(f"--format {fmt!r}: choose one of {', '.join(FORMATS)}")
    columns, body, totals = rows(report)
    totals["layer"] = label("total", language)
    headers = [_header(c, report, language) for c in columns]
    below = [CONVENTION[language]] + ([check] if check else [])
    if fmt == "json":
        return json.dumps({
            "input": list(report.input_shape), "output": list(report.output_shape),
            "layers": body, "totals": {k: v for k, v in totals.items() if k in SUMMED},
            "flop_convention": CONVENTION[language], "check": check,
            "labels": dict(zip(columns, headers)),
        }, ensure_ascii=False, indent=2)
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(headers)
        writer.writerows([row[c] for c in columns] for row in [*body, totals])
        return buffer.getvalue().rstrip("\n")
    table = [_cells(row, columns, language) for row in [*body, totals]]
    numeric = [c in SUMMED for c in columns]
    if fmt == "markdown":
        lines = ["| " + " | ".join(headers) + " |",
                 "|" + "|".join("---:" if n else ":---" for n in numeric) + "|"]
        lines += ["| " + " | ".join(cells) + " |" for cells in table[:-1]]
        lines.append("| " + " | ".join(f"**{cell}**" if cell else "" for cell in table[-1]) + " |")
        return "\n".join(lines + [""] + [line + "\n" for line in below]).rstrip("\n")
    widths = [max(_width(h), *(_width(cells[i]) for cells in table)) for i, h in enumerate(headers)]

    def line(cells: Sequence[str]) -> str:
        padded = (" " * (w - _width(c)) + c if n else c + " " * (w - _width(c)) for c, w, n in zip(cells, widths, numeric))
        return "  ".join(padded).rstrip()

    rule = "  ".join("-" * w for w in widths)
    convention = textwrap.fill(below[0], width=max(len(rule), 80), break_on_hyphens=False)
    return "\n".join([line(headers), rule, *map(line, table[:-1]), rule, line(table[-1]), "", convention,
                      *below[1:]])  # the check stays one line


def check_line(layers: Sequence[Layer], input_shape: Sequence[int], language: str = "en") -> tuple[bool, str]:
    """Build the real PyTorch layers (``arithmetic.torch_check``) and say in one line whether
    every output shape, parameter count, FLOP count and receptive field agrees."""
    from cnnbook.arithmetic import torch_check

    frame = torch_check(layers, input_shape)
    if frame.agree.all():
        return True, _CHECK["agree"][language].format(n=len(frame))
    bad = frame[~frame.agree]
    described = []
    for row in bad.itertuples():
        parts = [f"output {row.output} vs {row.torch_output}" if row.output != row.torch_output else "",
                 f"params {row.params} vs {row.torch_params}" if row.params != row.torch_params else ""]
        described.append(f"{row.layer} ({', '.join(p for p in parts if p) or 'FLOPs or receptive field'})")
    return False, _CHECK["disagree"][language].format(bad=len(bad), n=len(frame), layers="; ".join(described))


def run(layer_texts: Sequence[str], input_text: str, *, file: str | None = None, module: str | None = None,
        language: str = "en", fmt: str = "text", check: bool = False, out: TextIO | None = None,
        err: TextIO | None = None) -> int:
    """``cnnbook layers``: read the network from exactly one source, print the table; returns the
    exit status (0; 1 if ``check`` finds a disagreement). Bad input raises ``CalculatorError``."""
    out = out or sys.stdout
    err = err or sys.stderr
    if language not in LANGUAGES:
        raise CalculatorError(f"--language {language!r}: choose one of {', '.join(LANGUAGES)}")
    if fmt not in FORMATS:
        raise CalculatorError(f"--format {fmt!r}: choose one of {', '.join(FORMATS)}")
    sources = [name for name, given in (("layers", bool(layer_texts)), ("--file", file), ("--module", module))
               if given]
    if len(sources) != 1:
        raise CalculatorError("give the network one way: as layer arguments, --file or --module "
                              + (f"(got {' and '.join(sources)})" if sources else "(got none); see --help"))
    input_shape = parse_input(input_text)
    texts: list[str] | None = None
    places: list[str] | None = None
    model = None
    if module:
        layers, model = load_module(module)
    else:
        texts, places = read_file(file) if file else (list(layer_texts), [""] * len(layer_texts))
        layers = parse_network(texts, places)
    report = calculate(layers, input_shape, texts, places)
    if model is not None and (mismatches := model_mismatches(model, report)):
        raise CalculatorError(f"--module {module!r} on input {input_text}: " + "; ".join(mismatches))
    agree, line = check_line(layers, input_shape, language) if check else (True, None)
    if fmt == "csv":
        print(render(report, fmt, language), file=out)
        if line:
            print(line, file=err)
    else:
        print(render(report, fmt, language, line), file=out)
    return 0 if agree else 1
