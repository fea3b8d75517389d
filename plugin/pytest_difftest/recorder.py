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

from pytest_difftest import listings

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
_CODE_FILES = (".py", ".pyc", ".so", ".pyd")


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
    import graph joins them); and the files it opened.

    A module is executed once per process, by whichever import comes
    first, yet every test whose files import it depends on what that
    execution computed (a table built by a function, a decorator's
    registrations, data read from a file). So what a module's import ran is
    reported per module, and the engine charges it to every test file that
    imports the module.

    Session windows (start-up until collection, and the hooks that run
    after collectors) also yield what ran there outside any import: a
    conftest.py's pytest_configure and what it calls, the files it reads,
    and the modules it (or a ``pytest_plugins`` entry) imports. Every test
    depends on that."""

    def __init__(self) -> None:
        self.seen: set[CodeType] = set()  # module code objects taken in
        self.fresh: list[tuple[CodeType, set[CodeType], set[str]]] = []  # not yet reported
        # Files opened and modules imported inside a watch window, not yet
        # matched with the imports that were running then: (path or module
        # name, the module code objects executing at that moment).
        self.opens: list[tuple[str, tuple[CodeType, ...]]] = []
        self.imported: list[tuple[str, tuple[CodeType, ...]]] = []
        self.session_codes: set[CodeType] = set()
        self.session_opened: set[str] = set()
        self.session_fresh = False
        # Whether a code object is the project's (set by the recording
        # plugin, which knows rootdir).
        self.is_project: Callable[[CodeType], bool] = lambda code: True

    def absorb(self, stats: Any, session: bool = False) -> None:
        """Take in the statistics of a C profiler run with subcalls; session
        when they cover a session window."""
        callees: dict[CodeType, list[CodeType]] = {}
        window: list[CodeType] = []  # modules executed in the window
        codes: list[CodeType] = []
        for entry in stats:
            code = entry.code
            if type(code) is not CodeType:
                continue
            codes.append(code)
            if code.co_name == "<module>":
                window.append(code)
            if entry.calls:
                callees[code] = [c.code for c in entry.calls if type(c.code) is CodeType]
        in_window = set(window)
        opened_by: dict[CodeType, set[str]] = {}
        unclaimed: set[str] = set()
        opens, self.opens = self.opens, []
        for path, stack in opens:
            claimed = False
            # Every import under way claims the file: an importer that
            # loaded the reader dynamically does not import it statically.
            for module in stack:
                if module in in_window:
                    opened_by.setdefault(module, set()).add(path)
                    claimed = True
            if not claimed:
                unclaimed.add(path)
        reached: dict[CodeType, set[CodeType]] = {}
        for module in window:
            if module in self.seen:
                # Imported again (importlib.reload): the session's view of
                # what imports ran still needs it.
                if session:
                    reached[module] = _reach([module], callees)
                continue
            reached[module] = _reach([module], callees)
            self.seen.add(module)
            opened = opened_by.get(module, set())
            if len(reached[module]) > 1 or opened:
                self.fresh.append((module, reached[module], opened))
        imported, self.imported = self.imported, []
        if session:
            self._absorb_session(codes, callees, reached, imported, unclaimed)

    def _absorb_session(
        self,
        codes: list[CodeType],
        callees: dict[CodeType, list[CodeType]],
        reached: dict[CodeType, set[CodeType]],
        imported: list[tuple[str, tuple[CodeType, ...]]],
        opened: set[str],
    ) -> None:
        is_project = self.is_project
        at_import: set[CodeType] = set()
        for found in reached.values():
            at_import |= found
        callers: dict[CodeType, list[CodeType]] = {}
        for caller, called in callees.items():
            for code in called:
                callers.setdefault(code, []).append(caller)
        # Project code called from outside any import (by pytest calling a
        # hook, or before the profiler started) is session code; so is what
        # it calls. Code that only imports ran belongs to those imports.
        roots = [
            code
            for code in codes
            if code.co_name != "<module>"
            and is_project(code)
            and (
                code not in callers
                or any(c not in at_import or not (is_project(c) or c.co_name == "<module>") for c in callers[code])
            )
        ]
        found = _reach(roots, callees)
        # A project module that session code imported (a pytest_plugins
        # entry, an import in pytest_configure), and the modules imported
        # while it was: what their imports ran shapes every test too.
        by_file = {module.co_filename: module for module in reached}
        session_modules: set[CodeType] = set()
        for name, stack in imported:
            module = by_file.get(getattr(sys.modules.get(name), "__file__", None) or "")
            if module is None:
                continue
            outer = [m for m in stack if m in reached]
            if outer:
                if session_modules.intersection(outer):
                    session_modules.add(module)
            # pytest and plugins import their own modules lazily; pytest
            # imports conftest.py files itself.
            elif is_project(module) and not name.endswith("conftest"):
                session_modules.add(module)
        for module in session_modules:
            found |= reached[module]
        before = (len(self.session_codes), len(self.session_opened))
        self.session_codes |= found
        self.session_opened |= opened
        if (len(self.session_codes), len(self.session_opened)) != before:
            self.session_fresh = True

    def take_fresh(self) -> list[tuple[CodeType, set[CodeType], set[str]]]:
        fresh, self.fresh = self.fresh, []
        return fresh

    def take_session(self) -> Optional[tuple[set[CodeType], set[str]]]:
        """What session windows ran and opened, when it grew since last
        taken."""
        if not self.session_fresh:
            return None
        self.session_fresh = False
        return self.session_codes, self.session_opened


def _reach(start: list[CodeType], callees: dict[CodeType, list[CodeType]]) -> set[CodeType]:
    """The code objects start calls, directly or not, without entering the
    import system or another module's code."""
    seen = set(start)
    todo = list(start)
    while todo:
        for callee in callees.get(todo.pop(), ()):
            if callee not in seen and callee.co_name != "<module>" and not callee.co_filename.startswith(_IMPORT_MACHINERY):
                seen.add(callee)
                todo.append(callee)
    return seen


