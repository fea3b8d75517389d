"""Which tests a change selects (SPEC 4, 5.1, 5.3-5.5): each test records a
baseline of the common project (conftest.COMMON), makes one change and
asserts the exact set of tests that ran."""

from __future__ import annotations

import shutil
import sys

import pytest

from conftest import (
    ALL_TESTS,
    BANK_TESTS,
    CALC_TESTS,
    COMMON,
    SHAPES_TESTS,
    baseline,
    bump_mtime,
    diff,
    nodes,
    output,
    project,
    ran,
    summary_line,
    touch_edit,
    write,
)


def test_first_run_on_empty_database_runs_everything(pytester: pytest.Pytester) -> None:
    project(pytester, COMMON)
    result = baseline(pytester)
    assert result.ret == 0, output(result)
    assert ran(result) == ALL_TESTS


def test_first_diff_run_on_empty_database_runs_everything(pytester: pytest.Pytester) -> None:
    project(pytester, COMMON)
    result = diff(pytester)
    assert result.ret == 0, output(result)
    assert ran(result) == ALL_TESTS


def test_no_change_runs_nothing_with_exit_0(common: pytest.Pytester) -> None:
    result = diff(common)
    assert result.ret == 0, output(result)
    assert ran(result) == set()
    line = summary_line(result)
    assert "0 selected" in line, line
    assert f"{len(ALL_TESTS)} deselected" in line, line
    assert "nothing affected" in line, line


def test_function_body_change(common: pytest.Pytester) -> None:
    touch_edit(common, "calc.py", "return a + b", "return b + a")
    result = diff(common)
    assert result.ret == 0, output(result)
    assert ran(result) == nodes("test_calc.py", "test_add")


def test_method_change_selects_only_tests_that_executed_it(common: pytest.Pytester) -> None:
    touch_edit(common, "bank.py", "self.balance -= n + self.fee", "self.balance -= self.fee + n")
    result = diff(common)
    assert result.ret == 0, output(result)
    assert ran(result) == nodes("test_bank.py", "test_withdraw")


def test_module_level_statement_with_effects_change(common: pytest.Pytester) -> None:
    # A statement with effects (a call) in calc.py: every test that executed
    # anything in it or whose test file imports it; not the tests of bank.py
    # or shapes.py.
    touch_edit(common, "calc.py", "RATE = 2", "RATE = int(3)")
    result = diff(common)
    assert result.ret == 0, output(result)
    assert ran(result) == CALC_TESTS


def test_module_level_constant_nothing_reads(common: pytest.Pytester) -> None:
    # SPEC 4.8: a literal that no code reads selects nothing.
    touch_edit(common, "calc.py", "RATE = 2", "RATE = 3")
    result = diff(common)
    assert result.ret == 0, output(result)
    assert ran(result) == set()


def test_class_attribute_change(common: pytest.Pytester) -> None:
    # SPEC 4.8: a literal class attribute selects the tests whose code reads
    # it (self.fee in withdraw), not test_deposit.
    touch_edit(common, "bank.py", "fee = 1", "fee = 2")
    result = diff(common)
    assert result.ret == 0, output(result)
    assert ran(result) == nodes("test_bank.py", "test_withdraw")


def test_class_attribute_with_effects_change(common: pytest.Pytester) -> None:
    # A statement with effects in the class body: every test that executed
    # anything in bank.py or imports it, including test_deposit.
    touch_edit(common, "bank.py", "fee = 1", "fee = int(2)")
    result = diff(common)
    assert result.ret == 0, output(result)
    assert ran(result) == BANK_TESTS


def test_decorator_change(common: pytest.Pytester) -> None:
    touch_edit(common, "shapes.py", "@deco.twice", "@deco.thrice")
    result = diff(common)
    assert result.ret == 0, output(result)
    assert ran(result) == SHAPES_TESTS


def test_nested_function_change(common: pytest.Pytester) -> None:
    # inner is its own block: other_outer's test (same file, same shape)
    # is not selected.
    touch_edit(common, "calc.py", "return y + 1", "return 1 + y")
    result = diff(common)
    assert result.ret == 0, output(result)
    assert ran(result) == nodes("test_calc.py", "test_outer")


def test_new_test_file(common: pytest.Pytester) -> None:
    write(common, {"test_new.py": "import calc\n\n\ndef test_new():\n    assert calc.add(0, 0) == 0\n"})
    result = diff(common)
    assert result.ret == 0, output(result)
    assert ran(result) == nodes("test_new.py", "test_new")


def test_new_test_in_existing_file(common: pytest.Pytester) -> None:
    path = common.path / "test_calc.py"
    path.write_text(path.read_text() + "\n\ndef test_add_zero():\n    assert calc.add(0, 0) == 0\n")
    bump_mtime(path)
    result = diff(common)
    assert result.ret == 0, output(result)
    assert ran(result) == nodes("test_calc.py", "test_add_zero")


