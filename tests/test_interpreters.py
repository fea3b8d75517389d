"""What each recorder must get right on the interpreter the suite runs on:
``sys.monitoring`` on CPython 3.12+, the profile hook on 3.9-3.11. Beside
other tools (pytest-cov with either coverage core, cProfile), against tests
that take a hook or the tool id for themselves, with forking tests under
``filterwarnings = error``, and across two sessions in one process.

Every test runs on any interpreter; a test whose feature the interpreter
lacks is skipped with the reason (CI runs the suite on 3.9, the default
interpreter and 3.13)."""

from __future__ import annotations

import importlib.util
import sys

import pytest

from conftest import baseline, diff, nodes, output, project, ran, run, summary_line, touch_edit

MONITORING = sys.version_info >= (3, 12)
needs_monitoring = pytest.mark.skipif(not MONITORING, reason="sys.monitoring exists on Python 3.12+")
needs_cov = pytest.mark.skipif(importlib.util.find_spec("pytest_cov") is None, reason="pytest-cov is not installed")

LIB = '''
def add(a, b):
    return a + b


def mul(a, b):
    return a * b


def work():
    return mul(6, 7)
'''

TESTS = '''
import lib


def test_add():
    assert lib.add(1, 2) == 3


def test_mul():
    assert lib.mul(2, 3) == 6


def test_other():
    assert True
'''


def _record(pytester: pytest.Pytester, files: dict[str, str], everything: set[str], *args: str) -> pytest.RunResult:
    project(pytester, files)
    result = baseline(pytester, *args)
    assert result.ret == 0, output(result)
    assert ran(result) == everything, output(result)
    return result


def test_edit_a_function_runs_exactly_its_tests(pytester: pytest.Pytester) -> None:
    everything = nodes("test_lib.py", "test_add", "test_mul", "test_other")
    _record(pytester, {"lib.py": LIB, "test_lib.py": TESTS}, everything)
    nochange = diff(pytester, "--diff-why")
    assert ran(nochange) == set(), output(nochange)
    touch_edit(pytester, "lib.py", "return a * b", "return b * a")
    result = diff(pytester)
    assert ran(result) == nodes("test_lib.py", "test_mul"), output(result)


GAP_CONFTEST = """
import lib


def pytest_runtest_logreport(report):
    # Runs between the phases of every test, outside any capture.
    lib.mul(1, 1)
"""


def test_code_run_between_phases_still_counts_when_a_test_runs_it(pytester: pytest.Pytester) -> None:
    # The monitoring recorder disables what runs between phases until the
    # next test; project code there must not hide from the phase after.
    everything = nodes("test_lib.py", "test_add", "test_mul", "test_other")
    _record(pytester, {"lib.py": LIB, "test_lib.py": TESTS, "conftest.py": GAP_CONFTEST}, everything)
    touch_edit(pytester, "lib.py", "return a * b", "return b * a")
    result = diff(pytester)
    assert ran(result) == nodes("test_lib.py", "test_mul"), output(result)


def test_recorder_is_said_with_diff_v(pytester: pytest.Pytester) -> None:
    """--diff-v names the mechanism only when it is not the usual one: a
    project that holds both monitoring tool ids we may use falls back to
    the profile hook, and still records."""
    if not MONITORING:
        pytest.skip("sys.monitoring exists on Python 3.12+")
    conftest = '''
import sys

for tool in (3, 4):
    sys.monitoring.use_tool_id(tool, "project")
'''
    project(pytester, {"lib.py": LIB, "test_lib.py": TESTS})
    # The ids are taken before pytest loads the plugin: a -p plugin module
    # imported first.
    (pytester.path / "holdids.py").write_text(conftest)
    result = run(pytester, "-p", "holdids", "--diff-baseline", "--diff-v")
    assert result.ret == 0, output(result)
    text = output(result)
    assert "tool ids 3 (project), 4 (project) are taken; recording with the profile hook instead" in text, text
    touch_edit(pytester, "lib.py", "return a * b", "return b * a")
    result = run(pytester, "-p", "holdids", "--diff")
    assert ran(result) == nodes("test_lib.py", "test_mul"), output(result)


