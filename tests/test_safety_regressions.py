"""Regression tests for the violations found by the safety harness
(bench/safety, README "Safety and precision"): after a mutant of a real
project, a test failed under plain pytest but `--diff` did not run it. Each
test here reproduces the essence of one such mutant on a small project:
record a baseline, apply the same kind of fault, and assert that the tests
that now fail are selected (and that an unrelated test is not).

attrs 25.3.0, mutant m13 of seed 1 (`./build.sh safety --projects attrs`):

    --- a/src/attr/validators.py
    +++ b/src/attr/validators.py
    @@ def instance_of(type):
    -    return _InstanceOfValidator(type)
    +    return None

48 tests fail; 10 of them were not selected (pytest-testmon and the Rust
pytest-difftest miss the same 10). tests/test_functional.py defines, at module
level, ``class C1: x = attr.ib(validator=attr.validators.instance_of(int))``
and tests/test_validators.py parametrizes a class with ``instance_of(int)``:
the function body runs while the test module is imported (collection), in no
test's setup/call/teardown, so no test records it; yet what the tests see (the
validator) is its return value.
"""

from __future__ import annotations

import pytest

from conftest import baseline, diff, nodes, output, project, ran, touch_edit

LIB = '''
def make(n):
    return n * 2


def unused(n):
    return n
'''

OTHER = {"test_other.py": "def test_other():\n    assert True\n"}
OTHER_TEST = nodes("test_other.py", "test_other")


def _record(pytester: pytest.Pytester, files: dict[str, str], everything: set[str]) -> None:
    project(pytester, {"lib.py": LIB, **OTHER, **files})
    result = baseline(pytester)
    assert result.ret == 0, output(result)
    assert ran(result) == everything | OTHER_TEST, output(result)


def _break_make(pytester: pytest.Pytester) -> None:
    # The mutant's class: a function's return value changes.
    touch_edit(pytester, "lib.py", "return n * 2", "return None")


def test_function_called_in_a_class_body_of_the_test_module(pytester: pytest.Pytester) -> None:
    # attrs m13: tests/test_functional.py::TestFunctional::test_validator[C1]
    files = {
        "test_holder.py": (
            "import lib\n\n\nclass Holder:\n    x = lib.make(3)\n\n\n"
            "def test_holder():\n    assert Holder.x == 6\n\n\n"
            "def test_unrelated_in_same_file():\n    assert True\n"
        ),
    }
    tests = nodes("test_holder.py", "test_holder", "test_unrelated_in_same_file")
    _record(pytester, files, tests)
    _break_make(pytester)
    result = diff(pytester)
    # Every test of the file whose import ran make(); test_other did not import it.
    assert ran(result) == tests, output(result)
    assert result.ret == 1, output(result)


def test_function_called_in_parametrize_arguments(pytester: pytest.Pytester) -> None:
    # attrs m13: tests/test_validators.py::TestOptional::test_success[validator1] ...
    files = {
        "test_params.py": (
            "import pytest\n\nimport lib\n\n\n"
            "@pytest.mark.parametrize('v', [lib.make(1), lib.make(2)])\n"
            "def test_param(v):\n    assert v in (2, 4)\n"
        ),
    }
    tests = nodes("test_params.py", "test_param[2]", "test_param[4]")
    _record(pytester, files, tests)
    _break_make(pytester)
    result = diff(pytester)
    # The ids change with the values: the new ones are new tests, and must run.
    assert ran(result) == nodes("test_params.py", "test_param[None0]", "test_param[None1]"), output(result)
    assert result.ret == 1, output(result)


def test_function_called_at_module_level_of_the_test_module(pytester: pytest.Pytester) -> None:
    files = {
        "test_value.py": "import lib\n\nVALUE = lib.make(2)\n\n\ndef test_value():\n    assert VALUE == 4\n",
    }
    tests = nodes("test_value.py", "test_value")
    _record(pytester, files, tests)
    _break_make(pytester)
    result = diff(pytester)
    assert ran(result) == tests, output(result)
    assert result.ret == 1, output(result)


