"""The hooks of an active session: selection at collection, recording around
each test, the summary at the end. Decisions are the engine's; this module
only carries data between pytest and the engine."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Generator, Optional

import pytest

from pytest_difftest import engine, records
from pytest_difftest.options import Settings
from pytest_difftest.recorder import CallRecorder

PLUGIN_DIR = os.path.dirname(os.path.abspath(__file__))


def db_path(rootpath: Path) -> Path:
    return rootpath / ".pytest_cache" / "pytest-difftest" / "pytest_difftest.db"


def environment() -> dict[str, str]:
    return {"python": f"{sys.version_info[0]}.{sys.version_info[1]}"}


def git_commit(root: Path) -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=5
        )
    except (OSError, subprocess.SubprocessError):
        return ""
    return out.stdout.strip() if out.returncode == 0 else ""


class DiffSession:
    """Registered by plugin.pytest_configure when a --diff* option is given."""

    def __init__(self, config: pytest.Config, settings: Settings) -> None:
        self.config = config
        self.settings = settings
        self.root = config.rootpath
        self.engine: Optional[engine.Session] = None
        self.selection: Optional[dict[str, Any]] = None
        self.skip: set[str] = set()
        self.deselect: set[str] = set()
        self.reasons: dict[str, str] = {}
        self.messages: list[str] = []
        self.plugin_seconds = 0.0
        self.n_selected = 0
        self.n_deselected = 0
        self.recording = settings.record
        self.recorder = CallRecorder()
        exclude = [PLUGIN_DIR, sys.prefix, sys.exec_prefix, sys.base_prefix]
        self.mapper = records.PathMapper(str(self.root), [p for p in exclude if p])
        self.batch: list[tuple[str, int, float, dict[str, list[int]], list[str]]] = []
        self.reports: dict[str, list[pytest.TestReport]] = {}
        self.collected: dict[str, list[str]] = {}
        self.incomplete_files: set[str] = set()
        self.collection_failed = False
        self.recorded: set[str] = set()
        self.deselected_by_us: set[str] = set()
        if config.option.diff and config.option.diff_baseline:
            self.messages.append("warning: --diff and --diff-baseline given; --diff-baseline wins")

    # -- engine calls: any engine error falls back safely (SPEC 9.3) --------

    def _fail(self, exc: engine.EngineError, fallback: str) -> None:
        self.messages.append(f"error: {exc}; {fallback}")
        if self.settings.verbose and exc.detail:
            self.messages.append(exc.detail)
        self.recording = False
        if self.engine is not None:
            try:
                self.engine.close()
            except engine.EngineError:
                pass
            self.engine = None

    def _write(self, line: str) -> None:
        tr = self.config.pluginmanager.get_plugin("terminalreporter")
        if tr is not None:
            tr.write_line(f"difftest: {line}")
        else:
            sys.stderr.write(f"difftest: {line}\n")

    # -- selection ----------------------------------------------------------

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionstart(self, session: pytest.Session) -> None:
        started = time.perf_counter()
        cfg = {
            "root": str(self.root),
            "db_path": str(db_path(self.root)),
            "record": self.settings.record,
            "force": self.settings.force,
            "why": self.settings.why,
            "batch_size": self.settings.batch_size,
            "cache_size": self.settings.cache_size,
            "env": environment(),
        }
        try:
            self.engine = engine.Session(cfg)
            self.selection = self.engine.select()
        except engine.EngineError as exc:
            if exc.internal or self.engine is not None:
                fallback = "running all tests" if not self.settings.record else "running all tests, recording nothing"
                self._fail(exc, fallback)
            else:
                raise pytest.UsageError(str(exc)) from None
        if self.selection is not None:
            self.messages.extend(f"warning: {w}" for w in self.selection.get("warnings") or [])
            if not self.selection["full"]:
                self.skip = {str(self.root / p) for p in self.selection.get("skip_files") or []}
                self.deselect = set(self.selection.get("deselect") or [])
            self.reasons = self.selection.get("reasons") or {}
        for line in self.messages:
            self._write(line)
        self.messages.clear()
        self.plugin_seconds += time.perf_counter() - started

    def pytest_ignore_collect(self, collection_path: Path, config: pytest.Config) -> Optional[bool]:
        if self.skip and str(collection_path) in self.skip:
            return True
        return None

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            self.collection_failed = True
            self.incomplete_files.add(report.nodeid.split("::", 1)[0])

    @pytest.hookimpl(tryfirst=True)
    def pytest_collection_modifyitems(self, session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
        started = time.perf_counter()
        for item in items:
            self.collected.setdefault(item.nodeid.split("::", 1)[0], []).append(item.nodeid)
        if self.deselect:
            keep, drop = [], []
            for item in items:
                (drop if item.nodeid in self.deselect else keep).append(item)
            if drop:
                items[:] = keep
                config.hook.pytest_deselected(items=drop)
                self.deselected_by_us = {item.nodeid for item in drop}
        self.plugin_seconds += time.perf_counter() - started

    @pytest.hookimpl(trylast=True)
    def pytest_collection_finish(self, session: pytest.Session) -> None:
        self.n_selected = len(session.items)
        skipped = self.selection.get("skipped_tests", 0) if self.selection else 0
        self.n_deselected = len(self.deselected_by_us) + skipped
        if self.settings.why and self.selection is not None:
            for item in session.items:
                self._write(f"{item.nodeid}: {self.reasons.get(item.nodeid, self._why_unknown(item.nodeid))}")

    def _why_unknown(self, nodeid: str) -> str:
        if self.selection is not None and self.selection.get("full"):
            return "no baseline yet" if not self.settings.force else "--diff-force"
        return "new test"

    # -- recording ------------------------------------------------------------

    @pytest.hookimpl(hookwrapper=True, tryfirst=True)
    def pytest_runtest_protocol(self, item: pytest.Item, nextitem: Optional[pytest.Item]) -> Generator[None, None, None]:
        if not self.recording:
            yield
            return
        self.reports[item.nodeid] = []
        self.recorder.start()
        try:
            result = yield
        finally:
            codes = self.recorder.stop()
        if result.excinfo is not None:
            # Interrupted (Ctrl-C, pytest.exit, a crash in a hook): the test
            # did not finish, so it is not recorded and stays selected.
            self.reports.pop(item.nodeid, None)
            return
        started = time.perf_counter()
        self._finished(item, codes)
        self.plugin_seconds += time.perf_counter() - started

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if self.recording:
            got = self.reports.get(report.nodeid)
            if got is not None:
                got.append(report)

    def _finished(self, item: pytest.Item, codes: set[Any]) -> None:
        reports = self.reports.pop(item.nodeid, [])
        if not reports:
            return
        # A test always depends on its own function, even when it never ran
        # (a skip marker): SPEC 4.4e.
        func = getattr(item, "function", None)
        code = getattr(func, "__code__", None)
        if code is not None:
            codes = set(codes)
            codes.add(code)
        by_file = self.mapper.group(codes)
        duration = sum(r.duration for r in reports)
        self.batch.append((item.nodeid, outcome(reports), duration, by_file, []))
        self.recorded.add(item.nodeid)
        if len(self.batch) >= self.settings.batch_size:
            self._flush()

    def _flush(self) -> None:
        if not self.batch or self.engine is None or not self.recording:
            self.batch.clear()
            return
        batch, self.batch = self.batch, []
        try:
            self.engine.record(records.pack(batch))
        except engine.ForkedChild:
            return
        except engine.EngineError as exc:
            self._fail(exc, "recording nothing more")

    # -- end of session -----------------------------------------------------

    @pytest.hookimpl(hookwrapper=True, trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> Generator[None, None, None]:
        try:
            engine.check_pid()
        except engine.ForkedChild:
            yield
            return
        started = time.perf_counter()
        if self.recording:
            self._flush()
        if self.recording and self.engine is not None:
            interrupted = exitstatus == pytest.ExitCode.INTERRUPTED or session.shouldstop
            files = {}
            for path, nodeids in self.collected.items():
                complete = path not in self.incomplete_files and not interrupted and all(
                    n in self.recorded or n in self.deselected_by_us for n in nodeids
                )
                files[path] = {"complete": complete, "nodeids": nodeids if complete else []}
            whole = (
                not self.collection_failed
                and not interrupted
                and not explicit_args(self.config)
            )
            try:
                self.engine.finish({"files": files, "whole_suite": whole, "commit": git_commit(self.root)})
            except engine.EngineError as exc:
                self._fail(exc, "the baseline keeps what was recorded so far")
        if self.engine is not None:
            try:
                self.engine.close()
            except engine.EngineError as exc:
                self.messages.append(f"error: {exc}")
            self.engine = None
        # Everything deselected is a success, not "no tests collected".
        if session.exitstatus == pytest.ExitCode.NO_TESTS_COLLECTED and self.n_deselected > 0:
            session.exitstatus = pytest.ExitCode.OK
        self.plugin_seconds += time.perf_counter() - started
        yield

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        for line in self.messages:
            terminalreporter.write_line(f"difftest: {line}")
        sel = self.selection
        if sel is None:
            return
        changed = sel.get("changed_files") or []
        if sel.get("full"):
            what = "recorded" if self.settings.record else "ran"
            head = "forced full run" if self.settings.force else "no baseline yet"
            line = f"{head}: {what} all {self.n_selected} tests"
        else:
            line = f"{self.n_selected} selected, {self.n_deselected} deselected"
            if self.n_selected == 0:
                line += " (nothing affected by the changes)"
        line += f", {len(changed)} changed file{'s' if len(changed) != 1 else ''}, {self.plugin_seconds:.2f}s in plugin"
        terminalreporter.write_sep("-", f"difftest: {line}")
        if self.settings.verbose:
            terminalreporter.write_line(
                f"difftest: baseline {db_path(self.root)}: {sel.get('known', 0)} tests known, "
                f"{sel.get('affected', 0)} affected, {len(sel.get('skip_files') or [])} test files not collected, "
                f"selection took {sel.get('millis', 0):.1f} ms in the engine"
            )
            for path in changed:
                terminalreporter.write_line(f"difftest: changed: {path}")


def outcome(reports: list[pytest.TestReport]) -> int:
    """One outcome for a test from its setup, call and teardown reports."""
    for r in reports:
        if r.failed:
            return records.FAILED if r.when == "call" else records.ERROR
    for r in reports:
        if r.skipped:
            return records.XFAILED if hasattr(r, "wasxfail") else records.SKIPPED
    return records.PASSED


def explicit_args(config: pytest.Config) -> bool:
    """Whether the command line named paths or node ids, so that the run may
    not have collected the whole suite."""
    source = getattr(config, "args_source", None)
    if source is not None:
        return bool(source == pytest.Config.ArgsSource.ARGS)
    return bool(config.args) and config.args != [str(config.invocation_params.dir)]
