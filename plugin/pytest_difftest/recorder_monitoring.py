"""The ``sys.monitoring`` recorder (PEP 669, CPython 3.12+).

One tool id watches ``PY_START`` and ``PY_RESUME`` on every thread (the
events are per interpreter). What the callback does depends on who else
watches:

- alone (no other tool id in use, no ``sys.settrace``/``sys.setprofile``
  function): it notes the code object and answers ``DISABLE``, so a code
  object costs one callback per capture. The next capture re-arms
  everything with ``restart_events()``;
- beside another tool (coverage.py's ``sysmon`` core on ``COVERAGE_ID``, a
  debugger, cProfile on ``PROFILER_ID``, a trace function): it notes the
  code object and never disables it. ``restart_events()`` re-enables what
  *every* tool disabled, so restarting per test would make coverage.py
  see each of its lines again in every test; a callback per call is the
  cheaper price, and nobody else's state is touched;
- in a window that needs call edges (a session window, a collector, a test
  that imports a module for the first time): it notes who called whom too
  (``ImportGraph``), and never disables.

A test cannot hide from it by installing its own profile or trace function
(those are separate slots). A test that takes the tool id over, removes our
callback or turns our events off is noticed when its phase ends: it is not
recorded and stays selected.
"""

from __future__ import annotations

import sys
import threading
from types import CodeType, FrameType
from typing import Any, Callable, Optional

from pytest_difftest.recorder import Capture, Recorder

NAME = "pytest-difftest"
# Not DEBUGGER_ID (0), COVERAGE_ID (1), PROFILER_ID (2) or OPTIMIZER_ID (5).
TOOL_IDS = (3, 4)

_mon: Any = getattr(sys, "monitoring", None)
_EVENTS = (_mon.events.PY_START | _mon.events.PY_RESUME) if _mon is not None else 0
_DISABLE = _mon.DISABLE if _mon is not None else None
_getframe = sys._getframe


class NoToolId(Exception):
    """Every tool id we may use is taken."""


# Where the callbacks put what they see. Module globals: the cheapest
# lookups in a callback that runs for every code object.
_add: Callable[[CodeType], None] = set().add
_edge: Callable[[tuple[int, int]], None] = set().add


def _once(code: CodeType, offset: int) -> Any:
    _add(code)
    return _DISABLE


def _every(code: CodeType, offset: int) -> None:
    _add(code)


# Code that runs between the phases of a test and between tests (pytest's
# own protocol, reporting): noted apart and disabled, so that it costs one
# callback until the next restart_events(). Turning our events off and on
# instead would cost more: each set_events() makes every code object that
# runs afterwards instrument itself again, six times per test.
# Whether code that may be a dependency ran there (not pytest's, pluggy's,
# this plugin's, the standard library's or generated code): the next
# capture must then re-arm everything. A flag, not a set: on 3.13 hashing a
# code object walks its bytecode.
_gap_dirty = False
_gap_dirs: tuple[str, ...] = ("<",)


def _gap(code: CodeType, offset: int) -> Any:
    global _gap_dirty
    if not _gap_dirty and not code.co_filename.startswith(_gap_dirs):
        _gap_dirty = True
    return _DISABLE


def _tool_dirs() -> tuple[str, ...]:
    """pytest's, pluggy's and this plugin's directories: their code is
    never a dependency."""
    import os

    dirs = []
    for name in ("_pytest", "pluggy", "pytest_difftest"):
        path = getattr(sys.modules.get(name), "__file__", None)
        if path:
            dirs.append(os.path.join(os.path.dirname(path), ""))
    return tuple(dirs)


def _unwatched_dirs() -> tuple[str, ...]:
    """Where code lives whose being disabled between phases loses no
    dependency: pytest, pluggy, this plugin, the standard library and
    generated code ("<string>": dataclasses' methods, exec), none of which
    is recorded."""
    import os
    import sysconfig

    stdlib = {sysconfig.get_paths()[k] for k in ("stdlib", "platstdlib")}
    return _tool_dirs() + tuple(os.path.join(d, "") for d in stdlib if d) + ("<",)