def test_function_called_at_import_of_a_project_module(pytester: pytest.Pytester) -> None:
    # The same fault one import further: make() runs while consts.py is
    # imported (attrs: attr/_make.py calls setters.pipe(...) at module level).
    files = {
        "consts.py": "import lib\n\nTABLE = lib.make(5)\n",
        "test_consts.py": "import consts\n\n\ndef test_table():\n    assert consts.TABLE == 10\n",
    }
    tests = nodes("test_consts.py", "test_table")
    _record(pytester, files, tests)
    _break_make(pytester)
    result = diff(pytester)
    assert ran(result) == tests, output(result)
    assert result.ret == 1, output(result)


def test_unused_function_change_still_selects_nothing(pytester: pytest.Pytester) -> None:
    # Precision guard for the fix: a function that no import ran and no test
    # ran stays out of every test's dependencies.
    files = {
        "test_value.py": "import lib\n\nVALUE = lib.make(2)\n\n\ndef test_value():\n    assert VALUE == 4\n",
    }
    _record(pytester, files, nodes("test_value.py", "test_value"))
    touch_edit(pytester, "lib.py", "return n\n", "return n + 1\n")
    result = diff(pytester)
    assert ran(result) == set(), output(result)
    assert result.ret == 0, output(result)


# Found while reviewing the fix above, not by a mutant: a project module runs
# once per process, when it is first imported. Before the engine charged what
# an import ran to the module itself, only the tests of the test module whose
# import came first depended on make(); a second test module importing
# consts.py saw the same broken TABLE and was skipped, and when conftest.py
# imported consts.py first, no test depended on make() at all.

CONSTS = {
    "consts.py": "import lib\n\nTABLE = lib.make(5)\n",
    "test_first.py": "import consts\n\n\ndef test_first():\n    assert consts.TABLE == 10\n",
    "test_second.py": "import consts\n\n\ndef test_second():\n    assert consts.TABLE == 10\n",
}
CONSTS_TESTS = nodes("test_first.py", "test_first") | nodes("test_second.py", "test_second")


@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["serial", "xdist"])
def test_module_imported_by_two_test_modules(pytester: pytest.Pytester, workers: list[str]) -> None:
    project(pytester, {"lib.py": LIB, **OTHER, **CONSTS})
    result = baseline(pytester, *workers)
    assert ran(result) == CONSTS_TESTS | OTHER_TEST, output(result)
    _break_make(pytester)
    result = diff(pytester)
    assert ran(result) == CONSTS_TESTS, output(result)
    assert result.ret == 1, output(result)


def test_module_imported_by_conftest(pytester: pytest.Pytester) -> None:
    # Imported before collection: every test's conftest.py imports it, so
    # every test depends on what its import ran.
    project(pytester, {"lib.py": LIB, **OTHER, **CONSTS, "conftest.py": "import consts\n"})
    result = baseline(pytester)
    assert ran(result) == CONSTS_TESTS | OTHER_TEST, output(result)
    _break_make(pytester)
    result = diff(pytester)
    assert ran(result) == CONSTS_TESTS | OTHER_TEST, output(result)
    assert result.ret == 1, output(result)


def test_decorator_body_run_at_import(pytester: pytest.Pytester) -> None:
    # A registry filled by a decorator while the module is imported: the
    # decorator's body runs at import only, the tests read the registry.
    files = {
        "registry.py": (
            "HANDLERS = {}\n\n\ndef handler(name):\n    def register(f):\n"
            "        HANDLERS[name] = f\n        return f\n    return register\n"
        ),
        "handlers.py": "from registry import handler\n\n\n@handler('a')\ndef handle_a():\n    return 1\n",
        "test_registry.py": (
            "import handlers\nfrom registry import HANDLERS\n\n\n"
            "def test_registered():\n    assert 'a' in HANDLERS\n"
        ),
        "test_call.py": "import handlers\n\n\ndef test_call():\n    assert handlers.handle_a() == 1\n",
    }
    project(pytester, {"lib.py": LIB, **OTHER, **files})
    tests = nodes("test_registry.py", "test_registered") | nodes("test_call.py", "test_call")
    result = baseline(pytester)
    assert ran(result) == tests | OTHER_TEST, output(result)
    touch_edit(pytester, "registry.py", "HANDLERS[name] = f", "HANDLERS[name.upper()] = f")
    result = diff(pytester)
    assert ran(result) == tests, output(result)
    assert result.ret == 1, output(result)


