"""What a test executed: the code objects it entered.

Blocks are the unit of dependency, so lines are not needed: noting each code
object entered (its file and first line) is enough for the engine to map it to
a function block. ``sys.setprofile`` leaves ``sys.settrace`` to coverage tools
and debuggers.
"""

from __future__ import annotations

import sys
import threading
from types import CodeType, FrameType
from typing import Any, Callable, Optional

ProfileFunc = Callable[[FrameType, str, Any], Any]


class CallRecorder:
    """Collects the code objects entered between start() and stop()."""

    def __init__(self) -> None:
        self.codes: set[CodeType] = set()
        self._previous: Optional[ProfileFunc] = None
        self._active = False

    def start(self) -> None:
        codes = self.codes = set()
        add = codes.add

        def profile(frame: FrameType, event: str, arg: Any) -> None:
            # Every event's frame is one that runs: the callee on "call",
            # the caller on "c_call"; adding it again costs a set lookup.
            add(frame.f_code)

        self._previous = sys.getprofile()
        sys.setprofile(profile)
        threading.setprofile(profile)
        self._active = True

    def stop(self) -> set[CodeType]:
        if self._active:
            sys.setprofile(self._previous)
            threading.setprofile(None)  # type: ignore[arg-type]
            self._active = False
        return self.codes

    def suspend(self) -> None:
        """Stop noting calls without ending the recording (used around the
        plugin's own work)."""
        if self._active:
            sys.setprofile(self._previous)

    def resume(self) -> None:
        if self._active:
            self._previous = sys.getprofile()
            codes = self.codes
            add = codes.add

            def profile(frame: FrameType, event: str, arg: Any) -> None:
                add(frame.f_code)

            sys.setprofile(profile)
