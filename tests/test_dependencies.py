"""The dependency model (SPEC 4.4 c, d, f, g and --diff-why): import-time
values, fixtures of every scope, conftest.py files, data files, installed
distributions and the Python version. Each test records a baseline of a
small project, makes one change and asserts the exact set of node ids that
ran, including what must NOT be selected."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from conftest import baseline, bump_mtime, diff, nodes, output, project, ran, touch_edit, write

PLAIN = {"test_plain.py": "def test_plain():\n    assert True\n"}
PLAIN_TEST = nodes("test_plain.py", "test_plain")


def recorded_project(
    pytester: pytest.Pytester, files: dict[str, str], everything: set[str], ini: str = "[pytest]\n"
) -> None:
    """Write the project (with `ini` as pytest.ini), record a baseline in
    which every test passes and check that exactly `everything` ran."""
    project(pytester, {"pytest.ini": ini, **files}, ini=False)
    result = baseline(pytester)
    assert result.ret == 0, output(result)
    assert ran(result) == everything, output(result)


def assert_ran(result: pytest.RunResult, expected: set[str], ret: int = 0) -> None:
    text = output(result)
    assert ran(result) == expected, text
    assert result.ret == ret, text


def why_lines(result: pytest.RunResult) -> dict[str, str]:
    """node id -> reason, from the `difftest: <nodeid>: <reason>` lines."""
    out: dict[str, str] = {}
    for line in result.outlines:
        parts = line.split(": ", 2)
        if len(parts) == 3 and parts[0] == "difftest" and "::" in parts[1] and " " not in parts[1]:
            out[parts[1]] = parts[2]
    return out


def append(pytester: pytest.Pytester, rel: str, text: str) -> None:
    """Append to a project file (as an edit: the mtime moves on)."""
    p = pytester.path / rel
    p.write_text(p.read_text() + text)
    bump_mtime(p)


# --- import-time values (4.4c) ------------------------------------------------


def test_constant_used_only_at_import_time_selects_importers_directly_and_transitively(
    pytester: pytest.Pytester,
) -> None:
    # LIMIT is read only while modules are imported (collection): in
    # parametrize(range(LIMIT)) and in a default argument of wrap.clamp. No
    # test executes a line of consts.py.
    files = {
        "consts.py": "LIMIT = 3\nUNIT = 'm'\n",
        "wrap.py": (
            "from consts import LIMIT\n\n\ndef clamp(x, hi=LIMIT):\n    return min(x, hi)\n\n\n"
            "NAME = 'wrap'\n"
        ),
        "other.py": "VALUE = 1\n",
        "test_direct.py": (
            "import pytest\n\nfrom consts import LIMIT\n\n\n"
            "@pytest.mark.parametrize('i', range(LIMIT))\ndef test_below(i):\n    assert i < 10\n"
        ),
        "test_trans.py": (
            "import wrap\n\n\ndef test_clamp():\n    assert wrap.clamp(10) <= 4\n\n\n"
            "def test_name_only():\n    assert wrap.NAME == 'wrap'\n"
        ),
        "test_unrelated.py": "import other\n\n\ndef test_alone():\n    assert other.VALUE == 1\n",
    }
    trans = nodes("test_trans.py", "test_clamp", "test_name_only")
    recorded_project(
        pytester, files,
        nodes("test_direct.py", "test_below[0]", "test_below[1]", "test_below[2]")
        | trans | nodes("test_unrelated.py", "test_alone"),
    )
    touch_edit(pytester, "consts.py", "LIMIT = 3", "LIMIT = 4")
    result = diff(pytester)
    assert_ran(
        result,
        nodes("test_direct.py", "test_below[0]", "test_below[1]", "test_below[2]", "test_below[3]") | trans,
    )


def test_dataclass_field_default_read_without_instantiating(pytester: pytest.Pytester) -> None:
    files = {
        "models.py": (
            "import dataclasses\n\n\n@dataclasses.dataclass\nclass Config:\n    retries: int = 3\n"
            "    name: str = 'x'\n\n\ndef unrelated():\n    return 0\n"
        ),
        "other.py": "VALUE = 1\n",
        "test_config.py": (
            "import dataclasses\n\nfrom models import Config\n\n"
            "DEFAULTS = {f.name: f.default for f in dataclasses.fields(Config)}\n\n\n"
            "def test_default_retries():\n    assert DEFAULTS['retries'] in (3, 5)\n\n\n"
            "def test_field_names():\n    assert list(DEFAULTS) == ['retries', 'name']\n"
        ),
        # Imports the module, runs only an unrelated function: the class block
        # is still an import-time dependency of its test file.
        "test_models_other.py": "import models\n\n\ndef test_unrelated():\n    assert models.unrelated() == 0\n",
        "test_plain.py": "import other\n\n\ndef test_plain():\n    assert other.VALUE == 1\n",
    }
    config_tests = nodes("test_config.py", "test_default_retries", "test_field_names")
    other_tests = nodes("test_models_other.py", "test_unrelated")
    recorded_project(pytester, files, config_tests | other_tests | PLAIN_TEST)
    touch_edit(pytester, "models.py", "retries: int = 3", "retries: int = 5")
    assert_ran(diff(pytester), config_tests | other_tests)


def test_enum_member_added_selects_parametrized_tests_over_the_enum(pytester: pytest.Pytester) -> None:
    files = {
        "colors.py": "import enum\n\n\nclass Color(enum.Enum):\n    RED = 1\n    GREEN = 2\n",
        "test_colors.py": (
            "import pytest\n\nfrom colors import Color\n\n\n"
            "@pytest.mark.parametrize('color', list(Color))\n"
            "def test_positive(color):\n    assert color.value > 0\n"
        ),
        **PLAIN,
    }
    recorded_project(
        pytester, files,
        nodes("test_colors.py", "test_positive[Color.RED]", "test_positive[Color.GREEN]") | PLAIN_TEST,
    )
    touch_edit(pytester, "colors.py", "    GREEN = 2\n", "    GREEN = 2\n    BLUE = 3\n")
    assert_ran(
        diff(pytester),
        nodes("test_colors.py", "test_positive[Color.RED]", "test_positive[Color.GREEN]",
              "test_positive[Color.BLUE]"),
    )


def test_parametrize_data_list_in_another_module(pytester: pytest.Pytester) -> None:
    files = {
        "cases.py": "CASES = [(1, 2), (2, 4)]\n",
        "test_double.py": (
            "import pytest\n\nfrom cases import CASES\n\n\n"
            "@pytest.mark.parametrize('x, y', CASES)\ndef test_double(x, y):\n    assert 2 * x == y\n"
        ),
        **PLAIN,
    }
    recorded_project(pytester, files, nodes("test_double.py", "test_double[1-2]", "test_double[2-4]") | PLAIN_TEST)
    touch_edit(pytester, "cases.py", "[(1, 2), (2, 4)]", "[(1, 2), (3, 6), (4, 8)]")
    assert_ran(diff(pytester), nodes("test_double.py", "test_double[1-2]", "test_double[3-6]", "test_double[4-8]"))


def test_import_inside_test_function_of_an_already_imported_module(pytester: pytest.Pytester) -> None:
    # test_first imports consts first and so executes its module code;
    # test_second's import finds it in sys.modules and executes nothing of
    # it: only the static import makes it a dependency.
    files = {
        "consts.py": "LIMIT = 3\n",
        "test_first.py": "def test_first():\n    from consts import LIMIT\n    assert LIMIT\n",
        "test_second.py": "def test_second():\n    import consts\n    assert consts.LIMIT\n",
        **PLAIN,
    }
    both = nodes("test_first.py", "test_first") | nodes("test_second.py", "test_second")
    recorded_project(pytester, files, both | PLAIN_TEST)
    touch_edit(pytester, "consts.py", "LIMIT = 3", "LIMIT = 4")
    assert_ran(diff(pytester), both)


def test_imports_under_type_checking_and_try(pytester: pytest.Pytester) -> None:
    files = {
        "shapes.py": "class Shape:\n    sides = 4\n",
        "slowcfg.py": "TIMEOUT = 5\n",
        "test_typing.py": (
            "from typing import TYPE_CHECKING\n\nif TYPE_CHECKING:\n    from shapes import Shape\n\n\n"
            "def test_typing():\n    assert True\n"
        ),
        "test_try.py": (
            "try:\n    import fastcfg_not_installed as cfg\nexcept ImportError:\n    import slowcfg as cfg\n\n\n"
            "def test_try():\n    assert cfg.TIMEOUT > 0\n"
        ),
        **PLAIN,
    }
    typing_test = nodes("test_typing.py", "test_typing")
    try_test = nodes("test_try.py", "test_try")
    recorded_project(pytester, files, typing_test | try_test | PLAIN_TEST)
    # A class statement with effects (SPEC 4.8: a literal that nothing
    # reads would select nothing).
    touch_edit(pytester, "shapes.py", "sides = 4", "sides = int(5)")
    assert_ran(diff(pytester), typing_test)
    assert_ran(baseline(pytester), typing_test)
    touch_edit(pytester, "slowcfg.py", "TIMEOUT = 5", "TIMEOUT = 6")
    assert_ran(diff(pytester), try_test)


def test_cyclic_imports(pytester: pytest.Pytester) -> None:
    files = {
        "a.py": "import b\n\nA = 1\n",
        "b.py": "import a\n\nB = 2\n",
        "test_a.py": "import a\n\n\ndef test_a():\n    assert a.A == 1\n",
        **PLAIN,
    }
    recorded_project(pytester, files, nodes("test_a.py", "test_a") | PLAIN_TEST)
    # A statement with effects (a call): every importer, through the cycle
    # (SPEC 4.8; a literal that nothing reads would select nothing).
    touch_edit(pytester, "b.py", "B = 2", "B = int(3)")
    assert_ran(diff(pytester), nodes("test_a.py", "test_a"))


def test_src_layout_with_pythonpath_ini(pytester: pytest.Pytester) -> None:
    files = {
        "src/pkg/__init__.py": "",
        "src/pkg/consts.py": "LIMIT = 3\n",
        "src/pkg/core.py": "from pkg.consts import LIMIT\n\n\ndef limit():\n    return LIMIT\n",
        "src/pkg/other.py": "def other():\n    return 1\n",
        "tests/test_core.py": (
            "import pkg.core\nfrom pkg.core import LIMIT\n\n\n"
            "def test_value():\n    assert LIMIT in (3, 4)\n\n\n"
            "def test_call():\n    assert pkg.core.limit() in (3, 4)\n"
        ),
        "tests/test_other.py": "from pkg.other import other\n\n\ndef test_other():\n    assert other() == 1\n",
    }
    core_tests = nodes("tests/test_core.py", "test_value", "test_call")
    recorded_project(pytester, files, core_tests | nodes("tests/test_other.py", "test_other"),
                     ini="[pytest]\npythonpath = src\n")
    touch_edit(pytester, "src/pkg/consts.py", "LIMIT = 3", "LIMIT = 4")
    assert_ran(diff(pytester), core_tests)


RELATIVE = {
    "app/__init__.py": "VERSION = '1'\n",
    "app/consts.py": "LIMIT = 3\nNAME = 'app'\n",
    # each module reaches consts by one form of relative import only
    "app/core.py": "from . import consts\n\n\ndef limit():\n    return consts.LIMIT\n",
    "app/names.py": "from .consts import NAME\n\nUPPER = NAME.upper()\n",
    "app/sub/__init__.py": "",
    "app/sub/deep.py": "from ..consts import LIMIT\n\nDOUBLE = LIMIT * 2\n",
    "app/unrelated.py": "def f():\n    return 1\n",
    "test_core.py": "from app import core\n\n\ndef test_core():\n    assert core.__name__ == 'app.core'\n",
    "test_names.py": "from app.names import UPPER\n\n\ndef test_names():\n    assert UPPER == 'APP'\n",
    "test_deep.py": "from app.sub.deep import DOUBLE\n\n\ndef test_deep():\n    assert DOUBLE in (6, 8)\n",
    "test_unrelated.py": "from app.unrelated import f\n\n\ndef test_f():\n    assert f() == 1\n",
}
RELATIVE_TESTS = (
    nodes("test_core.py", "test_core") | nodes("test_names.py", "test_names")
    | nodes("test_deep.py", "test_deep") | nodes("test_unrelated.py", "test_f")
)


def test_relative_imports_inside_a_package(pytester: pytest.Pytester) -> None:
    recorded_project(pytester, RELATIVE, RELATIVE_TESTS)
    # A statement with effects reaches every importer, by each form of
    # relative import.
    touch_edit(pytester, "app/consts.py", "LIMIT = 3", "LIMIT = abs(4)")
    assert_ran(
        diff(pytester),
        nodes("test_core.py", "test_core") | nodes("test_names.py", "test_names") | nodes("test_deep.py", "test_deep"),
    )


def test_relative_imports_constant_selects_its_import_time_readers(pytester: pytest.Pytester) -> None:
    # SPEC 4.8: LIMIT is read at import by app/sub/deep.py (through
    # "from ..consts import LIMIT") and by no code that test_core ran.
    recorded_project(pytester, RELATIVE, RELATIVE_TESTS)
    touch_edit(pytester, "app/consts.py", "LIMIT = 3", "LIMIT = 4")
    assert_ran(diff(pytester), nodes("test_deep.py", "test_deep"))


def test_package_init_change_selects_every_importer_of_the_package(pytester: pytest.Pytester) -> None:
    recorded_project(pytester, {**RELATIVE, **PLAIN}, RELATIVE_TESTS | PLAIN_TEST)
    touch_edit(pytester, "app/__init__.py", "VERSION = '1'", "VERSION = str(2)")
    assert_ran(diff(pytester), RELATIVE_TESTS)


# --- helpers and conftest.py files under tests/ --------------------------------

HELPERS = {
    "tests/helpers.py": (
        "EXPECTED = 3\n\n\ndef check(x):\n    assert x == EXPECTED\n\n\n"
        "def describe(x):\n    return f'value {x}'\n"
    ),
    "tests/test_h1.py": (
        "from helpers import check\n\n\ndef test_h1_check():\n    check(3)\n\n\n"
        "def test_h1_plain():\n    assert True\n"
    ),
    "tests/test_h2.py": "import helpers\n\n\ndef test_h2_describe():\n    assert helpers.describe(1) == 'value 1'\n",
    "tests/test_h3.py": "def test_h3():\n    assert True\n",
}
HELPER_TESTS = (
    nodes("tests/test_h1.py", "test_h1_check", "test_h1_plain")
    | nodes("tests/test_h2.py", "test_h2_describe") | nodes("tests/test_h3.py", "test_h3")
)


def test_helper_module_under_tests_constant_change(pytester: pytest.Pytester) -> None:
    recorded_project(pytester, HELPERS, HELPER_TESTS)
    touch_edit(pytester, "tests/helpers.py", "EXPECTED = 3", "EXPECTED = 1 + 2")
    assert_ran(
        diff(pytester),
        nodes("tests/test_h1.py", "test_h1_check", "test_h1_plain") | nodes("tests/test_h2.py", "test_h2_describe"),
    )


def test_helper_module_under_tests_function_change(pytester: pytest.Pytester) -> None:
    recorded_project(pytester, HELPERS, HELPER_TESTS)
    touch_edit(pytester, "tests/helpers.py", "return f'value {x}'", "return 'value ' + str(x)")
    assert_ran(diff(pytester), nodes("tests/test_h2.py", "test_h2_describe"))


STDLIB_NAMED = {
    "pkg/__init__.py": "",
    "pkg/warnings.py": "LEVEL = int('1')\n\n\ndef level():\n    return LEVEL\n",
    "pkg/core.py": "import warnings\n\n\ndef quiet():\n    warnings.simplefilter('ignore')\n    return 1\n",
    "tests/test_core.py": "from pkg import core\n\n\ndef test_quiet():\n    assert core.quiet() == 1\n",
    "tests/test_levels.py": "from pkg import warnings\n\n\ndef test_level():\n    assert warnings.level() == 1\n",
}


def test_package_module_named_like_the_standard_library_is_not_what_its_siblings_import(
    pytester: pytest.Pytester,
) -> None:
    # In pkg/core.py, "import warnings" is the standard library's: Python
    # does not search a package's own directory for absolute imports. An
    # effect in pkg/warnings.py's top level concerns only its importers.
    recorded_project(
        pytester, STDLIB_NAMED, nodes("tests/test_core.py", "test_quiet") | nodes("tests/test_levels.py", "test_level")
    )
    touch_edit(pytester, "pkg/warnings.py", "LEVEL = int('1')", "LEVEL = int('2')")
    assert_ran(diff(pytester), nodes("tests/test_levels.py", "test_level"), ret=1)


PATH_INSERTED = {
    "tests/__init__.py": "",
    "tests/conftest.py": "import os\nimport sys\n\nsys.path.insert(0, os.path.dirname(__file__))\n",
    "tests/cases.py": "CASES = [1, 2]\n",
    "tests/test_cases.py": (
        "import pytest\n\nimport cases\n\n\n"
        "@pytest.mark.parametrize('x', cases.CASES, ids=['a', 'b'])\ndef test_small(x):\n    assert x < 5\n"
    ),
    "tests/test_other.py": "def test_other():\n    assert True\n",
}


def test_module_beside_a_test_package_found_through_a_path_a_conftest_inserted(pytester: pytest.Pytester) -> None:
    # tests/ is a package, so only its conftest.py's sys.path.insert makes
    # "import cases" work: the engine still takes it for tests/cases.py.
    small = nodes("tests/test_cases.py", "test_small[a]", "test_small[b]")
    recorded_project(pytester, PATH_INSERTED, small | nodes("tests/test_other.py", "test_other"))
    touch_edit(pytester, "tests/cases.py", "CASES = [1, 2]", "CASES = [1, 7]")
    assert_ran(diff(pytester), small, ret=1)


CONFTESTS = {
    "settings.py": "TIMEOUT = 5\n",
    "tests/conftest.py": "import pytest\n\nTOP = 1\n\n\n@pytest.fixture\ndef top():\n    return TOP\n",
    "tests/sub/conftest.py": (
        "import pytest\n\nimport settings\n\nSUB = 1\n\n\n@pytest.fixture\ndef sub():\n"
        "    return settings.TIMEOUT\n"
    ),
    "tests/test_top.py": "def test_top_uses(top):\n    assert top\n\n\ndef test_top_plain():\n    assert True\n",
    "tests/sub/test_sub.py": "def test_sub_uses(sub):\n    assert sub\n\n\ndef test_sub_plain():\n    assert True\n",
    "test_root.py": "def test_root():\n    assert True\n",
}
TOP_TESTS = nodes("tests/test_top.py", "test_top_uses", "test_top_plain")
SUB_TESTS = nodes("tests/sub/test_sub.py", "test_sub_uses", "test_sub_plain")
ROOT_TEST = nodes("test_root.py", "test_root")


def test_conftest_module_level_change_selects_tests_under_it_only(pytester: pytest.Pytester) -> None:
    recorded_project(pytester, CONFTESTS, TOP_TESTS | SUB_TESTS | ROOT_TEST)
    touch_edit(pytester, "tests/sub/conftest.py", "SUB = 1", "SUB = int(2)")
    assert_ran(diff(pytester), SUB_TESTS)


def test_outer_conftest_module_level_change_selects_all_tests_below_it(pytester: pytest.Pytester) -> None:
    recorded_project(pytester, CONFTESTS, TOP_TESTS | SUB_TESTS | ROOT_TEST)
    touch_edit(pytester, "tests/conftest.py", "TOP = 1", "TOP = int(2)")
    assert_ran(diff(pytester), TOP_TESTS | SUB_TESTS)


def test_conftest_constant_selects_the_tests_that_read_it(pytester: pytest.Pytester) -> None:
    # SPEC 4.8: TOP is read by the fixture top, which only test_top_uses uses.
    recorded_project(pytester, CONFTESTS, TOP_TESTS | SUB_TESTS | ROOT_TEST)
    touch_edit(pytester, "tests/conftest.py", "TOP = 1", "TOP = 2")
    assert_ran(diff(pytester), nodes("tests/test_top.py", "test_top_uses"))


def test_module_imported_by_a_conftest_selects_the_tests_under_that_conftest(pytester: pytest.Pytester) -> None:
    recorded_project(pytester, CONFTESTS, TOP_TESTS | SUB_TESTS | ROOT_TEST)
    touch_edit(pytester, "settings.py", "TIMEOUT = 5", "TIMEOUT = int(6)")
    assert_ran(diff(pytester), SUB_TESTS)
    touch_edit(pytester, "settings.py", "TIMEOUT = int(6)", "TIMEOUT = 7")
    # Against the baseline (TIMEOUT = 5) this is a literal again: only the
    # code that reads TIMEOUT (the fixture sub) counts (SPEC 4.8).
    assert_ran(diff(pytester), nodes("tests/sub/test_sub.py", "test_sub_uses"))


# --- fixtures (4.4d) ------------------------------------------------------------

BUILDER = {
    "builder.py": (
        "def build():\n    return {'rows': _rows()}\n\n\ndef _rows():\n    return [1, 2, 3]\n\n\n"
        "def make():\n    return 1\n\n\ndef connect():\n    return {'open': True}\n"
    ),
}


def test_session_fixture_in_conftest_charges_every_test_using_it(pytester: pytest.Pytester) -> None:
    files = {
        **BUILDER,
        "conftest.py": (
            "import pytest\n\nimport builder\n\n\n@pytest.fixture(scope='session')\ndef db():\n"
            "    return builder.build()\n"
        ),
        "test_a.py": (
            "def test_a1(db):\n    assert len(db['rows']) == 3\n\n\n"
            "def test_a2(db):\n    assert db['rows'][0] == 1\n\n\ndef test_a_no_db():\n    assert True\n"
        ),
        "test_b.py": "def test_b1(db):\n    assert sum(db['rows']) == 6\n\n\ndef test_b_no_db():\n    assert True\n",
    }
    users = nodes("test_a.py", "test_a1", "test_a2") | nodes("test_b.py", "test_b1")
    recorded_project(pytester, files, users | nodes("test_a.py", "test_a_no_db") | nodes("test_b.py", "test_b_no_db"))
    # _rows ran once, during the setup of test_a1 only.
    touch_edit(pytester, "builder.py", "return [1, 2, 3]", "return list(range(1, 4))")
    assert_ran(diff(pytester), users)


SESSION = {
    **BUILDER,
    "conftest.py": (
        "import pytest\n\nimport builder\n\n\n@pytest.fixture(scope='session')\ndef db():\n"
        "    return builder.build()\n"
    ),
    **{
        f"test_{x}.py": (
            f"def test_{x}1(db):\n    assert db['rows']\n\n\ndef test_{x}2(db):\n    assert db['rows']\n\n\n"
            f"def test_{x}3():\n    assert True\n"
        )
        for x in "abcd"
    },
}
SESSION_USERS = {f"test_{x}.py::test_{x}{i}" for x in "abcd" for i in (1, 2)}
SESSION_TESTS = SESSION_USERS | {f"test_{x}.py::test_{x}3" for x in "abcd"}


def test_session_fixture_after_an_incremental_baseline(pytester: pytest.Pytester) -> None:
    # The second recording run re-runs test_c2 alone, so the fixture is set
    # up during its setup; the other users keep their first records.
    recorded_project(pytester, SESSION, SESSION_TESTS)
    touch_edit(pytester, "test_c.py", "def test_c2(db):\n    assert db['rows']", "def test_c2(db):\n    assert db['rows'][0]")
    assert_ran(baseline(pytester), nodes("test_c.py", "test_c2"))
    touch_edit(pytester, "builder.py", "return [1, 2, 3]", "return list(range(1, 4))")
    assert_ran(diff(pytester), SESSION_USERS)


def test_session_fixture_under_xdist(pytester: pytest.Pytester) -> None:
    # Each worker sets the fixture up once, during whichever test it runs
    # first: every user is charged all the same (SPEC 6.1).
    project(pytester, SESSION)
    result = baseline(pytester, "-n", "2")
    assert_ran(result, SESSION_TESTS)
    touch_edit(pytester, "builder.py", "return [1, 2, 3]", "return list(range(1, 4))")
    assert_ran(diff(pytester, "-n", "2"), SESSION_USERS)


def test_diff_why_under_xdist(pytester: pytest.Pytester) -> None:
    project(pytester, SESSION)
    assert_ran(baseline(pytester), SESSION_TESTS)
    touch_edit(pytester, "builder.py", "return [1, 2, 3]", "return list(range(1, 4))")
    result = diff(pytester, "-n", "2", "--diff-why")
    assert_ran(result, SESSION_USERS)
    assert why_lines(result) == {n: "builder.py::_rows changed" for n in SESSION_USERS}, output(result)


def test_module_fixture_charges_every_test_using_it(pytester: pytest.Pytester) -> None:
    files = {
        **BUILDER,
        "conftest.py": (
            "import pytest\n\nimport builder\n\n\n@pytest.fixture(scope='module')\ndef conn():\n"
            "    return builder.connect()\n"
        ),
        "test_m1.py": (
            "def test_x(conn):\n    assert conn['open']\n\n\ndef test_y(conn):\n    assert conn['open']\n\n\n"
            "def test_z():\n    assert True\n"
        ),
        "test_m2.py": "def test_p(conn):\n    assert conn['open']\n\n\ndef test_q(conn):\n    assert conn\n",
    }
    users = nodes("test_m1.py", "test_x", "test_y") | nodes("test_m2.py", "test_p", "test_q")
    recorded_project(pytester, files, users | nodes("test_m1.py", "test_z"))
    touch_edit(pytester, "builder.py", "return {'open': True}", "return dict(open=True)")
    assert_ran(diff(pytester), users)


def test_package_fixture_charges_every_test_using_it(pytester: pytest.Pytester) -> None:
    files = {
        **BUILDER,
        "tests/pkg_a/__init__.py": "",
        "tests/pkg_a/conftest.py": (
            "import pytest\n\nimport builder\n\n\n@pytest.fixture(scope='package')\ndef res():\n"
            "    return builder.connect()\n"
        ),
        "tests/pkg_a/test_pa1.py": "def test_pa1(res):\n    assert res\n\n\ndef test_pa1_plain():\n    assert True\n",
        "tests/pkg_a/test_pa2.py": "def test_pa2(res):\n    assert res['open']\n",
        "tests/pkg_b/__init__.py": "",
        "tests/pkg_b/test_pb.py": "import builder\n\n\ndef test_pb():\n    assert builder.make() == 1\n",
    }
    users = nodes("tests/pkg_a/test_pa1.py", "test_pa1") | nodes("tests/pkg_a/test_pa2.py", "test_pa2")
    recorded_project(
        pytester, files,
        users | nodes("tests/pkg_a/test_pa1.py", "test_pa1_plain") | nodes("tests/pkg_b/test_pb.py", "test_pb"),
    )
    touch_edit(pytester, "builder.py", "return {'open': True}", "return dict(open=True)")
    assert_ran(diff(pytester), users)


def test_class_fixture_charges_every_test_using_it(pytester: pytest.Pytester) -> None:
    files = {
        **BUILDER,
        "test_cls_fixture.py": (
            "import pytest\n\nimport builder\n\n\n@pytest.fixture(scope='class')\ndef value():\n"
            "    return builder.make()\n\n\nclass TestA:\n"
            "    def test_one(self, value):\n        assert value == 1\n\n"
            "    def test_two(self, value):\n        assert value\n\n"
            "    def test_three(self):\n        assert True\n\n\n"
            "class TestB:\n    def test_four(self, value):\n        assert value\n"
        ),
    }
    users = nodes("test_cls_fixture.py", "TestA::test_one", "TestA::test_two", "TestB::test_four")
    recorded_project(pytester, files, users | nodes("test_cls_fixture.py", "TestA::test_three"))
    touch_edit(pytester, "builder.py", "def make():\n    return 1", "def make():\n    return 2 - 1")
    assert_ran(diff(pytester), users)


@pytest.mark.parametrize("scope", ["session", "module"])
def test_fixture_teardown_code_selects_the_fixture_users(pytester: pytest.Pytester, scope: str) -> None:
    # The code after `yield` runs during the teardown of the last test of the
    # session (or module), which here does not use the fixture. SPEC 4.4d:
    # everything the fixture executed is a dependency of its users.
    files = {
        "pool.py": "def open_it():\n    return {'open': True}\n\n\ndef close_it(r):\n    r['open'] = False\n",
        "conftest.py": (
            "import pytest\n\nimport pool\n\n\n"
            f"@pytest.fixture(scope='{scope}')\n"
            "def res():\n    r = pool.open_it()\n    yield r\n    pool.close_it(r)\n"
        ),
        "test_a.py": (
            "def test_a1(res):\n    assert res['open']\n\n\ndef test_a2(res):\n    assert res['open']\n\n\n"
            "def test_a3():\n    assert True\n"
        ),
        "test_b.py": "def test_b1():\n    assert True\n",
    }
    users = nodes("test_a.py", "test_a1", "test_a2")
    recorded_project(pytester, files, users | nodes("test_a.py", "test_a3") | nodes("test_b.py", "test_b1"))
    touch_edit(pytester, "pool.py", "r['open'] = False", "r.clear()")
    assert_ran(diff(pytester), users)


def test_setup_class(pytester: pytest.Pytester) -> None:
    files = {
        **BUILDER,
        "test_cls.py": (
            "import builder\n\n\nclass TestWithSetup:\n    @classmethod\n    def setup_class(cls):\n"
            "        cls.value = builder.make()\n\n    def test_one(self):\n        assert self.value == 1\n\n"
            "    def test_two(self):\n        assert self.value + 1 == 2\n\n"
            "    def test_three(self):\n        assert self.value\n\n\n"
            "class TestPlain:\n    def test_four(self):\n        assert True\n\n\n"
            "def test_function():\n    assert True\n"
        ),
    }
    setup = nodes("test_cls.py", "TestWithSetup::test_one", "TestWithSetup::test_two", "TestWithSetup::test_three")
    recorded_project(pytester, files, setup | nodes("test_cls.py", "TestPlain::test_four", "test_function"))
    touch_edit(pytester, "builder.py", "def make():\n    return 1", "def make():\n    return 2 - 1")
    assert_ran(diff(pytester), setup)


def test_unittest_setupclass(pytester: pytest.Pytester) -> None:
    files = {
        **BUILDER,
        "test_unit.py": (
            "import unittest\n\nimport builder\n\n\nclass TestUnit(unittest.TestCase):\n    @classmethod\n"
            "    def setUpClass(cls):\n        cls.value = builder.make()\n\n"
            "    def test_one(self):\n        self.assertEqual(self.value, 1)\n\n"
            "    def test_two(self):\n        self.assertTrue(self.value)\n\n\n"
            "class TestOther(unittest.TestCase):\n    def test_three(self):\n        self.assertTrue(True)\n"
        ),
    }
    setup = nodes("test_unit.py", "TestUnit::test_one", "TestUnit::test_two")
    recorded_project(pytester, files, setup | nodes("test_unit.py", "TestOther::test_three"))
    touch_edit(pytester, "builder.py", "def make():\n    return 1", "def make():\n    return 2 - 1")
    assert_ran(diff(pytester), setup)


def test_setup_module(pytester: pytest.Pytester) -> None:
    files = {
        **BUILDER,
        "test_setup_module.py": (
            "import builder\n\nVALUE = None\n\n\ndef setup_module(module):\n    module.VALUE = builder.make()\n\n\n"
            "def test_one():\n    assert VALUE == 1\n\n\ndef test_two():\n    assert VALUE\n"
        ),
        "test_no_setup.py": "import builder\n\n\ndef test_three():\n    assert builder.connect()['open']\n",
    }
    setup = nodes("test_setup_module.py", "test_one", "test_two")
    recorded_project(pytester, files, setup | nodes("test_no_setup.py", "test_three"))
    touch_edit(pytester, "builder.py", "def make():\n    return 1", "def make():\n    return 2 - 1")
    assert_ran(diff(pytester), setup)


def test_autouse_session_fixture_in_conftest(pytester: pytest.Pytester) -> None:
    files = {
        "prepare.py": "STATE = []\n\n\ndef run():\n    STATE.append('ready')\n",
        "tests/auto/conftest.py": (
            "import pytest\n\nimport prepare\n\n\n@pytest.fixture(scope='session', autouse=True)\n"
            "def _prepared():\n    prepare.run()\n    yield\n"
        ),
        "tests/auto/test_x.py": "def test_x1():\n    assert True\n\n\ndef test_x2():\n    assert True\n",
        "tests/auto/test_y.py": "def test_y1():\n    assert True\n",
        "tests/test_outside.py": "import prepare\n\n\ndef test_outside():\n    assert isinstance(prepare.STATE, list)\n",
    }
    auto = nodes("tests/auto/test_x.py", "test_x1", "test_x2") | nodes("tests/auto/test_y.py", "test_y1")
    recorded_project(pytester, files, auto | nodes("tests/test_outside.py", "test_outside"))
    touch_edit(pytester, "prepare.py", "STATE.append('ready')", "STATE.append('set')")
    assert_ran(diff(pytester), auto)


# --- data files (4.4f) ------------------------------------------------------------

DATA = {
    "tests/data/config.json": '{"debug": false}\n',
    "tests/data/other.json": '{"name": "other"}\n',
    "tests/data/seed.json": "[1, 2, 3]\n",
    "tests/conftest.py": (
        "import json\nfrom pathlib import Path\n\nimport pytest\n\nDATA = Path(__file__).parent / 'data'\n\n\n"
        "@pytest.fixture(scope='session')\ndef seed():\n    with open(DATA / 'seed.json') as f:\n"
        "        return json.load(f)\n"
    ),
    "tests/test_config.py": (
        "import json\nfrom pathlib import Path\n\nDATA = Path(__file__).parent / 'data'\n\n\n"
        "def test_reads_config():\n    assert 'debug' in json.loads((DATA / 'config.json').read_text())\n\n\n"
        "def test_reads_other():\n    with open(DATA / 'other.json') as f:\n        assert json.load(f)['name']\n\n\n"
        "def test_no_read():\n    assert DATA.name == 'data'\n"
    ),
    "tests/test_more_config.py": (
        "import json\nfrom pathlib import Path\n\n\n"
        "def test_also_reads_config():\n"
        "    with open(Path(__file__).parent / 'data' / 'config.json', encoding='utf-8') as f:\n"
        "        assert 'debug' in json.load(f)\n"
    ),
    "tests/test_seed.py": (
        "def test_seed_sum(seed):\n    assert sum(seed) >= 6\n\n\ndef test_seed_len(seed):\n    assert len(seed) >= 3\n\n\n"
        "def test_no_seed():\n    assert True\n"
    ),
    "tests/test_seed_too.py": "def test_seed_first(seed):\n    assert seed[0] == 1\n",
}
CONFIG_READERS = nodes("tests/test_config.py", "test_reads_config") | nodes("tests/test_more_config.py", "test_also_reads_config")
SEED_USERS = nodes("tests/test_seed.py", "test_seed_sum", "test_seed_len") | nodes("tests/test_seed_too.py", "test_seed_first")
DATA_TESTS = (
    CONFIG_READERS | SEED_USERS | nodes("tests/test_config.py", "test_reads_other", "test_no_read")
    | nodes("tests/test_seed.py", "test_no_seed")
)


def test_json_file_read_by_tests_selects_exactly_its_readers(pytester: pytest.Pytester) -> None:
    recorded_project(pytester, DATA, DATA_TESTS)
    touch_edit(pytester, "tests/data/config.json", "false", "true")
    assert_ran(diff(pytester), CONFIG_READERS)


def test_json_file_read_by_a_session_fixture_selects_every_test_using_it(pytester: pytest.Pytester) -> None:
    recorded_project(pytester, DATA, DATA_TESTS)
    touch_edit(pytester, "tests/data/seed.json", "[1, 2, 3]", "[1, 2, 3, 4]")
    assert_ran(diff(pytester), SEED_USERS)


def test_precision_data_file_read_by_one_test_selects_only_that_test(pytester: pytest.Pytester) -> None:
    files = {
        "data/table.csv": "a,b\n1,2\n",
        "data/other.csv": "c\n3\n",
        "test_tables.py": (
            "from pathlib import Path\n\nHERE = Path(__file__).parent\n\n\n"
            "def test_table():\n    assert (HERE / 'data' / 'table.csv').read_text().startswith('a,b')\n\n\n"
            "def test_other_table():\n    assert (HERE / 'data' / 'other.csv').read_text().startswith('c')\n\n\n"
            "def test_exists_only():\n    assert (HERE / 'data' / 'table.csv').exists()\n"
        ),
        "test_more.py": "def test_more():\n    assert True\n",
    }
    recorded_project(
        pytester, files,
        nodes("test_tables.py", "test_table", "test_other_table", "test_exists_only") | nodes("test_more.py", "test_more"),
    )
    touch_edit(pytester, "data/table.csv", "1,2", "1,3")
    assert_ran(diff(pytester), nodes("test_tables.py", "test_table"))


def test_deleted_data_file_selects_its_readers(pytester: pytest.Pytester) -> None:
    recorded_project(pytester, DATA, DATA_TESTS)
    (pytester.path / "tests" / "data" / "other.json").unlink()
    assert_ran(diff(pytester), nodes("tests/test_config.py", "test_reads_other"), ret=1)


def test_precision_file_written_by_a_test_is_not_a_dependency(pytester: pytest.Pytester) -> None:
    files = {
        "test_writes.py": (
            "import time\nfrom pathlib import Path\n\n\ndef test_writes():\n"
            "    (Path(__file__).parent / 'out.txt').write_text(str(time.time_ns()))\n"
        ),
        **PLAIN,
    }
    recorded_project(pytester, files, nodes("test_writes.py", "test_writes") | PLAIN_TEST)
    bump_mtime(pytester.path / "out.txt")
    assert_ran(diff(pytester), set())


# --- precision: what is not selected ------------------------------------------

LIBRARY = {
    "lib.py": (
        "LIMIT = 3\n\n\ndef a():\n    return 1\n\n\ndef b():\n    return 2\n\n\n"
        "class K:\n    x = 1\n\n    def m(self):\n        return self.x\n"
    ),
    "test_1.py": "import lib\n\n\ndef test_a():\n    assert lib.a() == 1\n\n\ndef test_limit():\n    assert lib.LIMIT\n",
    "test_2.py": "from lib import b\n\n\ndef test_b():\n    assert b() == 2\n",
    "test_3.py": (
        "from lib import K, b\n\n\ndef test_b_too():\n    assert b() + 1 == 3\n\n\n"
        "def test_k():\n    assert K().m() == 1\n"
    ),
}
LIBRARY_TESTS = (
    nodes("test_1.py", "test_a", "test_limit") | nodes("test_2.py", "test_b") | nodes("test_3.py", "test_b_too", "test_k")
)


@pytest.mark.parametrize(
    "addition",
    [
        pytest.param("\n\ndef c():\n    return 3\n", id="function"),
        pytest.param("\n\nclass New:\n    y = 2\n", id="class"),
    ],
)
def test_precision_new_unused_definition_selects_nothing(pytester: pytest.Pytester, addition: str) -> None:
    # Every test file imports lib at the top: adding a definition must not
    # count as a change of its import-time blocks (README: "adding a new one
    # selects nothing").
    recorded_project(pytester, LIBRARY, LIBRARY_TESTS)
    append(pytester, "lib.py", addition)
    result = diff(pytester, "--diff-why")
    assert_ran(result, set())
    assert "0 selected" in output(result)


def test_precision_body_change_selects_only_its_executors_among_many_importers(pytester: pytest.Pytester) -> None:
    recorded_project(pytester, LIBRARY, LIBRARY_TESTS)
    touch_edit(pytester, "lib.py", "return 2", "return 1 + 1")
    assert_ran(diff(pytester), nodes("test_2.py", "test_b") | nodes("test_3.py", "test_b_too"))
    assert_ran(baseline(pytester), nodes("test_2.py", "test_b") | nodes("test_3.py", "test_b_too"))
    touch_edit(pytester, "lib.py", "return self.x", "return self.x * 1")
    assert_ran(diff(pytester), nodes("test_3.py", "test_k"))


# --- environment (4.4g) ------------------------------------------------------------


def fake_distribution(site: Path, version: str, name: str = "fakelib") -> None:
    """An installed distribution `name` in `site` (outside the project)."""
    (site / name).mkdir(parents=True, exist_ok=True)
    (site / name / "__init__.py").write_text("def answer():\n    return 42\n")
    info = site / f"{name}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    (info / "top_level.txt").write_text(f"{name}\n")
    (info / "RECORD").write_text(
        f"{name}/__init__.py,,\n{name}-{version}.dist-info/METADATA,,\n"
        f"{name}-{version}.dist-info/top_level.txt,,\n{name}-{version}.dist-info/RECORD,,\n"
    )


def upgrade_fake_distribution(site: Path, old: str, new: str, name: str = "fakelib") -> None:
    """Rename the metadata directory (what pip leaves after an upgrade)."""
    info = (site / f"{name}-{old}.dist-info").rename(site / f"{name}-{new}.dist-info")
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {new}\n")
    (info / "RECORD").write_text((info / "RECORD").read_text().replace(f"{name}-{old}", f"{name}-{new}"))


def test_distribution_upgrade_selects_the_tests_importing_it(
    pytester: pytest.Pytester, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = tmp_path_factory.mktemp("fakesite")
    assert not site.is_relative_to(pytester.path)
    fake_distribution(site, "1.0")
    fake_distribution(site, "1.0", name="otherlib")
    monkeypatch.setenv("PYTHONPATH", str(site))
    files = {
        "wrapper.py": "import fakelib\n\n\ndef answer():\n    return fakelib.answer()\n",
        "calc.py": "def add(a, b):\n    return a + b\n",
        "test_direct_lib.py": (
            "import fakelib\n\n\ndef test_answer():\n    assert fakelib.answer() == 42\n\n\n"
            "def test_not_calling():\n    assert True\n"
        ),
        "test_indirect_lib.py": "import wrapper\n\n\ndef test_wrapped():\n    assert wrapper.answer() == 42\n",
        "test_lazy_lib.py": "def test_lazy():\n    import fakelib\n\n    assert fakelib.answer() == 42\n",
        "test_plain.py": "import calc\n\n\ndef test_plain():\n    assert calc.add(1, 1) == 2\n",
    }
    users = (
        nodes("test_direct_lib.py", "test_answer", "test_not_calling")
        | nodes("test_indirect_lib.py", "test_wrapped") | nodes("test_lazy_lib.py", "test_lazy")
    )
    recorded_project(pytester, files, users | PLAIN_TEST)
    assert_ran(diff(pytester), set())
    # A distribution that no test imports or runs: its upgrade selects nothing.
    upgrade_fake_distribution(site, "1.0", "2.0", name="otherlib")
    assert_ran(diff(pytester), set())
    upgrade_fake_distribution(site, "1.0", "1.1")
    result = diff(pytester, "--diff-why")
    assert_ran(result, users)
    # The engine words a distribution reached through the test file's imports
    # "imports: fakelib 1.0 -> 1.1"; either wording names the upgrade.
    reasons = why_lines(result)
    assert set(reasons) == users, output(result)
    for nodeid, reason in reasons.items():
        assert reason in ("fakelib 1.0 -> 1.1", "imports: fakelib 1.0 -> 1.1"), output(result)


def test_python_version_change_selects_everything(
    pytester: pytest.Pytester, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The interpreter cannot be swapped here: a plugin loaded with
    # PYTEST_PLUGINS makes the environment report another Python version
    # (with -p the configuration digest would change too).
    site = tmp_path_factory.mktemp("fakepython")
    (site / "fake_python_version.py").write_text(
        "import pytest_difftest.environment as environment\n\n"
        "environment.python_version = lambda: '3.99'\n"
    )
    monkeypatch.setenv("PYTHONPATH", str(site))
    files = {**LIBRARY, **PLAIN}
    # Within one named environment (SPEC 4.7): by default the version names
    # the environment, and a new one simply has no baseline yet.
    recorded_project(pytester, files, LIBRARY_TESTS | PLAIN_TEST, ini="[pytest]\ndiff_env = ci\n")
    monkeypatch.setenv("PYTEST_PLUGINS", "fake_python_version")
    result = diff(pytester, "--diff-why")
    assert_ran(result, LIBRARY_TESTS | PLAIN_TEST)
    current = f"{sys.version_info[0]}.{sys.version_info[1]}"
    assert why_lines(result) == {n: f"python {current} -> 3.99" for n in LIBRARY_TESTS | PLAIN_TEST}, output(result)


# --- --diff-why -----------------------------------------------------------------

WHY = {
    "calc.py": "def add(a, b):\n    return a + b\n\n\ndef sub(a, b):\n    return a - b\n",
    "consts.py": "LIMIT = 3\n",
    "data/config.json": '{"a": 1}\n',
    "test_calc.py": (
        "import calc\n\n\ndef test_add():\n    assert calc.add(1, 2) == 3\n\n\n"
        "def test_sub():\n    assert calc.sub(3, 1) == 2\n"
    ),
    "test_limit.py": "from consts import LIMIT\n\n\ndef test_limit():\n    assert LIMIT > 0\n",
    "test_data.py": (
        "import json\nfrom pathlib import Path\n\n\ndef test_config():\n"
        "    assert json.loads((Path(__file__).parent / 'data' / 'config.json').read_text())['a']\n"
    ),
    "test_flaky.py": (
        "from pathlib import Path\n\n\ndef test_flaky():\n"
        "    assert Path(__file__).with_name('flag').exists() is False\n"
    ),
}


@pytest.mark.parametrize(
    "change, nodeid, reason",
    [
        ("function", "test_calc.py::test_add", "calc.py::add changed"),
        ("import", "test_limit.py::test_limit", "imports: consts.py: LIMIT (module level) changed"),
        ("data", "test_data.py::test_config", "data/config.json changed"),
        ("new", "test_new.py::test_new", "new test"),
        ("failed", "test_flaky.py::test_flaky", "failed last time"),
    ],
)
def test_diff_why(pytester: pytest.Pytester, change: str, nodeid: str, reason: str) -> None:
    project(pytester, WHY)
    ret = 0
    if change == "failed":
        # The "flag" file is outside what the test opens (it only stats it):
        # removing it makes the test pass without changing any dependency.
        (pytester.path / "flag").write_text("")
        ret = 1
    result = baseline(pytester)
    assert result.ret == ret, output(result)
    assert len(ran(result)) == 5, output(result)
    if change == "function":
        touch_edit(pytester, "calc.py", "return a + b", "return b + a")
    elif change == "import":
        touch_edit(pytester, "consts.py", "LIMIT = 3", "LIMIT = 4")
    elif change == "data":
        touch_edit(pytester, "data/config.json", '"a": 1', '"a": 2')
    elif change == "new":
        write(pytester, {"test_new.py": "def test_new():\n    assert True\n"})
    else:
        (pytester.path / "flag").unlink()
    result = diff(pytester, "--diff-why")
    assert_ran(result, {nodeid})
    assert why_lines(result) == {nodeid: reason}, output(result)
    assert f"difftest: {nodeid}: {reason}" in result.outlines, output(result)


def test_data_file_read_at_import_time_of_a_test_module(pytester: pytest.Pytester) -> None:
    # parametrize cases loaded from JSON when the test module is imported:
    # the file is a dependency of every test in that module.
    files = {
        "cases.json": "[1, 2]\n",
        "test_cases.py": (
            "import json\nimport os\n\nimport pytest\n\n"
            "HERE = os.path.dirname(__file__)\n"
            "with open(os.path.join(HERE, 'cases.json')) as f:\n    CASES = json.load(f)\n\n\n"
            "@pytest.mark.parametrize('n', CASES)\ndef test_case(n):\n    assert n > 0\n"
        ),
        "test_other.py": "def test_other():\n    assert True\n",
    }
    recorded_project(pytester, files, nodes("test_cases.py", "test_case[1]", "test_case[2]") | nodes("test_other.py", "test_other"))
    touch_edit(pytester, "cases.json", "[1, 2]", "[1, 2, 3]")
    assert_ran(diff(pytester), nodes("test_cases.py", "test_case[1]", "test_case[2]", "test_case[3]"))


def test_file_created_after_the_baseline_selects_the_tests_that_looked(pytester: pytest.Pytester) -> None:
    files = {
        "test_optional.py": (
            "import os\n\nHERE = os.path.dirname(__file__)\n\n\n"
            "def test_optional():\n    try:\n        with open(os.path.join(HERE, 'opt.txt')) as f:\n"
            "            assert f.read() != 'bad'\n    except FileNotFoundError:\n        pass\n\n\n"
            "def test_plain():\n    assert True\n"
        ),
    }
    recorded_project(pytester, files, nodes("test_optional.py", "test_optional", "test_plain"))
    assert_ran(diff(pytester), set())
    (pytester.path / "opt.txt").write_text("bad")
    assert_ran(diff(pytester), nodes("test_optional.py", "test_optional"), ret=1)
