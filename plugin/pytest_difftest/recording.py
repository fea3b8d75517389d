"""Recording what each test depended on, where tests run (the pytest
process, or each pytest-xdist worker). The result rides on the test's
teardown report, so the process that owns the engine receives it through
pytest_runtest_logreport whether or not xdist is in use."""

from __future__ import annotations

import os
import sys
from typing import Any, Generator, Optional

import pytest

from pytest_difftest.environment import TopLevelMapper
from pytest_difftest.recorder import Capture, Recorder
from pytest_difftest.records import PathMapper

ATTRIBUTE = "difftest_deps"
UNRECORDED = "difftest_unrecorded"
PLUGIN_DIR = os.path.dirname(os.path.abspath(__file__))


class TestRecording:
    __test__ = False  # not a test class, whatever pytest's python_classes say

    def __init__(self, config: pytest.Config) -> None:
        self.recorder = Recorder()
        exclude = {PLUGIN_DIR, sys.prefix, sys.exec_prefix, sys.base_prefix}
        self.mapper = PathMapper(str(config.rootpath), [p for p in exclude if p], TopLevelMapper(PLUGIN_DIR).module)
        # What each fixture of a wider scope than "function" executed when it
        # was set up: every test that uses it depends on that (SPEC 4.4d).
        self.fixtures: dict[int, Capture] = {}

    @pytest.hookimpl(hookwrapper=True, tryfirst=True)
    def pytest_runtest_protocol(self, item: pytest.Item, nextitem: Optional[pytest.Item]) -> Generator[None, None, None]:
        self.recorder.start()
        try:
            yield
        finally:
            self.recorder.stop()

    # Only the test's own phases count, not the reporting hooks around them
    # (terminal output, pytest-xdist sending reports to the controller).
    @pytest.hookimpl(hookwrapper=True, tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> Generator[None, None, None]:
        self.recorder.resume()
        try:
            yield
        finally:
            self.recorder.suspend()

    @pytest.hookimpl(hookwrapper=True, tryfirst=True)
    def pytest_runtest_call(self, item: pytest.Item) -> Generator[None, None, None]:
        self.recorder.resume()
        try:
            yield
        finally:
            self.recorder.suspend()

    @pytest.hookimpl(hookwrapper=True, tryfirst=True)
    def pytest_runtest_teardown(self, item: pytest.Item, nextitem: Optional[pytest.Item]) -> Generator[None, None, None]:
        self.recorder.resume()
        try:
            yield
        finally:
            self.recorder.suspend()

    @pytest.hookimpl(hookwrapper=True, tryfirst=True)
    def pytest_fixture_setup(self, fixturedef: Any, request: Any) -> Generator[None, None, None]:
        if fixturedef.scope == "function" or not self.recorder.push():
            yield
            return
        try:
            yield
        finally:
            cap = self.recorder.pop()
            known = self.fixtures.get(id(fixturedef))
            if known is None:
                self.fixtures[id(fixturedef)] = cap
            else:
                known.merge(cap)

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, None]:
        outcome = yield
        if call.when != "teardown" or not self.recorder.active:
            return
        cap = self.recorder.stop()
        if cap is None:
            # The test took over the profile/trace hook (or a profiler and a
            # tracer held both): what it ran is unknown, so it is not
            # recorded and stays selected.
            setattr(outcome.get_result(), UNRECORDED, True)
            return
        self._add_fixtures(item, cap)
        # A test always depends on its own function, even when it never ran
        # (a skip marker): SPEC 4.4e.
        code = getattr(getattr(item, "function", None), "__code__", None)
        if code is not None:
            cap.codes.add(code)
        report = outcome.get_result()
        setattr(report, ATTRIBUTE, self.mapper.deps(cap.codes, cap.opened))

    def _add_fixtures(self, item: pytest.Item, cap: Capture) -> None:
        if not self.fixtures:
            return
        info = getattr(item, "_fixtureinfo", None)
        name2defs = getattr(info, "name2fixturedefs", None) or {}
        for name in getattr(item, "fixturenames", ()):
            for fixturedef in name2defs.get(name, ()):
                known = self.fixtures.get(id(fixturedef))
                if known is not None:
                    cap.merge(known)
