"""Book tooling: Sphinx extension, bilingual output rendering, site build, chapter registry."""
