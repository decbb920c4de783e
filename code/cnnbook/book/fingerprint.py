"""Execution keys: what a page's outputs depend on beyond its own code cells.

jupyter-cache matches executed notebooks by their code cells only. A page's outputs also depend
on the ``cnnbook`` modules it imports (directly or through other modules), on the active
profile and on the versions of the numerical libraries. ``execution_key`` hashes exactly
those, and ``with_execution_key`` appends it to the page as a hidden code cell, so that any
change makes the cached notebook stop matching and the page re-executes — and nothing else does.
"""

from __future__ import annotations

import ast
import hashlib
import re
from functools import lru_cache
from importlib import metadata
from pathlib import Path

from cnnbook.profiles import get_profile

PACKAGE = "cnnbook"
KEY_CELL_MARKER = "# cnnbook execution key:"
VERSIONED = ("torch", "torchvision", "numpy", "sympy", "scikit-learn", "scikit-image", "matplotlib", "pandas")

_IMPORT = re.compile(
    rf"^\s*(?:from\s+({PACKAGE}(?:\.\w+)*)\s+import\s+(.+)|import\s+({PACKAGE}(?:\.\w+)*))", re.MULTILINE
)
_CODE_CELL = re.compile(r"^(`{3,}|~{3,})\{code-cell\}[^\n]*\n(.*?)^\1", re.MULTILINE | re.DOTALL)


def _module_file(package_dir: Path, module: str) -> Path | None:
    """Source file of ``cnnbook.a.b`` inside ``package_dir`` (the ``cnnbook`` folder)."""
    parts = module.split(".")[1:]
    base = package_dir.joinpath(*parts)
    if base.with_suffix(".py").is_file():
        return base.with_suffix(".py")
    if (base / "__init__.py").is_file():
        return base / "__init__.py"
    return None


def _with_parents(module: str) -> list[str]:
    """``a.b.c`` -> ``['a', 'a.b', 'a.b.c']``: importing a module runs its packages' ``__init__``."""
    parts = module.split(".")
    return [".".join(parts[: i + 1]) for i in range(len(parts))]


def _imports_of_source(source: str, current: str | None = None) -> set[str]:
    """``cnnbook`` modules imported by Python ``source`` (``current``: its module, for relative imports)."""
    found: set[str] = set()
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return found
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.split(".")[0] == PACKAGE)
        elif isinstance(node, ast.ImportFrom):
            if node.level and current:  # ``current`` ends in ``.__init__`` for a package
                parts = current.split(".")
                base = parts[: len(parts) - node.level]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            if module.split(".")[0] != PACKAGE:
                continue
            found.add(module)
            # ``from cnnbook import arithmetic`` imports a submodule, not just a name
            found.update(f"{module}.{alias.name}" for alias in node.names)
    return found


_CELL_OPTION = re.compile(r"^:[\w-]+:.*$")


def cell_source(body: str) -> str:
    """The Python of a MyST code cell's body, without its options (``:tags: [...]`` lines or a
    ``---`` YAML block at the top), which are not Python."""
    lines = body.splitlines()
    if lines and lines[0].strip() == "---":
        end = next((i for i, line in enumerate(lines[1:], 1) if line.strip() == "---"), None)
        lines = lines[end + 1:] if end is not None else lines
    else:
        while lines and _CELL_OPTION.match(lines[0]):
            lines = lines[1:]
    return "\n".join(lines)


def page_imports(page_text: str) -> set[str]:
    """``cnnbook`` modules imported by the code cells of a MyST notebook page."""
    found: set[str] = set()
    for match in _CODE_CELL.finditer(page_text):
        found |= _imports_of_source(cell_source(match.group(2)))
    return found


def module_closure(package_dir: Path, roots: set[str]) -> dict[str, Path]:
    """All ``cnnbook`` modules (with their files) that importing ``roots`` executes."""
    seen: dict[str, Path] = {}
    todo = [m for root in roots for m in _with_parents(root)]
    while todo:
        module = todo.pop()
        if module in seen:
            continue
        path = _module_file(package_dir, module)
        if path is None:  # a name imported from a module, not a module itself
            continue
        seen[module] = path
        current = module if path.name != "__init__.py" else module + ".__init__"
        for imported in _imports_of_source(path.read_text(encoding="utf-8"), current):
            todo.extend(_with_parents(imported))
    return seen


@lru_cache(maxsize=1)
def library_versions() -> tuple[tuple[str, str], ...]:
    """Installed versions of the numerical libraries whose upgrade may change outputs."""
    versions = []
    for name in VERSIONED:
        try:
            versions.append((name, metadata.version(name)))
        except metadata.PackageNotFoundError:
            versions.append((name, "absent"))
    return tuple(versions)


def execution_key(page_text: str, package_dir: Path, profile: str | None = None) -> str:
    """``profile=<name> code=<hash>``: everything a page's outputs depend on outside its code cells."""
    name = get_profile(profile).name
    digest = hashlib.sha256()
    for library, version in library_versions():
        digest.update(f"{library}={version}\n".encode())
    for module, path in sorted(module_closure(package_dir, page_imports(page_text)).items()):
        digest.update(f"{module}\n".encode())
        digest.update(path.read_bytes())
    for data_file in sorted(package_dir.rglob("*")):  # package data (tables, label files) counts too
        if data_file.is_file() and data_file.suffix not in (".py", ".pyc"):
            digest.update(data_file.relative_to(package_dir).as_posix().encode())
            digest.update(data_file.read_bytes())
    return f"profile={name} code={digest.hexdigest()[:16]}"


def is_notebook_page(page_text: str) -> bool:
    """True for a page myst-nb executes: a MyST notebook (its front matter) with a code cell."""
    from myst_nb.core.read import is_myst_markdown_notebook

    return is_myst_markdown_notebook(page_text) and bool(_CODE_CELL.search(page_text))


def with_execution_key(page_text: str, key: str) -> str:
    """The page with a hidden final code cell that carries its execution key."""
    return page_text.rstrip("\n") + f"\n\n```{{code-cell}} ipython3\n:tags: [remove-cell]\n\n{KEY_CELL_MARKER} {key}\n```\n"
