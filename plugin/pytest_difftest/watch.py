"""The process's one recorder: which mechanism watches (``sys.monitoring``
on 3.12+ when a tool id is free, else the profile hook), the start-up
window it watches from the plugin's first hook, and undoing all of it when
the session ends. Kept apart from ``recorder`` so that the two mechanisms
can build on that module without it importing them."""

from __future__ import annotations

import sys
from typing import Any, Callable, Iterable, Optional

from pytest_difftest.byname import ByNameImports
from pytest_difftest.recorder import Recorder
from pytest_difftest.recorder_monitoring import MonitoringRecorder, NoToolId
from pytest_difftest.recorder_profile import ProfileRecorder

# The recorder of this process, created when the plugin's first hook starts
# watching the start-up imports (conftest.py files, their hooks).
_shared: Optional[Recorder] = None
# Imports by name from outside the project (byname.py), while recording.
_byname: Optional[ByNameImports] = None


def _new_recorder() -> Recorder:
    if hasattr(sys, "monitoring"):
        try:
            return MonitoringRecorder()
        except NoToolId as exc:
            recorder: Recorder = ProfileRecorder()
            recorder.note = f"{exc}; recording with the profile hook instead"
            return recorder
    return ProfileRecorder()


def shared_recorder() -> Recorder:
    global _shared
    if _shared is None:
        _shared = _new_recorder()
    return _shared


def watch_startup_imports(warning_modules: Iterable[str] = ()) -> None:
    global _byname
    if _byname is None:
        _byname = ByNameImports(warning_modules)
        _byname.install()
    recorder = shared_recorder()
    _unwatch_assertion_rewriting(recorder)
    recorder.session_begin()


def take_by_name(project_path: Callable[[str], Optional[str]]) -> list[tuple[str, int]]:
    """Stored paths of project modules imported by name from outside the
    project, not taken before, with their line markers (byname.py)."""
    return _byname.take(project_path) if _byname is not None else []


def startup_imports() -> None:
    """Stop watching the start-up window (its findings stay in the shared
    recorder's import graph)."""
    if _shared is not None:
        _shared.session_end()


def release() -> None:
    """Undo what recording changed in the process (pytest_unconfigure), so
    that a second session in the same process (pytester's in-process runs,
    a second pytest.main()) starts from scratch."""
    global _shared, _byname
    recorder, _shared = _shared, None
    if _byname is not None:
        _byname.uninstall()
        _byname = None
    _restore_assertion_rewriting()
    if recorder is not None:
        if recorder._stack:
            recorder.stop()
        recorder.session_end()
        recorder.close()


# pytest's assertion rewriter before we wrapped it, while wrapped.
_original_rewrite: Optional[Callable[..., Any]] = None


def _unwatch_assertion_rewriting(recorder: Recorder) -> None:
    """pytest rewrites the asserts of test modules and conftest.py files
    that have no cached rewritten bytecode, which is every one of them in a
    fresh CI checkout: thousands of Python calls a module, all pytest's own,
    which the watching profilers paid for (a cold recording of 1,000
    synthetic tests took five times the plain run). The rewrite runs
    unwatched; the module's code, executed after it, is watched. pytest's
    rewriter is private API: if it is not found, nothing changes but the
    cost."""
    global _original_rewrite
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
    _original_rewrite = original
    rewrite._rewrite_test = _rewrite_test  # type: ignore[attr-defined]


def _restore_assertion_rewriting() -> None:
    global _original_rewrite
    original, _original_rewrite = _original_rewrite, None
    if original is None:
        return
    try:
        from _pytest.assertion import rewrite
    except ImportError:
        return
    if getattr(getattr(rewrite, "_rewrite_test", None), "difftest_unwatched", False):
        rewrite._rewrite_test = original  # type: ignore[attr-defined]
