"""The profile-hook recorder (CPython 3.9-3.11, and 3.12+ when no
``sys.monitoring`` tool id is free).

The test's thread is watched by the standard library's C profiler
(``_lsprof``, the core of cProfile) without subcall and builtin tracking: a
call costs a C callback instead of a Python one, which made the recording of
a call-heavy suite (more-itertools) several times cheaper than a
``sys.setprofile`` function. Threads the test starts get a Python profile
function. The profile slot leaves ``sys.settrace`` to coverage tools and
debuggers; when a profiler already holds it, a Python trace function takes
the trace slot instead.
"""

from __future__ import annotations

import sys
import threading
from types import CodeType, FrameType
from typing import Any, Callable, Optional

from pytest_difftest.recorder import Capture, Recorder

try:
    import _lsprof
except ImportError:  # another interpreter: the Python hook does the work
    _lsprof = None  # type: ignore[assignment]

if _lsprof is not None:

    class _CProfiler(_lsprof.Profiler):  # type: ignore[misc,name-defined]
        """The C profiler, callable: a test that saves sys.getprofile() and
        restores it later gets a working profile function back (which goes
        on noting calls, in Python, until the phase ends)."""

        feeding: Optional[set[CodeType]] = None

        def __call__(self, frame: FrameType, event: str, arg: Any) -> None:
            codes = self.feeding
            if codes is not None:
                codes.add(frame.f_code)


ProfileFunc = Callable[[FrameType, str, Any], Any]

# Up to 3.11 the C profiler sits in the sys.setprofile slot; from 3.12 on it
# sits on sys.monitoring's profiler tool id (this recorder then runs only
# when our own tool ids are taken): tests get the Python profile function,
# and the C profiler, whose enabled state sys.getprofile() no longer shows,
# serves only the windows that need call edges.
_IN_SLOT = sys.version_info < (3, 12)


def _hook(codes: set[CodeType]) -> ProfileFunc:
    add = codes.add

    def hook(frame: FrameType, event: str, arg: Any) -> None:
        # As a profile function: the frame of every event is one that runs
        # (the callee on "call", the caller on "c_call"), and adding it
        # again costs a set lookup. As a global trace function it sees only
        # "call" and, returning None, asks for no line events.
        add(frame.f_code)

    return hook



def import_profiler() -> Any:
    """A C profiler that records who called whom, for ImportGraph; None when
    the profile slot is taken or there is no C profiler."""
    if _lsprof is None or sys.getprofile() is not None:
        return None
    return _lsprof.Profiler(subcalls=True, builtins=False)



