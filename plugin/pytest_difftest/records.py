"""Turning what a test executed into the engine's record format
(include/difftest.h, dt_record)."""

from __future__ import annotations

import os
import struct
import sys
from array import array
from types import CodeType
from typing import TYPE_CHECKING, Callable, Iterable, Optional, TypedDict

if TYPE_CHECKING:
    from pytest_difftest.layout import Layout

PASSED, FAILED, ERROR, SKIPPED, XFAILED = range(5)
MERGE_DEPS = 255  # adds to a record written earlier in the session
IMPORT_DEPS = 254  # what importing a module ran; the record's node id is the module's path
KIND_LINES, KIND_DATA, KIND_DIST = 0, 1, 2
# A KIND_LINES line: the module's whole top level is a dependency (code the
# recorder does not watch imported it by name and may read any of its names).
WHOLE_MODULE = 0xFFFFFFFF
# A KIND_LINES line: the module was imported before recording began, by name
# or by a module imported by name (byname.py); the engine decides which.
IMPORTED_EARLY = 0xFFFFFFFE
# A KIND_LINES line: the test runs the doctest examples of that file (a
# module's docstrings or a text file); the engine reads what they import.
DOCTEST = 0xFFFFFFFD

# Attributes of a teardown report that carry what the test depended on to
# the process that writes records (through pytest-xdist when in use).
ATTRIBUTE = "difftest_deps"
UNRECORDED = "difftest_unrecorded"
# Python files outside the project, not tracked, first seen by this test.
UNTRACKED = "difftest_untracked"
# A Python subprocess of the test died before reporting what it ran.
CHILD_KILLED = "difftest_child_killed"
# Dependencies to add to tests recorded earlier: [{"nodeids": [...], "deps": Deps}]
SUPPLEMENTS = "difftest_supplements"
# What importing project modules ran: {path: Deps}, for modules not reported before.
IMPORTS = "difftest_imports"
# The IMPORTS key of what ran outside tests and imports (conftest.py hooks at
# start-up and after collection): every test depends on it.
SESSION = ""

_U32 = struct.Struct("<I")
_TEST_TAIL = struct.Struct("<BdI")

# Directories whose files are never dependencies: tool state and installed
# packages, wherever they sit under rootdir.
_IGNORED_PARTS = {".pytest_cache", "__pycache__", ".git", ".hg", ".tox", ".nox", "site-packages", "dist-packages", "node_modules"}
_NOT_DATA = (".py", ".pyc", ".pyo", ".pyw", ".so", ".pyd")


class Deps(TypedDict):
    """One test's dependencies, as attached to its teardown report (plain
    JSON-able data, so pytest-xdist can carry it to the controller)."""

    files: dict[str, list[int]]  # Python file -> first lines of code run
    data: list[str]  # other files opened for reading
    dists: list[str]  # top-level modules of installed code that ran


