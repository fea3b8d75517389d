"""Regression tests for issue 15, the items whose rule lives in the Go engine:
each reproduces, on a small project, a situation in which `--diff` skipped a
test whose outcome had changed (`--diff-baseline`, the change, `--diff`), and
asserts the exact tests that run now."""

from __future__ import annotations

import os
import shutil
import sqlite3
import textwrap
from pathlib import Path

import pytest

from conftest import baseline, db_file, diff, nodes, output, project, ran, touch_edit

MUL = "def mul(a, b):\n    return a * b\n"
TEST_MUL = "from mul import mul\n\n\ndef test_mul():\n    assert mul(2, 3) == 6\n"
MUL_TESTS = nodes("test_mul.py", "test_mul")


def collection_errors(result: pytest.RunResult) -> set[str]:
    """The test files whose collection failed (an import error)."""
    return {line.split("ERROR collecting ")[1].split()[0] for line in result.outlines if "ERROR collecting " in line}


def _record(pytester: pytest.Pytester, files: dict[str, str], everything: set[str], *args: str) -> None:
    project(pytester, files)
    result = baseline(pytester, *args)
    assert result.ret == 0, output(result)
    assert ran(result) == everything, output(result)


# -- 1. An edit saved while a recording run runs ------------------------------

# Runs before test_mul.py's test (file order) and after test_mul.py was
# imported (collection): test_mul runs the old mul, the engine reads the new.
EDITOR = textwrap.dedent(
    """
    from pathlib import Path


    def test_editor_saves():
        here = Path(__file__).parent
        {body}
    """
)


def _editor(body: str) -> str:
    return EDITOR.format(body=body.replace("\n", "\n    "))


SAVE_MUL = '(here / "mul.py").write_text("def mul(a, b):\\n    return a + b\\n")'
ADD_TEST = '(here / "test_mul.py").write_text((here / "test_mul.py").read_text() + "\\n\\ndef test_new():\\n    assert False\\n")'


def test_source_saved_during_the_first_recording_run(pytester: pytest.Pytester) -> None:
    files = {"mul.py": MUL, "test_mul.py": TEST_MUL, "test_a.py": _editor(SAVE_MUL)}
    _record(pytester, files, MUL_TESTS | nodes("test_a.py", "test_editor_saves"))
    result = diff(pytester)
    assert ran(result) == MUL_TESTS, output(result)
    assert result.ret == 1, output(result)


def test_source_saved_during_a_later_recording_run(pytester: pytest.Pytester) -> None:
    # mul.py is in the baseline and unchanged when the run selects.
    _record(pytester, {"mul.py": MUL, "test_mul.py": TEST_MUL}, MUL_TESTS)
    project(pytester, {"test_a.py": _editor(SAVE_MUL)})
    result = baseline(pytester, "--diff-force")
    assert ran(result) == MUL_TESTS | nodes("test_a.py", "test_editor_saves"), output(result)
    result = diff(pytester)
    assert ran(result) == MUL_TESTS, output(result)
    assert result.ret == 1, output(result)


def test_test_added_to_a_test_file_during_a_recording_run(pytester: pytest.Pytester) -> None:
    files = {"mul.py": MUL, "test_mul.py": TEST_MUL, "test_a.py": _editor(ADD_TEST)}
    _record(pytester, files, MUL_TESTS | nodes("test_a.py", "test_editor_saves"))
    result = diff(pytester)
    assert ran(result) == nodes("test_mul.py", "test_mul", "test_new"), output(result)
    assert result.ret == 1, output(result)


# -- 2. Defaults and annotations run at import --------------------------------

MATHLIB = "def add(a, b):\n    return a + b\n\n\ndef mul(a, b=1):\n    return a * b\n"
TEST_ADD = "import mathlib\n\n\ndef test_add():\n    assert mathlib.add(1, 2) == 3\n"
TEST_MATH_MUL = "import mathlib\n\n\ndef test_mul():\n    assert mathlib.mul(2, 3) == 6\n"
MATH_TESTS = nodes("test_add.py", "test_add") | nodes("test_mul.py", "test_mul")
MATH = {"mathlib.py": MATHLIB, "test_add.py": TEST_ADD, "test_mul.py": TEST_MATH_MUL}


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("def mul(a, b=1):", "def mul(a, b=1 // 0):"),
        ("def mul(a, b=1):", "def mul(a, b: Undefined = 1):"),
        ("def mul(a, b=1):", "def mul(a, b=1) -> Undefined:"),
    ],
    ids=["default", "annotation", "return-annotation"],
)
def test_signature_evaluated_at_import(pytester: pytest.Pytester, old: str, new: str) -> None:
    _record(pytester, MATH, MATH_TESTS)
    touch_edit(pytester, "mathlib.py", old, new)
    result = diff(pytester)
    # Every importer breaks, not only the callers of mul.
    assert collection_errors(result) == {"test_add.py", "test_mul.py"}, output(result)