# Call edges are kept as (caller id, callee id) pairs, with the code objects
# in _by_id (which keeps them alive, so their ids stay theirs): on 3.13
# hashing a code object walks its bytecode, and edge windows (start-up,
# collection) see tens of thousands of calls. _graph turns them back into
# code objects once per window.
_by_id: dict[int, CodeType] = {}
_keep = _by_id.__setitem__


def _note_edge(code: CodeType, caller: Optional[FrameType]) -> int:
    cid = id(code)
    _keep(cid, code)
    if caller is None:
        _edge((0, cid))
    else:
        cc = caller.f_code
        _keep(id(cc), cc)
        _edge((id(cc), cid))
    return cid


def _edges(code: CodeType, offset: int) -> None:
    # Frame 0 is this callback, frame 1 the code starting; its f_back is
    # the nearest Python caller (through C functions such as map()).
    _note_edge(code, _getframe(1).f_back)


# Code whose calls need no edges (see _unwatched_dirs), by code id: in an
# edge window it is disabled after its first call. Its callees still report
# it as their caller (f_back), and the import machinery's own frames are
# never a callee that matters (ImportGraph skips them).
_quiet: dict[int, bool] = {}
# _armed_for after an edge window that disabled only such code.
_QUIET = object()
_quiet_dirs: tuple[str, ...] = ("<frozen importlib",)


def _edges_once(code: CodeType, offset: int) -> Any:
    cid = _note_edge(code, _getframe(1).f_back)
    quiet = _quiet.get(cid)
    if quiet is None:
        quiet = _quiet[cid] = code.co_filename.startswith(_quiet_dirs)
    return _DISABLE if quiet else None


def _paused(code: CodeType, offset: int) -> Any:
    cid = id(code)
    quiet = _quiet.get(cid)
    if quiet is None:
        _keep(cid, code)
        quiet = _quiet[cid] = code.co_filename.startswith(_quiet_dirs)
    return _DISABLE if quiet else None


def _graph(edges: set[tuple[int, int]]) -> tuple[list[CodeType], dict[CodeType, list[CodeType]]]:
    by_id = _by_id
    codes: set[CodeType] = set()
    callees: dict[CodeType, list[CodeType]] = {}
    for caller_id, callee_id in list(edges):
        callee = by_id.get(callee_id)
        if callee is None:
            continue
        codes.add(callee)
        caller = by_id.get(caller_id) if caller_id else None
        if caller is not None:
            callees.setdefault(caller, []).append(callee)
    return list(codes), callees


def _acquire() -> int:
    for tool in TOOL_IDS:
        try:
            _mon.use_tool_id(tool, NAME)
        except ValueError:
            continue
        return tool
    taken = ", ".join(f"{tool} ({_mon.get_tool(tool)})" for tool in TOOL_IDS)
    raise NoToolId(f"sys.monitoring tool ids {taken} are taken")