def test_new_unused_function_selects_nothing(common: pytest.Pytester) -> None:
    path = common.path / "calc.py"
    path.write_text(path.read_text() + "\n\ndef mul(a, b):\n    return a * b\n")
    bump_mtime(path)
    result = diff(common)
    assert result.ret == 0, output(result)
    assert ran(result) == set()


def test_deleted_source_function(common: pytest.Pytester) -> None:
    # Deleting a function selects every test that executed anything in its
    # file (test_sub now fails, the others pass).
    touch_edit(common, "calc.py", "def sub(a, b):\n    return a - b\n\n\n", "")
    result = diff(common)
    assert result.ret == 1, output(result)
    assert ran(result) == CALC_TESTS


def test_deleted_source_file(common: pytest.Pytester) -> None:
    # extra.py is imported lazily by calc.fancy: only test_fancy executed it.
    (common.path / "extra.py").unlink()
    result = diff(common)
    assert result.ret == 1, output(result)
    assert ran(result) == nodes("test_calc.py", "test_fancy")


def test_renamed_module(common: pytest.Pytester) -> None:
    (common.path / "bank.py").rename(common.path / "ledger.py")
    touch_edit(common, "test_bank.py", "from bank import Account", "from ledger import Account")
    result = diff(common)
    assert result.ret == 0, output(result)
    assert ran(result) == BANK_TESTS
    result = baseline(common)
    assert result.ret == 0, output(result)
    assert ran(result) == BANK_TESTS
    result = diff(common)
    assert result.ret == 0, output(result)
    assert ran(result) == set()


def test_comment_blank_line_and_reindent_edits_select_nothing(common: pytest.Pytester) -> None:
    touch_edit(common, "calc.py", "def add(a, b):\n    return a + b\n",
               "# adds\ndef add(a, b):  # two numbers\n\n\n        return a + b  # the sum\n")
    touch_edit(common, "bank.py", "    fee = 1\n", "    # the fee\n    fee = 1  # per withdrawal\n\n")
    touch_edit(common, "test_calc.py", "def test_sub():\n", "# subtraction\ndef test_sub():\n")
    result = diff(common)
    assert result.ret == 0, output(result)
    assert ran(result) == set()


def test_incremental_baseline_then_no_change_selects_nothing(common: pytest.Pytester) -> None:
    touch_edit(common, "calc.py", "return a + b", "return b + a")
    result = baseline(common)
    assert result.ret == 0, output(result)
    assert ran(result) == nodes("test_calc.py", "test_add")
    result = diff(common)
    assert result.ret == 0, output(result)
    assert ran(result) == set()
    result = baseline(common)
    assert result.ret == 0, output(result)
    assert ran(result) == set()


def test_diff_force_reruns_and_records_everything(common: pytest.Pytester) -> None:
    result = baseline(common, "--diff-force")
    assert result.ret == 0, output(result)
    assert ran(result) == ALL_TESTS
    touch_edit(common, "calc.py", "return a + b", "return b + a")
    result = baseline(common, "--diff-force")
    assert result.ret == 0, output(result)
    assert ran(result) == ALL_TESTS
    result = diff(common)
    assert result.ret == 0, output(result)
    assert ran(result) == set()


def test_k_during_baseline_does_not_mark_unrun_tests_as_passing(pytester: pytest.Pytester) -> None:
    project(pytester, {
        "calc.py": "def add(a, b):\n    return a + b\n",
        "test_k.py": (
            "import calc\n\n\ndef test_alpha():\n    assert calc.add(1, 1) == 2\n\n\n"
            "def test_beta():\n    assert calc.add(2, 2) == 4\n\n\ndef test_gamma():\n    assert True\n"
        ),
    })
    assert ran(baseline(pytester)) == nodes("test_k.py", "test_alpha", "test_beta", "test_gamma")
    touch_edit(pytester, "calc.py", "return a + b", "return b + a")
    result = baseline(pytester, "-k", "alpha")
    assert result.ret == 0, output(result)
    assert ran(result) == nodes("test_k.py", "test_alpha")
    result = diff(pytester)
    assert result.ret == 0, output(result)
    assert ran(result) == nodes("test_k.py", "test_beta")
    result = baseline(pytester)
    assert ran(result) == nodes("test_k.py", "test_beta")
    assert ran(diff(pytester)) == set()


