"""Where the project's code lies, and what is installed (SPEC 3.2, 4.4g).

The project root is the nearest directory at or above rootdir holding
``.git``, ``pyproject.toml`` or ``setup.py``: files between it and rootdir
(``../src/pkg`` when pytest starts in ``tests/``) are project files, stored
with ``..``. Editable distributions whose source lies outside the project are
tracked by content too, under ``<dist:NAME>/``, relative to their source
directory. What is left is installed code (the standard library and
distributions' files, tracked by version) or code outside everything, which
nothing tracks and a warning names.
"""

from __future__ import annotations

import json
import os
import sys
import sysconfig
from functools import lru_cache
from typing import Optional
from urllib.parse import unquote, urlparse

from pytest_difftest.environment import normalize

_MARKERS = (".git", "pyproject.toml", "setup.py")
DIST_PREFIX = "<dist:"


def project_root(rootdir: str) -> str:
    cur = rootdir
    while True:
        if any(os.path.exists(os.path.join(cur, m)) for m in _MARKERS):
            return cur
        parent = os.path.dirname(cur)
        if parent == cur:
            return rootdir
        cur = parent


def _inside(path: str, directory: str) -> bool:
    return path == directory or path.startswith(os.path.join(directory, ""))


def editable_distributions() -> dict[str, str]:
    """Normalized name -> source directory of the editable distributions on
    sys.path (``direct_url.json`` with ``dir_info.editable``, PEP 610), the
    first on the path winning as in Python."""
    found: dict[str, str] = {}
    seen: set[str] = set()
    for entry in sys.path:
        try:
            names = os.listdir(entry or ".")
        except OSError:
            continue
        for n in names:
            if not n.endswith(".dist-info"):
                continue
            name = normalize(n[: -len(".dist-info")].split("-", 1)[0])
            if name in seen:
                continue
            seen.add(name)
            try:
                with open(os.path.join(entry or ".", n, "direct_url.json"), encoding="utf-8") as f:
                    info = json.load(f)
            except (OSError, ValueError):
                continue
            if not isinstance(info, dict) or not (info.get("dir_info") or {}).get("editable"):
                continue
            url = urlparse(str(info.get("url", "")))
            if url.scheme == "file" and url.path:
                found[name] = os.path.normpath(unquote(url.path))
    return found


class Layout:
    """The directories that decide how a file is stored, for one rootdir."""

    def __init__(self, rootdir: str) -> None:
        self.rootdir = os.path.abspath(rootdir)
        self.project = project_root(self.rootdir)
        rel = os.path.relpath(self.rootdir, self.project)
        self.up = 0 if rel == "." else len(rel.split(os.sep))
        # Editable distributions inside the project are project files,
        # stored like any other.
        self.editable = {
            n: d
            for n, d in editable_distributions().items()
            if not _inside(d, self.project) and n != "pytest-difftest"
        }
        # Installed code: the interpreter's prefixes, standard library and
        # site directories, except one that holds rootdir (an application
        # checked out in /usr/src/app under prefix /usr).
        paths = sysconfig.get_paths()
        candidates = {sys.prefix, sys.exec_prefix, sys.base_prefix, getattr(sys, "base_exec_prefix", sys.prefix)}
        candidates |= {paths.get(k, "") for k in ("stdlib", "platstdlib", "purelib", "platlib")}
        candidates |= {p for p in sys.path if os.path.basename(p) in ("site-packages", "dist-packages")}
        self.installed = sorted(
            {os.path.abspath(p) for p in candidates if p and not _inside(self.rootdir, os.path.abspath(p))},
            key=len,
            reverse=True,
        )

    def is_installed(self, filename: str) -> bool:
        """Whether a file outside the project is the standard library's or a
        distribution's (tracked by version), rather than untracked code."""
        if filename.startswith(tuple(os.path.join(p, "") for p in self.installed)):
            return True
        parts = filename.split(os.sep)
        return "site-packages" in parts or "dist-packages" in parts

    def editable_path(self, filename: str) -> Optional[str]:
        for name, src in self.editable.items():
            if filename.startswith(os.path.join(src, "")):
                return f"{DIST_PREFIX}{name}>/" + filename[len(src) + 1 :].replace(os.sep, "/")
        return None

    def search_paths(self) -> list[str]:
        """sys.path entries inside the project root but above rootdir, or
        in an editable distribution's source directory, as stored paths
        (``../src``, ``<dist:NAME>/src``), for the engine's import
        resolution."""
        out = []
        for entry in sys.path:
            full = os.path.abspath(entry or ".")
            if _inside(full, self.project) and not _inside(full, self.rootdir):
                out.append(os.path.relpath(full, self.rootdir).replace(os.sep, "/"))
            elif self.editable:
                # An editable distribution's directory on the path (its .pth
                # entry): its modules resolve to "<dist:NAME>/..." files.
                rel = self.editable_path(os.path.join(full, "_"))
                if rel is not None:
                    out.append(rel[: -len("/_")])
        return out


@lru_cache(maxsize=4)
def layout(rootdir: str) -> Layout:
    return Layout(rootdir)
