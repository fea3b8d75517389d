"""Directory listings as dependencies.

A test that lists a directory (``os.listdir``, ``os.scandir``, and what is
built on them: ``glob``, ``pathlib``'s ``glob`` and ``iterdir``, ``os.walk``)
depends on the names in it: parametrizing over ``sorted(Path("cases").glob(
"*.json"))`` creates a test per file. Both functions raise an audit event on
every CPython from 3.9 to 3.13. A listed directory is recorded like a file the
test read, under its path with a trailing separator; the engine's fingerprint
of such a path is the sorted names of its entries (include/difftest.h).
"""

from __future__ import annotations

import os
import sys
from types import CodeType
from typing import Any, Callable, Optional

EVENTS = frozenset({"os.listdir", "os.scandir"})

_IMPORT_SYSTEM = "<frozen importlib"
_MAX_DEPTH = 64


def _runner_dirs() -> tuple[str, ...]:
    """Where pytest and pluggy live: a listing they make (collecting a
    directory) is theirs even when the project started pytest itself
    (``pytest.main`` from a script of the project is on the stack then)."""
    dirs = []
    for name in ("_pytest", "pluggy"):
        module = sys.modules.get(name)
        filename = getattr(module, "__file__", None)
        if filename:
            dirs.append(os.path.join(os.path.dirname(os.path.abspath(filename)), ""))
    return tuple(dirs)


_runners: tuple[str, ...] = ()


# Whether a code object is the project's: set by watch_project when a
# recording session starts; until then no listing counts.
_is_project: Optional[Callable[[CodeType], bool]] = None


def watch_project(rootdir: str) -> None:
    """Count, from now on, the listings made with the project's code on the
    stack (as the recording's records.PathMapper decides: recording.py)."""
    global _is_project, _runners
    _runners = _runner_dirs()
    from pytest_difftest.layout import layout
    from pytest_difftest.records import PathMapper

    plugin_dir = os.path.dirname(os.path.abspath(__file__))
    where = layout(rootdir)
    relpath = PathMapper(rootdir, [plugin_dir, *where.installed], None, where).relpath
    _is_project = lambda code: relpath(code.co_filename) is not None  # noqa: E731


def as_open(args: tuple[Any, ...]) -> Optional[tuple[Any, str, int]]:
    """The arguments of a read-only "open" audit event standing for the
    listing whose event arguments are args, called from the audit hook: the
    recorder then treats the directory as a file read. None for a listing
    by file descriptor, and for listings that are not the project's: the
    import system's (it lists each directory it searches, and imports are
    dependencies of their own), and pytest's (collecting directories) when
    they are nearer on the stack than any project code."""
    is_project = _is_project
    if is_project is None:
        return None
    try:
        frame: Any = sys._getframe(2)  # the caller of os.listdir/os.scandir
    except ValueError:
        return None
    if frame.f_code.co_filename.startswith(_IMPORT_SYSTEM):
        return None
    runners = _runners
    for _ in range(_MAX_DEPTH):
        if frame is None:
            return None
        if is_project(frame.f_code):
            break
        if runners and frame.f_code.co_filename.startswith(runners):
            return None
        frame = frame.f_back
    else:
        return None
    path = args[0] if args else None
    if path is None:
        path = "."  # os.listdir() lists the working directory
    if isinstance(path, int):
        return None
    return (path, "r", 0)


def mark(path: str) -> str:
    """An absolute directory path as recorded: with a trailing separator."""
    return os.path.join(path, "")
