"""cnnbook: derivations, experiments and book tooling for the bilingual CNN book."""

__version__ = "0.1.0"
