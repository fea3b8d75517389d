"""Seeded single-fault mutants of a Python source tree (bench/safety).

Each mutant changes one AST node of one file. The node is re-rendered with
``ast.unparse`` and spliced into the file's text at the node's position (the
rest of the file keeps its bytes), and the result is checked to parse to
exactly the expected tree, so every mutant is one syntactically valid fault.

Classes (``CLASSES``):

- ``return``: a function's ``return EXPR`` returns something else (``None``;
  a bool is negated, a number or string changed);
- ``compare``: the first operator of a comparison inside a function body is
  flipped (``<`` / ``>=``, ``==`` / ``!=``, ``in`` / ``not in``, ``is`` / ``is not``);
- ``module-constant``: a literal in the value of a module-level assignment;
- ``class-attribute``: a literal in the value of an assignment in a class body;
- ``default-argument``: a literal in a parameter's default value;
- ``decorator-argument``: a literal among a decorator call's arguments.

The first two change a function body (``FUNCTION_BODY``); the other four
change code that runs at import or definition time. These six are
``DEFAULT_CLASSES``: a run draws from them unless told otherwise, so the
mutants of a seed stay those of the published numbers.

Module-level classes (``MODULE_LEVEL``, issue 17; drawn only when asked, e.g.
``--classes module-level``), each one change at module or class level whose
effect on the tests is known from what reads the changed name:

- ``new-assignment``: ``_DIFFTEST_MUTANT = 1`` inserted after a top-level
  statement; nothing reads it, so no test fails (a pure precision probe);
- ``version``: the ``__version__`` string of a module that assigns one gets
  its last number bumped; a project that has none (its version comes from the
  installed metadata) gets ``__version__ = '0.0.0+difftest'`` added to a
  package ``__init__.py`` after its last top-level import;
- ``all-add``: a public name the module defines but does not list is appended
  to its ``__all__``; a module that lists every one gets a new function
  ``difftest_added`` at its end, and that name appended;
- ``all-remove``: one ``__all__`` entry removed;
- ``all-rename``: one ``__all__`` entry renamed to a name nothing defines
  (``NAME_difftest``), which breaks ``from m import *``;
- ``import-added``: ``import colorsys`` (standard library, imported by none
  of the projects) inserted after a top-level import; no test should fail;
- ``constant-some-functions``: a literal in a module-level constant (a single
  name bound once, to a literal) that some but not all of the module's
  functions read, and no import-time code (module level, class bodies,
  defaults, decorators);
- ``class-attr-self``: a literal in a class-body assignment whose name a
  method of that class reads as ``self.NAME`` or ``cls.NAME``.

Inserted code is spliced in as whole lines (or, in ``__all__``, as one more
element); the result is checked to parse to exactly the intended tree, like
every other mutant.

    python bench/safety/mutate.py SRC_ROOT more_itertools --mutants 10 --seed 1
    python bench/safety/mutate.py SRC_ROOT more_itertools --classes module-level --diff
"""

from __future__ import annotations

import argparse
import ast
import copy
import difflib
import math
import random
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Optional

DEFAULT_CLASSES = ["return", "compare", "module-constant", "class-attribute", "default-argument",
                   "decorator-argument"]
MODULE_LEVEL = ["new-assignment", "version", "all-add", "all-remove", "all-rename", "import-added",
                "constant-some-functions", "class-attr-self"]
CLASSES = DEFAULT_CLASSES + MODULE_LEVEL
GROUPS = {"default": DEFAULT_CLASSES, "module-level": MODULE_LEVEL, "all": CLASSES}
FUNCTION_BODY = {"return", "compare"}

NEW_NAME = "_DIFFTEST_MUTANT"  # new-assignment
NEW_IMPORT = "colorsys"  # import-added
NEW_FUNCTION = "difftest_added"  # all-add, when every public name is listed already
ADDED_VERSION = "0.0.0+difftest"  # version, when no module assigns __version__
RENAMED = "_difftest"  # all-rename: NAME -> NAME_difftest

FLIP = {
    ast.Lt: ast.GtE, ast.GtE: ast.Lt, ast.Gt: ast.LtE, ast.LtE: ast.Gt,
    ast.Eq: ast.NotEq, ast.NotEq: ast.Eq, ast.In: ast.NotIn, ast.NotIn: ast.In,
    ast.Is: ast.IsNot, ast.IsNot: ast.Is,
}