def test_method_default_evaluated_at_import(pytester: pytest.Pytester) -> None:
    files = {
        "shapes.py": "class Square:\n    def area(self, n=2):\n        return n * n\n\n\ndef one():\n    return 1\n",
        "test_area.py": "import shapes\n\n\ndef test_area():\n    assert shapes.Square().area() == 4\n",
        "test_one.py": "import shapes\n\n\ndef test_one():\n    assert shapes.one() == 1\n",
    }
    tests = nodes("test_area.py", "test_area") | nodes("test_one.py", "test_one")
    _record(pytester, files, tests)
    touch_edit(pytester, "shapes.py", "n=2", "n=1 // 0")
    result = diff(pytester)
    assert collection_errors(result) == {"test_area.py", "test_one.py"}, output(result)


def test_literal_default_change_selects_only_its_callers(pytester: pytest.Pytester) -> None:
    # Precision guard: a constant default cannot fail at import; only the
    # tests that call mul see it.
    _record(pytester, MATH, MATH_TESTS)
    touch_edit(pytester, "mathlib.py", "b=1", "b=2")
    result = diff(pytester)
    assert ran(result) == nodes("test_mul.py", "test_mul"), output(result)


# -- 3. A new definition that shadows a name -------------------------------------


def test_second_definition_lower_in_the_file(pytester: pytest.Pytester) -> None:
    _record(pytester, MATH, MATH_TESTS)
    p = pytester.path / "mathlib.py"
    p.write_text(p.read_text() + "\n\ndef add(a, b):\n    return a - b\n")
    result = diff(pytester)
    assert ran(result) == MATH_TESTS, output(result)
    assert result.ret == 1, output(result)


def test_definition_shadowing_an_import(pytester: pytest.Pytester) -> None:
    files = {
        "paths.py": "from os.path import join\n\n\ndef where(name):\n    return join('a', name)\n",
        "test_paths.py": "import paths\n\n\ndef test_where():\n    assert paths.where('b') == 'a/b'\n",
    }
    tests = nodes("test_paths.py", "test_where")
    _record(pytester, files, tests)
    p = pytester.path / "paths.py"
    p.write_text(p.read_text() + "\n\ndef join(*parts):\n    return '-'.join(parts)\n")
    result = diff(pytester)
    assert ran(result) == tests, output(result)
    assert result.ret == 1, output(result)


def test_definition_shadowing_a_module_getattr_name(pytester: pytest.Pytester) -> None:
    files = {
        "lazy.py": "def __getattr__(name):\n    if name == 'answer':\n        return 42\n    raise AttributeError(name)\n",
        "test_lazy.py": "import lazy\n\n\ndef test_answer():\n    assert lazy.answer == 42\n",
    }
    tests = nodes("test_lazy.py", "test_answer")
    _record(pytester, files, tests)
    p = pytester.path / "lazy.py"
    p.write_text(p.read_text() + "\n\ndef answer():\n    return 0\n")
    result = diff(pytester)
    assert ran(result) == tests, output(result)
    assert result.ret == 1, output(result)


def test_new_helper_called_by_a_changed_function_selects_its_callers_only(pytester: pytest.Pytester) -> None:
    # Precision guard: a new name read only by code that changed with it.
    _record(pytester, MATH, MATH_TESTS)
    touch_edit(pytester, "mathlib.py", "    return a * b\n", "    return _times(a, b)\n\n\ndef _times(a, b):\n    return a * b\n")
    result = diff(pytester)
    assert ran(result) == nodes("test_mul.py", "test_mul"), output(result)


# -- 4. A new hook in a conftest.py ------------------------------------------