THREADS = '''
import threading

import lib


def test_in_a_thread():
    box = []
    t = threading.Thread(target=lambda: box.append(lib.work()))
    t.start()
    t.join()
    assert box == [42]


def test_add():
    assert lib.add(1, 1) == 2
'''


def test_code_a_test_runs_on_its_thread_is_charged_to_it(pytester: pytest.Pytester) -> None:
    everything = nodes("test_threads.py", "test_in_a_thread", "test_add")
    _record(pytester, {"lib.py": LIB, "test_threads.py": THREADS}, everything)
    touch_edit(pytester, "lib.py", "return a * b", "return b * a")
    result = diff(pytester)
    assert ran(result) == nodes("test_threads.py", "test_in_a_thread"), output(result)


SESSION_CONFTEST = '''
import pytest

import lib


@pytest.fixture(scope="session")
def product():
    return lib.mul(2, 5)
'''

SESSION_TESTS = '''
def test_first(product):
    assert product == 10


def test_second(product):
    assert product == 10


def test_without():
    assert True
'''


def test_session_fixture_charges_every_test_using_it(pytester: pytest.Pytester) -> None:
    everything = nodes("test_session.py", "test_first", "test_second", "test_without")
    _record(pytester, {"lib.py": LIB, "conftest.py": SESSION_CONFTEST, "test_session.py": SESSION_TESTS}, everything)
    touch_edit(pytester, "lib.py", "return a * b", "return b * a")
    result = diff(pytester)
    assert ran(result) == nodes("test_session.py", "test_first", "test_second"), output(result)


IMPORT_TIME = '''
import lib


class Holder:
    x = lib.mul(2, 3)


TABLE = lib.add(4, 6)


def test_class_attribute():
    assert Holder.x == 6


def test_import_time_call():
    assert TABLE == 10


def test_unrelated():
    assert True
'''


def test_class_attribute_and_import_time_call(pytester: pytest.Pytester) -> None:
    everything = nodes("test_import_time.py", "test_class_attribute", "test_import_time_call", "test_unrelated")
    _record(pytester, {"lib.py": LIB, "test_import_time.py": IMPORT_TIME, "test_other.py": "def test_other():\n    pass\n"}, everything | {"test_other.py::test_other"})
    touch_edit(pytester, "lib.py", "return a * b", "return b * a")
    result = diff(pytester)
    # What a test module's import ran is every one of its tests' dependency.
    assert ran(result) == everything, output(result)


LATE = {
    "helper.py": "def helper():\n    return 3\n",
    "late.py": "import helper\n\nVALUE = helper.helper()\n",
    "test_a.py": """
import helper


def test_imports_late():
    assert helper.helper() == 3
    import late

    assert late.VALUE == 3
""",
    "test_b.py": """
def test_uses_late():
    import late

    assert late.VALUE == 3
""",
    "test_c.py": "def test_other():\n    pass\n",
}


def test_module_a_test_imports_after_running_what_the_import_runs(pytester: pytest.Pytester) -> None:
    """A test runs a helper, then imports a module whose import runs the
    helper again: the import's record must hold the helper, although the
    test had noted it already (and a later test that uses the module
    depends on it)."""
    everything = {"test_a.py::test_imports_late", "test_b.py::test_uses_late", "test_c.py::test_other"}
    _record(pytester, LATE, everything)
    touch_edit(pytester, "helper.py", "return 3", "return 4")
    result = diff(pytester)
    assert ran(result) == {"test_a.py::test_imports_late", "test_b.py::test_uses_late"}, output(result)


# -- beside other tools --------------------------------------------------------