@dataclass
class Mutant:
    id: str  # e.g. "m07"
    kind: str  # one of CLASSES
    file: str  # relative to the project root, "/" separators
    line: int
    scope: str  # qualified name of the enclosing function/class, or "<module>"
    old: str  # the node's text before
    new: str  # ... and after
    index: int  # the node's position in the file's ast.walk order (identity)

    @property
    def group(self) -> str:
        # The results' two share columns: function bodies, and everything that
        # runs at import or definition time (the module-level classes included).
        return "function body" if self.kind in FUNCTION_BODY else "module/class/default/decorator"

    def describe(self) -> str:
        if not self.old:  # code inserted
            return f"{self.file}:{self.line} [{self.kind}] in {self.scope}: + {self.new}"
        return f"{self.file}:{self.line} [{self.kind}] in {self.scope}: {self.old} -> {self.new or '(removed)'}"


def mutate_constant(value) -> Optional[object]:
    """Another literal of (usually) the same type, or None when there is none."""
    if isinstance(value, bool):
        return not value
    if value is None:
        return 0
    if isinstance(value, int):
        return value + 1
    if isinstance(value, float):
        return value + 1.0 if math.isfinite(value) else None
    if isinstance(value, str):
        return value + "~"
    if isinstance(value, bytes):
        return value + b"~"
    return None  # complex, Ellipsis


def _constants(node: ast.AST) -> Iterator[ast.Constant]:
    """Literals in an expression, not inside lambdas (their bodies are
    function bodies) nor f-strings (3.11 gives their parts unreliable positions)."""
    if isinstance(node, ast.Constant):
        yield node
        return
    if isinstance(node, (ast.Lambda, ast.JoinedStr)):
        return
    for child in ast.iter_child_nodes(node):
        yield from _constants(child)


def _index(tree: ast.AST) -> dict[int, int]:
    return {id(n): i for i, n in enumerate(ast.walk(tree))}


def candidates(tree: ast.AST) -> list[tuple[str, ast.AST, str, ast.AST]]:
    """(kind, node, scope, site) for every mutation point of one module; the
    site is the statement, parameter default or decorator the literal is in
    (for returns and comparisons, the node itself)."""
    out: list[tuple[str, ast.AST, str, ast.AST]] = []

    def visit(node: ast.AST, scope: list[str], kind_of_scope: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                name = ".".join(scope + [child.name])
                for dec in child.decorator_list:
                    _decorator(dec, name)
                a = child.args
                for d in [*a.defaults, *[k for k in a.kw_defaults if k is not None]]:
                    for c in _constants(d):
                        out.append(("default-argument", c, name, d))
                for stmt in child.body:
                    visit_body(stmt, scope + [child.name], name)
            elif isinstance(child, ast.ClassDef):
                name = ".".join(scope + [child.name])
                for dec in child.decorator_list:
                    _decorator(dec, name)
                visit(child, scope + [child.name], "class")
            elif isinstance(child, (ast.Assign, ast.AnnAssign)) and child.value is not None \
                    and kind_of_scope in ("module", "class"):
                kind = "module-constant" if kind_of_scope == "module" else "class-attribute"
                where = ".".join(scope) or "<module>"
                for c in _constants(child.value):
                    out.append((kind, c, where, child))
            elif isinstance(child, (ast.expr, ast.expr_context, ast.arguments, ast.keyword)):
                continue
            else:
                # if/try/with/for at module or class level: look inside.
                visit(child, scope, kind_of_scope)

    def _decorator(dec: ast.AST, name: str) -> None:
        if isinstance(dec, ast.Call):
            for arg in [*dec.args, *[k.value for k in dec.keywords]]:
                for c in _constants(arg):
                    out.append(("decorator-argument", c, name, dec))

    def visit_body(stmt: ast.AST, scope: list[str], name: str) -> None:
        # A function body: returns and comparisons; nested defs and classes
        # are visited as their own scopes.
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            holder = ast.Module(body=[stmt], type_ignores=[])
            visit(holder, scope, "function")
            return
        for node in _walk_no_defs(stmt):
            if isinstance(node, ast.Return) and node.value is not None:
                if isinstance(node.value, ast.Constant) and node.value.value is None:
                    continue
                out.append(("return", node.value, name, node.value))
            elif isinstance(node, ast.Compare) and type(node.ops[0]) in FLIP:
                out.append(("compare", node, name, node))

    visit(tree, [], "module")
    return out + module_candidates(tree)


def _walk_no_defs(node: ast.AST) -> Iterator[ast.AST]:
    """ast.walk, not entering nested functions, classes, lambdas or f-strings."""
    todo = [node]
    while todo:
        n = todo.pop()
        yield n
        for child in ast.iter_child_nodes(n):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda, ast.JoinedStr)):
                continue
            todo.append(child)


