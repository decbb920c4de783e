"""Shared test helpers."""

from __future__ import annotations


def notebook_page(title: str, code: str) -> str:
    """A MyST notebook page with one code cell, as the book's pages are written."""
    return f"""---
jupytext:
  text_representation:
    format_name: myst
kernelspec:
  name: python3
  display_name: Python 3
---
# {title}

```{{code-cell}} ipython3
{code}
```
"""
