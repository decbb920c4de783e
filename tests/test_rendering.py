"""Outputs of the pages: a table or provenance box renders in the language of the page; identities
are shown with a mark each."""

from __future__ import annotations

import ast
import json
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest
import sympy
from docutils import nodes

from cnnbook.book.display import TABLE_MIME, Table, Text, format_cell, identities
from cnnbook.book import labels as labels_module
from cnnbook.book.labels import LABELS, label
from cnnbook.book.mime import CnnbookMimeRenderer
from cnnbook.derivations import Derivation
from cnnbook.provenance import PROVENANCE_MIME, DataSource, Provenance


def fake_renderer(language: str):
    env = SimpleNamespace(config=SimpleNamespace(language=language))
    document = SimpleNamespace(settings=SimpleNamespace(env=env))
    return SimpleNamespace(renderer=SimpleNamespace(document=document))


def render(bundle: dict, mime: str, language: str) -> list[nodes.Node]:
    data = SimpleNamespace(mime_type=mime, content=json.loads(json.dumps(bundle[mime])))
    return CnnbookMimeRenderer.handle_mime(fake_renderer(language), data, inline=False)


def test_table_headers_follow_the_page_language():
    frame = pd.DataFrame({"layer": ["L1"], "params": [4736], "ok": [Text("yes")]})
    bundle = Table(frame, {"layer": "layer", "params": "params", "ok": "agree"})._repr_mimebundle_()
    persian = render(bundle, TABLE_MIME, "fa")[0].astext()
    english = render(bundle, TABLE_MIME, "en")[0].astext()
    assert "لایه" in persian and "پارامترها" in persian and "بله" in persian and "4,736" in persian
    assert "Layer" in english and "Parameters" in english and "yes" in english
    assert "Layer" in bundle["text/html"]  # plain Jupyter shows English


def test_unknown_label_fails_early():
    with pytest.raises(KeyError, match="add it to cnnbook.book.labels"):
        Table(pd.DataFrame({"a": [1]}), {"a": "no-such-label"})


def test_every_label_has_both_languages():
    for key, (english, persian) in LABELS.items():
        assert english.strip() and persian.strip(), key
    assert label("rf", "fa") == "میدان تأثیر"


def test_no_label_key_is_defined_twice():
    # a dict literal keeps the last of two equal keys silently: one chapter's header would change another's
    source = Path(labels_module.__file__).read_text(encoding="utf-8")
    literal = next(node.value for node in ast.walk(ast.parse(source))
                   if isinstance(node, ast.AnnAssign) and getattr(node.target, "id", "") == "LABELS")
    keys = [key.value for key in literal.keys]
    assert sorted({k for k in keys if keys.count(k) > 1}) == []


def test_cells_format_numbers_and_missing_values():
    assert format_cell(1234567) == "1,234,567"
    assert format_cell(0.123456) == "0.1235"
    assert format_cell(None) == format_cell(float("nan")) == "—"
    assert format_cell(True, "fa") == "بله"


def test_provenance_box_names_a_stand_in_as_one():
    provenance = Provenance.start(seed=3, data=[DataSource("shapes", False, "600 images", "CIFAR-100")])
    bundle = provenance.box()._repr_mimebundle_()
    record = bundle[PROVENANCE_MIME]
    assert record["seed"] == 3 and record["profile"] == "quick" and record["wall_time"] >= 0
    persian = render(bundle, PROVENANCE_MIME, "fa")[0].astext()
    english = render(bundle, PROVENANCE_MIME, "en")[0].astext()
    assert "stand-in for CIFAR-100" in english
    assert "جایگزینِ CIFAR-100" in persian and "شناسنامه" in persian


def test_glued_numpy_numbers_read_as_plain_numbers(monkeypatch):
    import numpy as np
    import myst_nb

    from cnnbook.book.display import glue_numbers

    glued = {}
    monkeypatch.setattr(myst_nb, "glue", lambda name, value, display: glued.update({name: value}))
    glue_numbers("q", {"ratio": np.float64(5.4), "count": np.int64(3), "plain": 7})
    assert {name: repr(value) for name, value in glued.items()} == {"q_ratio": "5.4", "q_count": "3", "q_plain": "7"}


def test_provenance_box_names_procedural_data_as_such():
    source = DataSource("blobs", False, "20 images")
    bundle = Provenance.start(data=[source]).box()._repr_mimebundle_()
    assert "blobs (procedural)" in render(bundle, PROVENANCE_MIME, "en")[0].astext()
    assert "blobs (رویه‌ای)" in render(bundle, PROVENANCE_MIME, "fa")[0].astext()


def test_data_sizes_stay_left_to_right_after_a_persian_word():
    source = DataSource("scikit-image photos", True, "3×224×224, N = 5")
    persian = render(Provenance.start(data=[source]).box()._repr_mimebundle_(), PROVENANCE_MIME, "fa")[0].astext()
    assert "(واقعی), \u20663×224×224, N = 5\u2069" in persian  # an isolate: the size is not reordered


def test_identities_are_shown_by_their_statements_with_a_mark_each():
    x = sympy.Symbol("x")
    derivation = Derivation(identities={"holds": (2 * x, x + x), "fails": (x**2, 2 * x)},
                            statements={"holds": r"2x = x + x", "fails": r"x^2 = 2x"})
    latex = identities(derivation, "statements").data
    assert r"2x = x + x &\qquad \checkmark" in latex and r"x^2 = 2x &\qquad \times" in latex


def test_an_identity_without_a_statement_is_named_in_the_error():
    x = sympy.Symbol("x")
    with pytest.raises(ValueError, match="untold"):
        identities(Derivation(identities={"untold": (x, x)}), "statements")