# ---------------------------------------------------------------------------
# module-level classes (issue 17): sites found from what reads each name

EDITS = {"new-assignment", "import-added", "all-add", "all-remove", "version"}  # splices, not a node re-rendered
INSERTED_LINE = {"new-assignment", "import-added"}
FUNCTION_NODES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)


def _is_literal(node: ast.AST) -> bool:
    try:
        ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return False
    return True


def _bump(version: str) -> str:
    """The version with its last number increased ('10.5.0' -> '10.5.1')."""
    m = re.search(r"(\d+)(\D*)$", version)
    if m is None:
        return version + ".1"
    return version[:m.start()] + str(int(m.group(1)) + 1) + m.group(2)


def _assigned_name(stmt: ast.AST) -> Optional[str]:
    """NAME for ``NAME = value`` / ``NAME: T = value`` (one plain name, a value)."""
    if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name):
        return stmt.targets[0].id
    if isinstance(stmt, ast.AnnAssign) and stmt.value is not None and isinstance(stmt.target, ast.Name):
        return stmt.target.id
    return None


def dunder_all(tree: ast.Module) -> Optional[tuple[ast.stmt, ast.AST]]:
    """The first top-level ``__all__ = [...]`` (or a tuple) of string literals: (statement, list)."""
    for stmt in tree.body:
        if _assigned_name(stmt) == "__all__" and isinstance(stmt.value, (ast.List, ast.Tuple)) \
                and all(isinstance(e, ast.Constant) and isinstance(e.value, str) for e in stmt.value.elts):
            return stmt, stmt.value
    return None


def _top_level_defined(tree: ast.Module) -> dict[str, ast.AST]:
    """Names a module binds at its top level by def, class or assignment (the node)."""
    out: dict[str, ast.AST] = {}
    for stmt in tree.body:
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            out.setdefault(stmt.name, stmt)
        elif isinstance(stmt, (ast.Assign, ast.AnnAssign)):
            for t in (stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]):
                for n in ast.walk(t):
                    if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store):
                        out.setdefault(n.id, n)
    return out


def _all_names(tree: ast.AST) -> set[str]:
    """Every identifier the module mentions (names, attributes, imports, defs, args)."""
    out: set[str] = set()
    for n in ast.walk(tree):
        if isinstance(n, ast.Name):
            out.add(n.id)
        elif isinstance(n, ast.Attribute):
            out.add(n.attr)
        elif isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            out.add(n.name)
        elif isinstance(n, ast.alias):
            out.add((n.asname or n.name).split(".")[0])
        elif isinstance(n, ast.arg):
            out.add(n.arg)
        elif isinstance(n, ast.Constant) and isinstance(n.value, str):
            out.add(n.value)  # __all__ entries, getattr(m, "NAME")
    return out


