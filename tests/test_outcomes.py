"""Outcomes and re-selection (SPEC 4.5, 4.6): failing and erroring tests
stay selected until they pass in a recording run; skipped and xfailed tests
are not re-run when nothing changed."""

from __future__ import annotations

import pytest

from conftest import baseline, diff, nodes, output, project, ran, touch_edit

CALC = "def add(a, b):\n    return a + b\n\n\ndef sub(a, b):\n    return a - b\n"


def test_failing_test_is_reselected_until_it_passes_in_a_baseline_run(pytester: pytest.Pytester) -> None:
    project(pytester, {
        "calc.py": CALC,
        "test_calc.py": (
            "import calc\n\n\ndef test_add():\n    assert calc.add(1, 1) == 2\n\n\n"
            "def test_broken():\n    assert calc.sub(3, 1) == 3\n"
        ),
    })
    broken = nodes("test_calc.py", "test_broken")
    result = baseline(pytester)
    assert result.ret == 1, output(result)
    assert ran(result) == nodes("test_calc.py", "test_add") | broken
    # Nothing changed, but the failure is pending: selected in both modes.
    for run in (diff, baseline, diff):
        result = run(pytester)
        assert result.ret == 1, output(result)
        assert ran(result) == broken
    # Fixed by a change in the code under test; passing under --diff
    # records nothing, so it is still selected.
    touch_edit(pytester, "calc.py", "return a - b", "return a - b + 1")
    result = diff(pytester)
    assert result.ret == 0, output(result)
    assert ran(result) == broken
    result = diff(pytester)
    assert result.ret == 0, output(result)
    assert ran(result) == broken
    result = baseline(pytester)
    assert result.ret == 0, output(result)
    assert ran(result) == broken
    result = diff(pytester)
    assert result.ret == 0, output(result)
    assert ran(result) == set()


def test_test_that_passed_once_and_fails_later_is_reselected(pytester: pytest.Pytester) -> None:
    project(pytester, {
        "calc.py": CALC,
        "test_calc.py": (
            "import calc\n\n\ndef test_add():\n    assert calc.add(1, 1) == 2\n\n\n"
            "def test_sub():\n    assert calc.sub(3, 1) == 2\n"
        ),
    })
    sub = nodes("test_calc.py", "test_sub")
    assert ran(baseline(pytester)) == nodes("test_calc.py", "test_add") | sub
    touch_edit(pytester, "calc.py", "return a - b", "return a - b + 1")
    result = baseline(pytester)
    assert result.ret == 1, output(result)
    assert ran(result) == sub
    # Its dependencies now match the record, but the record is a failure.
    for run in (diff, baseline):
        result = run(pytester)
        assert result.ret == 1, output(result)
        assert ran(result) == sub
    touch_edit(pytester, "calc.py", "return a - b + 1", "return a - b")
    result = baseline(pytester)
    assert result.ret == 0, output(result)
    assert ran(result) == sub
    result = diff(pytester)
    assert result.ret == 0, output(result)
    assert ran(result) == set()


def test_skipped_and_xfailed_tests_are_not_rerun(pytester: pytest.Pytester) -> None:
    project(pytester, {
        "calc.py": CALC,
        "test_marks.py": """
            import pytest

            import calc


            @pytest.mark.skip(reason="not today")
            def test_skip_marker():
                assert calc.add(1, 1) == 2


            def test_skip_inside():
                calc.add(1, 1)
                pytest.skip("decided at run time")


            @pytest.mark.xfail(reason="known bug", strict=True)
            def test_xfail():
                assert calc.sub(1, 1) == 1


            def test_pass():
                assert calc.add(2, 2) == 4
            """,
    })
    everything = nodes("test_marks.py", "test_skip_marker", "test_skip_inside", "test_xfail", "test_pass")
    result = baseline(pytester)
    assert result.ret == 0, output(result)
    assert ran(result) == everything
    for run in (diff, baseline, diff):
        result = run(pytester)
        assert result.ret == 0, output(result)
        assert ran(result) == set()


def test_error_in_fixture_setup_is_reselected(pytester: pytest.Pytester) -> None:
    project(pytester, {
        "calc.py": CALC,
        "conftest.py": """
            import pytest


            @pytest.fixture
            def numbers():
                raise RuntimeError("broken fixture")
            """,
        "test_calc.py": (
            "import calc\n\n\ndef test_add():\n    assert calc.add(1, 1) == 2\n\n\n"
            "def test_with_fixture(numbers):\n    assert calc.add(*numbers) == 3\n"
        ),
    })
    errored = nodes("test_calc.py", "test_with_fixture")
    result = baseline(pytester)
    assert result.ret == 1, output(result)
    assert ran(result) == nodes("test_calc.py", "test_add") | errored
    for run in (diff, baseline):
        result = run(pytester)
        assert result.ret == 1, output(result)
        assert ran(result) == errored
    touch_edit(pytester, "conftest.py", 'raise RuntimeError("broken fixture")', "return (1, 2)")
    result = baseline(pytester)
    assert result.ret == 0, output(result)
    assert ran(result) == errored
    result = diff(pytester)
    assert result.ret == 0, output(result)
    assert ran(result) == set()
