"""The plugin's modules import each other without cycles (issue 16): a
static check over every import statement, those inside functions included,
so that a cycle hidden behind a late import is caught too."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest_difftest

PACKAGE = Path(pytest_difftest.__file__).parent


def imports_of(path: Path) -> set[str]:
    """The pytest_difftest modules that `path` imports, anywhere in it."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        else:
            continue
        for name in names:
            if name.startswith("pytest_difftest.") and (PACKAGE / f"{name.split('.')[1]}.py").exists():
                found.add(name.split(".")[1])
    return found


def test_no_import_cycle() -> None:
    graph = {p.stem: imports_of(p) - {p.stem} for p in PACKAGE.glob("*.py")}
    assert {"plugin", "controller", "options", "remote"} <= set(graph)
    cycles = []
    done: set[str] = set()

    def visit(path: list[str]) -> None:
        for dep in sorted(graph.get(path[-1], ())):
            if dep in path:
                cycles.append(path[path.index(dep):] + [dep])
            elif dep not in done:
                visit(path + [dep])
        done.add(path[-1])

    for module in sorted(graph):
        visit([module])
    assert cycles == []


def test_each_module_imports_alone() -> None:
    """Every module imports first, in a fresh interpreter: none depends on
    another having been imported before it."""
    for path in sorted(PACKAGE.glob("*.py")):
        module = f"pytest_difftest.{path.stem}"
        proc = subprocess.run([sys.executable, "-c", f"import {module}"], capture_output=True, text=True)
        assert proc.returncode == 0, f"{module}: {proc.stderr}"


def test_configuring_pytest_does_not_load_the_engine() -> None:
    """options.resolve is pure: it never imports the remote module (which
    loads the Go engine to check a URL)."""
    assert "remote" not in imports_of(PACKAGE / "options.py")
    assert "options" not in imports_of(PACKAGE / "remote.py")