class _Reads:
    """Which names import-time code reads, and which each function reads.

    A function is a def or lambda not nested in another one (a method counts
    on its own); what it reads is its body's loaded names that it does not
    bind itself (parameters, assignments) unless it declares them global.
    Decorators, defaults and annotations run at definition time, so they
    count as import-time code, as do class bodies."""

    def __init__(self, tree: ast.Module) -> None:
        self.module: set[str] = set()  # names loaded by import-time code
        self.bound: dict[str, int] = {}  # name -> bindings at import time
        self.functions: list[set[str]] = []  # per function: the globals it reads
        self.globals: set[str] = set()  # names some function declares global
        for stmt in tree.body:
            self._visit(stmt, None)

    def _visit(self, node: ast.AST, fn: Optional[tuple[set[str], set[str]]]) -> None:
        if isinstance(node, FUNCTION_NODES):
            a = node.args
            outer = [*a.defaults, *[d for d in a.kw_defaults if d is not None]]
            if not isinstance(node, ast.Lambda):
                outer += node.decorator_list + ([node.returns] if node.returns else [])
                self._bind(node.name, fn)
            outer += [p.annotation for p in [*a.posonlyargs, *a.args, *a.kwonlyargs, a.vararg, a.kwarg]
                      if p is not None and p.annotation is not None]
            for x in outer:
                self._visit(x, fn)
            own = fn if fn is not None else (set(), set())  # (loads, locals)
            own[1].update(p.arg for p in [*a.posonlyargs, *a.args, *a.kwonlyargs, a.vararg, a.kwarg]
                          if p is not None)
            for x in (node.body if isinstance(node.body, list) else [node.body]):
                self._visit(x, own)
            if fn is None:
                self.functions.append(own[0] - own[1])
            return
        if isinstance(node, ast.ClassDef):
            self._bind(node.name, fn)
        elif isinstance(node, ast.Name):
            if isinstance(node.ctx, ast.Load):
                (self.module if fn is None else fn[0]).add(node.id)
            else:
                self._bind(node.id, fn)
        elif isinstance(node, ast.alias):
            self._bind((node.asname or node.name).split(".")[0], fn)
        elif isinstance(node, (ast.Global, ast.Nonlocal)):
            self.globals.update(node.names)
            if fn is not None:
                fn[1].difference_update(node.names)
        for child in ast.iter_child_nodes(node):
            self._visit(child, fn)

    def _bind(self, name: str, fn: Optional[tuple[set[str], set[str]]]) -> None:
        if fn is None:
            self.bound[name] = self.bound.get(name, 0) + 1
        elif name not in self.globals:
            fn[1].add(name)


def _self_reads(cls: ast.ClassDef) -> set[str]:
    """Attribute names the class's methods read as ``self.NAME`` / ``cls.NAME``
    (dunders such as ``__slots__`` are left out by the caller: changing them
    changes the class, not a value read)."""
    out: set[str] = set()
    for stmt in cls.body:
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for n in ast.walk(stmt):
                if isinstance(n, ast.Attribute) and isinstance(n.ctx, ast.Load) \
                        and isinstance(n.value, ast.Name) and n.value.id in ("self", "cls"):
                    out.add(n.attr)
    return out


def _last_import(tree: ast.Module) -> Optional[ast.stmt]:
    imports = [s for s in tree.body if isinstance(s, (ast.Import, ast.ImportFrom))]
    return imports[-1] if imports else None


def module_candidates(tree: ast.Module) -> list[tuple[str, ast.AST, str, ast.AST]]:
    """(kind, node, scope, site) for the module-level classes. The node is
    what apply() changes: a literal, an ``__all__`` entry, or, for code
    inserted after a top-level statement, that statement (the anchor)."""
    out: list[tuple[str, ast.AST, str, ast.AST]] = []
    names = _all_names(tree)
    futures = [i for i, s in enumerate(tree.body) if isinstance(s, ast.ImportFrom) and s.module == "__future__"]
    anchors = tree.body[futures[-1]:] if futures else tree.body  # nothing may precede `from __future__`
    if NEW_NAME not in names:
        for stmt in anchors:
            out.append(("new-assignment", stmt, "<module>", stmt))
    if NEW_IMPORT not in names:
        for stmt in anchors:
            if isinstance(stmt, (ast.Import, ast.ImportFrom)):
                out.append(("import-added", stmt, "<module>", stmt))
    for stmt in tree.body:
        if _assigned_name(stmt) == "__version__" and isinstance(stmt.value, ast.Constant) \
                and isinstance(stmt.value.value, str):
            out.append(("version", stmt.value, "<module>", stmt))
    found = dunder_all(tree)
    if found is not None:
        stmt, lst = found
        listed = {e.value for e in lst.elts}
        missing = [(n, d) for n, d in _top_level_defined(tree).items()
                   if not n.startswith("_") and n not in listed]
        if missing:
            out += [("all-add", d, "<module>", stmt) for _, d in sorted(missing, key=lambda x: x[0])]
        elif NEW_FUNCTION not in names:
            out.append(("all-add", lst, "<module>", stmt))
        for e in lst.elts:
            out.append(("all-remove", e, "<module>", stmt))
            if e.value + RENAMED not in names:
                out.append(("all-rename", e, "<module>", stmt))
    reads = _Reads(tree)
    for stmt in tree.body:
        name = _assigned_name(stmt)
        if name is None or name.startswith("__") or not _is_literal(stmt.value):
            continue
        if reads.bound.get(name) != 1 or name in reads.module or name in reads.globals:
            continue
        readers = sum(1 for f in reads.functions if name in f)
        if 0 < readers < len(reads.functions):
            for c in _constants(stmt.value):
                out.append(("constant-some-functions", c, "<module>", stmt))

    def classes(node: ast.AST, scope: list[str]) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.ClassDef):
                here = scope + [child.name]
                read = _self_reads(child)
                for stmt in child.body:
                    name = _assigned_name(stmt)
                    if name is not None and not name.startswith("__") and name in read \
                            and _is_literal(stmt.value):
                        for c in _constants(stmt.value):
                            out.append(("class-attr-self", c, ".".join(here), stmt))
                classes(child, here)
            elif isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                classes(child, scope + [child.name])
            else:
                classes(child, scope)

    classes(tree, [])
    return out


