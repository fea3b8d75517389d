"""What a test executed and read: the code objects it entered and the files
it opened for reading.

Blocks are the unit of dependency, so lines are not needed: each code object
entered (its file and first line) is enough for the engine to map it to a
function block. The test's thread is watched by the standard library's C
profiler (``_lsprof``, the core of cProfile) without subcall and builtin
tracking: a call costs a C callback instead of a Python one, which made the
recording of a call-heavy suite (more-itertools) several times cheaper than a
``sys.setprofile`` function. Threads the test starts get a Python profile
function. The profile slot leaves ``sys.settrace`` to coverage tools and
debuggers; when a profiler already holds it, a Python trace function takes
the trace slot instead. Captures nest, so that what a session- or
module-scoped fixture executed can be charged to every test that uses it.
"""

from __future__ import annotations

import os
import sys
import threading
from types import CodeType, FrameType
from typing import Any, Callable, Optional

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

_READ_ONLY = getattr(os, "O_ACCMODE", 3)


class Capture:
    """Code objects entered and files opened during one capture."""

    __slots__ = ("codes", "opened")

    def __init__(self) -> None:
        self.codes: set[CodeType] = set()
        self.opened: set[str] = set()

    def merge(self, other: "Capture") -> None:
        self.codes |= other.codes
        self.opened |= other.opened


def _hook(codes: set[CodeType]) -> ProfileFunc:
    add = codes.add

    def hook(frame: FrameType, event: str, arg: Any) -> None:
        # As a profile function: the frame of every event is one that runs
        # (the callee on "call", the caller on "c_call"), and adding it
        # again costs a set lookup. As a global trace function it sees only
        # "call" and, returning None, asks for no line events.
        add(frame.f_code)

    return hook


# The import system's own frames: a module's code calls into it to import
# another module, whose code is that module's business, not the importer's.
_IMPORT_MACHINERY = "<frozen importlib"


class ImportGraph:
    """What importing each module ran: the code its module-level code
    called, directly or through other functions, but not the code of the
    modules it imported in turn (each has its own entry, and the engine's
    import graph joins them).

    A module is executed once per process, by whichever import comes
    first, yet every test whose files import it depends on what that
    execution computed (a table built by a function, a decorator's
    registrations). So what a module's import ran is reported per module,
    and the engine charges it to every test file that imports the module."""

    def __init__(self) -> None:
        self.seen: set[CodeType] = set()  # module code objects taken in
        self.fresh: list[tuple[CodeType, set[CodeType]]] = []  # not yet reported

    def absorb(self, stats: Any) -> None:
        """Take in the statistics of a C profiler run with subcalls."""
        callees: dict[CodeType, list[CodeType]] = {}
        modules: list[CodeType] = []
        for entry in stats:
            code = entry.code
            if type(code) is not CodeType:
                continue
            if code.co_name == "<module>" and code not in self.seen:
                modules.append(code)
            if entry.calls:
                callees[code] = [c.code for c in entry.calls if type(c.code) is CodeType]
        for module in modules:
            seen = {module}
            todo = [module]
            while todo:
                for callee in callees.get(todo.pop(), ()):
                    if (
                        callee not in seen
                        and callee.co_name != "<module>"
                        and not callee.co_filename.startswith(_IMPORT_MACHINERY)
                    ):
                        seen.add(callee)
                        todo.append(callee)
            self.seen.add(module)
            if len(seen) > 1:
                self.fresh.append((module, seen))

    def take_fresh(self) -> list[tuple[CodeType, set[CodeType]]]:
        fresh, self.fresh = self.fresh, []
        return fresh


def import_profiler() -> Any:
    """A C profiler that records who called whom, for ImportGraph; None when
    the profile slot is taken or there is no C profiler."""
    if _lsprof is None or sys.getprofile() is not None:
        return None
    return _lsprof.Profiler(subcalls=True, builtins=False)


# Imports before the plugin is configured (conftest.py files and what they
# import): started by the plugin's first hook when recording.
_startup: Any = None


def watch_startup_imports() -> None:
    global _startup
    prof = import_profiler()
    if prof is not None:
        prof.enable()
        _startup = prof


def startup_imports() -> Any:
    """Stop watching the start-up imports; their statistics (or [])."""
    global _startup
    prof, _startup = _startup, None
    if prof is None:
        return []
    if sys.getprofile() is prof:
        prof.disable()
    return prof.getstats()


