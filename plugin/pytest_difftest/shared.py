"""State that tests of one test module share (SPEC 4.4, issue 15 item 12).

A test module whose import built objects by calling project code (a command
object, a client, a registry: ``HELLO_COMMAND = click.Command(...)``) hands
those objects to all of its tests, and a test's outcome can depend on code
an earlier test ran on them: the first test that renders the command fills
its cache, a later one only reads the cache. When that code changes, the
later test's result can change though nothing it ran did.

The rule: the tests of such a module depend on the union of what the
module's tests ran in the session. A module whose import only defined
functions and classes, or built values with literals, the standard library
or installed code, keeps per-test precision.

What still escapes: state kept in a library's globals (a module-level cache
of a project module, filled by an earlier test of another test module), and
objects built in a conftest.py. Under pytest-xdist the union is taken per
worker, which is where the state was shared."""

from __future__ import annotations

from types import CodeType
from typing import Any, Callable, Iterable, Optional

from pytest_difftest.records import Deps, merge_deps

# Code objects of functions (and lambdas): a module's or a class body's code
# has no CO_OPTIMIZED flag.
_CO_OPTIMIZED = 0x1
# Comprehensions are functions before Python 3.12; what they call is seen
# on its own.
_COMPREHENSIONS = frozenset({"<listcomp>", "<dictcomp>", "<setcomp>", "<genexpr>"})


class SharedState:
    __test__ = False

    def __init__(self, is_project: Callable[[CodeType], bool]) -> None:
        self._is_project = is_project
        # Paths of modules whose import called project functions.
        self.building: set[str] = set()
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

    def test_recorded(self, path: str, nodeid: str, deps: Deps, last: bool) -> Optional[dict[str, Any]]:
        """A test of the test module `path` was recorded with `deps`. When
        it is the last of a run of the module's tests (the next test is in
        another module, or the session stops), the supplement that adds the
        union to every test of the module recorded so far. Tests of a module
        run one after another, except under pytest-xdist's load scheduling,
        where a module's tests come in a few runs per worker: each run's
        supplement covers the earlier runs again."""
        if path not in self.building:
            return None
        members = self._members.setdefault(path, {})
        members[nodeid] = None  # once, however often it reran
        known = self._union.get(path)
        self._union[path] = deps if known is None else merge_deps(known, deps)
        if not last or len(members) < 2:
            return None
        return {"nodeids": list(members), "deps": self._union[path]}