def version_fallback(tree: ast.Module) -> Optional[tuple[str, ast.AST, str, ast.AST]]:
    """For a package ``__init__`` of a project where no module assigns
    ``__version__``: add one after the last top-level import (or the first
    statement)."""
    anchor = _last_import(tree) or (tree.body[0] if tree.body else None)
    if anchor is None:
        return None
    return ("version", anchor, "<module>", anchor)


def _same_quotes(old_text: str, new: ast.AST) -> str:
    """A changed string in the old text's double quotes when it was so
    written (ast.unparse writes single ones); otherwise ast.unparse's text."""
    text = ast.unparse(new)
    if isinstance(new, ast.Constant) and isinstance(new.value, str) and old_text[:1] == '"' \
            and old_text[:3] != '"""' and text[:1] == "'" and '"' not in text:
        return '"' + text[1:-1] + '"'
    return text


def mutant_line(kind: str, node: ast.AST, site: ast.AST) -> int:
    """The line the mutant changes (inserted code: the line it lands on)."""
    if kind in INSERTED_LINE or (kind == "version" and isinstance(node, ast.stmt)):
        return node.end_lineno + (2 if hasattr(node, "body") else 1)  # see _apply_edit's blank line
    if kind == "all-add":
        return site.value.elts[-1].end_lineno if site.value.elts else site.lineno
    return node.lineno


def _newline(data: bytes) -> bytes:
    return b"\r\n" if b"\r\n" in data else b"\n"


def _after(data: bytes, starts: list[int], stmt: ast.stmt) -> tuple[int, bytes]:
    """Where a line inserted after a top-level statement goes, and the prefix
    it needs (a newline when the statement ends the file without one)."""
    if stmt.end_lineno < len(starts):
        return starts[stmt.end_lineno], b""
    return len(data), _newline(data)


def _pos(starts: list[int], line: int, col: int) -> int:
    return starts[line - 1] + col


