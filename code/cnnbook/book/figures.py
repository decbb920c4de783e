"""Alt text of the book's figures, in the language of the page.

A figure is shown with a ``{glue:figure}`` block; its description for screen readers, failed
image loads and search engines is the block's ``:alt:`` option, written in the page's language
(the en and fa pages share their code cells but not their prose)::

    ```{glue:figure} fig_growth
    :name: fig-growth
    :alt: Receptive field against depth for plain, dilated and strided stacks

    Left: receptive field against depth ...
    ```

A figure without one still gets a description (``describe_images``, run on every page as it is
read and again once it is resolved, for outputs pasted from another page): the first sentence of
its caption, cut to ``MAX_WORDS`` words; an image with no caption (a plot a code cell shows
directly) gets ``FALLBACK`` in the page's language. Without this, Sphinx would write the image's
file path as its alt text.
"""

from __future__ import annotations

import re
from typing import Any

from docutils import nodes

#: The most words of a caption an automatic description keeps.
MAX_WORDS = 16
#: The description of an image that has neither an ``:alt:`` nor a caption.
FALLBACK = {"en": "Figure computed by the code of this page",
            "fa": "شکلی که کد همین صفحه آن را محاسبه کرده است"}
_IMAGE_FILE = re.compile(r"\.(png|jpe?g|gif|svg|webp|pdf)$", re.IGNORECASE)
_SENTENCE_END = re.compile(r"(?<=[.!?؟])\s")


def is_missing(alt: str | None, uri: str | None = None) -> bool:
    """True when ``alt`` describes nothing: empty, the image's own path, or a file name or path."""
    text = (alt or "").strip()
    return (not text or text == (uri or "").strip() or bool(_IMAGE_FILE.search(text))
            or ("/" in text and " " not in text))


def short_description(caption: str, max_words: int = MAX_WORDS) -> str:
    """The first sentence of ``caption``, at most ``max_words`` words (then "…")."""
    text = " ".join(caption.split())
    first = _SENTENCE_END.split(text, maxsplit=1)[0].rstrip(".")
    words = first.split()
    return " ".join(words[:max_words]) + ("…" if len(words) > max_words else "")


def describe(image: nodes.image, language: str) -> str | None:
    """The alt text ``image`` should get, or None when it has a real one."""
    if not is_missing(image.get("alt"), image.get("uri")):
        return None
    figure = image.parent
    while figure is not None and not isinstance(figure, nodes.figure):
        figure = figure.parent
    caption = figure.next_node(nodes.caption) if figure is not None else None
    if caption is not None and caption.astext().strip():
        return short_description(caption.astext())
    return FALLBACK.get(language, FALLBACK["en"])


def describe_images(app: Any, doctree: nodes.document) -> None:
    """``doctree-read``: give every image of the page that lacks one an alt text in its language."""
    language = app.config.language or "en"
    for image in doctree.findall(nodes.image):
        text = describe(image, language)
        if text is not None:
            image["alt"] = text


def describe_resolved_images(app: Any, doctree: nodes.document, docname: str) -> None:
    """``doctree-resolved``: the same for images pasted after the page was read (from another page)."""
    describe_images(app, doctree)