class ProfileRecorder(Recorder):
    """It installs itself with sys.setprofile, or with sys.settrace when a
    profiler already holds that slot, and never displaces another tool: with
    both slots taken, tests run unrecorded (and so stay selected)."""

    def __init__(self) -> None:
        super().__init__()
        # What sits in our slot while installed (the C profiler or a Python
        # hook), and the capture it feeds.
        self._hook: Any = None
        # The capture whose calls the C profiler holds, not yet harvested:
        # the profiler only pauses between a test's phases, and its
        # statistics are read once per capture rather than once per phase.
        self._pending: Optional[Capture] = None
        self._prof = _CProfiler(subcalls=False, builtins=False) if _lsprof is not None and _IN_SLOT else None
        # The C profiler in use for the current test: the plain one, or,
        # once the test imports a module for the first time, one that keeps
        # call edges, so that what the import ran is known (ImportGraph).
        self._cur = self._prof
        self._graph_prof: Any = None
        self._use_prof = False
        # A session window's profiler (start-up, collection hooks).
        self._session_prof: Any = None
        self._set: Callable[[Optional[ProfileFunc]], None] = sys.setprofile
        self._set_threads: Callable[[Optional[ProfileFunc]], None] = threading.setprofile  # type: ignore[assignment]
        self._get: Callable[[], Optional[ProfileFunc]] = sys.getprofile
        # The audit event our own calls of self._set raise, the thread that
        # runs the test, and whether the call being audited is ours.
        self._event = "sys.setprofile"
        self._thread = 0
        self._own_call = False
        self._collect_prof: Any = None
        # On 3.12+ the C profiler shares sys.monitoring's profiler slot with
        # any other (python -m cProfile): when it cannot be enabled, what
        # runs from then on is unknown, and no test is recorded.
        self._blind = False
        self._window_on: Any = None  # the window profiler we enabled

    def start(self) -> None:
        """Begin the capture of one test (suspended until resume())."""
        self._install_audit_hook()
        self._stack = []
        self.displaced = False
        self.test_imported = False
        self._cur = self._prof
        self._thread = threading.get_ident()
        if sys.getprofile() is None:
            self._set, self._set_threads, self._get = sys.setprofile, threading.setprofile, sys.getprofile  # type: ignore[assignment]
            self._event = "sys.setprofile"
            self._use_prof = self._prof is not None
        elif sys.gettrace() is None:
            self._set, self._set_threads, self._get = sys.settrace, threading.settrace, sys.gettrace  # type: ignore[assignment]
            self._event = "sys.settrace"
            self._use_prof = False
        else:
            self.unavailable = True
            return
        self.unavailable = False
        self._stack.append(Capture())
        self._hook = None

    def stop(self) -> Optional[Capture]:
        """End the test's capture (and any nested one left open). None when
        nothing could be captured reliably."""
        if not self._stack:
            return None
        self._uninstall()
        self._harvest()
        outer = self._stack[0]
        for inner in self._stack[1:]:
            outer.merge(inner)
        self._stack = []
        # Files the test opened during its imports went to the imports the
        # graph saw when harvested; the rest stay the test's own.
        self.imports.opens.clear()
        if self.displaced or self._blind:
            return None
        # A thread the test started may still run with our hook and add to
        # outer's sets: hand out a copy (set() copies a set without
        # letting another thread in), which nobody else changes.
        done = Capture()
        done.codes = set(outer.codes)
        done.opened = set(outer.opened)
        return done

    def suspend(self) -> None:
        """Stop noting what runs, between a test's phases (reporting hooks
        are not the test's dependencies)."""
        if self._stack:
            self._uninstall()

    def resume(self) -> None:
        if self._stack and self._hook is None:
            self._install(self._stack[-1])

    def push(self) -> bool:
        """Begin a nested capture; False when no test is being captured."""
        if not self._stack:
            return False
        self._uninstall()
        self._harvest()
        self._enter()
        return True

    def pop(self, charge_outer: bool = True) -> Capture:
        """End the innermost nested capture, charging it to the outer one
        too unless told not to, and return it."""
        self._uninstall()
        self._harvest()
        inner = self._stack.pop()
        if charge_outer:
            self._stack[-1].merge(inner)
        self._install(self._stack[-1])
        return inner

    def _enter(self) -> None:
        cap = Capture()
        self._stack.append(cap)
        self._install(cap)

    def _install(self, cap: Capture) -> None:
        if self.displaced:
            return
        if self._get() is not None:
            # The test left its own profiler (or tracer) in our slot.
            self.displaced = True
            return
        if self._use_prof:
            prof = self._cur
            assert prof is not None
            if self._pending is not cap:
                self._harvest()
                self._pending = cap
            # Threads first: what runs after enable() is the test's.
            self._set_threads(_hook(cap.codes))
            prof.feeding = cap.codes
            self._enable(prof)
            self._hook = prof
        else:
            self._set_threads(_hook(cap.codes))
            hook = _hook(cap.codes)
            self._own(lambda: self._set(hook))
            self._hook = hook

    def _uninstall(self) -> None:
        """Take our hook out of its slot (another tool's is left alone)."""
        if self._hook is None:
            return
        if self._get() is not self._hook:
            # Someone replaced our hook mid-test; do not fight them.
            self.displaced = True
        elif self._use_prof:
            assert self._cur is not None
            self._own_call = True
            try:
                self._cur.disable()
            finally:
                self._own_call = False
        else:
            self._own(lambda: self._set(None))
        self._set_threads(None)
        self._hook = None

    def _harvest(self) -> None:
        """Hand what the C profiler saw to the capture it was feeding."""
        cap, self._pending = self._pending, None
        prof = self._cur
        if cap is None or prof is None:
            return
        add = cap.codes.add
        stats = prof.getstats()
        for entry in stats:
            if type(entry.code) is CodeType:
                add(entry.code)
        if prof is self._graph_prof:
            self.imports.absorb(*_from_stats(stats))
        prof.clear()
        prof.feeding = None

    def _watch_test_import(self) -> None:
        """The test is about to import a module for the first time: go on
        with the profiler that keeps call edges (from inside the audit hook,
        on the test's thread, with our profiler installed)."""
        cap = self._pending
        if cap is None or self._hook is not self._prof or self._get() is not self._prof:
            return
        self._own(self._prof.disable)
        self._harvest()
        if self._graph_prof is None:
            self._graph_prof = _CProfiler(subcalls=True, builtins=False)
        prof = self._cur = self._graph_prof
        self._pending = cap
        prof.feeding = cap.codes
        self._enable(prof)
        self._hook = prof

    def unwatched(self, run: Callable[[], Any]) -> Any:
        """Call run with our profiler (whichever window holds the slot)
        paused."""
        prof = sys.getprofile() if _IN_SLOT else self._window_on
        if prof is None or not (prof is self._session_prof or prof is self._collect_prof or prof is self._hook):
            return run()
        self._disable(prof)
        try:
            return run()
        finally:
            if self._free():
                self._enable(prof)

    # -- session windows ------------------------------------------------------

    def session_begin(self) -> None:
        """Watch what runs outside tests and collectors (conftest.py files
        loaded at start-up and their hooks, the collection hooks), until
        session_end."""
        self._install_audit_hook()
        if self._session_prof is not None:
            return
        self._watching = True
        prof = import_profiler()
        if prof is not None:
            self._enable(prof)
        self._session_prof = prof or False

    def session_end(self) -> None:
        prof, self._session_prof = self._session_prof, None
        if prof is None:
            return
        self._watching = False
        stats = []
        if prof:
            if self._holds(prof):
                self._disable(prof)
            stats = prof.getstats()
        self.imports.absorb(*_from_stats(stats), session=True)

    def _enable(self, prof: Any) -> None:
        try:
            self._own(prof.enable)
        except ValueError:  # 3.12+: another C profiler holds the slot
            self._blind = True
            return
        self._window_on = prof

    def _disable(self, prof: Any) -> None:
        self._own(prof.disable)
        if self._window_on is prof:
            self._window_on = None

    def _holds(self, prof: Any) -> bool:
        """Whether prof is enabled (by us, and in our slot)."""
        return sys.getprofile() is prof if _IN_SLOT else self._window_on is prof

    def _free(self) -> bool:
        return sys.getprofile() is None if _IN_SLOT else self._window_on is None

    def _own(self, change: Callable[[], Any]) -> None:
        """Change our slot; the audit event this raises is not the test's."""
        self._own_call = True
        try:
            change()
        finally:
            self._own_call = False

    def collect_begin(self) -> None:
        """Start noting what a collector's imports run and open, outside any
        test: calls made there (a validator or a factory called in a class
        body, parametrize arguments, module constants computed by a
        function) shape every test of the module."""
        self._install_audit_hook()
        self.collecting = set()
        self._watching = True
        self._collect_prof = import_profiler()
        if self._collect_prof is not None:
            self._enable(self._collect_prof)

    def collect_pause(self) -> bool:
        """Stop watching while pytest builds items (its own machinery, the
        bulk of collection); False when not watching."""
        prof = self._collect_prof
        if prof is None or not self._holds(prof):
            return False
        self._disable(prof)
        return True

    def collect_resume(self) -> None:
        prof = self._collect_prof
        if prof is not None and self._free():
            self._enable(prof)

    def collect_end(self) -> Capture:
        cap = Capture()
        cap.opened, self.collecting = self.collecting or set(), None
        self._watching = False
        prof, self._collect_prof = self._collect_prof, None
        stats = []
        if prof is not None:
            if self._holds(prof):
                self._disable(prof)
            stats = prof.getstats()
            cap.codes = {e.code for e in stats if type(e.code) is CodeType}
        self.imports.absorb(*_from_stats(stats))
        return cap

    def close(self) -> None:
        if self._stack:
            self._uninstall()
        for prof in (self._session_prof, self._collect_prof):
            if prof and self._holds(prof):
                self._disable(prof)
        self._session_prof = self._collect_prof = None
        super().close()

    # -- the audit hook's questions --------------------------------------------

    def _capturing_test(self) -> bool:
        return self._hook is not None and bool(self._stack)

    def _test_import(self) -> None:
        if self._use_prof and threading.get_ident() == self._thread:
            self._watch_test_import()

    def _other_event(self, event: str) -> None:
        # The test replacing our hook, even for a moment (and putting it
        # back): what ran meanwhile went unseen, so the test is not
        # recorded. Threads it starts install our hook themselves; those
        # calls do not count.
        if event == self._event and self._hook is not None and not self._own_call and threading.get_ident() == self._thread:
            self.displaced = True


def _from_stats(stats: Any) -> tuple[list[CodeType], dict[CodeType, list[CodeType]]]:
    """The code objects a C profiler with subcalls saw, and who called
    whom."""
    codes: list[CodeType] = []
    callees: dict[CodeType, list[CodeType]] = {}
    for entry in stats:
        code = entry.code
        if type(code) is not CodeType:
            continue
        codes.append(code)
        if entry.calls:
            callees[code] = [c.code for c in entry.calls if type(c.code) is CodeType]
    return codes, callees