@needs_cov
@pytest.mark.parametrize("core", ["default", "sysmon"])
def test_pytest_cov_beside_the_recorder(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, core: str) -> None:
    """Both tools' results are right: the coverage report of a module, and
    the selection after an edit."""
    if core == "sysmon":
        if not MONITORING:
            pytest.skip("coverage.py's sysmon core needs Python 3.12+")
        monkeypatch.setenv("COVERAGE_CORE", "sysmon")
    else:
        monkeypatch.delenv("COVERAGE_CORE", raising=False)
    everything = nodes("test_lib.py", "test_add", "test_mul", "test_other")
    files = {"lib.py": LIB, "test_lib.py": TESTS}
    cov = ("--cov=lib", "--cov-report=term-missing")
    result = _record(pytester, files, everything, *cov)
    # lib.py: 6 statements; work()'s body (line 10) never runs.
    report = [line for line in result.outlines if line.startswith("lib.py")]
    assert len(report) == 1 and report[0].split()[1:] == ["6", "1", "83%", "10"], output(result)
    touch_edit(pytester, "lib.py", "return a * b", "return b * a")
    result = diff(pytester, *cov)
    assert result.ret == 0, output(result)
    assert ran(result) == nodes("test_lib.py", "test_mul"), output(result)
    report = [line for line in result.outlines if line.startswith("lib.py")]
    # Only test_mul ran: add's body (line 2) and work's are missed now.
    assert len(report) == 1 and report[0].split()[1:] == ["6", "2", "67%", "2,", "10"], output(result)


def test_under_cprofile(pytester: pytest.Pytester) -> None:
    """python -m cProfile -m pytest: the profiler's results and ours."""
    everything = nodes("test_lib.py", "test_add", "test_mul", "test_other")
    project(pytester, {"lib.py": LIB, "test_lib.py": TESTS})
    result = pytester.run(sys.executable, "-m", "cProfile", "-s", "ncalls", "-m", "pytest", "-v", "-p", "no:randomly", "--diff-baseline")
    assert result.ret == 0, output(result)
    assert ran(result) == everything, output(result)
    assert "function calls" in output(result)
    assert "INTERNALERROR" not in output(result)
    touch_edit(pytester, "lib.py", "return a * b", "return b * a")
    result = diff(pytester)
    assert ran(result) == nodes("test_lib.py", "test_mul"), output(result)


# -- tests that take a hook or our tool id -----------------------------------

SETPROFILE = '''
import sys

import lib


def test_own_profiler():
    seen = []

    def profiler(frame, event, arg):
        if event == "call":
            seen.append(frame.f_code.co_name)

    old = sys.getprofile()
    sys.setprofile(profiler)
    try:
        lib.mul(2, 2)
    finally:
        sys.setprofile(old)
    assert "mul" in seen


def test_add():
    assert lib.add(1, 1) == 2
'''


def test_a_test_that_calls_setprofile(pytester: pytest.Pytester) -> None:
    """The run completes. With the profile hook the test displaced the
    recorder: it is not recorded and stays selected. sys.monitoring is not
    displaced by a profile function: the test is recorded, and runs again
    when what it ran changes."""
    everything = nodes("test_prof.py", "test_own_profiler", "test_add")
    _record(pytester, {"lib.py": LIB, "test_prof.py": SETPROFILE}, everything)
    unchanged = ran(diff(pytester))
    if MONITORING:
        assert unchanged == set()
    else:
        assert unchanged == nodes("test_prof.py", "test_own_profiler")
    touch_edit(pytester, "lib.py", "return a * b", "return b * a")
    result = diff(pytester)
    assert ran(result) == nodes("test_prof.py", "test_own_profiler"), output(result)


TOOL_ID = '''
import sys

import lib


def _our_id():
    return next(t for t in (3, 4) if sys.monitoring.get_tool(t) == "pytest-difftest")


def test_takes_the_tool_id():
    tool = _our_id()
    sys.monitoring.free_tool_id(tool)
    sys.monitoring.use_tool_id(tool, "mine")
    try:
        assert sys.monitoring.get_tool(tool) == "mine"
        assert lib.mul(2, 2) == 4
    finally:
        sys.monitoring.set_events(tool, 0)
        sys.monitoring.free_tool_id(tool)


def test_after():
    assert lib.add(1, 1) == 2


def test_later():
    assert lib.work() == 42
'''


@needs_monitoring
def test_a_test_that_takes_our_tool_id(pytester: pytest.Pytester) -> None:
    """The run completes; the test that took the tool id is not recorded
    and stays selected; the tests after it are recorded again."""
    everything = nodes("test_tool.py", "test_takes_the_tool_id", "test_after", "test_later")
    result = _record(pytester, {"lib.py": LIB, "test_tool.py": TOOL_ID}, everything)
    assert "1 test(s)" in output(result), output(result)
    assert ran(diff(pytester)) == nodes("test_tool.py", "test_takes_the_tool_id")
    touch_edit(pytester, "lib.py", "return a * b", "return b * a")
    result = diff(pytester)
    assert ran(result) == nodes("test_tool.py", "test_takes_the_tool_id", "test_later"), output(result)