def test_subset_path_does_not_hide_changes_for_the_rest(pytester: pytest.Pytester) -> None:
    project(pytester, {
        "calc.py": "def add(a, b):\n    return a + b\n",
        "test_one.py": "import calc\n\n\ndef test_one():\n    assert calc.add(1, 1) == 2\n",
        "test_two.py": "import calc\n\n\ndef test_two():\n    assert calc.add(2, 2) == 4\n",
        "test_three.py": "def test_three():\n    assert True\n",
    })
    assert len(ran(baseline(pytester))) == 3
    touch_edit(pytester, "calc.py", "return a + b", "return b + a")
    result = baseline(pytester, "test_one.py")
    assert result.ret == 0, output(result)
    assert ran(result) == nodes("test_one.py", "test_one")
    result = diff(pytester)
    assert result.ret == 0, output(result)
    assert ran(result) == nodes("test_two.py", "test_two")


def test_syntax_error_in_lazily_imported_source(common: pytest.Pytester) -> None:
    original = (common.path / "extra.py").read_text()
    touch_edit(common, "extra.py", "return 42", "return 42 +")
    result = diff(common)
    assert result.ret == 1, output(result)
    assert ran(result) == nodes("test_calc.py", "test_fancy")
    assert "SyntaxError" in output(result)
    # Back to the recorded content: nothing is affected any more.
    (common.path / "extra.py").write_text(original)
    bump_mtime(common.path / "extra.py")
    result = diff(common)
    assert result.ret == 0, output(result)
    assert ran(result) == set()


def test_syntax_error_in_source_imported_by_a_test_file(common: pytest.Pytester) -> None:
    # bank.py is imported at the top of test_bank.py: that file is collected
    # again and fails to import; the other test files are not collected.
    touch_edit(common, "bank.py", "fee = 1", "fee = = 1")
    result = diff(common)
    assert result.ret == pytest.ExitCode.INTERRUPTED, output(result)
    assert "ERROR collecting test_bank.py" in output(result)
    assert ran(result) == set()
    # The error is not in the way of the other files' selection.
    result = diff(common, "--continue-on-collection-errors")
    assert result.ret == 1, output(result)
    assert ran(result) == set()
    assert "test_bank.py" in output(result)


def test_latin1_source_with_coding_line(pytester: pytest.Pytester) -> None:
    source = (
        "# -*- coding: latin-1 -*-\n\n\ndef greet():\n    return 'caf\xe9'\n\n\n"
        "def other():\n    return 'na\xefve'\n"
    )
    project(pytester, {
        "test_latin.py": (
            "import latin\n\n\ndef test_greet():\n    assert latin.greet().startswith('caf')\n\n\n"
            "def test_other():\n    assert latin.other().startswith('na')\n"
        ),
    })
    path = pytester.path / "latin.py"
    path.write_bytes(source.encode("latin-1"))
    result = baseline(pytester)
    assert result.ret == 0, output(result)
    assert ran(result) == nodes("test_latin.py", "test_greet", "test_other")
    path.write_bytes(source.replace("caf\xe9", "caf\xe8").encode("latin-1"))
    bump_mtime(path)
    result = diff(pytester)
    assert result.ret == 0, output(result)
    assert ran(result) == nodes("test_latin.py", "test_greet")


def test_baseline_copied_to_another_directory_selects_nothing(
    common: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    copy = common.path.parent / (common.path.name + "-copy")
    # shutil.copy, not copy2: like a fresh checkout, every mtime is new.
    shutil.copytree(common.path, copy, copy_function=shutil.copy)
    # A change in the original must not leak into the copy's selection.
    touch_edit(common, "calc.py", "return a + b", "return b + a")
    monkeypatch.chdir(copy)
    result = common.run(sys.executable, "-m", "pytest", "-v", "-p", "no:randomly", "--diff")
    assert result.ret == 0, output(result)
    assert ran(result) == set()
    monkeypatch.chdir(common.path)
    assert ran(diff(common)) == nodes("test_calc.py", "test_add")


def test_unaffected_test_files_are_not_imported(pytester: pytest.Pytester) -> None:
    log = pytester.path.parent / (pytester.path.name + "-imports.log")
    header = f"with open({str(log)!r}, 'a') as _f:\n    _f.write(__name__ + '\\n')\n\nimport calc\n\n\n"
    project(pytester, {
        "calc.py": "def add(a, b):\n    return a + b\n\n\ndef sub(a, b):\n    return a - b\n",
        "test_a.py": header + "def test_a():\n    assert calc.add(1, 1) == 2\n",
        "test_b.py": header + "def test_b():\n    assert calc.sub(1, 1) == 0\n",
    })
    assert ran(baseline(pytester)) == nodes("test_a.py", "test_a") | nodes("test_b.py", "test_b")
    assert sorted(log.read_text().split()) == ["test_a", "test_b"]
    log.write_text("")
    result = diff(pytester)
    assert result.ret == 0, output(result)
    assert ran(result) == set()
    assert log.read_text().split() == []
    touch_edit(pytester, "calc.py", "return a + b", "return b + a")
    result = diff(pytester)
    assert result.ret == 0, output(result)
    assert ran(result) == nodes("test_a.py", "test_a")
    assert log.read_text().split() == ["test_a"]
