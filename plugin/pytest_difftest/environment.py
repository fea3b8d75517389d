"""The environment a test ran in (SPEC 4.4g): the Python version, the pytest
configuration, and the versions of installed distributions, read from the names of their metadata
directories (no metadata file is opened: this runs on every --diff)."""

from __future__ import annotations

import hashlib
import os
import re
import sys
from pathlib import Path
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


def pytest_config(inipath: Optional[Path], option: object) -> str:
    """A digest of the pytest configuration that can change any test's
    outcome: the pytest section of the configuration file (filterwarnings,
    xfail_strict, addopts, markers...), the -o overrides and the -W filters.
    This plugin's own keys are left out; the rest of a pyproject.toml or
    setup.cfg does not count."""
    items = sorted((k, repr(v)) for k, v in _pytest_section(inipath).items() if not k.startswith("diff_"))
    overrides = [o for o in getattr(option, "override_ini", None) or [] if not o.startswith("diff_")]
    text = repr((items, overrides, list(getattr(option, "pythonwarnings", None) or [])))
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()[:12]


def _pytest_section(inipath: Optional[Path]) -> dict[str, object]:
    if inipath is None:
        return {}
    try:
        data = inipath.read_bytes()
    except OSError:
        return {}
    try:
        text = data.decode("utf-8")
        if inipath.suffix == ".toml":
            if sys.version_info >= (3, 11):
                import tomllib
            else:
                import tomli as tomllib
            tool = tomllib.loads(text).get("tool", {}).get("pytest", {})
            if not isinstance(tool, dict):
                return {"": tool}
            # [tool.pytest.ini_options], or pytest 9's native [tool.pytest].
            section = {str(k): v for k, v in tool.items() if k != "ini_options"}
            ini_options = tool.get("ini_options", {})
            if isinstance(ini_options, dict):
                section.update((str(k), v) for k, v in ini_options.items())
            else:
                section["ini_options"] = ini_options
            return section
        # The parser pytest itself reads ini files with (a dependency of it).
        import iniconfig

        ini = iniconfig.IniConfig(str(inipath), data=text)
        for section in ("pytest", "tool:pytest"):
            if section in ini:
                return dict(ini[section].items())
        return {}
    except Exception:
        # Not readable as pytest reads it: the whole file counts.
        return {"": hashlib.sha256(data).hexdigest()}


def environment(config_digest: str = "") -> dict[str, str]:
    env = {"python": python_version()}
    if config_digest:
        env["pytest-config"] = config_digest
    for name, version in distributions().items():
        env[f"dist:{name}"] = version
    return env


class TopLevelMapper:
    """Maps installed files (outside the project) to their top-level module
    name; the engine knows which distribution provides it."""

    def __init__(self, exclude_prefix: str) -> None:
        self._exclude = exclude_prefix
        self._roots = sorted(
            {os.path.join(os.path.abspath(p), "") for p in sys.path if p and os.path.isdir(p)},
            key=len,
            reverse=True,
        )
        self._cache: dict[str, Optional[str]] = {}

    def module(self, filename: str) -> Optional[str]:
        try:
            return self._cache[filename]
        except KeyError:
            pass
        result: Optional[str] = None
        if not filename.startswith(self._exclude):
            for root in self._roots:
                if filename.startswith(root):
                    top = filename[len(root):].split(os.sep, 1)[0]
                    result = top[:-3] if top.endswith(".py") else top.split(".", 1)[0]
                    break
        self._cache[filename] = result
        return result


def search_paths(root: str) -> list[str]:
    """sys.path entries under the root, relative POSIX paths ("" is the root
    itself, always searched), for resolving the project's imports."""
    prefix = os.path.join(root, "")
    out = [""]
    for entry in sys.path:
        full = os.path.abspath(entry or ".")
        if full.startswith(prefix):
            rel = full[len(prefix):].replace(os.sep, "/")
            if rel not in out:
                out.append(rel)
    if os.path.isdir(os.path.join(root, "src")) and "src" not in out:
        out.append("src")
    return out


def site_paths(root: str) -> list[str]:
    """sys.path directories outside the project: where distributions live."""
    prefix = os.path.join(root, "")
    out = []
    for entry in sys.path:
        full = os.path.abspath(entry or ".")
        if not full.startswith(prefix) and full not in out and os.path.isdir(full):
            out.append(full)
    return out
