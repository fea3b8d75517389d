"""Regression tests for the safety holes of issue 15 whose fix is in the
Python plugin: each records a baseline on a small project, makes the change
(or runs pytest the way) that makes a test's outcome differ, and asserts the
exact node ids that `--diff` runs."""

from __future__ import annotations

import pytest

from conftest import baseline, db_file, diff, nodes, output, project, ran, recorded, run, touch_edit, write

OTHER = {"test_other.py": "def test_other():\n    assert True\n"}
OTHER_TEST = nodes("test_other.py", "test_other")


def _record(pytester: pytest.Pytester, files: dict[str, str], expected: set[str], ini: bool = True) -> None:
    project(pytester, {**OTHER, **files}, ini=ini)
    result = baseline(pytester)
    assert result.ret == 0, output(result)
    assert ran(result) == expected | OTHER_TEST, output(result)


# -- item 6: fixtures requested with request.getfixturevalue ----------------

DYNAMIC = {
    "helper.py": "def connect():\n    return 1\n",
    "conftest.py": (
        "import pytest\n\nimport helper\n\n\n"
        "@pytest.fixture(scope='session')\ndef db():\n    return helper.connect()\n"
    ),
    "test_dynamic.py": (
        "def test_first(request):\n    assert request.getfixturevalue('db') == 1\n\n\n"
        "def test_second(request):\n    assert request.getfixturevalue('db') == 1\n\n\n"
        "def test_without(request):\n    assert request.node is not None\n"
    ),
}
DYNAMIC_USERS = nodes("test_dynamic.py", "test_first", "test_second")


def test_fixture_requested_with_getfixturevalue_is_every_requesters_dependency(pytester: pytest.Pytester) -> None:
    _record(pytester, DYNAMIC, DYNAMIC_USERS | nodes("test_dynamic.py", "test_without"))
    touch_edit(pytester, "helper.py", "return 1", "return 2")
    result = diff(pytester)
    # Both tests that resolved the session fixture, not only the first.
    assert ran(result) == DYNAMIC_USERS, output(result)
    assert result.ret == 1, output(result)


# -- item 9: command-line options that change outcomes -----------------------

XFAIL = {
    "test_xfail.py": (
        "import pytest\n\n\n@pytest.mark.xfail(reason='known bug')\n"
        "def test_known_bug():\n    assert False\n\n\n"
        "def test_fine():\n    assert True\n"
    ),
}
XFAIL_TESTS = nodes("test_xfail.py", "test_known_bug", "test_fine")


def test_runxfail_selects_the_tests_whose_outcome_it_changes(pytester: pytest.Pytester) -> None:
    _record(pytester, XFAIL, XFAIL_TESTS)
    result = diff(pytester, "--runxfail")
    assert ran(result) == XFAIL_TESTS | OTHER_TEST, output(result)
    assert result.ret == 1, output(result)
    # Back to the baseline's options: nothing changed.
    result = diff(pytester)
    assert ran(result) == set(), output(result)


@pytest.mark.parametrize(
    "args",
    [
        ("--import-mode=importlib",),
        ("--assert=plain",),
        ("--strict-markers",),
        ("-p", "no:doctest"),
        ("--noconftest",),
        ("--log-level=DEBUG",),
    ],
)
def test_outcome_changing_options_select_everything(pytester: pytest.Pytester, args: tuple[str, ...]) -> None:
    _record(pytester, XFAIL, XFAIL_TESTS)
    result = diff(pytester, *args)
    assert ran(result) == XFAIL_TESTS | OTHER_TEST, output(result)


@pytest.mark.parametrize("args", [("-x",), ("-q",), ("-k", "fine or other"), ("--tb=short",), ("-s",), ("-rA",)])
def test_options_that_do_not_change_outcomes_select_nothing(pytester: pytest.Pytester, args: tuple[str, ...]) -> None:
    _record(pytester, XFAIL, XFAIL_TESTS)
    result = diff(pytester, *args)
    assert ran(result) == set(), output(result)
