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
change code that runs at import or definition time.

    python bench/safety/mutate.py SRC_ROOT more_itertools --mutants 10 --seed 1
"""

from __future__ import annotations

import argparse
import ast
import copy
import difflib
import math
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Optional

CLASSES = ["return", "compare", "module-constant", "class-attribute", "default-argument", "decorator-argument"]
FUNCTION_BODY = {"return", "compare"}

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
        return "function body" if self.kind in FUNCTION_BODY else "module/class/default/decorator"

    def describe(self) -> str:
        return f"{self.file}:{self.line} [{self.kind}] in {self.scope}: {self.old} -> {self.new}"


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
    return out


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
    for new_text in (text, f"({text})"):  # parentheses only where the bare text would not do
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


def generate(root: Path, sources: list[str], n: int, seed: int, kinds: Optional[list[str]] = None,
             exclude: tuple[str, ...] = ()) -> list[Mutant]:
    """N mutants, deterministic in (the files, n, seed): the candidates of each
    class in a seeded random order, then taken round-robin over the classes
    (a class with no candidates left gives its turn to the next)."""
    kinds = kinds or CLASSES
    # class -> site -> [(file, node index, line, scope)]: a site (one assignment,
    # default, decorator) is drawn first, then one literal in it, so that a long
    # list such as __all__ counts as one site, not as hundreds of candidates.
    pools: dict[str, dict[tuple[str, int], list[tuple[str, int, int, str]]]] = {k: {} for k in kinds}
    for f in source_files(root, sources, exclude):
        rel = f.relative_to(root).as_posix()
        tree = ast.parse(f.read_bytes())
        idx = _index(tree)
        for kind, node, scope, site in candidates(tree):
            if kind in pools:
                pools[kind].setdefault((rel, idx[id(site)]), []).append((rel, idx[id(node)], node.lineno, scope))
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
    for f in source_files(root, sources, exclude):
        for kind, _, _, site in candidates(ast.parse(f.read_bytes())):
            c[kind][0] += 1
            c[kind][1].add((str(f), id(site)))
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
    ap.add_argument("--diff", action="store_true", help="print each mutant's diff")
    args = ap.parse_args()
    print("candidates:", counts(args.root, args.sources))
    for m in generate(args.root, args.sources, args.mutants, args.seed):
        print(m.id, m.describe())
        if args.diff:
            print(unified_diff(args.root, m))


if __name__ == "__main__":
    main()
