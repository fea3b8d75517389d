"""The database (SPEC 3, 5.1, 5.3): where it lives, what --diff leaves
alone, what happens to a damaged one."""

from __future__ import annotations

import pytest

from conftest import (
    baseline,
    db_file,
    diff,
    nodes,
    output,
    project,
    ran,
    recorded,
    rows,
    touch_edit,
    write,
)

SIMPLE = {
    "calc.py": "def add(a, b):\n    return a + b\n\n\ndef sub(a, b):\n    return a - b\n",
    "test_calc.py": (
        "import calc\n\n\ndef test_add():\n    assert calc.add(1, 1) == 2\n\n\n"
        "def test_sub():\n    assert calc.sub(2, 1) == 1\n"
    ),
    "test_other.py": "def test_other():\n    assert True\n",
}
SIMPLE_TESTS = nodes("test_calc.py", "test_add", "test_sub") | nodes("test_other.py", "test_other")


def test_baseline_records_every_test_in_the_documented_place(pytester: pytest.Pytester) -> None:
    project(pytester, SIMPLE)
    result = baseline(pytester)
    assert result.ret == 0, output(result)
    assert db_file(pytester).is_file()
    assert set(recorded(pytester)) == SIMPLE_TESTS


def test_diff_never_writes_test_records(pytester: pytest.Pytester) -> None:
    project(pytester, SIMPLE)
    assert ran(baseline(pytester)) == SIMPLE_TESTS
    before = rows(pytester)
    # A change that makes a test fail, and a new test: --diff runs both and
    # records neither.
    touch_edit(pytester, "calc.py", "return a + b", "return a + b + 1")
    write(pytester, {"test_new.py": "def test_new():\n    assert True\n"})
    result = diff(pytester)
    assert result.ret == 1, output(result)
    assert ran(result) == nodes("test_calc.py", "test_add") | nodes("test_new.py", "test_new")
    assert rows(pytester) == before


def test_diff_on_empty_database_records_no_tests(pytester: pytest.Pytester) -> None:
    project(pytester, SIMPLE)
    result = diff(pytester)
    assert result.ret == 0, output(result)
    assert ran(result) == SIMPLE_TESTS
    if db_file(pytester).exists():
        assert recorded(pytester) == {}
    # So the next --diff still has no baseline and runs everything.
    assert ran(diff(pytester)) == SIMPLE_TESTS


@pytest.mark.parametrize("mode", ["--diff-baseline", "--diff"])
def test_corrupt_database_is_set_aside_and_the_run_is_a_first_run(pytester: pytest.Pytester, mode: str) -> None:
    project(pytester, SIMPLE)
    db = db_file(pytester)
    db.parent.mkdir(parents=True)
    garbage = b"this is not a SQLite database\x00\xff\xfe" * 100
    db.write_bytes(garbage)
    result = pytester.runpytest_subprocess("-v", "-p", "no:randomly", mode)
    text = output(result)
    assert result.ret == 0, text
    assert "Traceback" not in text
    assert ran(result) == SIMPLE_TESTS
    aside = list(db.parent.glob("pytest_difftest.db.bad-*"))
    assert len(aside) == 1, sorted(p.name for p in db.parent.iterdir())
    assert aside[0].read_bytes() == garbage
    assert any("warning" in l.lower() and "difftest" in l for l in text.splitlines()), text
    if mode == "--diff-baseline":
        # A fresh baseline was recorded: nothing is selected any more.
        assert set(recorded(pytester)) == SIMPLE_TESTS
        result = diff(pytester)
        assert result.ret == 0, output(result)
        assert ran(result) == set()


def test_records_of_removed_tests_are_dropped_only_after_a_whole_run(pytester: pytest.Pytester) -> None:
    project(pytester, SIMPLE)
    assert ran(baseline(pytester)) == SIMPLE_TESTS
    (pytester.path / "test_other.py").unlink()
    # A subset run did not collect the whole suite: nothing is dropped.
    result = baseline(pytester, "test_calc.py")
    assert result.ret == 0, output(result)
    assert "test_other.py::test_other" in recorded(pytester)
    result = baseline(pytester)
    assert result.ret == 0, output(result)
    assert set(recorded(pytester)) == nodes("test_calc.py", "test_add", "test_sub")
