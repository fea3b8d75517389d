"""The environment a test ran in (SPEC 4.4g): the Python version, the pytest
configuration, and the versions of installed distributions, read from the names of their metadata
directories (no metadata file is opened: this runs on every --diff)."""

from __future__ import annotations

import hashlib
import os
import re
import sys
from pathlib import Path
from typing import Any, Optional

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


# Command-line options that change what a test does or how its outcome is
# judged, by their argparse destination and their default (a default value
# leaves the digest as it was without the option). -W and -o are digested
# with the configuration file. Left out on purpose: what only selects,
# orders or stops tests (-k, -m, -x, --lf, --deselect, --ignore, -n; a run
# cut short leaves its files incomplete), what only changes the report
# (-v, -q, -r, --tb, --color, --durations), --capture/-s (pytest's capsys
# and capfd work alike in every mode; where output goes is not a test's
# outcome, and `--diff -s` to see a test's prints must not select the
# suite), --basetemp (a location, like the machine's paths), --rootdir
# (another rootdir is another baseline: its node ids and its database
# differ) and -c (what the chosen file says is digested, not its name).
_OUTCOME_OPTIONS: tuple[tuple[str, object], ...] = (
    ("runxfail", False),  # xfail marks are ignored
    ("plugins", None),  # -p NAME / -p no:NAME: which plugins run
    ("disable_plugin_autoload", False),
    ("noconftest", False),
    ("importmode", "prepend"),  # which module a test file imports as
    ("assertmode", "rewrite"),
    ("strict_markers", False),  # pytest 8; pytest 9 makes them -o entries
    ("strict_config", False),
    ("strict", False),
    ("log_level", None),  # what caplog captures
)


def pytest_config(inipath: Optional[Path], option: object, rootpath: Optional[Path] = None) -> str:
    """A digest of the pytest configuration that can change any test's
    outcome: pytest's section of the configuration file pytest read
    (filterwarnings, xfail_strict, addopts, markers...), the -o overrides,
    the -W filters and the outcome-changing command-line options
    (_OUTCOME_OPTIONS). This plugin's own keys are left out; the rest of a
    pyproject.toml or setup.cfg does not count."""
    items = sorted((k, repr(v)) for k, v in pytest_section(inipath).items() if not k.startswith("diff_"))
    overrides = [o for o in getattr(option, "override_ini", None) or [] if not o.startswith("diff_")]
    parts: tuple[object, ...] = (items, overrides, list(getattr(option, "pythonwarnings", None) or []))
    chosen = _outcome_options(option, inipath, rootpath)
    if chosen:
        # Only then: a run without such options keeps the digest it had.
        parts += (chosen,)
    text = repr(parts)
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()[:12]


def _outcome_options(option: object, inipath: Optional[Path], rootpath: Optional[Path]) -> list[tuple[str, str]]:
    out = []
    for dest, default in _OUTCOME_OPTIONS:
        value = getattr(option, dest, default)
        if isinstance(value, list):
            # -p given twice (on the command line and in addopts) is once.
            value = sorted({str(v).strip() for v in value})
        if value not in (default, None, [], ()):
            out.append((dest, repr(value)))
    # pytest fills in the default (the configuration file's directory, or
    # rootdir) before the plugin reads it: only another directory counts,
    # and relative to rootdir (a shared baseline is recorded elsewhere).
    confcutdir = getattr(option, "confcutdir", None)
    if confcutdir:
        where = os.path.abspath(str(confcutdir))
        default_dir = inipath.parent if inipath is not None else rootpath
        if default_dir is None or where != os.path.abspath(str(default_dir)):
            base = str(rootpath) if rootpath is not None else os.getcwd()
            out.append(("confcutdir", os.path.relpath(where, base).replace(os.sep, "/")))
    return out


def pytest_section(inipath: Optional[Path]) -> dict[str, object]:
    """pytest's configuration in the file it read, parsed by pytest itself:
    whatever the file's kind (pytest.toml and .pytest.toml's [pytest]
    table, pyproject.toml's [tool.pytest] or [tool.pytest.ini_options],
    pytest.ini, tox.ini, setup.cfg, a file given with -c)."""
    if inipath is None:
        return {}
    try:
        data = inipath.read_bytes()
    except OSError:
        return {}
    try:
        from _pytest.config.findpaths import load_config_dict_from_file

        section = load_config_dict_from_file(inipath)
    except Exception:
        # Not readable as pytest reads it (or pytest moved its reader):
        # the whole file counts.
        return {"": hashlib.sha256(data).hexdigest()}
    if section is None:
        return {}
    # pytest 9 wraps each value with where it came from (ConfigValue).
    return {str(k): getattr(v, "value", v) for k, v in section.items()}


def cache_dir(config: Any) -> Path:
    """pytest's cache directory (the cache_dir ini key, resolved as the
    cacheprovider plugin resolves it). With ``-p no:cacheprovider`` the key
    is not declared: the place pytest would have used is the value pytest
    parsed from the configuration file (not read again: recording watches
    what is opened), or a -o override."""
    try:
        value = config.getini("cache_dir")
    except ValueError:
        value = None
        for override in getattr(config.option, "override_ini", None) or []:
            key, sep, given = override.partition("=")
            if sep and key.strip() == "cache_dir":
                value = given
        if value is None:
            # pytest 9 keeps the file's values in _inicfg (its inicfg is a
            # deprecated proxy), pytest 8 in inicfg.
            parsed = getattr(config, "_inicfg", None)
            if parsed is None:
                parsed = getattr(config, "inicfg", None) or {}
            value = getattr(parsed.get("cache_dir"), "value", parsed.get("cache_dir"))
    text = os.path.expanduser(os.path.expandvars(str(value or ".pytest_cache")))
    return Path(text) if os.path.isabs(text) else config.rootpath / text


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
