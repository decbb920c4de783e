"""`cnnbook layers`: the coursework networks of Chapter 1 typed as command lines give the
chapter's numbers; every kind of bad input gets one line and exit status 2."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from cnnbook import calculator, networks
from cnnbook.arithmetic import analyze
from cnnbook.book.labels import label
from cnnbook.calculator import CONVENTION, CalculatorError, parse_layer
from cnnbook.cli import main

CNNBOOK = str(Path(sys.executable).with_name("cnnbook"))

S0_Q1 = ["conv 32 7 name=L1", "conv 64 5 stride=2 name=L2", "maxpool 2 stride=2 name=L3",
         "conv 128 3 dilation=2 name=L4", "conv 128 3 name=L5", "maxpool 2 name=L6", "conv 256 3 name=L7",
         "avgpool 2 name=L8", "flatten name=flatten", "linear 1024 name=L9", "linear 1024 name=L10",
         "dropout 0.5 name=L11", "linear 10 name=L12"]
S4_Q5 = ["conv 64 3 padding=same name=L1", "conv 32 5 stride=2 dilation=2 name=L2", "maxpool 2 name=L3",
         "conv 128 3 padding=same name=L4", "conv 64 5 stride=2 dilation=4 name=L5", "maxpool 2 name=L6",
         "conv 256 3 padding=same name=L7", "conv 128 5 stride=2 dilation=8 name=L8", "maxpool 2 name=L9"]
S4_Q5_WELL_POSED = [*S4_Q5[:7], "conv 128 5 stride=2 dilation=8 padding=16 name=L8", S4_Q5[8]]

# (command line, input, the layer specs and input Chapter 1 tabulates)
COURSEWORK = {
    "S0.Q1": (S0_Q1, "3x128x128", networks.s0_q1(), networks.S0_Q1_INPUT),
    "S0.Q3": (["conv 8 3 name=conv1", "maxpool 2 name=pool1", "conv 16 3 name=conv2", "maxpool 2 name=pool2",
               "conv 32 3 name=conv3", "maxpool 2 name=pool3"], "1x128x128",
              networks.s0_q3_base(), networks.S0_Q3_INPUT),
    "S0.Q3 dilated": (["conv 8 3 name=conv1", "maxpool 2 name=pool1", "conv 16 3 dilation=2 name=conv2",
                       "maxpool 2 name=pool2", "conv 32 3 dilation=4 name=conv3", "maxpool 2 name=pool3"],
                      "1x128x128", networks.s0_q3_candidates()["q3_dilated"], networks.S0_Q3_INPUT),
    "S0.Q4 A": ([f"conv 64 3 stride=2 padding=1 name=conv{i}" for i in range(1, 5)], "3x256x256",
                networks.s0_q4_method_a(), networks.S0_Q4_INPUT),
    "S0.Q4 B4": ([t for i in range(1, 5) for t in (f"conv 64 3 padding=1 name=conv{i}", f"maxpool 2 name=pool{i}")],
                 "3x256x256", networks.s0_q4_method_b(blocks=4), networks.S0_Q4_INPUT),
    "S2.Q3 (1-D)": (["conv 1 2 padding=1 name=conv1", "avgpool 2 stride=2 name=avgpool1", "flatten name=flatten",
                     "linear 20 name=fc1", "linear 1 name=z"], "1x785", networks.s2_q3(), networks.S2_Q3_INPUT),
    "S3.Q3 (1-D)": (["conv 16 3 name=conv1d_1", "maxpool 2 name=maxpool_1", "conv 32 5 name=conv1d_2",
                     "maxpool 2 name=maxpool_2", "conv 64 5 name=conv1d_3", "maxpool 2 name=maxpool_3",
                     "flatten name=flatten", "linear 128 name=dense_1", "linear 5 name=dense_2"], "7x500",
                    networks.s3_q3(), networks.S3_Q3_INPUT),
    "S4.Q5 well-posed": (S4_Q5_WELL_POSED, "3x256x256", networks.s4_q5(pad_last=True), networks.S4_Q5_INPUT),
    "S4.Q6e": (["flatten name=input", "linear 20 name=fc", "bn name=bn"], "10x1",
               networks.s4_q6e(), networks.S4_Q6E_INPUT),
}


def _json(capsys, argv: list[str]) -> dict:
    assert main(["layers", *argv, "--format", "json"]) == 0
    return json.loads(capsys.readouterr().out)


def _expected(layers, input_shape) -> tuple[list[dict], dict]:
    report = analyze(layers, input_shape)
    frame = report.frame()
    rows = [{c: (int(v) if c in calculator.SUMMED else str(v)) for c, v in record.items()}
            for record in frame.to_dict("records")]
    totals = {"weights": report.total_weights, "biases": report.total_biases, "params": report.total_params,
              "buffers": int(frame.buffers.sum()), "macs": report.total_macs, "flops": report.total_flops}
    return rows, totals


@pytest.mark.parametrize("case", list(COURSEWORK))
def test_coursework_networks_as_command_lines_give_the_chapters_numbers(capsys, case):
    texts, shape, layers, input_shape = COURSEWORK[case]
    result = _json(capsys, ["--input", shape, *texts])
    rows, totals = _expected(layers, input_shape)
    assert result["input"] == list(input_shape)
    for got, want in zip(result["layers"], rows, strict=True):
        assert got == {key: want[key] for key in got}, case
    assert {key: result["totals"][key] for key in ("weights", "biases", "params", "macs", "flops")} == {
        key: totals[key] for key in ("weights", "biases", "params", "macs", "flops")}
    assert result["flop_convention"] == CONVENTION["en"]
    # the columns the issue asks for; buffers only where batch normalisation has them
    columns = set(result["layers"][0])
    assert {"output", "weights", "biases", "rf", "jump", "macs", "flops"} <= columns
    assert ("buffers" in columns) == (totals["buffers"] > 0)


def test_the_issues_example_prints_the_table_totals_and_the_convention_once(capsys):
    argv = ["--input", "3x128x128", "conv 32 7", "conv 64 5 stride=2", "maxpool 2", "conv 128 3 dilation=2",
            "avgpool 2", "flatten", "linear 1024", "linear 10"]
    assert main(["layers", *argv]) == 0
    out = capsys.readouterr().out
    from cnnbook.arithmetic import Conv, Flatten, Linear, Pool

    report = analyze([Conv(32, 7), Conv(64, 5, stride=2), Pool("max", 2), Conv(128, 3, dilation=2),
                      Pool("avg", 2), Flatten(), Linear(1024), Linear(10)], (3, 128, 128))
    lines = out.splitlines()
    header = lines[0]
    for key in ("layer", "type", "output", "weights", "biases", "params", "rf", "jump", "macs", "flops"):
        assert label(key, "en") in header
    names = ["conv1", "conv2", "maxpool3", "conv4", "avgpool5", "flatten6", "linear7", "linear8"]
    body = lines[2:2 + len(names)]
    for line, name, info in zip(body, names, report.layers):
        cells = line.split()
        assert cells[0] == name and cells[2] == "×".join(map(str, info.out_shape))
        assert f"{info.weights:,}" in cells and f"{info.flops:,}" in cells
    total = lines[3 + len(names)].split()
    assert total == [label("total", "en"), f"{report.total_weights:,}", f"{report.total_biases:,}",
                     f"{report.total_params:,}", f"{report.total_macs:,}", f"{report.total_flops:,}"]
    assert " ".join(out.split()).count(" ".join(CONVENTION["en"].split())) == 1


def test_persian_labels_with_the_books_latin_digits_in_tables(capsys):
    # Chapter 1's Persian tables keep Latin digits (the site's script skips output tables)
    assert main(["layers", "--input", "7x500", "conv 16 3", "maxpool 2", "flatten", "linear 5",
                 "--language", "fa", "--format", "markdown"]) == 0
    out = capsys.readouterr().out
    report = analyze(networks.s3_q3()[:2] + [networks.s3_q3()[6], networks.s3_q3()[8]], (7, 500))
    header = out.splitlines()[0]
    for key in ("layer", "output_1d", "weights", "biases", "rf", "jump"):
        assert label(key, "fa") in header
    assert f"**{label('total', 'fa')}**" in out and f"**{report.total_params:,}**" in out
    assert CONVENTION["fa"] in out and CONVENTION["en"] not in out
    assert not any("۰" <= ch <= "۹" for line in out.splitlines()[:-2] for ch in line)


def test_csv_is_the_table_with_raw_numbers(capsys):
    texts, shape, layers, input_shape = COURSEWORK["S3.Q3 (1-D)"]
    assert main(["layers", "--input", shape, *texts, "--format", "csv"]) == 0
    table = list(csv.reader(io.StringIO(capsys.readouterr().out)))
    report = analyze(layers, input_shape)
    assert table[0][0] == label("layer", "en") and table[0][2] == label("output_1d", "en")
    assert [row[0] for row in table[1:-1]] == [r.name for r in report.layers]
    assert table[-1][0] == label("total", "en") and str(report.total_params) in table[-1]
    frame = pd.read_csv(io.StringIO("\n".join(",".join(row) for row in table[1:-1])), header=None)
    assert list(frame[5]) == [r.params for r in report.layers]


def test_file_input_skips_comments_and_blank_lines(capsys, tmp_path):
    path = tmp_path / "s0q1.txt"
    path.write_text("# S0.Q1 of the coursework\n\n" + "\n".join(f"{t}   # layer" for t in S0_Q1) + "\n")
    from_file = _json(capsys, ["--input", "3x128x128", "--file", str(path)])
    from_arguments = _json(capsys, ["--input", "3x128x128", *S0_Q1])
    assert from_file == from_arguments


MODEL = """
from torch import nn

