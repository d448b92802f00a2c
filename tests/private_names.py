"""Uses of third-party private names (`_name`) in project modules, found by walking their AST.

A private name of a library may change in any release without notice, so project code uses a
library only through its public names. Flagged, for names that come from a third-party package
(not the project's, not the standard library):

- imports of a `_private` name or from a `_private` module (`from x._impl import y`);
- attribute access `name._private` (or deeper: `x.y._private`) on an imported name;
- in a class with a third-party base, `self._name` / `cls._name` / `super()._name` and methods
  named `_name` where a third-party class of its MRO defines `_name` (overriding or reaching into
  the library's internals), and `_keyword=` arguments to such methods.

Dunder names (`__name__`, `__returning__`) are public protocol and never flagged.
"""

from __future__ import annotations

import ast
import contextlib
import importlib
import inspect
import re
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("core", "moderation", "storage", "handlers", "bot", "web", "workers", "tipline")
FIRST_PARTY = {*PACKAGES, "settings", "migrations", "tests", "bench"}
_SET_ON_SELF = re.compile(r"self\.(_[A-Za-z0-9]\w*)\s*(?::[^=\n]*)?=[^=]")


@dataclass(frozen=True, slots=True)
class Use:
    """One use of a private name: where, and what."""

    path: str
    line: int
    what: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.what}"


def private(name: str) -> bool:
    """A `_name` that is not a `__dunder__`."""
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def third_party(module: str) -> bool:
    """Whether a module (absolute name) belongs to an installed third-party package."""
    top = module.split(".", maxsplit=1)[0]
    return bool(top) and top not in FIRST_PARTY and top not in sys.stdlib_module_names


def _root_name(node: ast.expr) -> str | None:
    while isinstance(node, ast.Attribute):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


class _Walker(ast.NodeVisitor):
    def __init__(self, path: str, module: str | None) -> None:
        self.path = path
        self.module = module
        self.imported: dict[str, str] = {}  # local name -> the third-party object's path
        self.uses: list[Use] = []
        self.classes: list[tuple[str, ast.ClassDef]] = []

    def flag(self, node: ast.AST, what: str) -> None:
        self.uses.append(Use(self.path, getattr(node, "lineno", 0), what))

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            if not third_party(alias.name):
                continue
            if any(private(part) for part in alias.name.split(".")):
                self.flag(node, f"import {alias.name}")
            local = alias.asname or alias.name.split(".")[0]
            self.imported[local] = alias.name if alias.asname else local

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        source = node.module or ""
        if node.level or not third_party(source):
            return
        if any(private(part) for part in source.split(".")):
            self.flag(node, f"from {source} import ...")
        for alias in node.names:
            if private(alias.name):
                self.flag(node, f"from {source} import {alias.name}")
            self.imported[alias.asname or alias.name] = f"{source}.{alias.name}"

    def visit_Attribute(self, node: ast.Attribute) -> None:
        root = _root_name(node)
        if private(node.attr) and root is not None and root in self.imported:
            self.flag(node, f"{ast.unparse(node)} (from {self.imported[root]})")
        self.generic_visit(node)

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        bases = [_root_name(base) for base in node.bases]
        if any(base is not None and base in self.imported for base in bases):
            self.classes.append((node.name, node))
        self.generic_visit(node)


def library_names(cls: type) -> set[str]:
    """The private names defined by the third-party classes of a class's MRO: in the class, its
    slots, or set on `self` in its source."""
    names: set[str] = set()
    for klass in cls.__mro__:
        if third_party(klass.__module__):
            names.update(name for name in vars(klass) if private(name))
            names.update(name for name in getattr(klass, "__slots__", ()) if private(name))
            with contextlib.suppress(OSError, TypeError):
                names.update(_SET_ON_SELF.findall(inspect.getsource(klass)))
    return names


def _self_like(node: ast.expr) -> bool:
    if isinstance(node, ast.Name):
        return node.id in {"self", "cls"}
    return (
        isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "super"
    )


def _defined_names(child: ast.AST, node: ast.ClassDef) -> list[str]:
    """Names a class body's method or assignment defines."""
    if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
        return [child.name]
    if isinstance(child, ast.Assign) and child in node.body:
        return [t.id for t in child.targets if isinstance(t, ast.Name)]
    return []


def _private_keywords(walker: _Walker, child: ast.AST) -> list[str]:
    """`_keyword=` arguments of a call to the class's own (or a library's) method."""
    if not isinstance(child, ast.Call) or not isinstance(child.func, ast.Attribute):
        return []
    if not (_self_like(child.func.value) or _root_name(child.func) in walker.imported):
        return []
    return [k.arg for k in child.keywords if k.arg is not None and private(k.arg)]


def _subclass_uses(walker: _Walker, name: str, node: ast.ClassDef) -> None:
    """Reaches into a third-party base class's private names."""
    if walker.module is None:
        return
    cls = getattr(importlib.import_module(walker.module), name, None)
    if not isinstance(cls, type):
        return
    internals = library_names(cls)
    for child in ast.walk(node):
        if isinstance(child, ast.Attribute) and _self_like(child.value):
            if child.attr in internals:
                walker.flag(child, f"{name}: {ast.unparse(child)} (a library internal)")
        for defined in _defined_names(child, node):
            if defined in internals:
                walker.flag(child, f"{name} overrides the library's {defined}")
        for keyword in _private_keywords(walker, child):
            walker.flag(child, f"{name}: keyword {keyword}= (a library internal)")


def uses_in_source(source: str, path: str = "<string>", module: str | None = None) -> list[Use]:
    """The private third-party names a module's source uses (its classes checked against
    their bases when `module` names an importable module)."""
    walker = _Walker(path, module)
    walker.visit(ast.parse(source, path))
    for name, node in walker.classes:
        _subclass_uses(walker, name, node)
    return walker.uses


def project_modules(root: Path = ROOT) -> list[tuple[Path, str]]:
    """Every module of the project's packages, with its import name."""
    found = []
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found.append((path, ".".join(parts)))
    return found


def project_uses(root: Path = ROOT) -> list[Use]:
    """Every use of a third-party private name in the project's packages, its migrations and
    settings (those two by their source alone: importing a migration runs it)."""
    uses = []
    for path, module in project_modules(root):
        relative = str(path.relative_to(root))
        uses += uses_in_source(path.read_text(encoding="utf-8"), relative, module)
    for path in [*sorted((root / "migrations").rglob("*.py")), root / "settings.py"]:
        relative = str(path.relative_to(root))
        uses += uses_in_source(path.read_text(encoding="utf-8"), relative)
    return uses
