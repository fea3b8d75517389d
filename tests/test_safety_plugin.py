"""Regression tests for the safety holes of issue 15 whose fix is in the
Python plugin: each records a baseline on a small project, makes the change
(or runs pytest the way) that makes a test's outcome differ, and asserts the
exact node ids that `--diff` runs."""

from __future__ import annotations

import sqlite3

import pytest

from conftest import assert_usage_error, baseline, diff, nodes, output, project, ran, recorded, touch_edit, write

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


# -- item 11: pytest's configuration as pytest reads it ---------------------

WARNS = {
    "test_warns.py": (
        "import warnings\n\n\n"
        "def test_warns():\n    warnings.warn('old', DeprecationWarning)\n"
    ),
}
WARNS_TEST = nodes("test_warns.py", "test_warns")
PYTEST9 = pytest.mark.skipif(pytest.version_tuple[0] < 9, reason="pytest 9 reads pytest.toml")


@PYTEST9
@pytest.mark.parametrize("name", ["pytest.toml", ".pytest.toml"])
def test_pytest_toml_integer_setting_is_accepted(pytester: pytest.Pytester, name: str) -> None:
    files = {**WARNS, name: "[pytest]\ndiff_batch_size = 50\ndiff_cache_size = 1000\n"}
    _record(pytester, files, WARNS_TEST, ini=False)
    assert set(recorded(pytester)) == WARNS_TEST | OTHER_TEST


@pytest.mark.parametrize(
    ("name", "value"),
    [
        pytest.param("pytest.toml", "0", marks=PYTEST9),
        pytest.param(".pytest.toml", "0", marks=PYTEST9),
        pytest.param("pytest.toml", "'abc'", marks=PYTEST9),
        pytest.param("pytest.toml", "true", marks=PYTEST9),
        ("pytest.ini", "abc"),
        ("pyproject.toml", "abc"),
    ],
)
def test_invalid_integer_setting_is_one_line(pytester: pytest.Pytester, name: str, value: str) -> None:
    section = "[tool.pytest.ini_options]" if name == "pyproject.toml" else "[pytest]"
    project(pytester, {**WARNS, name: f"{section}\ndiff_batch_size = {value!r}\n" if name == "pyproject.toml" else f"{section}\ndiff_batch_size = {value}\n"}, ini=False)
    result = baseline(pytester)
    assert_usage_error(result, "diff_batch_size")


@PYTEST9
@pytest.mark.parametrize(
    ("before", "after"),
    [
        ("", "filterwarnings = ['error']\n"),
        ("xfail_strict = false\n", "xfail_strict = true\n"),
        ("addopts = []\n", "addopts = ['-W', 'error']\n"),
    ],
)
def test_pytest_toml_configuration_change_selects(pytester: pytest.Pytester, before: str, after: str) -> None:
    files = {**WARNS, "pytest.toml": "[pytest]\n" + before + "diff_batch_size = 5\n"}
    _record(pytester, files, WARNS_TEST, ini=False)
    text = (pytester.path / "pytest.toml").read_text()
    (pytester.path / "pytest.toml").write_text(text.replace("[pytest]\n" + before, "[pytest]\n" + after))
    result = diff(pytester)
    assert ran(result) == WARNS_TEST | OTHER_TEST, output(result)


@PYTEST9
def test_pytest_toml_plugin_keys_select_nothing(pytester: pytest.Pytester) -> None:
    # Precision guard: this plugin's own keys are not pytest's configuration.
    _record(pytester, {**WARNS, "pytest.toml": "[pytest]\ndiff_batch_size = 5\n"}, WARNS_TEST, ini=False)
    touch_edit(pytester, "pytest.toml", "diff_batch_size = 5", "diff_batch_size = 7")
    result = diff(pytester)
    assert ran(result) == set(), output(result)


@pytest.mark.parametrize("cacheprovider", [True, False])
def test_database_lives_in_pytests_cache_dir(pytester: pytest.Pytester, cacheprovider: bool) -> None:
    files = {**WARNS, "pytest.ini": "[pytest]\ncache_dir = .cache/pytest\n"}
    args = () if cacheprovider else ("-p", "no:cacheprovider")
    project(pytester, {**OTHER, **files}, ini=False)
    result = baseline(pytester, *args)
    assert result.ret == 0, output(result)
    assert ran(result) == WARNS_TEST | OTHER_TEST, output(result)
    assert (pytester.path / ".cache" / "pytest" / "pytest-difftest" / "pytest_difftest.db").is_file()
    assert not (pytester.path / ".pytest_cache").exists()
    touch_edit(pytester, "test_warns.py", "'old'", "'older'")
    result = diff(pytester, *args)
    assert ran(result) == WARNS_TEST, output(result)