def import_profiler() -> Any:
    """A C profiler that records who called whom, for ImportGraph; None when
    the profile slot is taken or there is no C profiler."""
    if _lsprof is None or sys.getprofile() is not None:
        return None
    return _lsprof.Profiler(subcalls=True, builtins=False)


def _running_modules() -> tuple[CodeType, ...]:
    """The module code objects on the calling thread's stack, innermost
    first: the imports under way."""
    out = []
    try:
        frame: Optional[FrameType] = sys._getframe(2)
    except ValueError:
        return ()
    while frame is not None:
        if frame.f_code.co_name == "<module>":
            out.append(frame.f_code)
        frame = frame.f_back
    return tuple(out)


# The recorder of this process, created when the plugin's first hook starts
# watching the start-up imports (conftest.py files, their hooks).
_shared: "Optional[Recorder]" = None


def shared_recorder() -> "Recorder":
    global _shared
    if _shared is None:
        _shared = Recorder()
    return _shared


def watch_startup_imports() -> None:
    recorder = shared_recorder()
    _unwatch_assertion_rewriting(recorder)
    recorder.session_begin()


def _unwatch_assertion_rewriting(recorder: "Recorder") -> None:
    """pytest rewrites the asserts of test modules and conftest.py files
    that have no cached rewritten bytecode, which is every one of them in a
    fresh CI checkout: thousands of Python calls a module, all pytest's own,
    which the watching profilers paid for (a cold recording of 1,000
    synthetic tests took five times the plain run). The rewrite runs with
    the profiler paused; the module's code, executed after it, is watched.
    pytest's rewriter is private API: if it is not found, nothing changes
    but the cost."""
    try:
        from _pytest.assertion import rewrite
    except ImportError:
        return
    original = getattr(rewrite, "_rewrite_test", None)
    if original is None or getattr(original, "difftest_unwatched", False):
        return

    def _rewrite_test(*args: Any, **kwargs: Any) -> Any:
        return recorder.unwatched(lambda: original(*args, **kwargs))

    _rewrite_test.difftest_unwatched = True  # type: ignore[attr-defined]
    rewrite._rewrite_test = _rewrite_test  # type: ignore[attr-defined]


def startup_imports() -> None:
    """Stop watching the start-up window (its findings stay in the shared
    recorder's import graph)."""
    if _shared is not None:
        _shared.session_end()


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
        # The C profiler in use for the current test: the plain one, or,
        # once the test imports a module for the first time, one that keeps
        # call edges, so that what the import ran is known (ImportGraph).
        self._cur = self._prof
        self._graph_prof: Any = None
        self._use_prof = False
        # The current test imported a module (any thread): its capture may
        # hold an import the graph did not see.
        self.test_imported = False
        # A session window's profiler (start-up, collection hooks), and
        # whether any window watches imports and opens now.
        self._session_prof: Any = None
        self._watching = False
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
            prof = self._cur
            assert prof is not None
            if self._pending is not cap:
                self._harvest()
                self._pending = cap
            # Threads first: what runs after enable() is the test's.
            self._set_threads(_hook(cap.codes))
            prof.feeding = cap.codes
            self._own_call = True
            try:
                prof.enable()
            finally:
                self._own_call = False
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
            self.imports.absorb(stats)
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
        self._own(prof.enable)
        self._hook = prof

    def unwatched(self, run: Callable[[], Any]) -> Any:
        """Call run with our profiler (whichever window holds the slot)
        paused."""
        prof = sys.getprofile()
        if prof is None or not (prof is self._session_prof or prof is self._collect_prof or prof is self._hook):
            return run()
        self._own(prof.disable)
        try:
            return run()
        finally:
            if sys.getprofile() is None:
                self._own(prof.enable)

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
            self._own(prof.enable)
        self._session_prof = prof or False

    def session_end(self) -> None:
        prof, self._session_prof = self._session_prof, None
        if prof is None:
            return
        self._watching = False
        stats = []
        if prof:
            if sys.getprofile() is prof:
                self._own(prof.disable)
            stats = prof.getstats()
        self.imports.absorb(stats, session=True)

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
        self._watching = False
        prof, self._collect_prof = self._collect_prof, None
        stats = []
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
            if event == "import":
                # Raised only for a module not imported yet.
                if self._hook is not None and self._stack:
                    self.test_imported = True
                    if self._use_prof and threading.get_ident() == self._thread:
                        self._watch_test_import()
                elif self._watching:
                    self.imports.imported.append((args[0], _running_modules()))
                return
            listing = event in listings.EVENTS
            if listing:
                opened = listings.as_open(args)
                if opened is None:
                    return
                args = opened
            elif event != "open":
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
            in_test = self._hook is not None and bool(stack)
            if not in_test and not self._watching:
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
                path = os.path.abspath(path)
            except (TypeError, ValueError):
                return
            if listing:
                path = listings.mark(path)
            if in_test:
                try:
                    stack[-1].opened.add(path)
                except IndexError:
                    pass
                if not self.test_imported:
                    return
            else:
                collecting = self.collecting
                if collecting is not None:
                    collecting.add(path)
            # Read while a module is being imported (or by a session
            # window's hooks): ImportGraph finds out which. The import
            # system's own reads of source and bytecode are no data.
            if not path.endswith(_CODE_FILES):
                self.imports.opens.append((path, _running_modules()))

        sys.addaudithook(audit)
