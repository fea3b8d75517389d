"""Recording what each test depended on, where tests run (the pytest
process, or each pytest-xdist worker). The result rides on the test's
teardown report, so the process that owns the engine receives it through
pytest_runtest_logreport whether or not xdist is in use."""

from __future__ import annotations

import os
import sys
from types import CodeType
from typing import Any, Callable, Generator, Optional

import pytest
from _pytest.doctest import DoctestItem

from pytest_difftest.children import Children
from pytest_difftest.environment import TopLevelMapper, cache_dir
from pytest_difftest.layout import layout
from pytest_difftest.recorder import Capture
from pytest_difftest.watch import shared_recorder, startup_imports, take_by_name
from pytest_difftest.records import (
    ATTRIBUTE,
    CHILD_KILLED,
    DOCTEST,
    IMPORTS,
    SESSION,
    SUPPLEMENTS,
    UNRECORDED,
    UNTRACKED,
    Deps,
    PathMapper,
    merge_deps,
)
from pytest_difftest.selection import test_file
from pytest_difftest.shared import SharedState

PLUGIN_DIR = os.path.dirname(os.path.abspath(__file__))


class TestRecording:
    __test__ = False  # not a test class, whatever pytest's python_classes say

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        # The recorder that has watched since start-up (plugin.py), if any.
        self.recorder = shared_recorder()
        where = layout(str(config.rootpath))
        # pytest's cache (cache_dir may be anywhere under rootdir) is its state, not the project.
        exclude = [PLUGIN_DIR, *where.installed, str(cache_dir(config))]
        self.mapper = PathMapper(str(config.rootpath), exclude, TopLevelMapper(PLUGIN_DIR).module, where)
        relpath = self.mapper.relpath
        self.by_name: list[tuple[str, int]] = []  # byname.py: sent with every session record
        self.recorder.imports.is_project = lambda code: relpath(code.co_filename) is not None
        # Objects a test module's import built, which its tests share.
        self.shared = SharedState(self.recorder.imports.is_project, lambda filename: relpath(filename) is not None)
        self.nextitem: Optional[pytest.Item] = None
        # What each fixture of a wider scope than "function" executed when it
        # was set up: every test that uses it depends on that (SPEC 4.4d).
        self.fixtures: dict[int, Capture] = {}
        # The tests that used each such fixture, and what its teardown did
        # once it ran (after those tests were recorded).
        self.fixture_users: dict[int, list[str]] = {}
        self.supplements: list[dict[str, Any]] = []
        # What each test module's collection ran and opened (its import,
        # parametrization), not yet reported: the engine charges it to every
        # test of the module through the module's shared import list, so it
        # is mapped and sent once per module, not with every test.
        self.collected: dict[str, Capture] = {}
        # Project modules already reported as imported (engine: fallAny).
        self.modules_count = 0
        self.modules_reported: set[str] = set()
        self.phases_watched = False
        self.untracked_reported = 0
        # What Python subprocesses ran (SPEC 4.4h), drained into each
        # capture as it closes; whether one died before reporting it all.
        self.children = Children()
        self.child_killed = False
        # pytest-rerunfailures runs a test again inside one protocol: what
        # its earlier attempts ran (the last attempt's record includes it),
        # and the last teardown report that carries records, until it is
        # logged (a rerun loop may drop an attempt's reports).
        self.in_protocol = False
        self.earlier: Optional[Capture] = None
        self.unlogged: Optional[pytest.TestReport] = None

    # -- collection: what a test module's import ran and read ----------------

    # Directories import their conftest.py and modules import theirs: each
    # collector's imports are watched, and so are a class's (its
    # pytest_generate_tests method, parametrization of its methods).
    @pytest.hookimpl(wrapper=True)
    def pytest_make_collect_report(self, collector: pytest.Collector) -> Generator[None, Any, Any]:
        if self.recorder.collecting is not None:
            return (yield)
        self._startup_done()
        self.recorder.collect_begin()
        try:
            return (yield)
        finally:
            cap = self.recorder.collect_end()
            if _in_a_file(collector) and (cap.codes or cap.opened):
                # A module's classes add to it; mapped once, when reported.
                path = test_file(collector.nodeid)
                known = self.collected.get(path)
                if known is None:
                    self.collected[path] = cap
                else:
                    known.merge(cap)

    # Making items out of a module's names is pytest's own work: not watched
    # from the first item on (the module is imported by then), except the
    # pytest_generate_tests hooks it calls (parametrization computed by
    # project code, ids functions).
    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_pycollect_makeitem(self, collector: Any, name: str, obj: object) -> Generator[None, Any, Any]:
        self.recorder.collect_pause()
        return (yield)

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_generate_tests(self, metafunc: Any) -> Generator[None, Any, Any]:
        if self.recorder.collecting is None:
            return (yield)
        self.recorder.collect_resume()
        try:
            return (yield)
        finally:
            self.recorder.collect_pause()

    def _startup_done(self) -> None:
        """What conftest.py files and plugins imported and ran before
        collection (watched since the plugin's first hook) goes into the
        import graph."""
        startup_imports()

    @pytest.hookimpl(tryfirst=True)
    def pytest_collection(self, session: pytest.Session) -> None:
        self._startup_done()

    # The collection hooks that run after collectors (conftest.py reordering,
    # marking or skipping items) are session code: every test depends on
    # what they ran and read.
    def _session_window(self) -> Generator[None, Any, Any]:
        self.recorder.session_begin()
        try:
            return (yield)
        finally:
            self.recorder.session_end()

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_collection_modifyitems(self) -> Generator[None, Any, Any]:
        return (yield from self._session_window())

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_collection_finish(self) -> Generator[None, Any, Any]:
        try:
            return (yield from self._session_window())
        finally:
            self._watch_phases()

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        self._startup_done()  # a session that collected nothing
        self.children.end()

    # -- the test's phases ----------------------------------------------------

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtest_protocol(self, item: pytest.Item, nextitem: Optional[pytest.Item]) -> Generator[None, Any, Any]:
        self._startup_done()
        self._watch_phases()
        self.children.begin()
        self.recorder.start()
        self.in_protocol, self.earlier = True, None
        self.nextitem = nextitem
        try:
            return (yield)
        finally:
            self.recorder.stop()
            self.in_protocol, self.earlier = False, None

    def pytest_runtest_logstart(self, nodeid: str) -> None:
        # pytest-rerunfailures announces each attempt; the previous one's
        # teardown ended the capture.
        if self.in_protocol and not self.recorder.active:
            self.recorder.start()

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report is self.unlogged:
            self.unlogged = None

    def _carry_unlogged(self, modules: dict[str, Deps]) -> None:
        """What an earlier teardown report carried that was never logged
        (an older pytest-rerunfailures drops an attempt's teardown report
        when it reruns the test) rides on this one: import and session
        dependencies are reported once, and fixture teardowns once."""
        lost, self.unlogged = self.unlogged, None
        if lost is None:
            return
        for path, deps in (getattr(lost, IMPORTS, None) or {}).items():
            modules[path] = merge_deps(modules[path], deps) if path in modules else deps
        sups = getattr(lost, SUPPLEMENTS, None)
        if sups:
            self.supplements[:0] = sups

    # Only the test's own phases count, not the reporting hooks around them
    # (terminal output, pytest-xdist sending reports to the controller).
    def _phase(self) -> Generator[None, None, None]:
        self.recorder.resume()
        try:
            return (yield)
        finally:
            self.recorder.suspend()

    def _watch_phases(self) -> None:
        """Wrap the phase hooks, once every conftest.py is loaded (before
        the first test).

        Innermost among the wrappers when no project code wraps a phase
        hook: pytest's own wrappers and other plugins' (logging, output
        capture, warnings) run unwatched. They are not the project's code,
        and watching them was most of the profiler's cost: about 400 calls
        a test, of which the project's were a handful. A project wrapper
        (a conftest.py's ``pytest_runtest_call(wrapper=True)``) makes the
        phases watched from the outermost wrapper, as before, so that what
        it calls is recorded."""
        if self.phases_watched:
            return
        self.phases_watched = True
        pm = self.config.pluginmanager
        outer = any(
            self._is_project_wrapper(impl)
            for hook in (pm.hook.pytest_runtest_setup, pm.hook.pytest_runtest_call, pm.hook.pytest_runtest_teardown)
            for impl in hook.get_hookimpls()
        )
        pm.register(_phases(self._phase, outermost=outer), "difftest-phases")

    def _is_project_wrapper(self, impl: Any) -> bool:
        if not (getattr(impl, "wrapper", False) or getattr(impl, "hookwrapper", False)):
            return False
        filename = getattr(getattr(impl.function, "__code__", None), "co_filename", None)
        # Not knowing where it comes from counts as the project's.
        return filename is None or self.mapper.relpath(filename) is not None

    # -- fixtures of a wider scope ------------------------------------------

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_fixture_setup(self, fixturedef: Any, request: Any) -> Generator[None, Any, Any]:
        if fixturedef.scope == "function" or not self.recorder.push():
            return (yield)
        key = id(fixturedef)
        # Finalizers run last-registered-first: these two bracket the
        # fixture's own teardown, which it registers while being set up.
        fixturedef.addfinalizer(self._teardown_done(key))
        try:
            return (yield)
        finally:
            cap = self.recorder.pop()
            self._drain_children(cap)
            known = self.fixtures.get(key)
            if known is None:
                self.fixtures[key] = cap
            else:
                known.merge(cap)
            fixturedef.addfinalizer(self._teardown_begin())

    def _teardown_begin(self) -> Callable[[], None]:
        def begin() -> None:
            self.recorder.push()

        return begin

    def _teardown_done(self, key: int) -> Callable[[], None]:
        def done() -> None:
            if not self.recorder.active:
                return
            # Charged to the fixture's users, not to the test that happened
            # to be running when the fixture went out of scope.
            cap = self.recorder.pop(charge_outer=False)
            self._drain_children(cap)
            users = self.fixture_users.pop(key, [])
            if users:
                self.supplements.append({"nodeids": users, "deps": self._deps(cap)})

        return done

    # -- the record -----------------------------------------------------------

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        report = yield
        if call.when != "teardown" or not self.recorder.active:
            return report
        cap = self.recorder.stop()
        modules = self.take_imports()
        self._carry_unlogged(modules)
        self.unlogged = report
        if self.supplements:
            setattr(report, SUPPLEMENTS, self.supplements)
            self.supplements = []
        if cap is None:
            # The test took over the profile/trace hook (or a profiler and a
            # tracer held both): what it ran is unknown, so it is not
            # recorded and stays selected. Its children's reports are its own.
            self.children.drain(set(), set())
            self.child_killed = False
            setattr(report, UNRECORDED, True)
            if modules:
                setattr(report, IMPORTS, modules)
            return report
        self._drain_children(cap)
        if self.child_killed:
            # Part of what it ran is unknown: recorded as failed, it stays
            # selected until a run where every child ends.
            self.child_killed = False
            setattr(report, CHILD_KILLED, True)
        self._add_fixtures(item, cap)
        if self.earlier is not None:
            cap.merge(self.earlier)
        self.earlier = cap  # stop() handed out a copy of its own
        # A test always depends on its own function, even when it never ran
        # (a skip marker): SPEC 4.4e.
        code = getattr(getattr(item, "function", None), "__code__", None)
        if code is not None:
            cap.codes.add(code)
        deps = self._deps(cap)
        if self.recorder.test_imported:
            self._unseen_imports(cap, deps, modules)
        self._share(item, deps, report)
        self._add_doctest(item, deps)
        if modules:
            setattr(report, IMPORTS, modules)
        setattr(report, ATTRIBUTE, deps)
        self._report_untracked(report)
        return report

    def _add_doctest(self, item: pytest.Item, deps: Deps) -> None:
        # A doctest's examples are code in strings: the recorder sees the
        # functions they call, not the names they read or the modules they
        # import again. The engine reads the examples from the file.
        if not isinstance(item, DoctestItem):
            return
        rel = self.mapper.file_relpath(str(item.path))
        if rel is not None:
            deps["files"].setdefault(rel, []).append(DOCTEST)

    def _report_untracked(self, report: pytest.TestReport) -> None:
        untracked = self.mapper.untracked
        if len(untracked) > self.untracked_reported:
            setattr(report, UNTRACKED, list(untracked)[self.untracked_reported:])
            self.untracked_reported = len(untracked)

    def _share(self, item: pytest.Item, deps: Deps, report: pytest.TestReport) -> None:
        path = test_file(item.nodeid)
        if not self.shared.sharing(path, getattr(item, "module", None)):
            return
        nxt = self.nextitem
        last = nxt is None or test_file(nxt.nodeid) != path or bool(item.session.shouldstop or item.session.shouldfail)
        sup = self.shared.test_recorded(path, item.nodeid, deps, last)
        if sup is not None:
            setattr(report, SUPPLEMENTS, [*(getattr(report, SUPPLEMENTS, None) or []), sup])

    def _unseen_imports(self, cap: Capture, deps: Deps, modules: dict[str, Deps]) -> None:
        """A project module first imported during the test, whose import the
        import graph did not see (another thread, importlib.import_module, a
        Python-level hook): what the whole test ran is charged to it, so
        that the tests that use the module later are not spared."""
        seen = self.recorder.imports.seen
        for code in cap.codes:
            if code.co_name != "<module>" or type(code) is not CodeType or code in seen:
                continue
            seen.add(code)
            path = self.mapper.relpath(code.co_filename)
            if path is not None:
                modules[path] = merge_deps(modules[path], deps) if path in modules else deps

    def take_imports(self) -> dict[str, Deps]:
        """What imports, collections and session windows ran that was not
        reported yet, by module path ("" for the session)."""
        collected, self.collected = self.collected, {}
        modules = {path: self._deps(cap) for path, cap in collected.items()}
        for module, codes, opened in self.recorder.imports.take_fresh():
            path = self.mapper.relpath(module.co_filename)
            if path is not None:
                self.shared.module_imported(path, codes)
                deps = self.mapper.deps(codes, opened)
                modules[path] = merge_deps(modules[path], deps) if path in modules else deps
        self._imported_modules(modules)
        session = self.recorder.imports.take_session()
        by_name = take_by_name(self.mapper.relpath)
        if by_name:
            self.by_name.extend(by_name)
        if session is not None or by_name:
            # The session record replaces the previous one: it carries every
            # module imported by name so far.
            deps = self.mapper.deps(*session) if session is not None else self.mapper.deps(*self.recorder.imports.session_state())
            for path, marker in self.by_name:
                deps["files"].setdefault(path, []).append(marker)
            if deps["files"] or deps["data"] or deps["dists"]:
                modules[SESSION] = deps
        return modules

    def _imported_modules(self, modules: dict[str, Deps]) -> None:
        """Every project module imported so far, with what its import ran if
        anything: code that gets a module by a computed name (import_module,
        sys.modules[key]) may get any of them without importing it again."""
        if len(sys.modules) == self.modules_count:
            return
        self.modules_count = len(sys.modules)
        reported = self.modules_reported
        relpath = self.mapper.relpath
        for module in list(sys.modules.values()):
            try:
                filename = getattr(module, "__file__", None)
            except Exception:  # a lazy stand-in that imports, or refuses, on access
                continue
            if not isinstance(filename, str) or filename in reported:
                continue
            reported.add(filename)
            path = relpath(filename)
            if path is not None and path not in modules:
                modules[path] = {"files": {}, "data": [], "dists": []}

    def _drain_children(self, cap: Capture) -> None:
        if self.children.drain(cap.codes, cap.opened):
            self.child_killed = True

    def _deps(self, cap: Capture) -> Deps:
        return self.mapper.deps(cap.codes, cap.opened)

    def _add_fixtures(self, item: pytest.Item, cap: Capture) -> None:
        if not self.fixtures:
            return
        info = getattr(item, "_fixtureinfo", None)
        name2defs = getattr(info, "name2fixturedefs", None) or {}
        used = [fixturedef for name in getattr(item, "fixturenames", ()) for fixturedef in name2defs.get(name, ())]
        # The fixtures the test actually resolved, including those requested
        # with request.getfixturevalue() (pytest-django's database), which
        # the static fixturenames miss: a wider-scoped one is set up by the
        # first test only, and every later one depends on it all the same.
        # pytest 8 and 9 keep them in the request's _fixture_defs until the
        # end of the test's protocol (runner.runtestprotocol).
        resolved = getattr(getattr(item, "_request", None), "_fixture_defs", None)
        if isinstance(resolved, dict):
            used.extend(resolved.values())
        seen: set[int] = set()
        for fixturedef in used:
            key = id(fixturedef)
            if key in seen:
                continue
            seen.add(key)
            known = self.fixtures.get(key)
            if known is not None:
                cap.merge(known)
                self.fixture_users.setdefault(key, []).append(item.nodeid)


def _in_a_file(collector: pytest.Collector) -> bool:
    """A test module or what collects inside one, or a file that a
    conftest.py's pytest_collect_file turned into a collector (YAML, .spec
    files): what its collection ran and read is a dependency of its items
    (SPEC 4.4f). Directories' collectors are not (their conftest.py imports
    go to the import graph)."""
    return isinstance(collector, (pytest.File, pytest.Class)) or "::" in collector.nodeid


def _phases(phase: Callable[[], Generator[None, None, None]], outermost: bool) -> object:
    """The plugin that watches a test's setup, call and teardown, as the
    outermost or the innermost wrapper of each (TestRecording._watch_phases)."""
    mark = pytest.hookimpl(wrapper=True, tryfirst=outermost, trylast=not outermost)

    class Phases:
        @mark
        def pytest_runtest_setup(self, item: pytest.Item) -> Generator[None, None, None]:
            return (yield from phase())

        @mark
        def pytest_runtest_call(self, item: pytest.Item) -> Generator[None, None, None]:
            return (yield from phase())

        @mark
        def pytest_runtest_teardown(self, item: pytest.Item, nextitem: Optional[pytest.Item]) -> Generator[None, None, None]:
            return (yield from phase())

    return Phases()