# Found in review (session 3), not by a mutant: code and files that ran
# outside every test and outside the imports the engine followed.

SESSION_TESTS = nodes("test_mode.py", "test_mode") | OTHER_TEST


def _edit_selects(
    pytester: pytest.Pytester,
    files: dict[str, str],
    recorded: set[str],
    edit: tuple[str, str, str],
    selected: set[str],
    workers: tuple[str, ...] = (),
    ini: bool = True,
) -> None:
    """Record the project (with pytest-xdist workers if given), apply one
    edit (path, old, new) that makes a test fail, and assert that --diff
    runs exactly `selected` and fails."""
    project(pytester, files, ini=ini)
    result = baseline(pytester, *workers)
    assert ran(result) == recorded, output(result)
    touch_edit(pytester, *edit)
    result = diff(pytester)
    assert ran(result) == selected, output(result)
    assert result.ret == 1, output(result)


@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["serial", "xdist"])
def test_conftest_reads_a_data_file_at_import(pytester: pytest.Pytester, workers: list[str]) -> None:
    # conftest.py is imported at start-up, before any test or collector is
    # watched: what it read was charged to no test.
    files = {
        "conftest.py": (
            "import json\n\nimport pytest\n\nCASES = json.load(open('cases.json'))\n\n\n"
            "@pytest.fixture\ndef cases():\n    return CASES\n"
        ),
        "cases.json": "[1, 2]\n",
        "test_mode.py": "def test_mode(cases):\n    assert cases == [1, 2]\n",
    }
    # conftest.py is every test's: both depend on what its import read.
    edit = ("cases.json", "[1, 2]", "[1, 3]")
    _edit_selects(pytester, {**OTHER, **files}, SESSION_TESTS, edit, SESSION_TESTS, tuple(workers))


def test_module_reads_a_data_file_at_import(pytester: pytest.Pytester) -> None:
    # Imported by two test modules: the file was charged only to the tests
    # of the first one.
    files = {
        "table.py": "import json\n\nTABLE = json.load(open('table.json'))\n",
        "table.json": "[10]\n",
        "test_first.py": "import table\n\n\ndef test_first():\n    assert table.TABLE == [10]\n",
        "test_second.py": "import table\n\n\ndef test_second():\n    assert table.TABLE == [10]\n",
    }
    tests = nodes("test_first.py", "test_first") | nodes("test_second.py", "test_second")
    _edit_selects(pytester, {**OTHER, **files}, tests | OTHER_TEST, ("table.json", "[10]", "[11]"), tests)


@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["serial", "xdist"])
@pytest.mark.parametrize("where", ["everywhere", "controller"])
def test_helper_called_by_pytest_configure(pytester: pytest.Pytester, workers: list[str], where: str) -> None:
    # pytest_configure runs before any test: neither it nor what it calls
    # was anyone's dependency. With pytest-xdist, the controller's own
    # pytest_configure runs before it starts the workers, which inherit
    # its environment.
    only = "    if hasattr(config, 'workerinput'):\n        return\n" if where == "controller" else ""
    files = {
        "conftest.py": f"import setup_env\n\n\ndef pytest_configure(config):\n{only}    setup_env.apply()\n",
        "setup_env.py": "import os\n\n\ndef apply():\n    os.environ['MODE'] = 'fast'\n",
        "test_mode.py": "import os\n\n\ndef test_mode():\n    assert os.environ['MODE'] == 'fast'\n",
    }
    _edit_selects(pytester, {**OTHER, **files}, SESSION_TESTS, ("setup_env.py", "'fast'", "'slow'"), SESSION_TESTS, tuple(workers))


