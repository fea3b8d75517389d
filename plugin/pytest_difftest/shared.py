"""State that tests of one test module share (SPEC 4.4, issue 15 item 12).

A test module whose import built objects with project code and keeps them
in its globals (a command object, a client, a registry: ``HELLO_COMMAND =
click.Command(...)``) hands them to all of its tests, and a test's outcome
can depend on code an earlier test ran on them: the first test that renders
the command fills its cache, a later one only reads the cache. When that
code changes, the later test's result can change though nothing it ran did.

The rule: the tests of a test module whose import called a project function
and whose globals hold an instance of a project class (directly, or in a
tuple, list, set or dict) depend on the union of what the module's tests ran
in the session. A module whose import only defined functions and classes, or
built values with literals, the standard library, pytest or installed code,
keeps per-test precision; so does one whose objects live only in class
bodies (a marshmallow schema's fields, an attrs class's attributes).

What still escapes: state kept in a library's globals (a module-level cache
of a project module, filled by an earlier test of another test module),
objects kept in class attributes or built in a conftest.py, and values of
wider-scoped fixtures. Under pytest-xdist the union is taken per worker,
which is where the state was shared."""

from __future__ import annotations

import sys
from types import BuiltinFunctionType, CodeType, FunctionType, MethodType, ModuleType
from typing import Any, Callable, Iterable, Optional

from pytest_difftest.records import Deps, merge_deps

# Code objects of functions (and lambdas): a module's or a class body's code
# has no CO_OPTIMIZED flag.
_CO_OPTIMIZED = 0x1
# Comprehensions are functions before Python 3.12; what they call is seen
# on its own.
_COMPREHENSIONS = frozenset({"<listcomp>", "<dictcomp>", "<setcomp>", "<genexpr>"})
# What a module defines rather than builds (checked without running any of
# the project's code: no attribute lookups on its objects).
_NOT_STATE = (type, ModuleType, FunctionType, BuiltinFunctionType, MethodType)


class SharedState:
    __test__ = False

    def __init__(self, is_project: Callable[[CodeType], bool], is_project_file: Callable[[str], bool]) -> None:
        self._is_project = is_project
        self._is_project_file = is_project_file
        # Paths of modules whose import called project functions.
        self.building: set[str] = set()
        # Test module path -> whether its globals hold project objects.
        self._holding: dict[str, bool] = {}
        # Per such test module, in this process: the tests recorded so far
        # and the union of what they ran.
        self._members: dict[str, dict[str, None]] = {}
        self._union: dict[str, Deps] = {}

    def module_imported(self, path: str, codes: Iterable[CodeType]) -> None:
        """What a module's import ran (recorder.ImportGraph): whether it
        called a project function."""
        for code in codes:
            if code.co_flags & _CO_OPTIMIZED and code.co_name not in _COMPREHENSIONS and self._is_project(code):
                self.building.add(path)
                return

    def sharing(self, path: str, module: Optional[ModuleType]) -> bool:
        """Whether the tests of the test module `path` share objects its
        import built with project code."""
        known = self._holding.get(path)
        if known is None:
            known = path in self.building and module is not None and self._holds_project_object(module)
            self._holding[path] = known
        return known

    def _holds_project_object(self, module: ModuleType) -> bool:
        for value in list(vars(module).values()):
            if self._project_instance(value):
                return True
            if isinstance(value, dict):
                value = list(value.values())
            if isinstance(value, (tuple, list, set, frozenset)):
                if any(self._project_instance(v) for v in list(value)[:1000]):
                    return True
        return False

    def _project_instance(self, value: object) -> bool:
        cls = type(value)
        if isinstance(value, _NOT_STATE):
            return False
        filename = getattr(sys.modules.get(cls.__module__), "__file__", None)
        return bool(filename) and self._is_project_file(filename)

    def test_recorded(self, path: str, nodeid: str, deps: Deps, last: bool) -> Optional[dict[str, Any]]:
        """A test of the test module `path` was recorded with `deps`. When
        it is the last of a run of the module's tests (the next test is in
        another module, or the session stops), the supplement that adds the
        union to every test of the module recorded so far. Tests of a module
        run one after another, except under pytest-xdist's load scheduling,
        where a module's tests come in a few runs per worker: each run's
        supplement covers the earlier runs again."""
        members = self._members.setdefault(path, {})
        members[nodeid] = None  # once, however often it reran
        known = self._union.get(path)
        self._union[path] = deps if known is None else merge_deps(known, deps)
        if not last or len(members) < 2:
            return None
        return {"nodeids": list(members), "deps": self._union[path]}