# -- also found: a test file outside rootdir ----------------------------------


def test_test_file_outside_rootdir_always_runs_with_a_warning(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(pytester, {
        "proj/pytest.ini": "[pytest]\n",
        "proj/test_in.py": "def test_in():\n    assert True\n",
        "other/test_x.py": "def test_x():\n    assert True\n",
    })
    monkeypatch.chdir(pytester.path / "proj")
    args = ("test_in.py", "../other/test_x.py")
    result = baseline(pytester, *args)
    assert result.ret == 0, output(result)
    assert ran(result) == {"test_in.py::test_in"}, output(result)
    assert _ran_outside(result) == ["PASSED"], output(result)
    warnings = [l for l in result.outlines if "outside rootdir" in l]
    assert len(warnings) == 1 and "../other/test_x.py" in warnings[0], output(result)
    con = sqlite3.connect(pytester.path / "proj" / ".pytest_cache" / "pytest-difftest" / "pytest_difftest.db")
    try:
        assert {n for (n,) in con.execute("SELECT nodeid FROM tests")} == {"test_in.py::test_in"}
    finally:
        con.close()
    (pytester.path / "other" / "test_x.py").write_text("def test_x():\n    assert False\n")
    result = diff(pytester, *args)
    assert ran(result) == set() and _ran_outside(result) == ["FAILED"], output(result)
    assert result.ret == 1, output(result)
    assert len([l for l in result.outlines if "outside rootdir" in l]) == 1, output(result)


def _ran_outside(result: pytest.RunResult) -> list[str]:
    """Outcomes of test_x of ../other/test_x.py: pytest 9 names it
    "::test_x", pytest 8 "../other/test_x.py::test_x"."""
    out = []
    for line in result.outlines:
        words = line.split()
        if len(words) >= 2 and words[0].endswith("::test_x") and words[1] in ("PASSED", "FAILED"):
            out.append(words[1])
    return out


# -- also found: pytest-rerunfailures ----------------------------------------

FLAKY_LIB = "def make():\n    return 1\n\n\ndef early():\n    return 1\n\n\ndef late():\n    return 2\n"
# test_flaky fails on its first attempt only (a marker file), after calling
# early(); late() runs in the attempt that passes.
FLAKY_TEST = (
    "import os\n\nimport lib\n\n\n"
    "def test_flaky():\n    lib.early()\n"
    "    marker = os.path.join(os.path.dirname(__file__), 'attempted')\n"
    "    if not os.path.exists(marker):\n        open(marker, 'w').close()\n        assert False, 'first attempt'\n"
    "    assert lib.late() == 2\n\n\n"
    "def test_plain():\n    assert True\n"
)
FLAKY = {"lib.py": FLAKY_LIB, "test_flaky.py": FLAKY_TEST}
# The same, with a value the module's import computes with make().
FLAKY_IMPORTING = {"lib.py": FLAKY_LIB, "test_flaky.py": FLAKY_TEST.replace("import lib\n", "import lib\n\nVALUE = lib.make()\n")}
FLAKY_TESTS = nodes("test_flaky.py", "test_flaky", "test_plain")

# A rerun loop as pytest-rerunfailures 13 and older ran it: an attempt that
# is rerun logs its failing report and drops the others (its teardown).
OLD_RERUN_LOOP = '''
from _pytest.runner import runtestprotocol


def pytest_runtest_protocol(item, nextitem):
    for attempt in range(3):
        item.ihook.pytest_runtest_logstart(nodeid=item.nodeid, location=item.location)
        reports = runtestprotocol(item, nextitem=nextitem, log=False)
        failed = [r for r in reports if r.failed]
        if failed and attempt < 2:
            failed[0].outcome = "rerun"
            item.ihook.pytest_runtest_logreport(report=failed[0])
            continue
        for r in reports:
            item.ihook.pytest_runtest_logreport(report=r)
        break
    item.ihook.pytest_runtest_logfinish(nodeid=item.nodeid, location=item.location)
    return True
'''


def test_rerun_attempts_are_all_recorded(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("pytest_rerunfailures")
    monkeypatch.delenv("PYTEST_ADDOPTS")  # conftest.py turns it off
    project(pytester, {**OTHER, **FLAKY})
    result = baseline(pytester, "--reruns", "2")
    assert result.ret == 0, output(result)
    assert ran(result) == FLAKY_TESTS | OTHER_TEST, output(result)
    (pytester.path / "attempted").unlink()
    # Only the attempt that passed called late().
    touch_edit(pytester, "lib.py", "return 2", "return 3")
    result = diff(pytester, "--reruns", "2")
    assert ran(result) == nodes("test_flaky.py", "test_flaky"), output(result)
    assert result.ret == 1, output(result)


@pytest.mark.parametrize("edit", ["make", "early"])
def test_teardown_report_dropped_by_a_rerun_loop(pytester: pytest.Pytester, edit: str) -> None:
    project(pytester, {**OTHER, **FLAKY_IMPORTING, "conftest.py": OLD_RERUN_LOOP})
    result = baseline(pytester)
    assert result.ret == 0, output(result)
    assert ran(result) == FLAKY_TESTS | OTHER_TEST, output(result)
    if edit == "make":
        # The module's import called make(): both of its tests depend on it,
        # reported with the teardown the loop dropped.
        touch_edit(pytester, "lib.py", "return 1\n\n\ndef early", "return 2\n\n\ndef early")
        expected = FLAKY_TESTS
    else:
        # Only the dropped attempt called early() (VALUE is a number, not
        # shared state).
        touch_edit(pytester, "lib.py", "def early():\n    return 1", "def early():\n    return 5")
        expected = nodes("test_flaky.py", "test_flaky")
    result = diff(pytester)
    assert ran(result) == expected, output(result)


# -- item 12: state an earlier test leaves behind -----------------------------

# click 8.5.1: tests/test_info_dict.py builds HELLO_COMMAND at import; the
# first test that renders it fills the command's help-option cache (running
# help_option -> option); test_context later reads the cache.
FAKECLICK = '''
def option(*decls):
    return {"decls": decls}


def help_option():
    return option("--help")


class Command:
    def __init__(self, name):
        self.name = name
        self._help_option = None

    def get_help_option(self):
        if self._help_option is None:
            self._help_option = help_option()
        return self._help_option
'''
INFO = {
    "fakeclick.py": FAKECLICK,
    "test_info.py": (
        "import fakeclick\n\nHELLO_COMMAND = fakeclick.Command('hello')\n\n\n"
        "def test_render():\n    assert HELLO_COMMAND.get_help_option() is not None\n\n\n"
        "def test_context():\n    assert HELLO_COMMAND.get_help_option()['decls'] == ('--help',)\n"
    ),
    # Built by a literal, not a call: no shared state recorded for it.
    "test_plain_module.py": (
        "import fakeclick\n\nNAMES = ['a', 'b']\n\n\n"
        "def test_name():\n    assert fakeclick.Command(NAMES[0]).name == 'a'\n\n\n"
        "def test_help():\n    assert fakeclick.Command('x').get_help_option()['decls'] == ('--help',)\n"
    ),
}
INFO_TESTS = nodes("test_info.py", "test_render", "test_context")
PLAIN_MODULE_TESTS = nodes("test_plain_module.py", "test_name", "test_help")


def test_state_an_earlier_test_of_the_module_leaves_behind(pytester: pytest.Pytester) -> None:
    _record(pytester, INFO, INFO_TESTS | PLAIN_MODULE_TESTS)
    # The mutant: option() returns None.
    touch_edit(pytester, "fakeclick.py", 'return {"decls": decls}', "return None")
    result = diff(pytester)
    # Both tests of the module whose import built the shared command; of
    # the other module only the test that ran option() itself.
    assert ran(result) == INFO_TESTS | nodes("test_plain_module.py", "test_help"), output(result)
    assert result.ret == 1, output(result)


def test_module_values_that_hold_no_project_object_keep_per_test_precision(pytester: pytest.Pytester) -> None:
    # Precision guard: the import called project code, but kept only a
    # number and a class whose body built a project object.
    files = {
        "fakeclick.py": FAKECLICK,
        "test_values.py": (
            "import fakeclick\n\nNAME = fakeclick.Command('n').name\n\n\n"
            "class Holder:\n    command = fakeclick.Command('h')\n\n\n"
            "def test_name():\n    assert NAME == 'n'\n\n\n"
            "def test_help():\n    assert fakeclick.help_option() is not None\n"
        ),
    }
    _record(pytester, files, nodes("test_values.py", "test_name", "test_help"))
    touch_edit(pytester, "fakeclick.py", 'return {"decls": decls}', "return None")
    result = diff(pytester)
    assert ran(result) == nodes("test_values.py", "test_help"), output(result)