class MonitoringRecorder(Recorder):
    def __init__(self) -> None:
        super().__init__()
        self._tool = _acquire()
        self._lost = False  # somebody else took our tool id
        self._on = False  # our events are set
        self._cb: Any = None  # our registered callback
        # The code set that received every code object disabled since the
        # last restart_events() (None: nothing disabled). Unknown at first:
        # a tool id freed by an earlier session may leave disabled code.
        self._armed_for: Any = object()
        self._junk: set[CodeType] = set()
        # Call edges of the open windows and of the current test once it
        # imported a module.
        self._session: Optional[set[tuple[int, int]]] = None
        self._collect: Optional[set[tuple[int, int]]] = None
        self._collect_paused = False
        self._test_edges: Optional[set[tuple[int, int]]] = None
        self._test_on = False
        self._unwatched = 0
        # Whether anything ran, and was disabled, outside any capture since
        # the last restart_events() (see _gap).
        self._gapped = False
        self._gap_dirs: Optional[tuple[str, ...]] = None

    # -- feeding ---------------------------------------------------------------

    def _exclusive(self) -> bool:
        """No other tool watches: disabling a code object until the next
        restart_events() harms nobody."""
        for tool in range(6):
            if tool != self._tool and _mon.get_tool(tool) is not None:
                return False
        gettrace = getattr(threading, "gettrace", None)
        return sys.gettrace() is None and sys.getprofile() is None and (gettrace is None or gettrace() is None)

    def _target(self) -> Optional[tuple[set[CodeType], Optional[set[Any]]]]:
        if self._unwatched or self._lost:
            return None
        if self._collect is not None:
            return None if self._collect_paused else (self._junk, self._collect)
        if self._session is not None:
            return self._junk, self._session
        if self._stack and self._test_on:
            return self._stack[-1].codes, self._test_edges
        return None

    def _refresh(self) -> None:
        """Point the callback at what should receive events now, and turn
        our events on or off."""
        global _add, _edge, _gap_dirs, _gap_dirty, _quiet_dirs
        if self._lost:
            return
        target = self._target()
        if target is None:
            if self._unwatched or not self._exclusive():
                if self._on:
                    _mon.set_events(self._tool, 0)
                    self._on = False
                return
            if self._collect is not None:
                # Item building, between pytest_generate_tests calls (once
                # per test function): pytest's code is disabled as in the
                # edge window around it, nothing is noted.
                self._use(_paused)
            else:
                if self._gap_dirs is None:
                    self._gap_dirs = _gap_dirs = _unwatched_dirs()
                self._gapped = True
                self._use(_gap)
            return
        codes, edges = target
        if self._gapped:
            if _gap_dirty:
                self._armed_for = object()  # restart below
            _gap_dirty = self._gapped = False
        if edges is not None:
            cb: Callable[..., Any] = _edges
            _edge = edges.add
            armed = None
            if self._exclusive():
                if len(_quiet_dirs) == 1:
                    _quiet_dirs = _tool_dirs() + _quiet_dirs
                cb = _edges_once
        elif self._exclusive():
            cb = _once
            armed = codes
        else:
            cb = _every
            armed = None
        # Code disabled for another code set would not be seen by this one;
        # call edges need every call seen, even of code already noted.
        quiet = cb is _edges_once
        if self._armed_for is not None and (
            (edges is not None and not (quiet and self._armed_for is _QUIET)) or (edges is None and self._armed_for is not codes)
        ):
            _mon.restart_events()
            self._armed_for = None
        if armed is not None:
            self._armed_for = armed
        elif quiet:
            # pytest's code is disabled: the next capture re-arms.
            self._armed_for = _QUIET
        _add = codes.add
        self._use(cb)

    def _use(self, cb: Callable[..., Any]) -> None:
        """Events on, with cb as the callback."""
        if self._cb is not cb:
            _mon.register_callback(self._tool, _mon.events.PY_START, cb)
            _mon.register_callback(self._tool, _mon.events.PY_RESUME, cb)
            self._cb = cb
        if not self._on:
            _mon.set_events(self._tool, _EVENTS)
            self._on = True

    def _still_ours(self) -> bool:
        """Whether our tool id, events and callbacks survived what ran."""
        if self._lost:
            return False
        if _mon.get_tool(self._tool) != NAME:
            self._lost = True
            self._on = False
            self._cb = None
            return False
        ok = not self._on or _mon.get_events(self._tool) == _EVENTS
        for event in (_mon.events.PY_START, _mon.events.PY_RESUME):
            if _mon.register_callback(self._tool, event, self._cb) is not self._cb:
                ok = False
        return ok

    def _regain(self) -> bool:
        """Our tool id, again if a test took it; False when none is free."""
        if not self._lost:
            return True
        try:
            self._tool = _acquire()
        except NoToolId:
            return False
        self._lost = False
        self._on = False
        self._cb = None
        self._armed_for = object()
        return True

    # -- a test's captures ---------------------------------------------------------

    def _capturing_test(self) -> bool:
        return self._test_on and bool(self._stack)

    def start(self) -> None:
        self._install_audit_hook()
        self.test_imported = False
        self._test_edges = None
        self._test_on = False
        self._stack = [Capture()]
        self.displaced = not self._regain()

    def stop(self) -> Optional[Capture]:
        if not self._stack:
            return None
        if self._test_on:
            self.suspend()
        elif not self._still_ours():
            self.displaced = True
        self._harvest()
        outer = self._stack[0]
        for inner in self._stack[1:]:
            outer.merge(inner)
        self._stack = []
        self._test_edges = None
        # Files the test opened during its imports went to the imports the
        # graph saw when harvested; the rest stay the test's own.
        self.imports.opens.clear()
        if self.displaced:
            return None
        # Another thread may still add to outer's set: hand out a copy.
        done = Capture()
        done.codes = set(outer.codes)
        done.opened = set(outer.opened)
        return done

    def suspend(self) -> None:
        if not self._stack or not self._test_on:
            return
        if not self._still_ours():
            self.displaced = True
        self._test_on = False
        self._refresh()

    def resume(self) -> None:
        if self._stack and not self._test_on:
            self._test_on = True
            self._refresh()

    def push(self) -> bool:
        if not self._stack:
            return False
        self._harvest()
        self._stack.append(Capture())
        self._refresh()
        return True

    def pop(self, charge_outer: bool = True) -> Capture:
        self._harvest()
        inner = self._stack.pop()
        if charge_outer:
            self._stack[-1].merge(inner)
            if self._armed_for is inner.codes:
                # What the inner capture disabled, the outer one holds now.
                self._armed_for = self._stack[-1].codes
        self._refresh()
        return inner

    def _test_import(self) -> None:
        """From now on, the test's capture keeps call edges too, so that
        what the import ran is known (ImportGraph); and everything is armed
        again, or code the test already ran would not show in the import."""
        if self._test_edges is None:
            self._test_edges = set()
            self._refresh()

    def _harvest(self) -> None:
        edges = self._test_edges
        if edges:
            taken = set(edges)
            edges.clear()
            codes, callees = _graph(taken)
            # The edge callbacks note no code set: the capture open since
            # the last harvest takes what they saw.
            if self._stack:
                self._stack[-1].codes.update(codes)
            self.imports.absorb(codes, callees)

    def unwatched(self, run: Callable[[], Any]) -> Any:
        self._unwatched += 1
        self._refresh()
        try:
            return run()
        finally:
            self._unwatched -= 1
            self._refresh()

    # -- windows ------------------------------------------------------------------

    def session_begin(self) -> None:
        self._install_audit_hook()
        if self._session is not None:
            return
        self._watching = True
        self._session = set()
        self._refresh()

    def session_end(self) -> None:
        edges, self._session = self._session, None
        if edges is None:
            return
        self._watching = self.collecting is not None
        self._refresh()
        self._junk.clear()
        self.imports.absorb(*_graph(edges), session=True)

    def collect_begin(self) -> None:
        self._install_audit_hook()
        self.collecting = set()
        self._watching = True
        self._collect = set()
        self._collect_paused = False
        self._refresh()

    def collect_pause(self) -> bool:
        if self._collect is None or self._collect_paused:
            return False
        self._collect_paused = True
        self._refresh()
        return True

    def collect_resume(self) -> None:
        if self._collect is not None and self._collect_paused:
            self._collect_paused = False
            self._refresh()

    def collect_end(self) -> Capture:
        cap = Capture()
        cap.opened, self.collecting = self.collecting or set(), None
        self._watching = self._session is not None
        edges, self._collect = self._collect, None
        self._refresh()
        self._junk.clear()
        if edges is not None:
            codes, callees = _graph(edges)
            cap.codes = set(codes)
            self.imports.absorb(codes, callees)
        return cap

    def close(self) -> None:
        self._stack = []
        self._test_on = False
        self._session = self._collect = None
        self._unwatched = 0
        if self._on and not self._lost and _mon.get_tool(self._tool) == NAME:
            _mon.set_events(self._tool, 0)
        self._on = False
        if not self._lost and _mon.get_tool(self._tool) == NAME:
            for event in (_mon.events.PY_START, _mon.events.PY_RESUME):
                _mon.register_callback(self._tool, event, None)
            if self._armed_for is not None or self._gapped:
                # Give back what we disabled (the next user of the id would
                # not see it otherwise; 3.12 and 3.13 keep it past free).
                _mon.restart_events()
            clear = getattr(_mon, "clear_tool_id", None)
            if clear is not None:
                clear(self._tool)
            _mon.free_tool_id(self._tool)
        self._lost = True
        _by_id.clear()
        _quiet.clear()
        super().close()