# -- fork under filterwarnings = error ------------------------------------------

FORK = '''
import multiprocessing
import os
import warnings

import lib


def test_bare_fork():
    pid = os.fork()
    if pid == 0:
        os._exit(lib.mul(2, 3))
    _, status = os.waitpid(pid, 0)
    assert os.WEXITSTATUS(status) == lib.mul(3, 2)


def test_fork_warns_nothing():
    # Without the plugin no thread but this one exists: no warning.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        pid = os.fork()
        if pid == 0:
            os._exit(0)
        os.waitpid(pid, 0)
    assert [str(w.message) for w in caught] == []


def _square(x):
    return x * x


def test_fork_pool():
    with multiprocessing.get_context("fork").Pool(2) as pool:
        assert pool.map(_square, [1, 2]) == [1, 4]


def test_add():
    assert lib.add(1, 1) == 2
'''


@pytest.mark.skipif(sys.version_info < (3, 12), reason="os.fork() warns about threads on Python 3.12+")
@pytest.mark.parametrize("mode", ["--diff-baseline", "--diff"])
def test_forking_tests_under_filterwarnings_error(pytester: pytest.Pytester, mode: str) -> None:
    everything = nodes("test_fork.py", "test_bare_fork", "test_fork_warns_nothing", "test_fork_pool", "test_add")
    files = {"lib.py": LIB, "test_fork.py": FORK, "pytest.ini": "[pytest]\nfilterwarnings =\n    error\n"}
    project(pytester, files)
    plain = run(pytester)
    assert plain.ret == 0 and ran(plain) == everything, output(plain)
    result = run(pytester, mode)
    assert result.ret == 0, output(result)
    assert ran(result) == everything, output(result)
    assert "multi-threaded" not in output(result)
    if mode == "--diff":
        # Selection under a baseline, which loads the engine before the
        # tests run.
        result = baseline(pytester)
        assert result.ret == 0, output(result)
        touch_edit(pytester, "lib.py", "return a * b", "return b * a")
        result = run(pytester, mode)
        assert result.ret == 0, output(result)
        assert ran(result) == nodes("test_fork.py", "test_bare_fork"), output(result)


# -- two sessions in one process -------------------------------------------------

IMPORTED = '''
import lib

TABLE = lib.mul(2, 5)
'''

IMPORTED_TESTS = '''
import table


def test_table():
    assert table.TABLE == 10
'''


TWO_SESSIONS = """
import sys

import pytest

for _ in range(2):
    before = set(sys.modules)
    assert pytest.main(["-v", "-p", "no:randomly", "--diff-baseline", "--diff-force"]) == 0
    # As pytester's in-process runs do: the project's modules go, so that
    # the second session imports them again.
    for name in set(sys.modules) - before:
        del sys.modules[name]
    # Nothing of the session's recorder is left in the process.
    from _pytest.assertion import rewrite

    assert not getattr(rewrite._rewrite_test, "difftest_unwatched", False)
    assert sys.getprofile() is None
    if hasattr(sys, "monitoring"):
        assert sys.monitoring.get_tool(3) is None and sys.monitoring.get_tool(4) is None
"""


def test_two_sessions_in_one_process(pytester: pytest.Pytester) -> None:
    """The first session gives back what it changed in the process; the
    second records what an import ran as the first did."""
    project(pytester, {"lib.py": LIB, "table.py": IMPORTED, "test_table.py": IMPORTED_TESTS, "two.py": TWO_SESSIONS})
    result = pytester.run(sys.executable, "two.py")
    assert result.ret == 0, output(result)
    assert output(result).count("forced full run: recorded all 1 tests") == 2, output(result)
    nochange = diff(pytester, "--diff-why")
    assert ran(nochange) == set(), output(nochange)
    touch_edit(pytester, "lib.py", "return a * b", "return b * a")
    result = diff(pytester)
    assert ran(result) == nodes("test_table.py", "test_table"), output(result)
