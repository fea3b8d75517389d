"""What a test executed and read: the code objects it entered and the files
it opened for reading.

Blocks are the unit of dependency, so lines are not needed: each code object
entered (its file and first line) is enough for the engine to map it to a
function block. ``sys.setprofile`` leaves ``sys.settrace`` to coverage tools
and debuggers. Captures nest, so that what a session- or module-scoped
fixture executed can be charged to every test that uses it.
"""

from __future__ import annotations

import os
import sys
import threading
from types import CodeType, FrameType
from typing import Any, Callable, Optional

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


class Recorder:
    """Stack of captures; the innermost one receives what runs.

    It installs itself with sys.setprofile, or with sys.settrace when a
    profiler already holds that slot, and never displaces another tool: with
    both slots taken, tests run unrecorded (and so stay selected)."""

    def __init__(self) -> None:
        self._stack: list[Capture] = []
        self._audit_installed = False
        self._hook: Optional[ProfileFunc] = None
        self._set: Callable[[Optional[ProfileFunc]], None] = sys.setprofile
        self._set_threads: Callable[[Optional[ProfileFunc]], None] = threading.setprofile  # type: ignore[assignment]
        self._get: Callable[[], Optional[ProfileFunc]] = sys.getprofile
        self.displaced = False  # our hook was replaced during the capture
        self.unavailable = False  # both slots were taken at start
        # Files opened while a test module is imported (module-level data
        # such as parametrize cases read from JSON), when not None.
        self.collecting: Optional[set[str]] = None

    @property
    def active(self) -> bool:
        return bool(self._stack)

    def start(self) -> None:
        """Begin the capture of one test (suspended until resume())."""
        self._install_audit_hook()
        self._stack = []
        self.displaced = False
        if sys.getprofile() is None:
            self._set, self._set_threads, self._get = sys.setprofile, threading.setprofile, sys.getprofile  # type: ignore[assignment]
        elif sys.gettrace() is None:
            self._set, self._set_threads, self._get = sys.settrace, threading.settrace, sys.gettrace  # type: ignore[assignment]
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
        if self._hook is not None and self._get() is not self._hook:
            self.displaced = True
        outer = self._stack[0]
        for inner in self._stack[1:]:
            outer.merge(inner)
        self._stack = []
        if not self.displaced and self._hook is not None:
            self._set(None)
            self._set_threads(None)
        self._hook = None
        return None if self.displaced else outer

    def suspend(self) -> None:
        """Stop noting what runs, between a test's phases (reporting hooks
        are not the test's dependencies)."""
        if self._stack and self._hook is not None:
            if self._get() is not self._hook:
                self.displaced = True
            elif not self.displaced:
                self._set(None)
                self._set_threads(None)
            self._hook = None

    def resume(self) -> None:
        if self._stack and self._hook is None and not self.displaced:
            self._install(self._stack[-1])

    def push(self) -> bool:
        """Begin a nested capture; False when no test is being captured."""
        if not self._stack:
            return False
        self._enter()
        return True

    def pop(self, charge_outer: bool = True) -> Capture:
        """End the innermost nested capture, charging it to the outer one
        too unless told not to, and return it."""
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
        if self._hook is not None and self._get() is not self._hook:
            # Someone replaced our hook mid-test; do not fight them.
            self.displaced = True
            return
        hook = self._hook = _hook(cap.codes)
        self._set(hook)
        self._set_threads(hook)

    def collect_opens(self) -> None:
        """Start noting files opened outside any test (a module import)."""
        self._install_audit_hook()
        self.collecting = set()

    def collected_opens(self) -> set[str]:
        opened, self.collecting = self.collecting or set(), None
        return opened

    def _install_audit_hook(self) -> None:
        # Audit hooks cannot be removed: install one, once, that does
        # nothing while no test is captured.
        if self._audit_installed:
            return
        self._audit_installed = True

        def audit(event: str, args: tuple[Any, ...]) -> None:
            if event != "open":
                return
            if self._hook is None:
                if self.collecting is None:
                    return
                target = self.collecting
            else:
                target = self._stack[-1].opened
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