def _apply_edit(data: bytes, tree: ast.Module, kind: str, index: int) -> tuple[bytes, str, str]:
    """Insertions and removals: the spliced bytes, checked to parse to the
    intended tree (the pristine tree with the change made on it)."""
    node = list(ast.walk(tree))[index]
    starts = _offsets(data)
    nl = _newline(data)
    expected = ast.parse(data)
    edits: list[tuple[int, int, bytes]] = []  # (start, end, new bytes), non-overlapping
    if kind in INSERTED_LINE or kind == "version":
        if node not in tree.body:
            raise ValueError("not a top-level statement")
        line = {"new-assignment": f"{NEW_NAME} = 1", "import-added": f"import {NEW_IMPORT}",
                "version": f"__version__ = {ADDED_VERSION!r}"}[kind]
        at, prefix = _after(data, starts, node)
        if hasattr(node, "body"):  # after a def, class or block: a blank line first
            prefix += nl
        edits.append((at, at, prefix + line.encode() + nl))
        expected.body.insert(tree.body.index(node) + 1, ast.parse(line).body[0])
        old, new = "", line
    elif kind == "all-add":
        found = dunder_all(tree)
        if found is None:
            raise ValueError("no __all__")
        _, lst = found
        exp_lst = dunder_all(expected)[1]
        if node is lst:
            name = NEW_FUNCTION
            func = f"def {NEW_FUNCTION}():{nl.decode()}    return None{nl.decode()}"
            tail = b"" if data.endswith(nl) or not data else nl
            edits.append((len(data), len(data), tail + nl + nl + func.encode()))
            expected.body.append(ast.parse(func).body[0])
        else:
            name = node.name if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) else node.id
        edits.append(_add_entry(data, starts, lst, name, nl))
        exp_lst.elts.append(ast.Constant(name))
        old, new = "", f"{name!r} in __all__" + (f" (and def {name}() added)" if node is lst else "")
    elif kind == "all-remove":
        found = dunder_all(tree)
        if found is None or node not in found[1].elts:
            raise ValueError("not an __all__ entry")
        lst = found[1]
        j = lst.elts.index(node)
        edits.append(_remove_entry(starts, lst, j))
        dunder_all(expected)[1].elts.pop(j)
        old, new = repr(node.value), ""
    else:
        raise ValueError(f"no edit for {kind}")
    out = data
    for a, b, text in sorted(edits, reverse=True):
        out = out[:a] + text + out[b:]
    try:
        got = ast.dump(ast.parse(out))
        # The parser accepts a statement before ``from __future__``; the compiler does not.
        compile(out, "<mutant>", "exec", dont_inherit=True)
    except SyntaxError as e:
        raise ValueError(f"the edit does not compile: {e}") from None
    if got != ast.dump(expected):
        raise ValueError("spliced text does not give the expected tree")
    return out, old, new


def _add_entry(data: bytes, starts: list[int], lst: ast.AST, name: str, nl: bytes) -> tuple[int, int, bytes]:
    """One more string in an ``__all__`` list, in the style of its last entry:
    on a line of its own when the entries are one a line with a trailing comma."""
    if not lst.elts:
        at = _pos(starts, lst.lineno, lst.col_offset) + 1  # after the bracket
        return at, at, repr(name).encode()
    last = lst.elts[-1]
    a = _pos(starts, last.lineno, last.col_offset)
    b = _pos(starts, last.end_lineno, last.end_col_offset)
    quote = data[a:a + 1].decode() if data[a:a + 1] in (b"'", b'"') else "'"
    entry = f"{quote}{name}{quote}"
    line_end = data.find(b"\n", b)
    rest = data[b:line_end if line_end >= 0 else len(data)].split(b"#", 1)[0].strip()
    if rest == b"," and lst.end_lineno > last.end_lineno and last.end_lineno < len(starts):
        indent = data[starts[last.lineno - 1]:a]
        if not indent.strip():
            at = starts[last.end_lineno]
            return at, at, indent + entry.encode() + b"," + nl
    return b, b, f", {entry}".encode()


def _remove_entry(starts: list[int], lst: ast.AST, j: int) -> tuple[int, int, bytes]:
    """Delete entry j with its separator: up to the next entry, or (the last
    one) from the end of the previous one; a lone entry empties the brackets."""
    e = lst.elts[j]
    if len(lst.elts) == 1:
        return _pos(starts, lst.lineno, lst.col_offset) + 1, _pos(starts, lst.end_lineno, lst.end_col_offset) - 1, b""
    if j + 1 < len(lst.elts):
        nxt = lst.elts[j + 1]
        return _pos(starts, e.lineno, e.col_offset), _pos(starts, nxt.lineno, nxt.col_offset), b""
    prev = lst.elts[j - 1]
    return _pos(starts, prev.end_lineno, prev.end_col_offset), _pos(starts, e.end_lineno, e.end_col_offset), b""