class Recorder:
    """Stack of captures; the innermost one receives what runs.

    It installs itself with sys.setprofile, or with sys.settrace when a
    profiler already holds that slot, and never displaces another tool: with
    both slots taken, tests run unrecorded (and so stay selected)."""

    def __init__(self) -> None:
        self._stack: list[Capture] = []
        self._audit_installed = False
        # What sits in our slot while installed (the C profiler or a Python
        # hook), and the capture it feeds.
        self._hook: Any = None
        # The capture whose calls the C profiler holds, not yet harvested:
        # the profiler only pauses between a test's phases, and its
        # statistics are read once per capture rather than once per phase.
        self._pending: Optional[Capture] = None
        self._prof = _CProfiler(subcalls=False, builtins=False) if _lsprof is not None else None
        self._use_prof = False
        self._set: Callable[[Optional[ProfileFunc]], None] = sys.setprofile
        self._set_threads: Callable[[Optional[ProfileFunc]], None] = threading.setprofile  # type: ignore[assignment]
        self._get: Callable[[], Optional[ProfileFunc]] = sys.getprofile
        self.displaced = False  # our hook was replaced during the capture
        # The audit event our own calls of self._set raise, the thread that
        # runs the test, and whether the call being audited is ours.
        self._event = "sys.setprofile"
        self._thread = 0
        self._own_call = False
        self.unavailable = False  # both slots were taken at start
        # Files opened while a test module is imported (module-level data
        # such as parametrize cases read from JSON), when not None.
        self.collecting: Optional[set[str]] = None
        self._collect_prof: Any = None
        self.imports = ImportGraph()

    @property
    def active(self) -> bool:
        return bool(self._stack)

    def start(self) -> None:
        """Begin the capture of one test (suspended until resume())."""
        self._install_audit_hook()
        self._stack = []
        self.displaced = False
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
        if self.displaced:
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
            assert self._prof is not None
            if self._pending is not cap:
                self._harvest()
                self._pending = cap
            self._prof.feeding = cap.codes
            self._own(self._prof.enable)
            self._hook = self._prof
        else:
            hook = _hook(cap.codes)
            self._own(lambda: self._set(hook))
            self._hook = hook
        self._set_threads(_hook(cap.codes))

    def _uninstall(self) -> None:
        """Take our hook out of its slot (another tool's is left alone)."""
        if self._hook is None:
            return
        if self._get() is not self._hook:
            # Someone replaced our hook mid-test; do not fight them.
            self.displaced = True
        elif self._use_prof:
            assert self._prof is not None
            self._own(self._prof.disable)
        else:
            self._own(lambda: self._set(None))
        self._set_threads(None)
        self._hook = None

    def _harvest(self) -> None:
        """Hand what the C profiler saw to the capture it was feeding."""
        cap, self._pending = self._pending, None
        if cap is None or self._prof is None:
            return
        add = cap.codes.add
        for entry in self._prof.getstats():
            if type(entry.code) is CodeType:
                add(entry.code)
        self._prof.clear()
        self._prof.feeding = None

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
        self._collect_prof = import_profiler()
        if self._collect_prof is not None:
            self._own(self._collect_prof.enable)

    def collect_pause(self) -> bool:
        """Stop watching while pytest builds items (its own machinery, the
        bulk of collection); False when not watching."""
        prof = self._collect_prof
        if prof is None or sys.getprofile() is not prof:
            return False
        self._own(prof.disable)
        return True

    def collect_resume(self) -> None:
        prof = self._collect_prof
        if prof is not None and sys.getprofile() is None:
            self._own(prof.enable)

    def collect_end(self) -> Capture:
        cap = Capture()
        cap.opened, self.collecting = self.collecting or set(), None
        prof, self._collect_prof = self._collect_prof, None
        if prof is not None:
            if sys.getprofile() is prof:
                self._own(prof.disable)
            stats = prof.getstats()
            cap.codes = {e.code for e in stats if type(e.code) is CodeType}
            self.imports.absorb(stats)
        return cap

    def _install_audit_hook(self) -> None:
        # Audit hooks cannot be removed: install one, once, that does
        # nothing while no test is captured.
        if self._audit_installed:
            return
        self._audit_installed = True

        def audit(event: str, args: tuple[Any, ...]) -> None:
            if event != "open":
                # The test replacing our hook, even for a moment (and putting
                # it back): what ran meanwhile went unseen, so the test is
                # not recorded. Threads it starts install our hook
                # themselves; those calls do not count.
                if (
                    event == self._event
                    and self._hook is not None
                    and not self._own_call
                    and threading.get_ident() == self._thread
                ):
                    self.displaced = True
                return
            # Any thread may open a file while the main thread starts or
            # stops a capture: read the state once, and never raise (an
            # audit hook's exception would fail the open() itself).
            stack = self._stack
            if self._hook is None or not stack:
                if self.collecting is None:
                    return
                target = self.collecting
            else:
                try:
                    target = stack[-1].opened
                except IndexError:
                    return
            path, mode, flags = args
            if isinstance(mode, str):
                if "r" not in mode or "+" in mode:
                    return
            elif isinstance(flags, int) and flags & _READ_ONLY != os.O_RDONLY:
                return
            if isinstance(path, int):
                return
            if isinstance(path, bytes):
                path = os.fsdecode(path)
            try:
                target.add(os.path.abspath(path))
            except (TypeError, ValueError):
                pass

        sys.addaudithook(audit)