def test_file_read_by_pytest_configure(pytester: pytest.Pytester) -> None:
    files = {
        "conftest.py": (
            "import os\n\n\ndef pytest_configure(config):\n"
            "    with open('mode.txt') as f:\n        os.environ['MODE'] = f.read().strip()\n"
        ),
        "mode.txt": "fast\n",
        "test_mode.py": "import os\n\n\ndef test_mode():\n    assert os.environ['MODE'] == 'fast'\n",
    }
    _edit_selects(pytester, {**OTHER, **files}, SESSION_TESTS, ("mode.txt", "fast", "slow"), SESSION_TESTS)


def test_collection_hook_that_skips_tests(pytester: pytest.Pytester) -> None:
    # A skipped test is recorded as unaffected-if-unchanged; the hook that
    # skipped it runs after collection, in no test.
    files = {
        "conftest.py": (
            "import pytest\n\nimport policy\n\n\ndef pytest_collection_modifyitems(items):\n"
            "    for item in items:\n        if policy.skipped(item.name):\n"
            "            item.add_marker(pytest.mark.skip(reason='policy'))\n"
        ),
        "policy.py": "def skipped(name):\n    return name == 'test_mode'\n",
        "test_mode.py": "def test_mode():\n    assert False\n",
    }
    _edit_selects(pytester, {**OTHER, **files}, SESSION_TESTS, ("policy.py", "== 'test_mode'", "== 'nothing'"), SESSION_TESTS)


def test_report_hook_that_hides_a_failure(pytester: pytest.Pytester) -> None:
    # pytest_runtest_makereport runs between a test's phases, which are the
    # only part watched: a conftest.py that turns a failure into a skip
    # recorded a failing test as unaffected.
    files = {
        "conftest.py": (
            "import pytest\n\n\n@pytest.hookimpl(wrapper=True)\n"
            "def pytest_runtest_makereport(item, call):\n    report = yield\n"
            "    if report.when == 'call' and report.failed:\n"
            "        report.outcome = 'skipped'\n        report.longrepr = ('x', 1, 'hidden')\n"
            "    return report\n"
        ),
        "test_mode.py": "def test_mode():\n    assert False\n",
    }
    project(pytester, {**OTHER, **files})
    result = baseline(pytester)
    assert ran(result) == SESSION_TESTS, output(result)
    assert result.ret == 0, output(result)
    touch_edit(pytester, "conftest.py", "report.when == 'call' and report.failed", "False")
    result = diff(pytester)
    assert ran(result) == SESSION_TESTS, output(result)
    assert result.ret == 1, output(result)


LAZY = {
    "heavy.py": "import json\n\nimport lib\n\nTABLE = lib.make(5)\nDATA = json.load(open('data.json'))\n",
    "data.json": "[1]\n",
    "api.py": "def api():\n    import heavy\n\n    return heavy.TABLE, heavy.DATA\n",
    "test_first.py": "import api\n\n\ndef test_first():\n    assert api.api() == (10, [1])\n",
    "test_second.py": "import api\n\n\ndef test_second():\n    assert api.api() == (10, [1])\n",
}
LAZY_TESTS = nodes("test_first.py", "test_first") | nodes("test_second.py", "test_second")


@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["serial", "xdist"])
@pytest.mark.parametrize("change", ["call", "data"])
def test_module_first_imported_inside_a_test(pytester: pytest.Pytester, workers: list[str], change: str) -> None:
    # heavy.py is imported by the first test that calls api(): what its
    # import ran and read was charged to that test only.
    edit = ("lib.py", "return n * 2", "return None") if change == "call" else ("data.json", "[1]", "[2]")
    _edit_selects(pytester, {"lib.py": LIB, **OTHER, **LAZY}, LAZY_TESTS | OTHER_TEST, edit, LAZY_TESTS, tuple(workers))