def test_new_hook_in_conftest(pytester: pytest.Pytester) -> None:
    files = {
        "conftest.py": "import pytest\n\n\n@pytest.fixture\ndef two():\n    return 2\n",
        "sub/conftest.py": "",
        "sub/test_sub.py": "def test_sub():\n    assert True\n",
        "test_top.py": "def test_top(two):\n    assert two == 2\n",
    }
    _record(pytester, files, nodes("sub/test_sub.py", "test_sub") | nodes("test_top.py", "test_top"))
    p = pytester.path / "sub" / "conftest.py"
    p.write_text("def pytest_runtest_call(item):\n    raise RuntimeError('hook')\n")
    result = diff(pytester)
    assert ran(result) == nodes("sub/test_sub.py", "test_sub"), output(result)
    assert result.ret == 1, output(result)


def test_new_setup_module_in_a_test_module(pytester: pytest.Pytester) -> None:
    files = {"test_one.py": "def test_one():\n    assert True\n", "test_two.py": "def test_two():\n    assert True\n"}
    _record(pytester, files, nodes("test_one.py", "test_one") | nodes("test_two.py", "test_two"))
    p = pytester.path / "test_one.py"
    p.write_text(p.read_text() + "\n\ndef setup_module():\n    raise RuntimeError('setup')\n")
    result = diff(pytester)
    assert ran(result) == nodes("test_one.py", "test_one"), output(result)
    assert result.ret == 1, output(result)


# -- 5. Directory listings ---------------------------------------------------

CASES_AT_IMPORT = """
import json
from pathlib import Path

import pytest

CASES = sorted((Path(__file__).parent / "cases").glob("*.json"))


@pytest.mark.parametrize("case", CASES, ids=lambda p: p.stem)
def test_case(case):
    assert json.loads(case.read_text())["ok"]
"""

CASES_IN_TEST = """
import os


def test_count():
    assert len(os.listdir(os.path.join(os.path.dirname(__file__), "cases"))) == 1
"""


def test_listing_at_import(pytester: pytest.Pytester) -> None:
    files = {"cases/a.json": '{"ok": true}\n', "test_cases.py": CASES_AT_IMPORT, "test_other.py": "def test_other():\n    pass\n"}
    _record(pytester, files, nodes("test_cases.py", "test_case[a]") | nodes("test_other.py", "test_other"))
    project(pytester, {"cases/b.json": '{"ok": false}\n'})
    result = diff(pytester)
    assert ran(result) == nodes("test_cases.py", "test_case[a]", "test_case[b]"), output(result)
    assert result.ret == 1, output(result)


def test_listing_in_a_test(pytester: pytest.Pytester) -> None:
    files = {"cases/a.json": "{}\n", "test_count.py": CASES_IN_TEST, "test_other.py": "def test_other():\n    pass\n"}
    _record(pytester, files, nodes("test_count.py", "test_count") | nodes("test_other.py", "test_other"))
    project(pytester, {"cases/b.json": "{}\n"})
    result = diff(pytester)
    assert ran(result) == nodes("test_count.py", "test_count"), output(result)
    assert result.ret == 1, output(result)


def test_listing_unchanged_selects_nothing(pytester: pytest.Pytester) -> None:
    files = {"cases/a.json": '{"ok": true}\n', "test_cases.py": CASES_AT_IMPORT}
    _record(pytester, files, nodes("test_cases.py", "test_case[a]"))
    touch_edit(pytester, "cases/a.json", "true", "true ")
    result = diff(pytester)
    assert ran(result) == nodes("test_cases.py", "test_case[a]"), output(result)
    pytester.path.joinpath("cases", "a.json").write_text('{"ok": true}\n')
    result = baseline(pytester)
    result = diff(pytester)
    assert ran(result) == set(), output(result)


# -- 10. f-string "=" specifiers ---------------------------------------------


def test_fstring_equals_specifier_whitespace(pytester: pytest.Pytester) -> None:
    files = {
        "fmt.py": 'def show(x):\n    return f"{x=}"\n',
        "test_fmt.py": "import fmt\n\n\ndef test_show():\n    assert fmt.show(1) == 'x=1'\n",
    }
    tests = nodes("test_fmt.py", "test_show")
    _record(pytester, files, tests)
    touch_edit(pytester, "fmt.py", "{x=}", "{x = }")
    result = diff(pytester)
    assert ran(result) == tests, output(result)
    assert result.ret == 1, output(result)


