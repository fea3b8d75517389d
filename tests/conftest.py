"""Shared helpers for the end-to-end tests: real pytest subprocesses on
temporary projects (pytester), asserting exactly which tests ran."""

from __future__ import annotations

import re
import signal
import sqlite3
from pathlib import Path
from typing import Iterable

import pytest

pytest_plugins = ["pytester"]

# A suite started in the background by a shell without job control (nohup
# cmd &) inherits SIGINT ignored, and so would every pytest it starts: the
# Ctrl-C tests need the default. A handled signal is reset to the default
# in a child when it execs; an ignored one stays ignored.
if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

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
    return pytester.runpytest_subprocess("-v", "-p", "no:randomly", *args, timeout=600)


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


# --- added for the end-to-end suite ---------------------------------------

import os
import shutil
import sys
import textwrap
import time


@pytest.fixture(autouse=True)
def _clean_subprocess_env(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """No stale .pyc masking a same-second edit, and no xdist variables of
    the outer run leaking into the inner pytest (it is not a worker)."""
    monkeypatch.setenv("PYTHONDONTWRITEBYTECODE", "1")
    for name in list(os.environ):
        if name.startswith("PYTEST_XDIST") or name in ("PYTEST_CURRENT_TEST", "PYTEST_ADDOPTS"):
            monkeypatch.delenv(name, raising=False)
    # pytest-rerunfailures (a test extra) starts a socket server thread in
    # every pytest run when pytest-xdist is installed, --reruns or not: the
    # inner runs would not be the single-threaded processes the fork, signal
    # and thread tests expect. Its own tests turn it back on. (pytester
    # clears PYTEST_ADDOPTS when it is set up: after it.)
    if "pytester" in request.fixturenames:
        request.getfixturevalue("pytester")
    monkeypatch.setenv("PYTEST_ADDOPTS", "-p no:rerunfailures")


def nodes(path: str, *names: str) -> set[str]:
    """{"path::name", ...} for tests of one file."""
    return {f"{path}::{n}" for n in names}


def bump_mtime(path: Path) -> None:
    """Give the file a fresh mtime, never one in the future: the engine
    takes a file changed after the run began (or dated ahead of the clock)
    to have changed under the tests, and selects them again next time. A
    same-size edit is seen without it (the engine's stat key holds the
    ctime)."""
    os.utime(path)


def touch_edit(pytester: pytest.Pytester, rel: str, old: str, new: str) -> None:
    """Replace the one occurrence of `old` by `new` in a project file (UTF-8),
    then bump its mtime."""
    p = pytester.path / rel
    text = p.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"{old!r} occurs {text.count(old)} times in {rel}"
    p.write_text(text.replace(old, new), encoding="utf-8")
    bump_mtime(p)


def project(pytester: pytest.Pytester, files: dict[str, str], ini: bool = True) -> None:
    """Write a project at pytester.path; with ini=True a bare pytest.ini
    pins rootdir to pytester.path."""
    if ini:
        files = {"pytest.ini": "[pytest]\n", **files}
    write(pytester, files)


def rows(pytester: pytest.Pytester) -> list[tuple]:
    """Every column of every recorded test, to compare the database before
    and after a run."""
    con = sqlite3.connect(db_file(pytester))
    try:
        return sorted(con.execute("SELECT * FROM tests ORDER BY nodeid"))
    finally:
        con.close()


def output(result: pytest.RunResult) -> str:
    return result.stdout.str() + "\n" + result.stderr.str()


def assert_usage_error(result: pytest.RunResult, *mentions: str) -> None:
    """Exit 4, one non-blank line of output, no traceback, naming `mentions`."""
    text = output(result)
    assert result.ret == pytest.ExitCode.USAGE_ERROR, text
    assert "Traceback" not in text, text
    lines = [l for l in text.splitlines() if l.strip()]
    assert len(lines) == 1, text
    for m in mentions:
        assert m in lines[0], text


# The common project: functions, a class, a decorator, a nested function, a
# lazily imported module, in three source modules with one test file each.
CALC = '''
RATE = 2


def add(a, b):
    return a + b


def sub(a, b):
    return a - b


def outer(x):
    def inner(y):
        return y + 1

    return inner(x) * 2


def other_outer(x):
    def helper(y):
        return y - 1

    return helper(x) * 2


def fancy():
    import extra

    return extra.value()
'''

EXTRA = '''
def value():
    return 42
'''

BANK = '''
class Account:
    fee = 1

    def __init__(self, balance):
        self.balance = balance

    def deposit(self, n):
        self.balance += n
        return self.balance

    def withdraw(self, n):
        self.balance -= n + self.fee
        return self.balance
'''

DECO = '''
import functools


def twice(f):
    @functools.wraps(f)
    def wrapper(*args):
        return 2 * f(*args)

    return wrapper


def thrice(f):
    @functools.wraps(f)
    def wrapper(*args):
        return 3 * f(*args)

    return wrapper
'''

SHAPES = '''
import deco


@deco.twice
def area(n):
    return n * n
'''

TEST_CALC = '''
import calc


def test_add():
    assert calc.add(1, 2) == 3


def test_sub():
    assert calc.sub(3, 1) == 2


def test_outer():
    assert calc.outer(1) == 4


def test_other_outer():
    assert calc.other_outer(1) == 0


def test_fancy():
    assert calc.fancy() == 42
'''

TEST_BANK = '''
from bank import Account


def test_deposit():
    assert Account(10).deposit(5) == 15


def test_withdraw():
    assert Account(10).withdraw(5) < 10
'''

TEST_SHAPES = '''
import shapes


def test_area():
    assert shapes.area(3) in (18, 27)
'''

COMMON = {
    "calc.py": CALC,
    "extra.py": EXTRA,
    "bank.py": BANK,
    "deco.py": DECO,
    "shapes.py": SHAPES,
    "test_calc.py": TEST_CALC,
    "test_bank.py": TEST_BANK,
    "test_shapes.py": TEST_SHAPES,
}

CALC_TESTS = nodes("test_calc.py", "test_add", "test_sub", "test_outer", "test_other_outer", "test_fancy")
BANK_TESTS = nodes("test_bank.py", "test_deposit", "test_withdraw")
SHAPES_TESTS = nodes("test_shapes.py", "test_area")
ALL_TESTS = CALC_TESTS | BANK_TESTS | SHAPES_TESTS


@pytest.fixture
def common(pytester: pytest.Pytester) -> pytest.Pytester:
    """The common project, with a baseline recorded (all tests passed)."""
    project(pytester, COMMON)
    result = baseline(pytester)
    assert result.ret == 0, output(result)
    assert ran(result) == ALL_TESTS
    return pytester


def uvarints(blob: bytes) -> list[int]:
    out, value, shift, prev = [], 0, 0, 0
    for byte in blob:
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            prev += value
            out.append(prev)
            value, shift = 0, 0
    return out


def dependencies(pytester: pytest.Pytester) -> dict[str, tuple[int, frozenset[tuple[str, str, int]]]]:
    """node id -> (outcome, the block versions it depends on, by identity:
    (path, block name, checksum)), including its file's shared import set.
    Ids differ between databases; identities do not."""
    con = sqlite3.connect(db_file(pytester))
    try:
        blocks = {
            i: (p, n, c)
            for i, p, n, c in con.execute(
                "SELECT b.id, f.path, b.name, b.checksum FROM blocks b JOIN files f ON f.id = b.file_id"
            )
        }
        sets = {i: uvarints(d) for i, d in con.execute("SELECT id, deps FROM depsets")}
        out = {}
        for nodeid, outcome, deps, depset in con.execute("SELECT nodeid, outcome, deps, depset FROM tests"):
            ids = uvarints(deps) + sets.get(depset, [])
            out[nodeid] = (outcome, frozenset(blocks[i] for i in ids))
        return out
    finally:
        con.close()
