"""Shared helpers for the end-to-end tests: real pytest subprocesses on
temporary projects (pytester), asserting exactly which tests ran."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path
from typing import Iterable

import pytest

pytest_plugins = ["pytester"]

_VERBOSE = re.compile(r"^(?P<id>\S+::\S+) (?P<outcome>PASSED|FAILED|ERROR|SKIPPED|XFAIL|XPASS)\b")
_XDIST = re.compile(r"^\[gw\d+\] \[\s*\d+%\] (?P<outcome>PASSED|FAILED|ERROR|SKIPPED|XFAIL|XPASS) (?P<id>\S+::\S+)")


def ran(result: pytest.RunResult) -> set[str]:
    """The node ids that ran (any outcome), parsed from `-v` output."""
    ids = set()
    for line in result.outlines:
        m = _VERBOSE.match(line) or _XDIST.match(line)
        if m:
            ids.add(m.group("id"))
    return ids


def outcomes(result: pytest.RunResult) -> dict[str, str]:
    """node id -> outcome word, parsed from `-v` output (the last word wins,
    so a test that passed and errored in teardown shows ERROR)."""
    out: dict[str, str] = {}
    for line in result.outlines:
        m = _VERBOSE.match(line) or _XDIST.match(line)
        if m:
            out[m.group("id")] = m.group("outcome")
    return out


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    """pytest in a subprocess, verbose, so that ran() can read the output."""
    return pytester.runpytest_subprocess("-v", "-p", "no:randomly", *args)


def baseline(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return run(pytester, "--diff-baseline", *args)


def diff(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return run(pytester, "--diff", *args)


def summary_line(result: pytest.RunResult) -> str:
    """The plugin's one-line summary."""
    lines = [l for l in result.outlines if "difftest:" in l and ("selected" in l or "all " in l)]
    assert lines, result.stdout.str()
    return lines[-1]


def db_file(pytester: pytest.Pytester) -> Path:
    return pytester.path / ".pytest_cache" / "pytest-difftest" / "pytest_difftest.db"


def recorded(pytester: pytest.Pytester) -> dict[str, int]:
    """node id -> recorded outcome code, read straight from the database."""
    con = sqlite3.connect(db_file(pytester))
    try:
        return dict(con.execute("SELECT nodeid, outcome FROM tests"))
    finally:
        con.close()


def write(pytester: pytest.Pytester, files: dict[str, str]) -> None:
    """Write files (relative path -> dedented source) under the project."""
    import textwrap

    for rel, text in files.items():
        p = pytester.path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(textwrap.dedent(text).lstrip("\n"))


def ids(*names: str) -> set[str]:
    return set(names)