def build():
    return nn.Sequential(
        nn.Conv2d(3, 32, 7), nn.Conv2d(32, 64, 5, stride=2), nn.MaxPool2d(2), nn.Conv2d(64, 128, 3, dilation=2),
        nn.Conv2d(128, 128, 3), nn.MaxPool2d(2), nn.Conv2d(128, 256, 3), nn.AvgPool2d(2), nn.Flatten(),
        nn.Linear({flat}, 1024), nn.Linear(1024, 1024), nn.Dropout(0.5), nn.Linear(1024, 10))

model = build()
not_a_model = 3

def broken():
    raise RuntimeError("the student forgot an argument")

def returns_text():
    return "a model"

def with_gelu():
    return nn.Sequential(nn.Conv2d(3, 8, 3), nn.GELU())

def wrong_sizes():
    return nn.Sequential(nn.Conv2d(3, 8, 3), nn.Flatten(), nn.Linear(100, 10))
"""


@pytest.fixture
def student(tmp_path, monkeypatch):
    flat = analyze(networks.s0_q1(), networks.S0_Q1_INPUT).layer("flatten").out_shape[0]
    (tmp_path / "student_s0q1.py").write_text(MODEL.format(flat=flat))
    monkeypatch.chdir(tmp_path)
    yield tmp_path
    sys.modules.pop("student_s0q1", None)


@pytest.mark.parametrize("target", ["student_s0q1:build", "student_s0q1:model", "student_s0q1.py:build"])
def test_module_input_gives_the_same_numbers_as_the_specs(capsys, student, target):
    result = _json(capsys, ["--input", "3x128x128", "--module", target])
    rows, totals = _expected(networks.s0_q1(), networks.S0_Q1_INPUT)
    for got, want in zip(result["layers"], rows, strict=True):
        assert {k: v for k, v in got.items() if k != "layer"} == {k: want[k] for k in got if k != "layer"}
    assert result["totals"]["params"] == totals["params"] and result["totals"]["flops"] == totals["flops"]


def test_check_builds_the_real_layers_and_says_so_in_one_line(capsys):
    assert main(["layers", "--input", "1x32x32", "conv 4 3 padding=same", "relu", "maxpool 2", "conv 8 3 groups=2",
                 "bn", "gap", "linear 10 bias=no", "--check"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[-1] == calculator._CHECK["agree"]["en"].format(n=7)
    assert main(["layers", "--input", "1x32", "conv 4 3", "flatten", "linear 2", "--check", "--language", "fa"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == calculator._CHECK["agree"]["fa"].format(n=3)


def test_check_reports_a_disagreement_and_fails(capsys, monkeypatch):
    import cnnbook.arithmetic as arithmetic

    real = arithmetic.torch_check

    def tampered(layers, input_shape):
        frame = real(layers, input_shape)
        frame.loc[0, "torch_params"] += 1
        frame.loc[0, "agree"] = False
        return frame

    monkeypatch.setattr(arithmetic, "torch_check", tampered)
    assert main(["layers", "--input", "1x16x16", "conv 2 3", "flatten", "linear 2", "--check"]) == 1
    last = capsys.readouterr().out.splitlines()[-1]
    assert last == "PyTorch check: 1 of 3 layers disagree: conv1 (params 20 vs 21)."


BAD = [
    (["maxpol 2"], "layer 2 ('maxpol 2'): unknown layer word 'maxpol'; known words: conv, maxpool"),
    (["conv 64 5 stride=two"], "layer 2 ('conv 64 5 stride=two'): stride must be a positive integer or one per "
                               "axis like 3x5, got 'two'"),
    (["conv 64 5 stride"], "layer 2 ('conv 64 5 stride'): conv takes 2 value(s) before its options, got 3"),
    (["conv 64"], "layer 2 ('conv 64'): conv takes 2 value(s) before its options, got 1"),
    (["conv 64 5 stide=2"], "layer 2 ('conv 64 5 stide=2'): conv takes no option 'stide'"),
    (["conv 64 5 stride="], "layer 2 ('conv 64 5 stride='): option stride= has no value"),
    (["conv 64 5 stride=1 stride=2"], "option stride= is given twice"),
    (["conv 0 5"], "layer 2 ('conv 0 5'): the number of output channels C must be a positive integer, got '0'"),
    (["conv 64 5 padding=-1"], "padding (or same) must be a non-negative integer or one per axis"),
    (["conv 64 5 bias=maybe"], "layer 2 ('conv 64 5 bias=maybe'): bias must be yes or no, got 'maybe'"),
    (["maxpool 2 padding=same"], "padding=same is for convolutions"),
    (["dropout 1.5"], "layer 2 ('dropout 1.5'): the dropout probability must be a number in [0, 1), got '1.5'"),
    (["dropout 0.1 p=0.2"], "p is given both as a value and as p="),
    (["linear 10"], "layer 2 (linear2: Linear): a Linear layer needs a flat input; insert Flatten"),
    (["conv 8 4 padding=same"], "layer 2 (conv2: Conv): kernel 4 with dilation 1 spans 4 positions (even)"),
    (["conv 8 3 stride=2 padding=same"], "layer 2 (conv2: Conv): padding='same' needs stride 1"),
    (["conv 8 3 groups=3"], "layer 2 (conv2: Conv): groups=3 must divide in_channels=4 and out_channels=8"),
    (["conv 8 3x3x3"], "the kernel size K must be a positive integer or one per axis like 3x5, got '3x3x3'"),
    (["maxpool 64"], "layer 2 (maxpool2: Pool): kernel extent 64 (kernel 64, dilation 1) is larger than the "
                     "padded input 30 + 2×0 = 30 along axis 0"),
]


@pytest.mark.parametrize(("layers", "message"), BAD)
def test_bad_layers_get_one_line_naming_the_layer_and_the_reason(capsys, layers, message):
    assert main(["layers", "--input", "4x32x32", "conv 4 3", *layers]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("cnnbook layers: error: ") and message in lines[0], lines


@pytest.mark.parametrize(("argv", "message"), [
    (["--input", "3x128", "--input", "abc", "conv 4 3"], "--input 'abc': expected CxL (1-D) or CxHxW (2-D)"),
    (["--input", "3x0x5", "conv 4 3"], "--input '3x0x5': expected CxL"),
    (["--input", "3x8x8"], "give the network one way: as layer arguments, --file or --module (got none)"),
    (["--input", "3x8x8", "conv 4 3", "--module", "x:y"], "(got layers and --module)"),
    (["--input", "3x8x8", "--file", "no/such/net.txt"], "--file 'no/such/net.txt': cannot read it"),
    (["--input", "3x8x8", "--module", "no_colon"], "--module 'no_colon': expected package.module:factory"),
    (["--input", "3x8x8", "--module", "no_such_pkg.net:build"],
     "importing 'no_such_pkg.net' failed: ModuleNotFoundError"),
    (["--input", "3x8x8", "--module", "cnnbook.networks:no_such"], "'cnnbook.networks' has no attribute 'no_such'"),
    (["--input", "3x8x8", "--module", "cnnbook.networks:S0_Q1_INPUT"],
     "'S0_Q1_INPUT' is neither a torch.nn.Module nor callable"),
    (["--input", "3x8x8", "--module", "cnnbook.networks:s0_q1"], "s0_q1() returned list, not a torch.nn.Module"),
])
def test_bad_arguments_get_one_line(capsys, argv, message):
    assert main(["layers", *argv]) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert captured.out == "" and len(lines) == 1 and message in lines[0], lines


@pytest.mark.parametrize(("target", "message"), [
    ("student_s0q1:not_a_model", "'not_a_model' is neither a torch.nn.Module nor callable"),
    ("student_s0q1:broken", "calling broken() failed: RuntimeError: the student forgot an argument"),
    ("student_s0q1:returns_text", "returns_text() returned str, not a torch.nn.Module"),
    ("student_s0q1:with_gelu", "from_torch: unsupported module GELU"),
    ("missing.py:build", "--module 'missing.py:build': no file 'missing.py'"),
    ("student_s0q1:wrong_sizes", "on input 3x32x32: layer 3 (linear3: Linear) expects 100 inputs, but the layer "
                                 "before gives 7200 (shape 7200)"),
    ("student_s0q1:build", "layer 1 (conv1: Conv2d) expects 3 input channels, but the layer before gives 1"),
])
def test_bad_modules_get_one_line(capsys, student, target, message):
    shape = "1x128x128" if "channels" in message else "3x32x32"
    assert main(["layers", "--input", shape, "--module", target]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], lines


def test_an_error_in_a_file_names_the_line(capsys, tmp_path):
    path = tmp_path / "net.txt"
    path.write_text("# a small net\nconv 8 3\n\nmaxpol 2  # typo\n")
    assert main(["layers", "--input", "3x32x32", "--file", str(path)]) == 2
    assert "net.txt line 4, layer 2 ('maxpol 2'): unknown layer word 'maxpol'" in capsys.readouterr().err
    path.write_text("conv 8 3\nconv 8 40\n")
    assert main(["layers", "--input", "3x32x32", "--file", str(path)]) == 2
    assert "[written 'conv 8 40', net.txt line 2]" in capsys.readouterr().err


def test_s4_q5_as_posed_fails_at_layer_8_with_both_sizes_and_no_traceback():
    report = analyze(networks.s4_q5(pad_last=True), networks.S4_Q5_INPUT)
    extent, side = 5 * 8 - 8 + 1, report.layer("L7").out_shape[1]
    result = subprocess.run([CNNBOOK, "layers", "--input", "3x256x256", *S4_Q5], capture_output=True, text=True)
    assert result.returncode == 2 and result.stdout == "" and "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert f"layer 8 (L8: Conv): kernel extent {extent} (kernel 5, dilation 8) is larger than the padded input " \
           f"{side} + 2×0 = {side}" in lines[0]
    assert "[written 'conv 128 5 stride=2 dilation=8 name=L8']" in lines[0]


def test_help_shows_the_grammar_with_an_example():
    result = subprocess.run([CNNBOOK, "layers", "--help"], capture_output=True, text=True)
    assert result.returncode == 0
    for usage in (spec.usage for spec in calculator.WORDS.values()):
        assert usage.split(" [")[0] in result.stdout
    assert 'cnnbook layers --input 3x128x128 "conv 32 7" "conv 64 5 stride=2" "maxpool 2"' in result.stdout
    assert "--language {en,fa}" in result.stdout and "--format {text,markdown,csv,json}" in result.stdout


def test_grammar_spells_per_axis_values_and_defaults():
    from cnnbook.arithmetic import Conv, Dropout, Pool

    assert parse_layer("CONV 16 3x5 stride=2x1 padding=1x2 dilation=1 groups=1 bias=no", 1) == Conv(
        16, (3, 5), (2, 1), (1, 2), 1, 1, False, "conv1")
    assert parse_layer("maxpool 3", 4) == Pool("max", 3, None, 0, "maxpool4")
    assert parse_layer("dropout", 2) == Dropout(0.5, "dropout2") and parse_layer("dropout p=0.2", 2).p == 0.2
    with pytest.raises(CalculatorError, match="takes 0 to 1 value"):
        parse_layer("dropout 0.1 0.2", 1)
