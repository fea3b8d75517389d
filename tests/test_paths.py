"""Paths and node ids on the command line narrow the selection (SPEC 5.7);
they never bring back unaffected tests, even for files the plugin would not
have collected at all."""

from __future__ import annotations

import pytest

from conftest import BANK_TESTS, baseline, diff, nodes, output, ran, recorded, touch_edit


def test_unaffected_file_named_on_the_command_line_runs_nothing(common: pytest.Pytester) -> None:
    result = diff(common, "test_bank.py")
    assert result.ret == 0, output(result)
    assert ran(result) == set()


def test_named_file_runs_only_its_affected_tests(common: pytest.Pytester) -> None:
    touch_edit(common, "bank.py", "self.balance -= n + self.fee", "self.balance -= self.fee + n")
    result = diff(common, "test_bank.py")
    assert result.ret == 0, output(result)
    assert ran(result) == nodes("test_bank.py", "test_withdraw")
    # Another file's changes do not leak in through the named one.
    touch_edit(common, "shapes.py", "return n * n", "return n ** 2")
    assert ran(diff(common, "test_bank.py")) == nodes("test_bank.py", "test_withdraw")


def test_named_node_id_of_an_unaffected_test_is_deselected(common: pytest.Pytester) -> None:
    result = diff(common, "test_bank.py::test_deposit")
    assert result.ret == 0, output(result)
    assert ran(result) == set()


def test_baseline_on_a_named_file_records_only_what_ran(common: pytest.Pytester) -> None:
    touch_edit(common, "bank.py", "self.balance -= n + self.fee", "self.balance -= self.fee + n")
    before = recorded(common)
    result = baseline(common, "test_bank.py::test_deposit")
    assert result.ret == 0, output(result)
    assert ran(result) == set()
    assert recorded(common) == before
    assert ran(diff(common)) == nodes("test_bank.py", "test_withdraw")
    assert ran(baseline(common, "test_bank.py")) == nodes("test_bank.py", "test_withdraw")
    assert ran(diff(common)) == set()
    assert set(recorded(common)) >= BANK_TESTS