def _replacement(kind: str, node: ast.AST) -> Optional[ast.AST]:
    if kind == "compare":
        new = copy.deepcopy(node)
        new.ops[0] = FLIP[type(node.ops[0])]()
        return new
    if kind == "return":
        if isinstance(node, ast.Constant):
            v = mutate_constant(node.value)
            return None if v is None else ast.Constant(v)
        return ast.Constant(None)
    assert isinstance(node, ast.Constant)
    if kind == "version":
        return ast.Constant(_bump(node.value)) if isinstance(node.value, str) else None
    if kind == "all-rename":
        return ast.Constant(node.value + RENAMED)
    v = mutate_constant(node.value)
    return None if v is None else ast.Constant(v)


def _offsets(data: bytes) -> list[int]:
    starts = [0]
    for i, b in enumerate(data):
        if b == 10:
            starts.append(i + 1)
    return starts


def _replace_in_tree(tree: ast.AST, index: int, new: ast.AST) -> None:
    target = list(ast.walk(tree))[index]
    for parent in ast.walk(tree):
        for field, value in ast.iter_fields(parent):
            if value is target:
                setattr(parent, field, new)
                return
            if isinstance(value, list):
                for i, item in enumerate(value):
                    if item is target:
                        value[i] = new
                        return
    raise LookupError(index)


def apply(data: bytes, kind: str, index: int) -> tuple[bytes, str, str]:
    """The file's bytes with the node at ``index`` mutated; (bytes, old text, new text).
    Raises ValueError when the node cannot be mutated cleanly."""
    tree = ast.parse(data)
    node = list(ast.walk(tree))[index]
    if kind in EDITS and not (kind == "version" and isinstance(node, ast.Constant)):
        return _apply_edit(data, tree, kind, index)
    new = _replacement(kind, node)
    if new is None:
        raise ValueError("no mutation for this node")
    starts = _offsets(data)
    a = starts[node.lineno - 1] + node.col_offset
    b = starts[node.end_lineno - 1] + node.end_col_offset
    old_text = data[a:b].decode("utf-8", "replace")
    expected = ast.parse(data)
    _replace_in_tree(expected, index, new)
    want = ast.dump(expected)
    text = ast.unparse(new)
    texts = [text, f"({text})"]  # parentheses only where the bare text would not do
    if kind in MODULE_LEVEL:
        texts.insert(0, _same_quotes(old_text, new))
    for new_text in texts:
        out = data[:a] + new_text.encode("utf-8") + data[b:]
        try:
            got = ast.dump(ast.parse(out))
        except SyntaxError:
            continue
        if got == want:
            return out, " ".join(old_text.split()), new_text
    raise ValueError("spliced text does not give the expected tree")


def source_files(root: Path, sources: list[str], exclude: tuple[str, ...] = ()) -> list[Path]:
    files = []
    for s in sources:
        p = root / s
        found = [p] if p.is_file() else sorted(p.rglob("*.py"))
        for f in found:
            rel = f.relative_to(root).as_posix()
            if "__pycache__" in f.parts or any(rel.startswith(e) for e in exclude):
                continue
            files.append(f)
    return files


def expand_classes(names: list[str]) -> list[str]:
    """Class names with the groups (``default``, ``module-level``, ``all``)
    expanded, in order, without repeats. Raises ValueError on an unknown name."""
    out: list[str] = []
    for name in names:
        for k in GROUPS.get(name, [name]):
            if k not in CLASSES:
                raise ValueError(f"unknown mutant class {k} (known: {', '.join(CLASSES)}; "
                                 f"groups: {', '.join(GROUPS)})")
            if k not in out:
                out.append(k)
    return out


def project_candidates(root: Path, sources: list[str], exclude: tuple[str, ...] = ()
                       ) -> list[tuple[str, str, int, int, str, int]]:
    """(kind, file, node index, line, scope, site index) for every mutation
    point of the project. ``version`` falls back to adding ``__version__`` to
    the package ``__init__.py`` of each source folder when no module assigns it."""
    out = []
    inits: list[tuple[str, ast.Module]] = []
    for f in source_files(root, sources, exclude):
        rel = f.relative_to(root).as_posix()
        tree = ast.parse(f.read_bytes())
        idx = _index(tree)
        for kind, node, scope, site in candidates(tree):
            out.append((kind, rel, idx[id(node)], mutant_line(kind, node, site), scope, idx[id(site)]))
        if f.name == "__init__.py" and any(f.parent == root / s for s in sources):
            inits.append((rel, tree))
    if not any(c[0] == "version" for c in out):
        for rel, tree in inits:
            found = version_fallback(tree)
            if found is not None:
                kind, node, scope, site = found
                idx = _index(tree)
                out.append((kind, rel, idx[id(node)], mutant_line(kind, node, site), scope, idx[id(site)]))
    return out


