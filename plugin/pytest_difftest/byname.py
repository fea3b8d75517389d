"""Project modules imported by name by code outside the project.

A library that imports a project module from a string (Django and
pytest-django with ``DJANGO_SETTINGS_MODULE``, ``pkgutil.resolve_name``, an
entry point, a plugin registry, ``-p`` or ``pytest_plugins``) usually reads
its names the same way: ``dir(module)`` and ``getattr``, in code the
recorder does not watch. No project code names what it reads, so the
statement-level rule (SPEC 4.8) would let a changed setting select nothing.
Such a module falls back to its whole top level, for every test: a module
loaded by name at start-up configures the session, and one loaded by name
during a test may configure what every later test sees.

A finder at the front of ``sys.meta_path`` sees every import that is not
already done, whatever started it (an import statement, ``__import__``,
``importlib.import_module``, which raises no audit event), and never finds
anything itself. Modules already imported when recording starts were loaded
by something that ran before any hook of this plugin: pytest's and Python's
warning filters ("error::mypkg.MyWarning" imports mypkg.warnings, and with it
mypkg), or a plugin. A module a warning filter names counts; the others are
sent as imported early, and the engine counts those that the modules imported
by name do not reach by their own imports."""

from __future__ import annotations

import sys
from types import FrameType
from typing import Any, Callable, Iterable, Optional

from pytest_difftest.records import IMPORTED_EARLY, WHOLE_MODULE

# Frames of the import system between an importer and the finder.
_MACHINERY = ("<frozen importlib", "<frozen zipimport")
# pytest's importer of test modules, conftest.py files and doctest modules:
# the rules for test files and conftest.py files cover those.
_PYTEST_COLLECTION = ("_pytest/pathlib.py", "_pytest\\pathlib.py")


def _importer(frame: Optional[FrameType]) -> str:
    while frame is not None:
        filename = frame.f_code.co_filename
        if not filename.startswith(_MACHINERY) and not _in_importlib(filename):
            return filename
        frame = frame.f_back
    return ""


def _in_importlib(filename: str) -> bool:
    return "/importlib/" in filename or "\\importlib\\" in filename


class ByNameImports:
    """Collects (module name, importer's file name) for imports started
    outside the project; which of them are project modules is decided when
    they are taken, once the module exists."""

    def __init__(self, warning_modules: Iterable[str] = ()) -> None:
        self.warning_modules = frozenset(warning_modules)
        self.pending: list[tuple[str, str]] = []
        self.before = [name for name, module in list(sys.modules.items()) if getattr(module, "__file__", None)]
        self.installed = False

    # The meta path finder protocol: never finds, only watches.
    def find_spec(self, name: str, path: Any = None, target: Any = None) -> None:
        importer = _importer(sys._getframe(1))
        if not importer.endswith(_PYTEST_COLLECTION):
            self.pending.append((name, importer))
        return None

    def install(self) -> None:
        if not self.installed:
            sys.meta_path.insert(0, self)  # type: ignore[arg-type]
            self.installed = True

    def uninstall(self) -> None:
        if self.installed:
            try:
                sys.meta_path.remove(self)  # type: ignore[arg-type]
            except ValueError:
                pass
            self.installed = False

    def take(self, project_path: Callable[[str], Optional[str]]) -> list[tuple[str, int]]:
        """The stored paths of project modules imported by name from outside
        the project since the last call (and, the first time, of those
        imported before recording started), each with its line marker:
        WHOLE_MODULE, or IMPORTED_EARLY for a module imported before
        recording that no warning filter names. project_path maps a file
        name to its stored path, None outside the project."""
        pending, self.pending = self.pending, []
        candidates = [(name, WHOLE_MODULE) for name, importer in pending if not importer or project_path(importer) is None]
        if self.before:
            candidates.extend(
                (name, WHOLE_MODULE if name in self.warning_modules else IMPORTED_EARLY) for name in self.before
            )
            self.before = []
        found: list[tuple[str, int]] = []
        seen: set[str] = set()
        for name, marker in candidates:
            filename = getattr(sys.modules.get(name), "__file__", None)
            if not filename or not filename.endswith(".py"):
                continue
            rel = project_path(filename)
            if rel is not None and not rel.endswith("conftest.py") and rel not in seen:
                seen.add(rel)
                found.append((rel, marker))
        return found


def warning_modules(filters: Iterable[str]) -> set[str]:
    """The modules that warning filters ("action:message:category:module:
    lineno") name a category in, which pytest and Python import by name."""
    out = set()
    for spec in filters:
        parts = str(spec).split(":")
        if len(parts) >= 3 and "." in parts[2].strip():
            out.add(parts[2].strip().rsplit(".", 1)[0])
    return out
