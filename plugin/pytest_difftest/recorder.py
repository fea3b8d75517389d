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


def _profiler(codes: set[CodeType]) -> ProfileFunc:
    add = codes.add

    def profile(frame: FrameType, event: str, arg: Any) -> None:
        # The frame of every event is one that runs: the callee on "call",
        # the caller on "c_call"; adding it again costs a set lookup.
        add(frame.f_code)

    return profile


class Recorder:
    """Stack of captures; the innermost one receives what runs."""

    def __init__(self) -> None:
        self._stack: list[Capture] = []
        self._previous: Optional[ProfileFunc] = None
        self._audit_installed = False

    @property
    def active(self) -> bool:
        return bool(self._stack)

    def start(self) -> None:
        """Begin the capture of one test."""
        self._install_audit_hook()
        self._stack = []
        self._previous = sys.getprofile()
        self._enter()

    def stop(self) -> Optional[Capture]:
        """End the test's capture (and any nested one left open)."""
        if not self._stack:
            return None
        outer = self._stack[0]
        for inner in self._stack[1:]:
            outer.merge(inner)
        self._stack = []
        sys.setprofile(self._previous)
        threading.setprofile(None)  # type: ignore[arg-type]
        return outer

    def push(self) -> bool:
        """Begin a nested capture; False when no test is being captured."""
        if not self._stack:
            return False
        self._enter()
        return True

    def pop(self) -> Capture:
        """End the innermost nested capture, charging it to the outer one
        too, and return it."""
        inner = self._stack.pop()
        self._stack[-1].merge(inner)
        profile = _profiler(self._stack[-1].codes)
        sys.setprofile(profile)
        threading.setprofile(profile)
        return inner

    def _enter(self) -> None:
        cap = Capture()
        self._stack.append(cap)
        profile = _profiler(cap.codes)
        sys.setprofile(profile)
        threading.setprofile(profile)

    def _install_audit_hook(self) -> None:
        # Audit hooks cannot be removed: install one, once, that does
        # nothing while no test is captured.
        if self._audit_installed:
            return
        self._audit_installed = True

        def audit(event: str, args: tuple[Any, ...]) -> None:
            if event != "open" or not self._stack:
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
                self._stack[-1].opened.add(os.path.abspath(path))
            except (TypeError, ValueError):
                pass

        sys.addaudithook(audit)