def test_module_first_imported_by_import_module_inside_a_test(pytester: pytest.Pytester) -> None:
    # importlib.import_module raises no audit event, so the import graph
    # does not see the import: the whole first test's dependencies are
    # charged to the module, and test_second reaches it through api().
    files = {
        **LAZY,
        "loader.py": "import importlib\n\n\ndef load():\n    return importlib.import_module('heavy')\n",
        "test_first.py": "import loader\n\n\ndef test_first():\n    assert loader.load().TABLE == 10\n",
    }
    edit = ("lib.py", "return n * 2", "return None")
    _edit_selects(pytester, {"lib.py": LIB, **OTHER, **files}, LAZY_TESTS | OTHER_TEST, edit, LAZY_TESTS)


def test_session_code_does_not_select_unrelated_changes(pytester: pytest.Pytester) -> None:
    # Precision guard: a project function that nothing at start-up called
    # stays out of the session's dependencies.
    files = {
        "conftest.py": "import setup_env\n\n\ndef pytest_configure(config):\n    setup_env.apply()\n",
        "setup_env.py": "import os\n\n\ndef apply():\n    os.environ['MODE'] = 'fast'\n\n\ndef unused():\n    return 1\n",
        "test_mode.py": "import os\n\n\ndef test_mode():\n    assert os.environ['MODE'] == 'fast'\n",
    }
    project(pytester, {"lib.py": LIB, **OTHER, **files})
    result = baseline(pytester)
    assert ran(result) == SESSION_TESTS, output(result)
    touch_edit(pytester, "setup_env.py", "return 1", "return 2")
    touch_edit(pytester, "lib.py", "return n\n", "return n + 1\n")
    result = diff(pytester)
    assert ran(result) == set(), output(result)


WARNS = {
    "test_warns.py": "import warnings\n\n\ndef test_warns():\n    warnings.warn('old', DeprecationWarning)\n",
}
WARNS_TESTS = nodes("test_warns.py", "test_warns") | OTHER_TEST


@pytest.mark.parametrize("config", ["pytest.ini", "pyproject.toml"])
def test_pytest_configuration_change_selects_everything(pytester: pytest.Pytester, config: str) -> None:
    # filterwarnings = error fails a test that only warned: pytest reads its
    # configuration before any test or hook runs.
    if config == "pytest.ini":
        before, after = "[pytest]\n", "[pytest]\nfilterwarnings = error\n"
    else:
        before, after = "[tool.pytest.ini_options]\n", "[tool.pytest.ini_options]\nfilterwarnings = ['error']\n"
    text = "[project]\nname = 'x'\n\n" + before if config.endswith("toml") else before
    files = {**OTHER, **WARNS, config: text}
    _edit_selects(pytester, files, WARNS_TESTS, (config, before, after), WARNS_TESTS, ini=False)


def test_configuration_outside_pytest_and_its_own_keys_select_nothing(pytester: pytest.Pytester) -> None:
    # Precision guard: the rest of pyproject.toml, and this plugin's keys.
    toml = "[project]\nname = 'x'\nversion = '1'\n\n[tool.pytest.ini_options]\ndiff_batch_size = '10'\n"
    project(pytester, {**OTHER, **WARNS, "pyproject.toml": toml}, ini=False)
    result = baseline(pytester)
    assert ran(result) == WARNS_TESTS, output(result)
    touch_edit(pytester, "pyproject.toml", "version = '1'", "version = '2'")
    touch_edit(pytester, "pyproject.toml", "diff_batch_size = '10'", "diff_batch_size = '20'")
    result = diff(pytester)
    assert ran(result) == set(), output(result)


