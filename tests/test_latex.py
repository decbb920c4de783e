"""LaTeX of the PDF editions: mixed-direction runs, Persian numbers, table layout (no TeX needed)."""

from __future__ import annotations

import pytest
from docutils import nodes
from docutils.utils import new_document

from cnnbook.book.latex import (
    DIRECTIONS, persian_number, reverse_columns, rewrite, rewrite_document, table_columns,
)


def latex(element: nodes.Element) -> str:
    """The element's inline content as the LaTeX writer would see it: raw LaTeX verbatim,
    inline code as ``<code>``, other elements by their text."""
    parts = []
    for child in element.children:
        if isinstance(child, nodes.raw):
            parts.append(child.astext())
        elif isinstance(child, nodes.literal):
            parts.append(f"<{child.astext()}>")
        elif isinstance(child, nodes.Text):
            parts.append(str(child))
        else:
            parts.append(latex(child))
    return "".join(parts)


def paragraph(*children: nodes.Node | str) -> nodes.paragraph:
    return nodes.paragraph("", "", *[nodes.Text(c) if isinstance(c, str) else c for c in children])


@pytest.mark.parametrize(("text", "expected"), [
    ("1,797 تصویر", "۱٬۷۹۷ تصویر"),
    ("سهم 98.7 % است", "سهم ۹۸٫۷ ٪ است"),
    ("90.2%", "۹۰٫۲٪"),
    ("128×128", "۱۲۸×۱۲۸"),
    ("پایان جمله 5.", "پایان جمله ۵."),
    ("S0.Q1 و conv1d و CIFAR-10", "S0.Q1 و conv1d و CIFAR-10"),
    ("خطا 9.3e-18 و 0.0e+00 است", "خطا 9.3e-18 و 0.0e+00 است"),
])
def test_standalone_numbers_take_persian_digits_and_separators(text, expected):
    assert persian_number(text) == expected


@pytest.mark.parametrize(("text", "expected"), [
    # a Latin phrase keeps its word order; brackets and Persian punctuation stay outside
    ("نقشهٔ ویژگی (feature map)، تعداد", r"نقشهٔ ویژگی (\lr{feature map})، تعداد"),
    # identifiers keep their digits and dots; sentence punctuation is not part of the run
    ("پرسش S0.Q1. سپس", r"پرسش \lr{S0.Q1}. سپس"),
    ("داده‌های CIFAR-10 و 12 لایه", r"داده‌های \lr{CIFAR-10} و ۱۲ لایه"),
    ("تعداد 1,797 است", "تعداد ۱٬۷۹۷ است"),
    ("نسخه‌های cnnbook 0.1.0, numpy 2.4.6", r"نسخه‌های \lr{cnnbook 0.1.0, numpy 2.4.6}"),
    ("با PyTorch 2.1 و", r"با \lr{PyTorch 2.1} و"),
    ("CNNهای عمیق", r"\lr{CNN}های عمیق"),
])
def test_latin_runs_in_persian_text_are_wrapped_left_to_right(text, expected):
    element = paragraph(text)
    rewrite(element, DIRECTIONS["fa"])
    assert latex(element) == expected


def test_a_left_to_right_isolate_of_the_site_is_its_own_group_without_its_marks():
    # the provenance box isolates sizes for the browser; the marks have no glyph in the PDF fonts
    text = "عکس‌ها (جایگزین MNIST), \u20661×28×28, N = 1,437\u2069; دیگر"
    persian = paragraph(text)
    rewrite(persian, DIRECTIONS["fa"])
    assert latex(persian) == r"عکس‌ها (جایگزین \lr{MNIST}), \lr{1×28×28, N = 1,437}; دیگر"
    english = paragraph("photos (real), \u20663×224×224\u2069")
    rewrite(english, DIRECTIONS["en"])
    assert latex(english) == "photos (real), 3×224×224"


def test_inline_code_and_citations_are_left_to_right_islands():
    citation = nodes.inline("", "", nodes.Text("Dumoulin and Visin ["),
                            nodes.reference("", "2016", refuri="#x"), nodes.Text("]"))
    element = paragraph("تابع ", nodes.literal("", "conv1d"), " را ", citation, " دیده‌اند")
    rewrite(element, DIRECTIONS["fa"])
    assert latex(element) == r"تابع \lr{<conv1d>} را \lr{Dumoulin and Visin [2016]} دیده‌اند"


def test_containers_with_persian_text_are_processed_inside():
    reference = nodes.reference("", "", nodes.Text("S0.Q1 — شبکهٔ 12 لایه"), refuri="#x")
    element = paragraph("روی ", reference, ":")
    rewrite(element, DIRECTIONS["fa"])
    assert latex(element) == r"روی \lr{S0.Q1} — شبکهٔ ۱۲ لایه:"


def test_math_is_neither_a_run_nor_rewritten():
    element = paragraph("اتساع (dilation) ", nodes.math("", "d"), " و 3 گام")
    rewrite(element, DIRECTIONS["fa"])
    assert latex(element) == r"اتساع (\lr{dilation}) d و ۳ گام"


def test_persian_runs_in_the_english_edition_are_wrapped():
    element = paragraph("activation function, تابع فعال‌سازی; next")
    rewrite(element, DIRECTIONS["en"])
    assert latex(element) == r"activation function, \textpersian{تابع فعال‌سازی}; next"