class PathMapper:
    """Maps code objects and opened files to stored paths, caching per file
    name: only project files count (layout.py: under the project root, or
    an editable distribution's source directory)."""

    def __init__(
        self,
        rootdir: str,
        exclude: Iterable[str],
        dists: Optional[Callable[[str], Optional[str]]] = None,
        layout: "Optional[Layout]" = None,
    ) -> None:
        self._dists = dists
        self._layout = layout
        self._root = rootdir
        self._prefix = os.path.join(rootdir, "")
        self._project = os.path.join(layout.project, "") if layout is not None and layout.up else None
        self._exclude = tuple(os.path.join(p, "") for p in exclude)
        self._files: dict[str, Optional[str]] = {}
        self._data: dict[str, Optional[str]] = {}
        # Python files that ran outside the project and outside installed
        # code, which nothing tracks (first seen first): a warning names them.
        self.untracked: dict[str, None] = {}
        self._outside_seen: set[str] = set()

    def _rel(self, filename: str) -> Optional[str]:
        if filename.startswith(self._exclude):
            return None
        if filename.startswith(self._prefix):
            parts = filename[len(self._prefix):].split(os.sep)
        elif self._project is not None and filename.startswith(self._project):
            parts = os.path.relpath(filename, self._root).split(os.sep)
        elif self._layout is not None and self._layout.editable:
            rel = self._layout.editable_path(filename)
            if rel is None or _IGNORED_PARTS.intersection(rel.split("/")):
                return None
            return rel
        else:
            return None
        if _IGNORED_PARTS.intersection(parts):
            return None
        return "/".join(parts)

    def _note_outside(self, filename: str) -> None:
        if filename in self._outside_seen:
            return
        self._outside_seen.add(filename)
        layout = self._layout
        if (
            layout is not None
            and filename.endswith(".py")
            and os.path.isabs(filename)
            and not filename.startswith(self._exclude)
            and not layout.is_installed(filename)
        ):
            self.untracked[filename] = None

    def relpath(self, filename: str) -> Optional[str]:
        try:
            return self._files[filename]
        except KeyError:
            rel = self._rel(filename) if filename.endswith(".py") else None
            self._files[filename] = rel
            return rel

    def file_relpath(self, filename: str) -> Optional[str]:
        """Any project file's stored path, Python or not."""
        return self._rel(os.path.normpath(filename))

    def data_relpath(self, filename: str) -> Optional[str]:
        try:
            return self._data[filename]
        except KeyError:
            rel = None
            if filename.endswith(os.sep):
                # A directory listed (listings.py): "dir/", "./" for rootdir.
                path = os.path.normpath(filename)
                rel = "." if os.path.join(path, "") == self._prefix else self._rel(path)
                if rel is not None:
                    rel += "/"
            # A file that does not exist (yet) counts too: creating it
            # selects the tests that looked for it.
            elif not filename.endswith(_NOT_DATA) and not os.path.isdir(filename):
                rel = self._rel(os.path.normpath(filename))
            self._data[filename] = rel
            return rel

    def deps(self, codes: Iterable[CodeType], opened: Iterable[str]) -> Deps:
        by_file: dict[str, list[int]] = {}
        outside: set[str] = set()
        relpath = self.relpath
        for code in codes:
            rel = relpath(code.co_filename)
            if rel is not None:
                # A module's code starts on line 1, where a function may start
                # too: line 0 names the module itself (no function block).
                line = 0 if code.co_name == "<module>" else code.co_firstlineno
                lines = by_file.get(rel)
                if lines is None:
                    by_file[rel] = [line]
                else:
                    lines.append(line)
            else:
                outside.add(code.co_filename)
        for filename in outside:
            self._note_outside(filename)
        data = sorted({r for r in map(self.data_relpath, opened) if r is not None})
        dists: set[str] = set()
        if self._dists is not None:
            for filename in outside:
                module = self._dists(filename)
                if module:
                    dists.add(module)
        return {"files": by_file, "data": data, "dists": sorted(dists)}


def merge_deps(a: Deps, b: Deps) -> Deps:
    files = {path: list(lines) for path, lines in a["files"].items()}
    for path, lines in b["files"].items():
        files.setdefault(path, []).extend(lines)
    return {
        "files": files,
        "data": sorted(set(a["data"]) | set(b["data"])),
        "dists": sorted(set(a.get("dists", [])) | set(b.get("dists", []))),
    }


def _str(b: bytearray, s: str) -> None:
    data = s.encode("utf-8", "surrogateescape")
    b += _U32.pack(len(data))
    b += data


def pack(tests: list[tuple[str, int, float, Deps]]) -> bytes:
    """Pack (nodeid, outcome, duration, deps) tuples for dt_record."""
    out = bytearray(_U32.pack(len(tests)))
    for nodeid, outcome, duration, deps in tests:
        files, data, dists = deps["files"], deps["data"], deps.get("dists", [])
        _str(out, nodeid)
        out += _TEST_TAIL.pack(outcome, duration, len(files) + len(data) + len(dists))
        for path, lines in files.items():
            out.append(KIND_LINES)
            _str(out, path)
            arr = array("I", lines)
            if sys.byteorder != "little":
                arr.byteswap()
            out += _U32.pack(len(arr))
            out += arr.tobytes()
        for path in data:
            out.append(KIND_DATA)
            _str(out, path)
            out += _U32.pack(0)
        for name in dists:
            out.append(KIND_DIST)
            _str(out, name)
            out += _U32.pack(0)
    return bytes(out)