def test_warning_filter_on_the_command_line_selects_everything(pytester: pytest.Pytester) -> None:
    project(pytester, {**OTHER, **WARNS})
    result = baseline(pytester)
    assert ran(result) == WARNS_TESTS, output(result)
    result = diff(pytester, "-W", "error::DeprecationWarning")
    assert ran(result) == WARNS_TESTS, output(result)
    assert result.ret == 1, output(result)
    # And back: the baseline's configuration selects nothing again.
    result = diff(pytester)
    assert ran(result) == set(), output(result)


@pytest.mark.parametrize("wrapper", [False, True], ids=["hook", "wrapper"])
@pytest.mark.parametrize("phase", ["setup", "call", "teardown"])
def test_helper_called_by_a_conftest_phase_hook(pytester: pytest.Pytester, phase: str, wrapper: bool) -> None:
    # The phases are watched from inside pytest's own wrappers unless a
    # project wrapper exists: what a conftest.py's phase hook calls (around
    # the test, or as a wrapper outside it) is the test's dependency.
    args = "item, nextitem" if phase == "teardown" else "item"
    if wrapper:
        hook = (
            f"@pytest.hookimpl(wrapper=True)\ndef pytest_runtest_{phase}({args}):\n"
            "    state.prepare(item)\n    return (yield)\n"
        )
    else:
        hook = f"def pytest_runtest_{phase}({args}):\n    state.prepare(item)\n"
    files = {
        "conftest.py": f"import pytest\n\nimport state\n\n\n{hook}",
        "state.py": "SEEN = []\n\n\ndef prepare(item):\n    SEEN.append(item.name)\n",
        # The last test checks what the hook did for the earlier ones.
        "test_mode.py": "import state\n\n\ndef test_mode():\n    pass\n\n\ndef test_seen():\n    assert 'test_mode' in state.SEEN\n",
    }
    tests = nodes("test_mode.py", "test_mode", "test_seen") | OTHER_TEST
    edit = ("state.py", "SEEN.append(item.name)", "SEEN.append(item.name.upper())")
    _edit_selects(pytester, {**OTHER, **files}, tests, edit, tests)


def test_parametrization_by_a_class_pytest_generate_tests(pytester: pytest.Pytester) -> None:
    # Classes were collected unwatched: what a class's pytest_generate_tests
    # computed (objects, so the ids "case0", "case1" stay the same when the
    # values change) was no test's dependency.
    files = {
        "cases.py": "class Case:\n    def __init__(self, v):\n        self.value = v\n\n\ndef load():\n    return [Case(1), Case(2)]\n",
        "test_cls.py": (
            "import cases\n\n\nclass TestX:\n    def pytest_generate_tests(self, metafunc):\n"
            "        metafunc.parametrize('case', cases.load())\n\n"
            "    def test_case(self, case):\n        assert case.value < 3\n"
        ),
    }
    tests = nodes("test_cls.py", "TestX::test_case[case0]", "TestX::test_case[case1]")
    _edit_selects(pytester, {**OTHER, **files}, tests | OTHER_TEST, ("cases.py", "Case(2)", "Case(5)"), tests)


@pytest.mark.parametrize("where", ["sub/conftest.py", "conftest.py"])
def test_new_conftest_selects_the_tests_below_it(pytester: pytest.Pytester, where: str) -> None:
    # A conftest.py that did not exist was nobody's dependency: adding one
    # with an autouse fixture broke tests that --diff did not run.
    files = {
        "sub/__init__.py": "",
        "sub/test_below.py": "def test_below():\n    assert True\n",
        "other/__init__.py": "",
        "other/test_beside.py": "def test_beside():\n    assert True\n",
    }
    project(pytester, files)
    below = nodes("sub/test_below.py", "test_below")
    beside = nodes("other/test_beside.py", "test_beside")
    result = baseline(pytester)
    assert ran(result) == below | beside, output(result)
    (pytester.path / where).write_text(
        "import pytest\n\n\n@pytest.fixture(autouse=True)\ndef broken():\n    raise RuntimeError('new conftest')\n"
    )
    result = diff(pytester)
    assert ran(result) == (below if where.startswith("sub/") else below | beside), output(result)
    assert result.ret == 1, output(result)
