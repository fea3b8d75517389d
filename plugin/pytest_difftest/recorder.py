"""What a test executed and read: the code objects it entered and the files
it opened for reading; and what importing each module ran.

Blocks are the unit of dependency, so lines are not needed: each code object
entered (its file and first line) is enough for the engine to map it to a
function block. Two mechanisms watch what runs, behind one interface
(``Recorder``), so that the rest of the plugin does not know which one does:

- ``recorder_monitoring`` on CPython 3.12+: ``sys.monitoring`` (PEP 669), one
  ``PY_START`` event per code object and capture, on every thread;
- ``recorder_profile`` on 3.9-3.11 (and on 3.12+ when no monitoring tool id
  is free): the C profiler behind cProfile in the profile slot, Python
  profile functions for threads.

This module holds what both share: captures, the import graph, the audit
hook that sees files opened and modules imported, and the process's one
recorder. Captures nest, so that what a session- or module-scoped fixture
executed can be charged to every test that uses it.
"""

from __future__ import annotations

import os
import sys
from types import CodeType, FrameType
from typing import Any, Callable, Optional

from pytest_difftest import listings

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

    def absorb(self, codes: list[CodeType], callees: dict[CodeType, list[CodeType]], session: bool = False) -> None:
        """Take in what a watched window ran: the code objects entered and
        who called whom (whichever mechanism watched); session when the
        window is a session window."""
        window = [code for code in codes if code.co_name == "<module>"]  # modules executed in the window
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

    def session_state(self) -> tuple[set[CodeType], set[str]]:
        """What session windows ran and opened so far."""
        return self.session_codes, self.session_opened

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




class Recorder:
    """The interface the recording plugin uses, and the audit hook both
    mechanisms share. A stack of captures; the innermost one receives what
    runs. Subclasses provide the watching itself."""

    #: Why this mechanism was chosen, when it is not the usual one for the
    #: interpreter (said once with --diff-v).
    note: Optional[str] = None

    def __init__(self) -> None:
        self._stack: list[Capture] = []
        self._audit_installed = False
        self._closed = False
        # Whether a window (session, collection) watches imports and opens.
        self._watching = False
        # The current test imported a module (any thread): its capture may
        # hold an import the graph did not see.
        self.test_imported = False
        # Files opened while a test module is imported (module-level data
        # such as parametrize cases read from JSON), when not None.
        self.collecting: Optional[set[str]] = None
        self.displaced = False  # what the test ran could not all be seen
        self.unavailable = False  # nothing could be watched at all
        self.imports = ImportGraph()

    @property
    def active(self) -> bool:
        return bool(self._stack)

    # -- the interface (each mechanism implements these) ---------------------

    def start(self) -> None:
        """Begin the capture of one test (suspended until resume())."""
        raise NotImplementedError

    def stop(self) -> Optional[Capture]:
        """End the test's capture (and any nested one left open). None when
        nothing could be captured reliably."""
        raise NotImplementedError

    def suspend(self) -> None:
        """Stop noting what runs, between a test's phases (reporting hooks
        are not the test's dependencies)."""
        raise NotImplementedError

    def resume(self) -> None:
        raise NotImplementedError

    def push(self) -> bool:
        """Begin a nested capture; False when no test is being captured."""
        raise NotImplementedError

    def pop(self, charge_outer: bool = True) -> Capture:
        """End the innermost nested capture, charging it to the outer one
        too unless told not to, and return it."""
        raise NotImplementedError

    def unwatched(self, run: Callable[[], Any]) -> Any:
        """Call run with watching paused."""
        raise NotImplementedError

    def session_begin(self) -> None:
        """Watch what runs outside tests and collectors (conftest.py files
        loaded at start-up and their hooks, the collection hooks), until
        session_end."""
        raise NotImplementedError

    def session_end(self) -> None:
        raise NotImplementedError

    def collect_begin(self) -> None:
        """Start noting what a collector's imports run and open, outside any
        test: calls made there (a validator or a factory called in a class
        body, parametrize arguments, module constants computed by a
        function) shape every test of the module."""
        raise NotImplementedError

    def collect_pause(self) -> bool:
        """Stop watching while pytest builds items (its own machinery, the
        bulk of collection); False when not watching."""
        raise NotImplementedError

    def collect_resume(self) -> None:
        raise NotImplementedError

    def collect_end(self) -> Capture:
        raise NotImplementedError

    def close(self) -> None:
        """Give back what the recorder holds in the process (end of the
        session): hooks, tool ids. The audit hook, which cannot be removed,
        goes inert."""
        self._closed = True
        self._watching = False
        self.collecting = None
        self._stack = []

    # -- what the audit hook asks of the mechanism ----------------------------

    def _capturing_test(self) -> bool:
        """A test's capture is on (not suspended)."""
        raise NotImplementedError

    def _test_import(self) -> None:
        """The test is about to import a module for the first time (called
        from the audit hook, on the importing thread)."""

    def _other_event(self, event: str) -> None:
        """Any other audit event (the profile recorder watches its slot)."""

    # -- files and imports ----------------------------------------------------

    def _install_audit_hook(self) -> None:
        # Audit hooks cannot be removed: install one, once, that does
        # nothing while no test is captured, and nothing at all once the
        # recorder is closed.
        if self._audit_installed:
            return
        self._audit_installed = True

        def audit(event: str, args: tuple[Any, ...]) -> None:
            if self._closed:
                return
            if event == "import":
                # Raised only for a module not imported yet.
                if self._capturing_test():
                    self.test_imported = True
                    self._test_import()
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
                self._other_event(event)
                return
            # Any thread may open a file while the main thread starts or
            # stops a capture: read the state once, and never raise (an
            # audit hook's exception would fail the open() itself).
            stack = self._stack
            in_test = bool(stack) and self._capturing_test()
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