# -- The stat shortcut ---------------------------------------------------------


def _same_size_edit_keeping_mtime(path: Path, old: str, new: str) -> None:
    st = path.stat()
    text = path.read_text()
    assert len(old) == len(new) and text.count(old) == 1
    path.write_text(text.replace(old, new))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))


def test_same_size_edit_with_the_same_mtime(pytester: pytest.Pytester) -> None:
    # What an edit within one tick of the file system's clock looks like.
    _record(pytester, {"mul.py": MUL, "test_mul.py": TEST_MUL}, MUL_TESTS)
    _same_size_edit_keeping_mtime(pytester.path / "mul.py", "a * b", "a + b")
    result = diff(pytester)
    assert ran(result) == MUL_TESTS, output(result)
    assert result.ret == 1, output(result)


def test_checkout_with_fixed_mtimes(pytester: pytest.Pytester) -> None:
    # Nix and some build tools set every mtime to 1.
    project(pytester, {"mul.py": MUL, "test_mul.py": TEST_MUL})
    for p in pytester.path.rglob("*.py"):
        os.utime(p, (1, 1))
    result = baseline(pytester)
    assert ran(result) == MUL_TESTS, output(result)
    p = pytester.path / "mul.py"
    p.write_text(p.read_text().replace("a * b", "a + b"))
    os.utime(p, (1, 1))
    result = diff(pytester)
    assert ran(result) == MUL_TESTS, output(result)
    assert result.ret == 1, output(result)


def test_baseline_from_another_checkout(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    # A baseline recorded elsewhere (a remote or merged one) holds the other
    # checkout's stat values; a copy that preserves mtimes matches them.
    project(pytester, {"mul.py": MUL, "test_mul.py": TEST_MUL})
    origin = pytester.path.parent / (pytester.path.name + "-origin")
    shutil.copytree(pytester.path, origin)  # copy2: mtimes preserved
    monkeypatch.chdir(origin)
    result = baseline(pytester)
    assert ran(result) == MUL_TESTS, output(result)
    monkeypatch.chdir(pytester.path)
    shutil.copytree(origin / ".pytest_cache", pytester.path / ".pytest_cache")
    _same_size_edit_keeping_mtime(pytester.path / "mul.py", "a * b", "a + b")
    result = diff(pytester)
    assert ran(result) == MUL_TESTS, output(result)
    assert result.ret == 1, output(result)


# -- Missing rows mean stale ----------------------------------------------------


def _sql(pytester: pytest.Pytester, statement: str) -> None:
    con = sqlite3.connect(db_file(pytester))
    try:
        con.execute(statement)
        con.commit()
    finally:
        con.close()


def test_missing_block_row(pytester: pytest.Pytester) -> None:
    _record(pytester, MATH, MATH_TESTS)
    _sql(pytester, "DELETE FROM blocks WHERE name = 'mul'")
    touch_edit(pytester, "mathlib.py", "return a * b", "return a + b")
    result = diff(pytester)
    assert ran(result) == nodes("test_mul.py", "test_mul"), output(result)
    assert result.ret == 1, output(result)


def test_missing_depset_row(pytester: pytest.Pytester) -> None:
    _record(pytester, MATH, MATH_TESTS)
    _sql(pytester, "DELETE FROM depsets WHERE id = (SELECT depset FROM tests WHERE nodeid = 'test_add.py::test_add')")
    touch_edit(pytester, "mathlib.py", "return a * b", "return a * b * 1")
    result = diff(pytester)
    assert ran(result) == MATH_TESTS, output(result)


def test_missing_file_row(pytester: pytest.Pytester) -> None:
    # Its block versions can no longer be checked against the file.
    files = {**MATH, "test_other.py": "def test_other():\n    pass\n"}
    _record(pytester, files, MATH_TESTS | nodes("test_other.py", "test_other"))
    _sql(pytester, "DELETE FROM files WHERE path = 'mathlib.py'")
    touch_edit(pytester, "test_other.py", "pass", "assert True")
    result = diff(pytester)
    assert ran(result) == MATH_TESTS | nodes("test_other.py", "test_other"), output(result)