def generate(root: Path, sources: list[str], n: int, seed: int, kinds: Optional[list[str]] = None,
             exclude: tuple[str, ...] = ()) -> list[Mutant]:
    """N mutants, deterministic in (the files, n, seed): the candidates of each
    class in a seeded random order, then taken round-robin over the classes
    (a class with no candidates left gives its turn to the next). Without
    ``kinds``, the six default classes (the module-level ones only when asked)."""
    kinds = kinds or DEFAULT_CLASSES
    # class -> site -> [(file, node index, line, scope)]: a site (one assignment,
    # default, decorator) is drawn first, then one literal in it, so that a long
    # list such as __all__ counts as one site, not as hundreds of candidates.
    pools: dict[str, dict[tuple[str, int], list[tuple[str, int, int, str]]]] = {k: {} for k in kinds}
    for kind, rel, index, line, scope, site in project_candidates(root, sources, exclude):
        if kind in pools:
            pools[kind].setdefault((rel, site), []).append((rel, index, line, scope))
    rng = random.Random(seed)
    order: dict[str, list[list[tuple[str, int, int, str]]]] = {}
    for k in kinds:
        sites = [sorted(pools[k][key]) for key in sorted(pools[k])]
        rng.shuffle(sites)
        for members in sites:
            rng.shuffle(members)
        order[k] = sites
    out: list[Mutant] = []
    cursors = {k: 0 for k in kinds}
    while len(out) < n and any(cursors[k] < len(order[k]) for k in kinds):
        for k in kinds:
            if len(out) >= n:
                break
            while cursors[k] < len(order[k]):
                members = order[k][cursors[k]]
                cursors[k] += 1
                made = None
                for rel, index, line, scope in members:
                    try:
                        _, old, new = apply((root / rel).read_bytes(), k, index)
                    except ValueError:
                        continue
                    made = Mutant(f"m{len(out) + 1:02d}", k, rel, line, scope, old, new, index)
                    break
                if made is not None:
                    out.append(made)
                    break
    return out


def counts(root: Path, sources: list[str], exclude: tuple[str, ...] = ()) -> dict[str, tuple[int, int]]:
    """class -> (literals or nodes, sites)."""
    c: dict[str, list] = {k: [0, set()] for k in CLASSES}
    for kind, rel, _, _, _, site in project_candidates(root, sources, exclude):
        c[kind][0] += 1
        c[kind][1].add((rel, site))
    return {k: (v[0], len(v[1])) for k, v in c.items()}


def unified_diff(root: Path, m: Mutant) -> str:
    data = (root / m.file).read_bytes()
    new, _, _ = apply(data, m.kind, m.index)
    return "".join(difflib.unified_diff(
        data.decode("utf-8", "replace").splitlines(keepends=True),
        new.decode("utf-8", "replace").splitlines(keepends=True),
        fromfile=f"a/{m.file}", tofile=f"b/{m.file}", n=2,
    ))


def main() -> None:
    ap = argparse.ArgumentParser(description="List the mutants of a source tree (no tests are run).")
    ap.add_argument("root", type=Path)
    ap.add_argument("sources", nargs="+", help="files or folders under root")
    ap.add_argument("--mutants", type=int, default=20)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--classes", default=None,
                    help=f"comma-separated classes or groups ({', '.join(GROUPS)}; default: the six default classes)")
    ap.add_argument("--diff", action="store_true", help="print each mutant's diff")
    args = ap.parse_args()
    try:
        kinds = expand_classes([c for c in args.classes.split(",") if c]) if args.classes else None
    except ValueError as e:
        ap.error(str(e))
    print("candidates:", counts(args.root, args.sources))
    for m in generate(args.root, args.sources, args.mutants, args.seed, kinds):
        print(m.id, m.describe())
        if args.diff:
            print(unified_diff(args.root, m))


if __name__ == "__main__":
    main()
