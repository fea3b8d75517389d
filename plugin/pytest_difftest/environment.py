"""The environment a test ran in (SPEC 4.4g): the Python version, and the
versions of installed distributions, read from the names of their metadata
directories (no metadata file is opened: this runs on every --diff)."""

from __future__ import annotations

import os
import re
import sys
from typing import Optional

_DIST_DIR = re.compile(r"^(?P<name>[^-]+)-(?P<version>[^-]+?)(-py\d.*)?\.(dist|egg)-info$")


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def python_version() -> str:
    return f"{sys.version_info[0]}.{sys.version_info[1]}"


def distributions() -> dict[str, str]:
    """Installed distribution name -> version, first on sys.path wins."""
    found: dict[str, str] = {}
    for entry in sys.path:
        try:
            names = os.listdir(entry or ".")
        except OSError:
            continue
        for n in names:
            if not n.endswith("-info"):
                continue
            m = _DIST_DIR.match(n)
            if m:
                found.setdefault(normalize(m.group("name")), m.group("version"))
    return found


def environment() -> dict[str, str]:
    env = {"python": python_version()}
    for name, version in distributions().items():
        env[f"dist:{name}"] = version
    return env


class DistMapper:
    """Maps installed files to the distributions that own them, by their
    top-level module, for recording runs only (reading every distribution's
    file list costs tens of milliseconds)."""

    def __init__(self) -> None:
        self._top: Optional[dict[str, list[str]]] = None
        self._roots = sorted(
            {os.path.join(os.path.abspath(p), "") for p in sys.path if p and os.path.isdir(p)},
            key=len,
            reverse=True,
        )
        self._cache: dict[str, tuple[str, ...]] = {}

    def dists(self, filename: str) -> tuple[str, ...]:
        try:
            return self._cache[filename]
        except KeyError:
            pass
        result: tuple[str, ...] = ()
        for root in self._roots:
            if filename.startswith(root):
                top = filename[len(root):].split(os.sep, 1)[0]
                if top.endswith(".py"):
                    top = top[:-3]
                # This plugin runs inside every test but is not something the
                # tests depend on.
                result = tuple(n for n in (normalize(d) for d in self._owners().get(top, ())) if n != "pytest-difftest")
                break
        self._cache[filename] = result
        return result

    def _owners(self) -> dict[str, list[str]]:
        if self._top is None:
            try:
                from importlib.metadata import packages_distributions

                self._top = dict(packages_distributions())
            except Exception:  # a broken distribution must not break the run
                self._top = {}
        return self._top
