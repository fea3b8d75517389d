"""The process that owns the engine: the pytest process, or the pytest-xdist
controller. It computes the selection once, hands it to whoever collects,
writes the records that arrive with teardown reports, and prints the
summary."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable, Generator, Optional

import pytest

from pytest_difftest import engine, records
from pytest_difftest.records import ATTRIBUTE, CHILD_KILLED, IMPORTS, SUPPLEMENTS, UNRECORDED, UNTRACKED
from pytest_difftest.digest import config_digest
from pytest_difftest.environment import cache_dir, environment, search_paths, site_paths
from pytest_difftest.layout import layout
from pytest_difftest.options import Settings
from pytest_difftest.selection import Collector, outside_root
from pytest_difftest.stash import STARTED_NS

PLUGIN_NAME = "difftest-controller"


def db_path(config: pytest.Config) -> Path:
    return cache_dir(config) / "pytest-difftest" / "pytest_difftest.db"


def git_commit(root: Path) -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return ""
    return out.stdout.strip() if out.returncode == 0 else ""


def explicit_args(config: pytest.Config) -> bool:
    """Whether the command line named paths or node ids, so that the run may
    not have collected the whole suite."""
    source = getattr(config, "args_source", None)
    if source is not None:
        return bool(source == pytest.Config.ArgsSource.ARGS)
    return bool(config.args) and config.args != [str(config.invocation_params.dir)]


def narrowed_files(config: pytest.Config) -> set[str]:
    """Test files named with a node id on the command line (file::test):
    only part of them was collected."""
    root = str(config.rootpath)
    out = set()
    for arg in config.args:
        if "::" in arg:
            path = os.path.abspath(os.path.join(str(config.invocation_params.dir), arg.split("::", 1)[0]))
            out.add(os.path.relpath(path, root).replace(os.sep, "/"))
    return out


def outcome(reports: list[pytest.TestReport]) -> int:
    """One outcome for a test from its setup, call and teardown reports."""
    for r in reports:
        if r.failed:
            return records.FAILED if r.when == "call" else records.ERROR
    for r in reports:
        if r.skipped:
            return records.XFAILED if hasattr(r, "wasxfail") else records.SKIPPED
    return records.PASSED


class Controller:
    def __init__(self, config: pytest.Config, settings: Settings, collector: Collector) -> None:
        self.config = config
        self.settings = settings
        self.root = config.rootpath
        self.collector = collector
        self.engine: Optional[engine.Session] = None
        self.selection: Optional[dict[str, Any]] = None
        self.recording = settings.record
        self.messages: list[str] = []
        self.plugin_seconds = 0.0
        self.reports: dict[str, list[pytest.TestReport]] = {}
        self.batch: list[tuple[str, int, float, records.Deps]] = []
        self.recorded: set[str] = set()
        self.unrecorded = 0
        # Python files outside the project that tests ran and nothing
        # tracks, first seen first (records.PathMapper.untracked).
        self.untracked: dict[str, None] = {}
        self.explained = False
        # Filled by pytest-xdist workers' reports (see XdistController).
        self.worker_infos: list[dict[str, Any]] = []
        self.xdist_items: Optional[int] = None
        # What this process's own start-up ran (its conftest.py hooks), for
        # pytest-xdist runs: the workers inherit its effects (environment,
        # files), and their reports carry only theirs.
        self.take_local_imports: Optional[Callable[[], dict[str, records.Deps]]] = None
        # The remote URL, normalised by remote.check at session start.
        self.remote_url: Optional[str] = None
        # Set at session finish, for the summary.
        self.n_selected = 0
        self.n_deselected = 0
        self.n_before_shard: Optional[int] = None
        if config.option.diff and config.option.diff_baseline:
            self.messages.append("warning: --diff and --diff-baseline given; --diff-baseline wins")

    # -- helpers --------------------------------------------------------------

    def _write(self, line: str) -> None:
        tr = self.config.pluginmanager.get_plugin("terminalreporter")
        if tr is not None:
            tr.write_line(f"difftest: {line}")
        else:
            sys.stderr.write(f"difftest: {line}\n")

    def _progress(self) -> bool:
        """Transfer progress on stderr, unless -q."""
        return int(self.config.option.verbose) >= 0

    def _fail(self, exc: engine.EngineError, fallback: str) -> None:
        """Any engine error falls back safely (SPEC 9.3): run everything, or
        stop recording; never a traceback."""
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

    def handoff(self) -> dict[str, Any]:
        """The selection as given to pytest-xdist workers."""
        sel = self.selection or {}
        full = sel.get("full", True)
        shard = self.settings.shard
        return {
            "skip_files": [] if full else sel.get("skip_files") or [],
            "deselect": [] if full else sel.get("deselect") or [],
            "record": self.recording,
            "shard": list(shard) if shard is not None else None,
            "durations": sel.get("durations") or {},
        }

    # -- selection ----------------------------------------------------------

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionstart(self, session: pytest.Session) -> None:
        started = time.perf_counter()
        where = layout(str(self.root))
        cfg = {
            "root": str(self.root),
            "db_path": str(db_path(self.config)),
            "record": self.settings.record,
            "force": self.settings.force,
            "why": self.settings.why,
            "durations": self.settings.shard is not None,
            "verbose": self.settings.verbose,
            "batch_size": self.settings.batch_size,
            "cache_size": self.settings.cache_size,
            "env": environment(config_digest(self.config)),
            "env_name": self.settings.env,
            "paths": search_paths(str(self.root)) + where.search_paths(),
            "site_paths": site_paths(str(self.root)),
            "project_up": where.up,
            "editable": where.editable,
            "started_ns": self.config.stash.get(STARTED_NS, 0),
        }
        if self.settings.remote:  # remote baseline first (SPEC 7.2, remote.py)
            from pytest_difftest import remote

            # A bad URL is a usage error (exit 4), found without network.
            self.remote_url = remote.check(self.settings.remote, self.settings.remote_source)
            self.messages.extend(
                remote.fetch(self.remote_url, db_path(self.config), self._progress(), self.settings.verbose)
            )
        try:
            self.engine = engine.Session(cfg)
            self.selection = self.engine.select()
        except engine.EngineError as exc:
            if not exc.internal and self.engine is None:
                # The database cannot even be opened (permissions, disk):
                # the user must act.
                raise pytest.UsageError(str(exc)) from None
            self._fail(exc, "running all tests" + (", recording nothing" if self.settings.record else ""))
        if self.selection is not None and self.recording:
            from pytest_difftest.children import hook_installed

            if not hook_installed():
                self.messages.append(
                    "warning: the subprocess hook (pytest_difftest_child.pth) is not in this interpreter's "
                    "site-packages; what Python subprocesses of the tests run is not tracked"
                )
        if self.selection is not None:
            self.messages.extend(f"warning: {w}" for w in self.selection.get("warnings") or [])
            if not self.selection.get("full"):
                self.collector.skip = {str(self.root / p) for p in self.selection.get("skip_files") or []}
                self.collector.deselect = set(self.selection.get("deselect") or [])
        if self.settings.shard is not None:
            # Even when the engine failed and everything runs: the shards
            # still share it out, each test once.
            self.collector.shard = self.settings.shard
            self.collector.durations = (self.selection or {}).get("durations") or {}
        for line in self.messages:
            self._write(line)
        self.messages.clear()
        self.plugin_seconds += time.perf_counter() - started

    @pytest.hookimpl(trylast=True)
    def pytest_collection_finish(self, session: pytest.Session) -> None:
        self.explain([item.nodeid for item in session.items])

    def explain(self, nodeids: list[str]) -> None:
        """--diff-why: one line per selected test (called once, by the
        process that collected, or for pytest-xdist by the controller when
        the first worker has collected)."""
        if not self.settings.why or self.selection is None or self.explained or not nodeids:
            return
        self.explained = True
        reasons = self.selection.get("reasons") or {}
        for nodeid in nodeids:
            self._write(f"{nodeid}: {reasons.get(nodeid) or self._default_reason()}")

    def _default_reason(self) -> str:
        if self.selection is not None and self.selection.get("full"):
            return "--diff-force" if self.settings.force else "no baseline yet"
        return "new test"

    # -- recording ------------------------------------------------------------

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if not self.recording:
            return
        self.reports.setdefault(report.nodeid, []).append(report)
        if report.when != "teardown":
            return
        reports = self.reports.pop(report.nodeid)
        started = time.perf_counter()
        # Before the test: its record's import dependencies include these.
        for path, module_deps in (getattr(report, IMPORTS, None) or {}).items():
            self.batch.append((path, records.IMPORT_DEPS, 0.0, module_deps))
        if self.take_local_imports is not None and getattr(report, "node", None) is not None:
            for path, module_deps in self.take_local_imports().items():
                self.batch.append((path, records.IMPORT_DEPS, 0.0, module_deps))
        for filename in getattr(report, UNTRACKED, None) or []:
            self.untracked[filename] = None
        deps = getattr(report, ATTRIBUTE, None)
        if deps is not None and report.location and outside_root(report.location[0]):
            deps = None  # never recorded: it runs every time (Collector.outside)
        if deps is not None:
            # A test whose subprocess was killed is recorded as failed, so
            # that it stays selected (children.py).
            result = records.FAILED if getattr(report, CHILD_KILLED, False) else outcome(reports)
            self.batch.append((report.nodeid, result, sum(r.duration for r in reports), deps))
            self.recorded.add(report.nodeid)
        elif getattr(report, UNRECORDED, False):
            self.unrecorded += 1
        # What a wider-scoped fixture's teardown ran, for the tests that used
        # it (recorded before; the engine adds to their records).
        for sup in getattr(report, SUPPLEMENTS, None) or []:
            for nodeid in sup["nodeids"]:
                if nodeid in self.recorded:
                    self.batch.append((nodeid, records.MERGE_DEPS, 0.0, sup["deps"]))
        if len(self.batch) >= self.settings.batch_size:
            self._flush()
        self.plugin_seconds += time.perf_counter() - started

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

    def _collection_info(self) -> Optional[dict[str, Any]]:
        if self.worker_infos:
            merged: dict[str, Any] = {"collected": {}, "deselected": [], "incomplete": [], "outside": [], "collection_failed": False}
            for info in self.worker_infos:
                # Every worker collects the whole suite; keep the first
                # complete view, but any worker's error counts.
                if not merged["collected"]:
                    merged["collected"] = info["collected"]
                    merged["deselected"] = info["deselected"]
                    merged["n_before_shard"] = info.get("n_before_shard")
                    merged["sharded_known"] = info.get("sharded_known") or []
                    merged["outside"] = info.get("outside", [])
                merged["incomplete"] += info["incomplete"]
                merged["collection_failed"] |= info["collection_failed"]
            return merged
        if self.xdist_items is not None:
            return None  # xdist run whose workers all died before reporting
        return self.collector.info()

    @pytest.hookimpl(wrapper=True, trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> Generator[None, None, None]:
        try:
            engine.check_pid()
        except engine.ForkedChild:
            return (yield)
        started = time.perf_counter()
        info = self._collection_info()
        outside = (info or {}).get("outside") or []
        if outside:
            self.messages.append(
                f"warning: {len(outside)} test file(s) outside rootdir {self.root} cannot be tracked "
                f"({', '.join(outside[:3])}{', ...' if len(outside) > 3 else ''}); their tests are not recorded and always run"
            )
        if self.recording:
            self._flush()
        if self.recording and self.engine is not None:
            self._finish(session, exitstatus, info)
        if self.engine is not None:
            try:
                self.engine.close()
            except engine.EngineError as exc:
                self.messages.append(f"error: {exc}")
            self.engine = None
        self.n_deselected = (len(info["deselected"]) if info else 0) + (
            (self.selection or {}).get("skipped_tests", 0)
        )
        self.n_selected = self.xdist_items if self.xdist_items is not None else self.collector.n_items
        self.n_before_shard = info.get("n_before_shard") if info else None
        # Everything deselected is a success, not "no tests collected".
        if session.exitstatus == pytest.ExitCode.NO_TESTS_COLLECTED and self.n_deselected > 0:
            session.exitstatus = pytest.ExitCode.OK
        if self.settings.upload and self.remote_url:  # after a successful recording run (SPEC 7.3, remote.py)
            from pytest_difftest import remote

            lines, failed = remote.upload(
                self.remote_url, db_path(self.config), self._progress(), int(session.exitstatus), self.recording
            )
            self.messages.extend(lines)
            if failed:
                session.exitstatus = remote.EXIT_REMOTE_ERROR
        self.plugin_seconds += time.perf_counter() - started
        return (yield)

    def _finish(self, session: pytest.Session, exitstatus: int, info: Optional[dict[str, Any]]) -> None:
        assert self.engine is not None
        interrupted = exitstatus == pytest.ExitCode.INTERRUPTED or bool(session.shouldstop)
        files = {}
        if info is not None:
            # Unaffected tests, and with --diff-shard the known tests another
            # shard runs: their records stay, so the file is still complete.
            deselected = set(info["deselected"]) | set(info.get("sharded_known") or [])
            incomplete = set(info["incomplete"]) | narrowed_files(self.config)
            for path, nodeids in info["collected"].items():
                complete = (
                    path not in incomplete
                    and not interrupted
                    and all(n in self.recorded or n in deselected for n in nodeids)
                )
                files[path] = {"complete": complete, "nodeids": nodeids if complete else []}
        whole = (
            info is not None
            and not info["collection_failed"]
            and not interrupted
            and not explicit_args(self.config)
        )
        try:
            self.engine.finish(
                {"files": files, "whole_suite": whole, "commit": git_commit(self.root), "untracked": list(self.untracked)}
            )
        except engine.EngineError as exc:
            self._fail(exc, "the baseline keeps what was recorded so far")

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.unrecorded:
            self.messages.append(
                f"warning: {self.unrecorded} test(s) replaced the profile/trace hook (or a profiler and a "
                "tracer held both); they were not recorded and stay selected"
            )
        if self.untracked and self.recording:
            first = next(iter(self.untracked))
            self.messages.append(
                f"warning: {len(self.untracked)} Python file(s) ran outside the project root and are neither the "
                f"standard library nor an installed distribution; they are not tracked: {first}"
                + (" ..." if len(self.untracked) > 1 else "")
            )
        for line in self.messages:
            terminalreporter.write_line(f"difftest: {line}")
        sel = self.selection
        if sel is None:
            return
        changed = sel.get("changed_files") or []
        n_selected = self.n_selected
        shard, n_total = self.settings.shard, self.n_before_shard
        # With --diff-shard, "11 of 43 selected": this shard's part of what
        # the whole selection (every shard together) runs.
        part = f"{n_selected} of " if shard is not None and n_total is not None else ""
        if not part:
            n_total = n_selected
        if sel.get("full"):
            what = "recorded" if self.settings.record and self.recording else "ran"
            head = "forced full run" if self.settings.force else "no baseline yet"
            line = f"{head}: {what} {part}all {n_total} tests"
        else:
            line = f"{part}{n_total} selected, {self.n_deselected} deselected"
            if n_total == 0:
                line += " (nothing affected by the changes)"
        if shard is not None:
            line = f"shard {shard}: {line}"
        line += f", {len(changed)} changed file{'s' if len(changed) != 1 else ''}, {self.plugin_seconds:.2f}s in plugin"
        # As pytest's own summary: a plain line with -q, none with -qq.
        verbosity = int(self.config.option.verbose)
        if verbosity >= 0:
            terminalreporter.write_sep("-", f"difftest: {line}")
        elif verbosity == -1:
            terminalreporter.write_line(f"difftest: {line}")
        if self.settings.verbose:
            terminalreporter.write_line(
                f"difftest: baseline {db_path(self.config)}, environment {self.settings.env}: "
                f"{sel.get('known', 0)} tests known, "
                f"{sel.get('affected', 0)} affected, {len(sel.get('skip_files') or [])} test files not collected, "
                f"selection took {sel.get('millis', 0):.1f} ms in the engine"
            )
            for path in changed:
                terminalreporter.write_line(f"difftest: changed: {path}")


class XdistController:
    """pytest-xdist hooks of the controller, registered only when xdist is
    installed (its hooks are unknown otherwise)."""

    def __init__(self, controller: Controller) -> None:
        self.controller = controller

    def pytest_configure_node(self, node: Any) -> None:
        node.workerinput["difftest"] = self.controller.handoff()

    def pytest_xdist_node_collection_finished(self, node: Any, ids: list[str]) -> None:
        if self.controller.xdist_items is None:
            self.controller.xdist_items = len(ids)
            self.controller.explain(ids)

    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        info = getattr(node, "workeroutput", {}).get("difftest")
        if info is not None:
            self.controller.worker_infos.append(info)