def test_a_bracket_opened_in_a_run_closes_in_it():
    element = paragraph("convolution, کانولوشن (پیچش)")
    rewrite(element, DIRECTIONS["en"])
    assert latex(element) == r"convolution, \textpersian{کانولوشن (پیچش)}"


def test_english_text_is_left_alone_in_the_english_edition():
    element = paragraph("Layer 3 has 1,024 units (S0.Q1).")
    rewrite(element, DIRECTIONS["en"])
    assert latex(element) == "Layer 3 has 1,024 units (S0.Q1)."


def test_whole_mode_wraps_a_cell_without_persian():
    element = paragraph("3×32×32")
    rewrite(element, DIRECTIONS["fa"], whole=True)
    assert latex(element) == r"\lr{3×32×32}"


def table(header: list[str], rows: list[list[str]]) -> nodes.table:
    def row(cells):
        return nodes.row("", *[nodes.entry("", nodes.paragraph(text=c)) for c in cells])
    group = nodes.tgroup(cols=len(header))
    group.extend(nodes.colspec(colwidth=1) for _ in header)
    group += nodes.thead("", row(header))
    group += nodes.tbody("", *[row(r) for r in rows])
    return nodes.table("", group)


def test_table_cells_of_the_persian_edition_read_left_to_right_when_they_hold_no_persian():
    document = new_document("test")
    document += table(["لایه", "خروجی"], [["L1", "3×32×32"], ["تخت", "4,096"]])
    rewrite_document(document, DIRECTIONS["fa"])
    cells = [latex(p) for p in document.findall(nodes.paragraph)]
    assert cells == ["لایه", "خروجی", r"\lr{L1}", r"\lr{3×32×32}", "تخت", r"\lr{4,096}"]


def test_columns_are_measured_on_their_widest_cell_and_longest_words():
    tab = table(["Layer", "Output (C×H×W)", "Notes"],
                [["L1", "32×122×122", "a remark that wraps"], ["flatten", "4096", "short"]])
    columns = table_columns(tab, DIRECTIONS["en"])
    assert [c.align for c in columns] == ["L", "R", "L"]   # numbers and shapes align right
    assert [c.widest for c in columns] == ["flatten", "32×122×122", "a remark that wraps"]
    assert [c.head_word for c in columns] == ["Layer", r"\begin{tabular}{@{}l@{}}(C×H×W)\\Output\end{tabular}", "Notes"]
    assert columns[0].body_word == "flatten"
    # words of similar length may be wider than the longest: all of them are measured
    assert columns[2].body_word == r"\begin{tabular}{@{}l@{}}remark\\wraps\\short\\that\end{tabular}"


def test_a_shorter_word_that_may_be_wider_is_measured_too():
    tab = table(["True class"], [["triangle"], ["hexagon"], ["ring"], ["triangle"]])
    (column,) = table_columns(tab, DIRECTIONS["fa"])
    assert column.widest == r"\begin{tabular}{@{}l@{}}\lr{triangle}\\\lr{hexagon}\end{tabular}"
    assert column.body_word == column.widest  # one word per cell; "ring" is too short to be the widest


def test_every_head_word_that_may_be_the_widest_is_measured():
    # "(MSE" has fewer characters than "×1000)" but is wider once set: sizing on "×1000)" alone overflowed
    (column,) = table_columns(table(["Patch (MSE ×1000)"], [["42.05"]]), DIRECTIONS["en"])
    assert column.head_word == r"\begin{tabular}{@{}l@{}}×1000)\\Patch\\(MSE\end{tabular}"


def test_persian_columns_are_measured_as_they_will_be_set():
    tab = table(["لایه", "پارامترها"], [["تخت‌سازی 2", "1,160"]])
    columns = table_columns(tab, DIRECTIONS["fa"])
    assert [c.widest for c in columns] == ["تخت‌سازی ۲", r"\lr{1,160}"]


def test_reversing_columns_reverses_every_row_and_the_column_specs():
    tab = table(["a", "b", "c"], [["1", "2", "3"]])
    tab[0][0]["colwidth"] = 5
    reverse_columns(tab)
    assert [p.astext() for p in tab.findall(nodes.paragraph)] == ["c", "b", "a", "3", "2", "1"]
    assert [c["colwidth"] for c in tab.findall(nodes.colspec)] == [1, 1, 5]


def test_a_provenance_value_starting_in_latin_reads_left_to_right_with_its_persian_words_inside():
    # as on the site (unicode-bidi: plaintext): the data line "digits (جایگزین MNIST), 1×28×28" stays in order
    document = new_document("test")
    value = paragraph("digits (جایگزین MNIST), \u20661×28×28\u2069")
    box = nodes.admonition("", nodes.field_list("", nodes.field("", nodes.field_name("", "داده"),
                                                                 nodes.field_body("", value))),
                           classes=["cnnbook-provenance"])
    document += box
    rewrite_document(document, DIRECTIONS["fa"])
    assert latex(value) == r"\lr{digits (\rl{جایگزین} MNIST), 1×28×28}"
    assert latex(box.next_node(nodes.field_name)) == "داده"
