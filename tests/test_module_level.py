"""Module-level statements as dependencies (SPEC 4.8): a module-level change
selects the tests whose code reads what changed, not every test that imports
the module; a statement with effects, and code that reaches names
dynamically, keep the whole-module rule (4.4c). Each test records a baseline,
makes one change and asserts the exact node ids that ran."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from conftest import baseline, diff, nodes, output, project, ran, touch_edit

OPS = """
    __all__ = ["scaled", "plain"]

    RATE = 0.1
    OTHER = 5

    def scaled(x):
        return x * RATE

    def plain(x):
        return x + 1
"""

TABLE = """
    def build():
        return [1, 2, 3]

    TABLE = build()

    def first():
        return TABLE[0]

    def size():
        return 3
"""

FILES = {
    "calc/__init__.py": '__version__ = "1.0"\n',
    "calc/ops.py": OPS,
    "calc/table.py": TABLE,
    "tests/test_ops.py": """
        from calc.ops import plain, scaled

        def test_scaled():
            assert scaled(10) > 0

        def test_plain():
            assert plain(1) == 2
    """,
    "tests/test_other.py": """
        from calc import ops

        def test_other():
            assert ops.plain(2) == 3
    """,
    "tests/test_version.py": """
        import calc

        def test_version():
            assert calc.__version__

        def test_nothing():
            assert True
    """,
    "tests/test_table.py": """
        from calc.table import first, size

        def test_first():
            assert first() >= 1

        def test_size():
            assert size() == 3
    """,
}

EVERYTHING = (
    nodes("tests/test_ops.py", "test_scaled", "test_plain")
    | nodes("tests/test_other.py", "test_other")
    | nodes("tests/test_version.py", "test_version", "test_nothing")
    | nodes("tests/test_table.py", "test_first", "test_size")
)
OPS_IMPORTERS = nodes("tests/test_ops.py", "test_scaled", "test_plain") | nodes("tests/test_other.py", "test_other")
TABLE_IMPORTERS = nodes("tests/test_table.py", "test_first", "test_size")


def recorded(pytester: pytest.Pytester, extra: dict[str, str] | None = None, everything: set[str] = EVERYTHING) -> None:
    project(pytester, {**FILES, **(extra or {})})
    result = baseline(pytester)
    assert result.ret == 0, output(result)
    assert ran(result) == everything, output(result)


def selects(pytester: pytest.Pytester, expected: set[str], *args: str) -> pytest.RunResult:
    result = diff(pytester, *args)
    assert ran(result) == expected, output(result)
    assert result.ret == 0, output(result)
    return result


def test_constant_read_by_one_function_selects_its_tests(pytester: pytest.Pytester) -> None:
    recorded(pytester)
    touch_edit(pytester, "calc/ops.py", "RATE = 0.1", "RATE = 0.2")
    result = selects(pytester, nodes("tests/test_ops.py", "test_scaled"), "--diff-why")
    assert "tests/test_ops.py::test_scaled: calc/ops.py: RATE (module level) read by scaled" in output(result)


def test_unused_new_constant_selects_nothing(pytester: pytest.Pytester) -> None:
    recorded(pytester)
    touch_edit(pytester, "calc/ops.py", "OTHER = 5\n", "OTHER = 5\nUNUSED = 7\n")
    selects(pytester, set())


def test_new_function_added_to_all_selects_nothing(pytester: pytest.Pytester) -> None:
    recorded(pytester)
    touch_edit(pytester, "calc/ops.py", '"plain"]', '"plain", "triple"]')
    touch_edit(pytester, "calc/ops.py", "def plain(x):", "def triple(x):\n    return 3 * x\n\ndef plain(x):")
    selects(pytester, set())


def test_version_read_by_one_test_selects_that_test(pytester: pytest.Pytester) -> None:
    recorded(pytester)
    touch_edit(pytester, "calc/__init__.py", '"1.0"', '"1.1"')
    selects(pytester, nodes("tests/test_version.py", "test_version"))


def test_import_added_selects_nothing(pytester: pytest.Pytester) -> None:
    recorded(pytester)
    touch_edit(pytester, "calc/ops.py", "RATE = 0.1", "import json\nfrom os import path\nRATE = 0.1")
    selects(pytester, set())


def test_import_of_a_project_module_added_selects_every_importer(pytester: pytest.Pytester) -> None:
    # Importing a project module newly runs its top level (which may have
    # effects) for every importer: the whole-module rule.
    recorded(pytester, {"calc/util.py": "X = 1\n"})
    touch_edit(pytester, "calc/ops.py", "RATE = 0.1", "import calc.util\nRATE = 0.1")
    selects(pytester, OPS_IMPORTERS)


def test_unresolvable_import_added_selects_every_importer(pytester: pytest.Pytester) -> None:
    # The import fails for every importer: they all must run (and fail).
    recorded(pytester)
    touch_edit(pytester, "calc/ops.py", "RATE = 0.1", "import no_such_module_anywhere\nRATE = 0.1")
    result = diff(pytester)
    assert ran(result) | _errored_files(result) >= {"tests/test_ops.py", "tests/test_other.py"}, output(result)
    assert not ran(result) & (EVERYTHING - OPS_IMPORTERS), output(result)


def _errored_files(result: pytest.RunResult) -> set[str]:
    return {line.split()[1] for line in result.outlines if line.startswith("ERROR ") and len(line.split()) > 1}


def test_import_added_to_a_module_with_effects_keeps_readers_precise(pytester: pytest.Pytester) -> None:
    # calc/table.py has a statement with effects (TABLE = build()): an import
    # that resolves still binds one name that nothing reads.
    recorded(pytester)
    touch_edit(pytester, "calc/table.py", "def build():", "import json\n\ndef build():")
    selects(pytester, set())


def test_statement_with_a_call_selects_every_importer(pytester: pytest.Pytester) -> None:
    # A call may have effects: whether build() has any is not worked out, so
    # TABLE = build() is a statement with effects, and every importer of the
    # module runs (the readers of TABLE among them).
    recorded(pytester)
    touch_edit(pytester, "calc/table.py", "TABLE = build()", "TABLE = build()[::-1]")
    selects(pytester, TABLE_IMPORTERS)


def test_function_called_at_import_selects_every_importer(pytester: pytest.Pytester) -> None:
    recorded(pytester)
    touch_edit(pytester, "calc/table.py", "return [1, 2, 3]", "return [3, 2, 1]")
    selects(pytester, TABLE_IMPORTERS)


def test_constant_read_by_a_function_run_at_import_selects_every_importer(pytester: pytest.Pytester) -> None:
    recorded(
        pytester,
        {"calc/table.py": TABLE.replace("return [1, 2, 3]", "return [START, 2, 3]").replace("def build", "START = 1\n\n    def build")},
    )
    touch_edit(pytester, "calc/table.py", "START = 1", "START = 2")
    selects(pytester, TABLE_IMPORTERS)


def test_constant_read_by_a_statement_with_effects_selects_every_importer(pytester: pytest.Pytester) -> None:
    recorded(pytester, {"calc/table.py": TABLE.replace("TABLE = build()", "N = 3\n    TABLE = build() * N")})
    touch_edit(pytester, "calc/table.py", "N = 3", "N = 2")
    selects(pytester, TABLE_IMPORTERS)


STAR = {
    "shapes/__init__.py": "from shapes.core import *\n",
    "shapes/core.py": """
        __all__ = ["area", "perimeter"]

        def area(s):
            return s * s

        def perimeter(s):
            return 4 * s
    """,
    "tests/test_area.py": """
        import shapes

        def test_area():
            assert shapes.area(2) == 4
    """,
    "tests/test_perimeter.py": """
        import shapes

        def test_perimeter():
            assert shapes.perimeter(2) == 8
    """,
}
STAR_USERS = nodes("tests/test_area.py", "test_area") | nodes("tests/test_perimeter.py", "test_perimeter")


def test_star_import_losing_a_name_selects_its_users(pytester: pytest.Pytester) -> None:
    recorded(pytester, STAR, EVERYTHING | STAR_USERS)
    touch_edit(pytester, "shapes/core.py", '"area", "perimeter"]', '"area"]')
    # The users of that name: shapes.area still works.
    fails(pytester, nodes("tests/test_perimeter.py", "test_perimeter"))


def test_star_import_gaining_a_public_name_selects_only_its_readers(pytester: pytest.Pytester) -> None:
    # No __all__: the star import takes every public name, followed name by
    # name. A new one that no code reads changes nothing; one that code
    # read (and failed to find) selects that code.
    files = {**STAR, "shapes/core.py": "def area(s):\n    return s * s\n\ndef perimeter(s):\n    return 4 * s\n"}
    files["tests/test_sides.py"] = """
        import shapes

        def test_sides():
            assert getattr(shapes, "SIDES", None) is None
    """
    recorded(pytester, files, EVERYTHING | STAR_USERS | nodes("tests/test_sides.py", "test_sides"))
    touch_edit(pytester, "shapes/core.py", "def area(s):", "CORNERS = 4\n\ndef area(s):")
    selects(pytester, set())
    touch_edit(pytester, "shapes/core.py", "def area(s):", "SIDES = 4\n\ndef area(s):")
    fails(pytester, nodes("tests/test_sides.py", "test_sides"))


def test_from_import_of_a_name_the_module_lacked_selects_when_it_appears(pytester: pytest.Pytester) -> None:
    extra = {
        "calc/compat.py": "X = 1\n",
        "tests/test_compat.py": """
            try:
                from calc.compat import fast
            except ImportError:
                fast = None

            def test_fast():
                assert fast is None or fast
        """,
    }
    recorded(pytester, extra, EVERYTHING | nodes("tests/test_compat.py", "test_fast"))
    touch_edit(pytester, "calc/compat.py", "X = 1", "X = 1\nfast = True")
    selects(pytester, nodes("tests/test_compat.py", "test_fast"))


def test_new_binding_of_a_builtin_name_selects_every_importer(pytester: pytest.Pytester) -> None:
    recorded(pytester)
    touch_edit(pytester, "calc/ops.py", "OTHER = 5", "OTHER = 5\nlen = 3")
    selects(pytester, OPS_IMPORTERS)


def test_getattr_with_a_computed_name_falls_back_to_the_whole_module(pytester: pytest.Pytester) -> None:
    extra = {
        "tests/test_dynamic.py": """
            from calc import ops

            def test_dynamic():
                name = "OTH" + "ER"
                assert getattr(ops, name) > 0
        """,
    }
    recorded(pytester, extra, EVERYTHING | nodes("tests/test_dynamic.py", "test_dynamic"))
    touch_edit(pytester, "calc/ops.py", "OTHER = 5", "OTHER = 6")
    selects(pytester, nodes("tests/test_dynamic.py", "test_dynamic"))


COMPUTED = {
    "import_module": 'importlib.import_module("calc." + name)',
    "sys.modules": 'sys.modules["calc." + name]',
    "sys.modules.get": 'sys.modules.get(f"calc.{name}")',
    "__import__": '__import__("calc." + name, fromlist=["LIMIT"])',
    "exec": '(exec(f"from calc import {name} as got", ns := {}) or ns["got"])',
    "exec-literal": '(exec("from calc import limits as got", ns := {}) or ns["got"])',
}


@pytest.mark.parametrize("get", list(COMPUTED.values()), ids=list(COMPUTED))
def test_module_got_by_a_computed_name_selects_its_user(pytester: pytest.Pytester, get: str) -> None:
    # tests/test_a.py imported calc.limits at collection: test_plugin gets it
    # back by a name it computes, with no import for the recorder to see,
    # and its test file does not reach it.
    extra = {
        "calc/limits.py": "LIMIT = 3\nSMALL = 1\n",
        "tests/test_a.py": """
            from calc import limits

            def test_a():
                assert limits.SMALL == 1
        """,
        "tests/test_plugin.py": f"""
            import importlib
            import sys

            def test_plugin():
                name = "lim" + "its"
                assert {get}.LIMIT == 3
        """,
    }
    plugin = nodes("tests/test_plugin.py", "test_plugin")
    recorded(pytester, extra, EVERYTHING | nodes("tests/test_a.py", "test_a") | plugin)
    touch_edit(pytester, "calc/limits.py", "LIMIT = 3", "LIMIT = 4")
    result = diff(pytester)
    assert ran(result) == plugin, output(result)
    assert result.ret == 1, output(result)  # test_plugin fails, as it should


@pytest.mark.parametrize("get", ['importlib.import_module("calc.limits")', 'sys.modules["calc.limits"]'], ids=["import_module", "sys.modules"])
def test_module_got_by_a_literal_name_is_that_module_only(pytester: pytest.Pytester, get: str) -> None:
    extra = {
        "calc/limits.py": "LIMIT = 3\n",
        "tests/test_plugin.py": f"""
            import importlib
            import sys

            import calc.limits

            def test_plugin():
                assert {get}.LIMIT == 3
        """,
    }
    plugin = nodes("tests/test_plugin.py", "test_plugin")
    recorded(pytester, extra, EVERYTHING | plugin)
    touch_edit(pytester, "calc/table.py", "return [1, 2, 3]", "return [1, 2, 4]")
    selects(pytester, TABLE_IMPORTERS)
    touch_edit(pytester, "calc/limits.py", "LIMIT = 3", "LIMIT = 4")
    result = diff(pytester)
    assert ran(result) == plugin | TABLE_IMPORTERS, output(result)


def test_dynamic_access_at_import_time_falls_back_to_the_whole_module(pytester: pytest.Pytester) -> None:
    extra = {
        "calc/registry.py": """
            from calc import ops

            NAMES = [n for n in dir(ops) if n.isupper()]
        """,
        "tests/test_registry.py": """
            import calc.registry

            def test_registry():
                assert True
        """,
    }
    recorded(pytester, extra, EVERYTHING | nodes("tests/test_registry.py", "test_registry"))
    touch_edit(pytester, "calc/ops.py", "OTHER = 5", "OTHER = 5\nMORE = 1")
    selects(pytester, nodes("tests/test_registry.py", "test_registry"))


def test_module_getattr_leaves_the_names_it_binds_precise(pytester: pytest.Pytester) -> None:
    # __getattr__ answers only names the module does not bind; OTHER is
    # bound, and nothing reads it (see also
    # test_package_getattr_answers_only_names_it_does_not_bind).
    recorded(pytester, {"calc/ops.py": OPS + "\n    def __getattr__(name):\n        raise AttributeError(name)\n"})
    touch_edit(pytester, "calc/ops.py", "OTHER = 5", "OTHER = 6")
    selects(pytester, set())
    touch_edit(pytester, "calc/ops.py", "RATE = 0.1", "RATE = 0.2")
    selects(pytester, nodes("tests/test_ops.py", "test_scaled"))


def test_constant_read_at_import_time_by_a_test_file_selects_its_tests(pytester: pytest.Pytester) -> None:
    extra = {
        "tests/test_limits.py": """
            import pytest
            from calc.ops import OTHER

            @pytest.mark.parametrize("n", range(2))
            def test_limit(n):
                assert n < OTHER

            def test_unrelated():
                assert True
        """,
    }
    everything = EVERYTHING | nodes("tests/test_limits.py", "test_limit[0]", "test_limit[1]", "test_unrelated")
    recorded(pytester, extra, everything)
    touch_edit(pytester, "calc/ops.py", "OTHER = 5", "OTHER = 6")
    selects(pytester, nodes("tests/test_limits.py", "test_limit[0]", "test_limit[1]", "test_unrelated"))


def test_alias_of_a_constant_follows_it(pytester: pytest.Pytester) -> None:
    recorded(pytester, {"calc/ops.py": OPS.replace("def scaled(x):\n        return x * RATE", "FACTOR = RATE\n\n    def scaled(x):\n        return x * FACTOR")})
    touch_edit(pytester, "calc/ops.py", "RATE = 0.1", "RATE = 0.2")
    selects(pytester, nodes("tests/test_ops.py", "test_scaled"))


def test_constant_that_now_raises_selects_every_importer(pytester: pytest.Pytester) -> None:
    recorded(pytester)
    touch_edit(pytester, "calc/ops.py", "OTHER = 5", "OTHER = 1 // 0")
    result = diff(pytester)
    assert result.ret != 0, output(result)
    assert "ZeroDivisionError" in output(result), output(result)
    assert not ran(result) & (EVERYTHING - OPS_IMPORTERS), output(result)


def test_inspect_shows_name_dependencies(pytester: pytest.Pytester) -> None:
    recorded(pytester)
    cli = Path(sys.executable).with_name("pytest-difftest")
    db = pytester.path / ".pytest_cache" / "pytest-difftest" / "pytest_difftest.db"
    p = subprocess.run([str(cli), "inspect", str(db), "--test", "tests/test_ops.py::test_scaled"], capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "<module>:RATE" in p.stdout, p.stdout


def test_removed_constant_named_only_in_a_string_selects_the_test_naming_it(pytester: pytest.Pytester) -> None:
    # mock.patch("calc.ops.OTHER") names OTHER in a string: test_patch
    # depends on calc/ops.py whole. Nothing else reads OTHER.
    extra = {
        "tests/test_patch.py": """
            from unittest import mock

            from calc import ops

            def test_patch():
                with mock.patch("calc.ops.OTHER", 1):
                    assert ops.plain(1) == 2
        """,
    }
    recorded(pytester, extra, EVERYTHING | nodes("tests/test_patch.py", "test_patch"))
    touch_edit(pytester, "calc/ops.py", "OTHER = 5\n", "")
    result = diff(pytester)
    assert ran(result) == nodes("tests/test_patch.py", "test_patch"), output(result)
    assert result.ret == 1, output(result)  # test_patch fails, as it should


def test_removed_name_selects_its_readers_and_the_importers_of_its_from_import(pytester: pytest.Pytester) -> None:
    # calc/report.py takes OTHER with a from-import: without it, importing
    # calc.report fails, for test_helpers' tests whether they read it or not.
    extra = {
        "calc/report.py": """
            from calc.ops import OTHER

            def other():
                return OTHER
        """,
        "tests/test_helpers.py": """
            from calc import report

            def test_other():
                assert report.other() == 5

            def test_nothing():
                assert True
        """,
        "tests/test_reads.py": """
            from calc import ops

            def test_reads():
                assert ops.OTHER == 5
        """,
    }
    helpers = nodes("tests/test_helpers.py", "test_other", "test_nothing")
    reads = nodes("tests/test_reads.py", "test_reads")
    recorded(pytester, extra, EVERYTHING | helpers | reads)
    touch_edit(pytester, "calc/ops.py", "OTHER = 5\n", "")
    result = diff(pytester, "--continue-on-collection-errors")
    # test_helpers.py was selected: it no longer imports (an unselected
    # file would not be collected at all).
    assert ran(result) == reads, output(result)
    assert "ERROR tests/test_helpers.py" in output(result), output(result)
    assert "ImportError" in output(result), output(result)
    touch_edit(pytester, "calc/ops.py", "RATE = 0.1\n", "RATE = 0.1\nOTHER = 5\nunused = 1\n")
    selects(pytester, set())


def test_name_left_bound_only_under_a_condition_selects_the_importers_of_its_from_import(pytester: pytest.Pytester) -> None:
    extra = {
        "calc/report.py": "from calc.ops import OTHER\n",
        "tests/test_helpers.py": """
            import calc.report

            def test_nothing():
                assert True
        """,
    }
    recorded(pytester, extra, EVERYTHING | nodes("tests/test_helpers.py", "test_nothing"))
    touch_edit(pytester, "calc/ops.py", "OTHER = 5\n", "import sys\nif sys.version_info < (3, 0):\n    OTHER = 5\n")
    result = diff(pytester, "--continue-on-collection-errors")
    assert ran(result) == set(), output(result)
    assert "ERROR tests/test_helpers.py" in output(result), output(result)


def test_removed_unused_names_select_nothing(pytester: pytest.Pytester) -> None:
    # An import and a constant that no code reads, taken away (a clean-up).
    extra = {"calc/ops.py": "import json\nUNUSED = 1\n" + textwrap.dedent(OPS).lstrip("\n")}
    recorded(pytester, extra)
    touch_edit(pytester, "calc/ops.py", "import json\nUNUSED = 1\n", "")
    selects(pytester, set())


def test_constant_in_the_test_file_selects_its_tests(pytester: pytest.Pytester) -> None:
    # pytest reads a test file's top level by name (test_* bound by
    # assignment, __test__, pytestmark): the test file's own top level
    # keeps the whole-module rule.
    extra = {
        "tests/test_local.py": """
            EXPECTED = 3

            def test_expected():
                assert EXPECTED == 3

            def test_other_local():
                assert True
        """,
    }
    recorded(pytester, extra, EVERYTHING | nodes("tests/test_local.py", "test_expected", "test_other_local"))
    touch_edit(pytester, "tests/test_local.py", "EXPECTED = 3", "EXPECTED = 3\nUNUSED = 1")
    selects(pytester, nodes("tests/test_local.py", "test_expected", "test_other_local"))


def test_pytest_plugins_in_a_conftest_selects_every_test_under_it(pytester: pytest.Pytester) -> None:
    extra = {"tests/conftest.py": "collect_ignore = []\n"}
    recorded(pytester, extra)
    touch_edit(pytester, "tests/conftest.py", "collect_ignore = []", "collect_ignore = ['nothing_here.py']")
    selects(pytester, EVERYTHING)


BANK = {
    "bank/__init__.py": "",
    "bank/account.py": """
        class Account:
            fee = 1
            limit = 100

            def withdraw(self, n):
                return n + self.fee

            @classmethod
            def cap(cls):
                return cls.limit

            def deposit(self, n):
                return n
    """,
    "tests/test_bank.py": """
        from bank.account import Account

        def test_withdraw():
            assert Account().withdraw(1) >= 2

        def test_cap():
            assert Account.cap() > 0

        def test_deposit():
            assert Account().deposit(1) == 1

        def test_direct():
            assert Account.fee >= 1
    """,
}
BANK_TESTS = nodes("tests/test_bank.py", "test_withdraw", "test_cap", "test_deposit", "test_direct")


def test_class_attribute_read_through_self_selects_its_readers(pytester: pytest.Pytester) -> None:
    recorded(pytester, BANK, EVERYTHING | BANK_TESTS)
    touch_edit(pytester, "bank/account.py", "fee = 1", "fee = 2")
    result = selects(pytester, nodes("tests/test_bank.py", "test_withdraw", "test_direct"), "--diff-why")
    why = output(result)
    assert "tests/test_bank.py::test_withdraw: bank/account.py: Account.fee (class attribute) read by Account.withdraw" in why
    assert "tests/test_bank.py::test_direct: bank/account.py: Account.fee (class attribute) changed" in why


def test_class_attribute_read_through_cls_selects_its_readers(pytester: pytest.Pytester) -> None:
    recorded(pytester, BANK, EVERYTHING | BANK_TESTS)
    touch_edit(pytester, "bank/account.py", "limit = 100", "limit = 200")
    selects(pytester, nodes("tests/test_bank.py", "test_cap"))


def fee_change_runs(pytester: pytest.Pytester, extra: dict[str, str], path: str, reader: str, also: set[str] = set()) -> None:
    """Records BANK with extra (a test file at path holding reader and
    test_other), changes Account.fee, and checks that exactly reader, also
    and BANK's own readers of fee run, and that reader fails."""
    recorded(pytester, extra, EVERYTHING | BANK_TESTS | nodes(path, reader, "test_other"))
    touch_edit(pytester, "bank/account.py", "fee = 1", "fee = 2")
    result = diff(pytester)
    assert ran(result) == nodes(path, reader) | also | nodes("tests/test_bank.py", "test_withdraw", "test_direct"), output(result)
    assert result.ret == 1, output(result)


# Code the recorder does not watch reads a class attribute by a name the
# project wrote in a string, a data file or a class body: str.format in C,
# operator.attrgetter, a template, a serializer library. (test body, extra
# files, a distribution the case needs)
NAMED_ELSEWHERE = {
    "a format field": ('assert "{0.fee} {a.fee}".format(Account(), a=Account()) == "1 1"', {}, None),
    "attrgetter": ('assert operator.attrgetter("fee")(Account()) == 1', {}, None),
    "a format template file": (
        'assert (HERE / "fee.txt").read_text().format(a=Account()) == "Fee: 1\\n"',
        {"tests/fee.txt": "Fee: {a.fee}\n"},
        None,
    ),
    "a Jinja template by subscript": (
        'assert jinja2.Template((HERE / "fee.html").read_text()).render(a=Account()) == "Fee: 1"',
        {"tests/fee.html": 'Fee: {{ a["fee"] }}'},
        "jinja2",
    ),
    "a serializer's field": (
        "assert AccountSchema().dump(Account())['fee'] == 1",
        {
            "bank/schemas.py": """
                from marshmallow import Schema, fields

                class AccountSchema(Schema):
                    fee = fields.Integer()
            """,
        },
        "marshmallow",
    ),
    "a serializer's fields bound together": (
        "assert AccountSchema().dump(Account())['fee'] == 1",
        {
            "bank/schemas.py": """
                from marshmallow import Schema, fields

                class AccountSchema(Schema):
                    fee, limit = fields.Integer(), fields.Integer()
            """,
        },
        "marshmallow",
    ),
    "a name in a string": ('assert inspect.getattr_static(Account(), "fee") == 1', {}, None),
    "a Jinja template string": (
        "assert jinja2.Template('Fee: {{ a[\"fee\"] }}').render(a=Account()) == 'Fee: 1'",
        {},
        "jinja2",
    ),
}


@pytest.mark.parametrize("case", list(NAMED_ELSEWHERE))
def test_class_attribute_read_by_a_name_held_elsewhere_selects_its_readers(pytester: pytest.Pytester, case: str) -> None:
    body, files, needs = NAMED_ELSEWHERE[case]
    if needs:
        pytest.importorskip(needs)
    schemas = "from bank.schemas import AccountSchema\n" if "bank/schemas.py" in files else ""
    extra = {
        **BANK,
        **files,
        "tests/test_named.py": f"""
import inspect
import operator
from pathlib import Path

from bank.account import Account
{schemas}
try:
    import jinja2
except ImportError:
    jinja2 = None

HERE = Path(__file__).parent

def test_named():
    {body}

def test_other():
    assert Account().deposit(1) == 1
""",
    }
    # A tuple target is a statement with effects: the names it assigns count
    # as read at import, by every test of a file that imports the schema.
    also = nodes("tests/test_named.py", "test_other") if case == "a serializer's fields bound together" else set()
    fee_change_runs(pytester, extra, "tests/test_named.py", "test_named", also)


@pytest.mark.skipif(sys.version_info < (3, 10), reason="match statements are Python 3.10+")
def test_class_attribute_in_a_class_pattern_selects_its_readers(pytester: pytest.Pytester) -> None:
    # "case Account(fee=1)" reads the attribute in C; no code names it after a dot.
    extra = {
        **BANK,
        "tests/test_match.py": """
            from bank.account import Account

            def test_matched():
                match Account():
                    case Account(fee=1):
                        ok = True
                    case _:
                        ok = False
                assert ok

            def test_other():
                assert Account().deposit(1) == 1
        """,
    }
    fee_change_runs(pytester, extra, "tests/test_match.py", "test_matched")


def test_class_attribute_added_selects_every_importer(pytester: pytest.Pytester) -> None:
    # A new attribute may shadow an inherited one: the whole class.
    recorded(pytester, BANK, EVERYTHING | BANK_TESTS)
    touch_edit(pytester, "bank/account.py", "limit = 100", "limit = 100\n    tax = 0")
    selects(pytester, BANK_TESTS)


def test_method_signature_with_a_literal_default_selects_its_callers(pytester: pytest.Pytester) -> None:
    # The class body evaluates a computed default when it runs the def: then
    # every importer. A literal default, or a parameter, is the method's.
    recorded(pytester, BANK, EVERYTHING | BANK_TESTS)
    touch_edit(pytester, "bank/account.py", "def deposit(self, n):", "def deposit(self, n, k=0):")
    selects(pytester, nodes("tests/test_bank.py", "test_deposit"))
    touch_edit(pytester, "bank/account.py", "def deposit(self, n, k=0):", "def deposit(self, n, k=len('')):")
    selects(pytester, BANK_TESTS)


SUBCLASS_HOOKS = {
    # A base class's __init_subclass__ or metaclass may read every
    # attribute (a schema's fields, an Enum's members): such a class keeps
    # the whole-class rule.
    "__init_subclass__": "class Base:\n    def __init_subclass__(cls, **kw):\n        cls.seen = dict(vars(cls))\n",
    "metaclass": "class Meta(type):\n    pass\n\nclass Base(metaclass=Meta):\n    pass\n",
    "decorated base": "import functools\n\n@functools.total_ordering\nclass Base:\n    def __lt__(self, o):\n        return False\n",
    "hook two bases up": "class Root:\n    def __init_subclass__(cls, **kw):\n        pass\n\nclass Base(Root):\n    pass\n",
    "a class from outside not known to run none": "from collections import OrderedDict as Base\n",
}
PLAIN_BASES = {
    "project class": "class Base:\n    pass\n",
    "project class with a base": "from abc import ABC\n\nclass Root(ABC):\n    pass\n\nclass Base(Root, object):\n    pass\n",
    "abc.ABC": "from abc import ABC as Base\n",
}


def _subclassed(pytester: pytest.Pytester, base: str) -> None:
    account = textwrap.dedent(BANK["bank/account.py"]).replace("class Account:", "class Account(Base):")
    files = {**BANK, "bank/base.py": base, "bank/account.py": "from bank.base import Base\n" + account}
    recorded(pytester, files, EVERYTHING | BANK_TESTS)
    touch_edit(pytester, "bank/account.py", "fee = 1", "fee = 2")


@pytest.mark.parametrize("hook", list(SUBCLASS_HOOKS))
def test_class_attribute_of_a_class_whose_bases_run_hooks_selects_every_importer(pytester: pytest.Pytester, hook: str) -> None:
    _subclassed(pytester, SUBCLASS_HOOKS[hook])
    selects(pytester, BANK_TESTS)


@pytest.mark.parametrize("base", list(PLAIN_BASES))
def test_class_attribute_of_a_subclass_of_a_plain_class_selects_its_readers(pytester: pytest.Pytester, base: str) -> None:
    # Subclassing a class with no decorator, metaclass or __init_subclass__
    # (nor any of its bases) runs no hook: the attribute's readers run.
    _subclassed(pytester, PLAIN_BASES[base])
    selects(pytester, nodes("tests/test_bank.py", "test_withdraw", "test_direct"))


def test_module_handed_to_library_code_falls_back_to_the_whole_module(pytester: pytest.Pytester) -> None:
    # pydoc reads the module's names without the test naming them: a module
    # used as a plain value (not settings.NAME) counts as reached
    # dynamically.
    extra = {
        "calc/settings.py": "LEVEL = 1\n",
        "tests/test_settings.py": """
            import pydoc

            from calc import settings

            def test_rendered():
                assert "LEVEL = 1" in pydoc.render_doc(settings, renderer=pydoc.plaintext)
        """,
    }
    recorded(pytester, extra, EVERYTHING | nodes("tests/test_settings.py", "test_rendered"))
    touch_edit(pytester, "calc/settings.py", "LEVEL = 1", "LEVEL = 2")
    result = diff(pytester)
    assert ran(result) == nodes("tests/test_settings.py", "test_rendered"), output(result)


def test_a_dotted_path_in_a_string_makes_the_module_whole(pytester: pytest.Pytester) -> None:
    # pkgutil.resolve_name, mock.patch, entry points: a library resolves the
    # string and reads the module's names; no project code names them.
    extra = {
        "tests/test_resolve.py": """
            import pkgutil

            def test_resolved():
                assert pkgutil.resolve_name("calc.ops:OTHER") > 0

            def test_unrelated():
                assert "setup.py" and "example.com"
        """,
    }
    recorded(pytester, extra, EVERYTHING | nodes("tests/test_resolve.py", "test_resolved", "test_unrelated"))
    touch_edit(pytester, "calc/ops.py", "OTHER = 5", "OTHER = 6")
    selects(pytester, nodes("tests/test_resolve.py", "test_resolved"))


def test_a_patch_target_string_selects_when_the_name_goes(pytester: pytest.Pytester) -> None:
    extra = {
        "tests/test_patch.py": """
            from unittest import mock

            @mock.patch("calc.ops.RATE", 0.5)
            def test_patched():
                assert True
        """,
    }
    recorded(pytester, extra, EVERYTHING | nodes("tests/test_patch.py", "test_patched"))
    touch_edit(pytester, "calc/ops.py", "OTHER = 5", "OTHER = 5\nMORE = 1")
    selects(pytester, nodes("tests/test_patch.py", "test_patched"))


# A library resolves a dotted path that the project wrote in its
# configuration, in a Python string or in a data file, and reads the name
# with getattr in code the recorder does not watch; the module is already
# imported, so no import shows it. (source of the configuration, extra files)
CONFIGURED = {
    "a string after a scheme": (
        'cfg = {"version": 1, "loggers": {"calc.cfg": {"level": "ext://calc.ops.OTHER"}}}',
        {},
    ),
    "a JSON file": (
        'cfg = json.loads((Path(__file__).parent / "logging.json").read_text())',
        {"tests/logging.json": '{"version": 1, "loggers": {"calc.cfg": {"level": "ext://calc.ops.OTHER"}}}\n'},
    ),
    "an INI file": (
        'cfg = {"version": 1, "loggers": {"calc.cfg": {"level": ini()}}}',
        {"tests/levels.ini": "[calc.cfg]\nlevel = ext://calc.ops.OTHER\n"},
    ),
    "a YAML tag": (
        'cfg = {"version": 1, "loggers": {"calc.cfg": {"level": yaml.unsafe_load((Path(__file__).parent / "level.yaml").read_text())["level"]}}}',
        {"tests/level.yaml": "level: !!python/name:calc.ops.OTHER\n"},
    ),
}


@pytest.mark.parametrize("case", list(CONFIGURED))
def test_a_dotted_path_in_configuration_makes_the_module_whole(pytester: pytest.Pytester, case: str) -> None:
    source, files = CONFIGURED[case]
    if "yaml" in source:
        pytest.importorskip("yaml")
    extra = {
        **files,
        "tests/test_configured.py": f"""
            import configparser
            import json
            import logging.config
            from pathlib import Path

            import calc.ops

            try:
                import yaml
            except ImportError:
                yaml = None

            def ini():
                parser = configparser.ConfigParser()
                parser.read(Path(__file__).parent / "levels.ini")
                return parser["calc.cfg"]["level"]

            def test_level():
                {source}
                logging.config.dictConfig(cfg)
                assert logging.getLogger("calc.cfg").level == 5

            def test_other():
                assert calc.ops.plain(1) == 2
        """,
    }
    recorded(pytester, extra, EVERYTHING | nodes("tests/test_configured.py", "test_level", "test_other"))
    touch_edit(pytester, "calc/ops.py", "OTHER = 5", "OTHER = 6")
    result = diff(pytester)
    assert ran(result) == nodes("tests/test_configured.py", "test_level"), output(result)
    assert result.ret == 1, output(result)


@pytest.mark.parametrize("where", ["a string", "a JSON file"])
def test_a_non_ascii_module_named_in_configuration_makes_it_whole(pytester: pytest.Pytester, where: str) -> None:
    # Python identifiers may be non-ASCII (PEP 3131), module names too.
    level = '{"version": 1, "loggers": {"calc.cfg": {"level": "ext://calc.ñandú.OTHER"}}}'
    source = f"cfg = {level}" if where == "a string" else 'cfg = json.loads((Path(__file__).parent / "logging.json").read_text(encoding="utf-8"))'
    extra = {
        "calc/ñandú.py": "OTHER = 5\n",
        "tests/logging.json": level + "\n",
        "tests/test_configured.py": f"""
            import json
            import logging.config
            from pathlib import Path

            import calc.ñandú

            def test_level():
                {source}
                logging.config.dictConfig(cfg)
                assert logging.getLogger("calc.cfg").level == 5

            def test_other():
                assert calc.ñandú.__name__
        """,
    }
    recorded(pytester, extra, EVERYTHING | nodes("tests/test_configured.py", "test_level", "test_other"))
    touch_edit(pytester, "calc/ñandú.py", "OTHER = 5", "OTHER = 6")
    result = diff(pytester)
    assert ran(result) == nodes("tests/test_configured.py", "test_level"), output(result)
    assert result.ret == 1, output(result)


def test_a_module_a_plugin_imports_by_name_is_whole_for_every_test(
    pytester: pytest.Pytester, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # pytest-django's way: a plugin outside the project imports the module
    # named in the configuration and reads its settings with dir/getattr.
    lib = tmp_path / "lib"
    lib.mkdir()
    (lib / "byname_plugin.py").write_text(
        "import importlib\n"
        "SETTINGS = {}\n"
        "def pytest_addoption(parser):\n"
        "    parser.addini('settings_module', 'settings')\n"
        "def pytest_configure(config):\n"
        "    mod = importlib.import_module(config.getini('settings_module'))\n"
        "    SETTINGS.update((n, getattr(mod, n)) for n in dir(mod) if n.isupper())\n"
    )
    extra = {
        "calc/settings.py": 'APPS = ["a"]\nDEBUG = False\n',
        "pytest.ini": "[pytest]\naddopts = -p byname_plugin\nsettings_module = calc.settings\n",
        "tests/test_apps.py": """
            import byname_plugin

            def test_apps():
                assert byname_plugin.SETTINGS["APPS"]
        """,
    }
    monkeypatch.setenv("PYTHONPATH", f"{lib}{os.pathsep}{pytester.path}")
    recorded(pytester, extra, EVERYTHING | nodes("tests/test_apps.py", "test_apps"))
    touch_edit(pytester, "calc/settings.py", 'APPS = ["a"]', 'APPS = ["b"]')
    selects(pytester, EVERYTHING | nodes("tests/test_apps.py", "test_apps"))
    # A project module that project code imports stays precise.
    baseline(pytester)
    touch_edit(pytester, "calc/ops.py", "OTHER = 5", "OTHER = 5\nMORE = 1")
    selects(pytester, set())


def test_a_warning_filter_naming_a_project_warning_leaves_the_rest_of_the_package_precise(
    pytester: pytest.Pytester,
) -> None:
    # pytest imports calc.warns by name to resolve the filter's category,
    # before any plugin hook: calc/__init__.py and what it imports come
    # with it. Only the module the filter names is read by name.
    extra = {
        "calc/__init__.py": '__version__ = "1.0"\nfrom calc import ops, warns\n',
        "calc/warns.py": "class CalcWarning(UserWarning):\n    pass\n",
        "pytest.ini": "[pytest]\nfilterwarnings =\n    error::calc.warns.CalcWarning\n",
    }
    recorded(pytester, extra)
    touch_edit(pytester, "calc/ops.py", "RATE = 0.1", "RATE = 0.2")
    selects(pytester, nodes("tests/test_ops.py", "test_scaled"))
    baseline(pytester)
    touch_edit(pytester, "calc/warns.py", "    pass\n", "    pass\n\n\nLEVEL = 1\n")
    selects(pytester, EVERYTHING)


def test_import_of_a_literal_module_name_is_an_import(pytester: pytest.Pytester) -> None:
    # more-itertools' callback_iter: __import__("concurrent.futures") for a
    # lazy import. It reads no project module's names dynamically; one of
    # the project's, named by a literal, counts whole.
    extra = {
        "calc/lazy.py": """
            def dumps(x):
                return __import__("json").dumps(x)

            def table_size():
                return len(__import__("calc.table").table.TABLE)
        """,
        "tests/test_lazy.py": """
            from calc.lazy import dumps, table_size

            def test_dumps():
                assert dumps(1) == "1"

            def test_size():
                assert table_size() == 3
        """,
    }
    recorded(pytester, extra, EVERYTHING | nodes("tests/test_lazy.py", "test_dumps", "test_size"))
    touch_edit(pytester, "calc/lazy.py", "def dumps(x):", "def helper():\n    return 2\n\ndef dumps(x):")
    selects(pytester, set())
    touch_edit(pytester, "calc/table.py", "def size():", "UNUSED = 1\n\ndef size():")
    selects(pytester, nodes("tests/test_lazy.py", "test_size"))


CONSTS = {
    "calc/consts.py": "RATE = 0.1\nLIMIT = 3\n",
    "calc/use.py": """
        from calc.consts import LIMIT, RATE as FACTOR

        def scaled(x):
            return x * FACTOR

        def limit():
            return LIMIT
    """,
    "calc/reexport.py": "from calc.use import LIMIT\n",
    "calc/starred.py": "from calc.consts import *\n",
    "calc/via_star.py": "from calc.starred import RATE\n\ndef rate():\n    return RATE\n",
    "tests/test_use.py": """
        from calc.use import limit, scaled
        from calc import reexport, via_star

        def test_via_star():
            assert via_star.rate() == 0.1

        def test_scaled():
            assert scaled(10) == 1.0

        def test_limit():
            assert limit() == 3

        def test_reexported():
            assert reexport.LIMIT == 3
    """,
}
USE_TESTS = nodes("tests/test_use.py", "test_scaled", "test_limit", "test_reexported", "test_via_star")


def test_from_imported_constant_selects_the_readers_of_the_importers_name(pytester: pytest.Pytester) -> None:
    # "from calc.consts import RATE as FACTOR" binds calc.use's FACTOR to
    # the value of consts' RATE: the tests that read FACTOR depend on it,
    # not every test that imports calc.use; through re-exports and star
    # imports too.
    recorded(pytester, CONSTS, EVERYTHING | USE_TESTS)
    touch_edit(pytester, "calc/consts.py", "RATE = 0.1", "RATE = 0.2")
    fails(pytester, nodes("tests/test_use.py", "test_scaled", "test_via_star"))
    touch_edit(pytester, "calc/consts.py", "RATE = 0.2", "RATE = 0.1")
    touch_edit(pytester, "calc/consts.py", "LIMIT = 3", "LIMIT = 4")
    fails(pytester, nodes("tests/test_use.py", "test_limit", "test_reexported"))
    # Removing it makes the import fail: the importers are collected, and
    # their collection fails.
    touch_edit(pytester, "calc/consts.py", "LIMIT = 4\n", "")
    result = diff(pytester)
    assert result.ret == 2 and "cannot import name 'LIMIT'" in output(result), output(result)


def test_getattr_on_a_standard_module_and_an_exception_subclass_stay_precise(pytester: pytest.Pytester) -> None:
    # more-itertools: _sumprod = getattr(math, "sumprod", ...); attrs and
    # marshmallow subclass AttributeError and NameError. Neither reaches
    # the module's own names.
    ops = OPS + """
    import math

    _sumprod = getattr(math, "sumprod", None)

    class Frozen(AttributeError):
        pass
"""
    recorded(pytester, {"calc/ops.py": ops})
    touch_edit(pytester, "calc/ops.py", "RATE = 0.1", "RATE = 0.2")
    selects(pytester, nodes("tests/test_ops.py", "test_scaled"))


def test_getattr_with_a_literal_name_reads_that_name(pytester: pytest.Pytester) -> None:
    extra = {
        "tests/test_literal.py": """
            from calc import ops

            def test_literal():
                assert getattr(ops, "OTHER") > 0 and hasattr(ops, "scaled")
        """,
    }
    recorded(pytester, extra, EVERYTHING | nodes("tests/test_literal.py", "test_literal"))
    touch_edit(pytester, "calc/ops.py", "RATE = 0.1", "RATE = 0.2")
    selects(pytester, nodes("tests/test_ops.py", "test_scaled"))
    baseline(pytester)
    touch_edit(pytester, "calc/ops.py", "OTHER = 5", "OTHER = 6")
    selects(pytester, nodes("tests/test_literal.py", "test_literal"))


def test_hasattr_with_a_literal_name_sees_the_name_added(pytester: pytest.Pytester) -> None:
    # The name is missing when the baseline runs: hasattr and getattr with a
    # default answer without failing, and binding it later changes that.
    extra = {
        "tests/test_probe.py": """
            from calc import ops

            def test_hasattr():
                assert not hasattr(ops, "EXTRA")

            def test_getattr_default():
                assert getattr(ops, "LIMIT", None) is None
        """,
    }
    recorded(pytester, extra, EVERYTHING | nodes("tests/test_probe.py", "test_hasattr", "test_getattr_default"))
    touch_edit(pytester, "calc/ops.py", "OTHER = 5", "OTHER = 5\nEXTRA = 1")
    fails(pytester, nodes("tests/test_probe.py", "test_hasattr"))
    touch_edit(pytester, "calc/ops.py", "EXTRA = 1", "def LIMIT():\n    pass")
    fails(pytester, nodes("tests/test_probe.py", "test_getattr_default"))


def fails(pytester: pytest.Pytester, expected: set[str]) -> None:
    """The selected tests, which fail: the change is one they see."""
    result = diff(pytester)
    assert ran(result) == expected, output(result)
    assert result.ret == 1, output(result)


ACCOUNT = """
    class Account:
        fee = 1
        rate = 2

        def get(self, name):
            return getattr(self, name)
"""


def test_class_attribute_read_by_a_computed_name_selects_its_readers(pytester: pytest.Pytester) -> None:
    extra = {
        "calc/acct.py": ACCOUNT,
        "tests/test_acct.py": """
            from calc.acct import Account

            def test_fee():
                assert Account().get("f" + "ee") == 1

            def test_plain():
                assert Account
        """,
    }
    recorded(pytester, extra, EVERYTHING | nodes("tests/test_acct.py", "test_fee", "test_plain"))
    touch_edit(pytester, "calc/acct.py", "fee = 1", "fee = 3")
    fails(pytester, nodes("tests/test_acct.py", "test_fee"))


# Reading an object's attributes by a computed name (getattr(self, name),
# vars(obj), dir(cls)) reaches class attributes, not a module's names,
# unless some code hands the module over as a value.
SERIALIZER = """
    from calc import ops

    def get_value(obj, key):
        try:
            return obj[key]
        except (KeyError, TypeError, AttributeError):
            return getattr(obj, key, None)

    class Point:
        x = 1
        y = 2

        def fields(self):
            names = [n for n in dir(type(self)) if not n.startswith("_")]
            return {n: getattr(self, n) for n in names if not callable(getattr(self, n))}

    def dump(obj):
        return {k: get_value(obj, k) for k in ("x", "y")}

    def scaled_dump(obj):
        return ops.scaled(get_value(obj, "x"))
"""


def serializer_project(pytester: pytest.Pytester, test_source: str) -> set[str]:
    extra = {"calc/ser.py": SERIALIZER, "tests/test_ser.py": test_source}
    project(pytester, {**FILES, **extra})
    result = baseline(pytester)
    assert result.ret == 0, output(result)
    return ran(result)


SER_TESTS = """
    from calc.ser import Point, dump, get_value

    def test_dump():
        assert dump(Point()) == {"x": 1, "y": 2}

    def test_fields():
        assert Point().fields() == {"x": 1, "y": 2}

    def test_dict():
        assert get_value({"a": 1}, "a") == 1
"""
SER = nodes("tests/test_ser.py", "test_dump", "test_fields", "test_dict")


def test_getattr_on_objects_leaves_module_constants_to_their_readers(pytester: pytest.Pytester) -> None:
    # marshmallow's utils.get_value: computed getattr and a caught
    # AttributeError, on whatever object is being serialized.
    assert serializer_project(pytester, SER_TESTS) == EVERYTHING | SER
    touch_edit(pytester, "calc/ops.py", "RATE = 0.1", "RATE = 0.2")
    selects(pytester, nodes("tests/test_ops.py", "test_scaled"))


def test_getattr_on_objects_sees_class_attributes(pytester: pytest.Pytester) -> None:
    assert serializer_project(pytester, SER_TESTS) == EVERYTHING | SER
    touch_edit(pytester, "calc/ser.py", "y = 2", "y = 3")
    # test_dict ran get_value too: any class attribute of what it reaches.
    fails(pytester, SER)


def test_caught_attribute_error_sees_a_name_added_to_a_module(pytester: pytest.Pytester) -> None:
    source = """
        from calc import ops
        from calc.table import size

        def feature():
            try:
                return ops.EXTRA
            except AttributeError:
                return None

        def test_feature():
            assert feature() is None

        def test_other():
            assert True
    """
    assert serializer_project(pytester, source) == EVERYTHING | nodes("tests/test_ser.py", "test_feature", "test_other")
    touch_edit(pytester, "calc/ops.py", "OTHER = 5", "OTHER = 6")
    selects(pytester, set())
    # A module the test reaches but whose names its code never looks up
    # on the module: a new name there changes nothing for it.
    touch_edit(pytester, "calc/table.py", "TABLE = build()", "TABLE = build()\nNEW = 1")
    selects(pytester, set())
    touch_edit(pytester, "calc/ops.py", "def plain(x):", "def EXTRA():\n    pass\n\ndef plain(x):")
    fails(pytester, nodes("tests/test_ser.py", "test_feature"))


@pytest.mark.parametrize(
    "handover",
    [
        pytest.param("import calc.ops\n\ndef target():\n    return calc.ops\n", id="dotted-chain"),
        pytest.param("from calc import ops\n\ndef target():\n    return ops\n", id="bare-name"),
        pytest.param("from calc import reexported\n\ndef target():\n    return [reexported][0]\n", id="package-reexport"),
        pytest.param("import calc\n\ndef target():\n    return calc.reexported\n", id="chain-to-reexport"),
    ],
)
def test_a_module_handed_over_as_a_value_falls_back_to_the_whole_module(pytester: pytest.Pytester, handover: str) -> None:
    source = textwrap.indent(handover, " " * 8) + """
        from calc.ser import get_value

        def test_read():
            assert get_value(target(), "OT" + "HER") == 5

        def test_other():
            assert True
    """
    extra = {"calc/__init__.py": '__version__ = "1.0"\nfrom calc import ops as reexported\n'}
    project(pytester, {**FILES, **extra, "calc/ser.py": SERIALIZER, "tests/test_ser.py": source})
    result = baseline(pytester)
    assert result.ret == 0, output(result)
    touch_edit(pytester, "calc/ops.py", "OTHER = 5", "OTHER = 6")
    result = diff(pytester)
    assert nodes("tests/test_ser.py", "test_read") <= ran(result), output(result)
    assert result.ret == 1, output(result)


def test_package_getattr_answers_only_names_it_does_not_bind(pytester: pytest.Pytester) -> None:
    # marshmallow and attrs define a module __getattr__ in __init__.py. It
    # answers only names the package does not bind: the names it binds
    # keep their readers, a name it answers is looked up by name. (Used as
    # a value, calc.legacy might be a module __getattr__ returns, handed
    # over: whole-module, like any module handed over.)
    package = """
        __version__ = "1.0"

        def __getattr__(name):
            if name == "legacy":
                return "old"
            raise AttributeError(name)
    """
    extra = {
        "calc/__init__.py": package,
        "tests/test_legacy.py": """
            import calc

            def test_legacy():
                assert calc.legacy.upper() == "OLD"
        """,
    }
    recorded(pytester, extra, EVERYTHING | nodes("tests/test_legacy.py", "test_legacy"))
    touch_edit(pytester, "calc/ops.py", "RATE = 0.1", "RATE = 0.2")
    selects(pytester, nodes("tests/test_ops.py", "test_scaled"))
    touch_edit(pytester, "calc/__init__.py", '"1.0"', '"1.1"')
    selects(pytester, nodes("tests/test_ops.py", "test_scaled") | nodes("tests/test_version.py", "test_version"))
    baseline(pytester)
    # The answer changes: the test that asked ran __getattr__. So may have
    # the collection of the other test module that holds calc: pytest 9
    # asks the modules a test module holds for attributes such as
    # __test__, pytest 8 does not. Either way, who ran it is selected.
    touch_edit(pytester, "calc/__init__.py", 'return "old"', 'return "older"')
    result = diff(pytester)
    legacy = nodes("tests/test_legacy.py", "test_legacy")
    assert legacy <= ran(result) <= legacy | nodes("tests/test_version.py", "test_version", "test_nothing"), output(result)
    assert result.ret == 1, output(result)
    touch_edit(pytester, "calc/__init__.py", 'return "older"', 'return "old"')
    # A binding of the name now shadows __getattr__'s answer.
    touch_edit(pytester, "calc/__init__.py", '__version__ = "1.1"', '__version__ = "1.1"\nlegacy = "new"')
    fails(pytester, nodes("tests/test_legacy.py", "test_legacy"))


def test_caught_name_error_sees_the_global_added(pytester: pytest.Pytester) -> None:
    extra = {
        "calc/flags.py": """
            def flag():
                try:
                    return HIDDEN
                except NameError:
                    return None
        """,
        "tests/test_flags.py": """
            from calc.flags import flag

            def test_flag():
                assert flag() is None
        """,
    }
    recorded(pytester, extra, EVERYTHING | nodes("tests/test_flags.py", "test_flag"))
    touch_edit(pytester, "calc/flags.py", "def flag():", "HIDDEN = 1\n\ndef flag():")
    fails(pytester, nodes("tests/test_flags.py", "test_flag"))


@pytest.mark.parametrize("handler", ["except Exception:", "except:", "except (KeyError, BaseException):"])
def test_broad_except_sees_a_name_added_to_a_module(pytester: pytest.Pytester, handler: str) -> None:
    # except Exception hides a missing attribute as AttributeError does.
    source = f"""
        from calc import ops

        def feature():
            try:
                return ops.EXTRA
            {handler}
                return None

        def test_feature():
            assert feature() is None
    """
    recorded(pytester, {"tests/test_feature.py": source}, EVERYTHING | nodes("tests/test_feature.py", "test_feature"))
    touch_edit(pytester, "calc/ops.py", "OTHER = 5", "OTHER = 5\nEXTRA = 1")
    fails(pytester, nodes("tests/test_feature.py", "test_feature"))


@pytest.mark.parametrize(
    "expectation",
    [
        pytest.param(
            "from calc import ops\n\ndef test_feature():\n    with pytest.raises(AttributeError):\n        ops.EXTRA()\n",
            id="pytest.raises",
        ),
        pytest.param(
            "import calc.ops\n\ndef test_feature():\n    with pytest.raises(AttributeError):\n        calc.ops.EXTRA()\n",
            id="pytest.raises-dotted-chain",
        ),
        pytest.param(
            "from calc import ops\n\n@pytest.mark.xfail(raises=AttributeError, strict=True)\n"
            "def test_feature():\n    ops.EXTRA()\n",
            id="xfail",
        ),
        pytest.param(
            "from calc import flags\n\ndef test_feature():\n    with pytest.raises(NameError):\n        flags.flag()\n",
            id="name-error-in-a-function-it-ran",
        ),
    ],
)
def test_expected_lookup_error_sees_the_name_added(pytester: pytest.Pytester, expectation: str) -> None:
    # No try in the project's code: pytest expects the error. The name the
    # code looked up is a dependency, bound or not.
    source = "import pytest\n\n" + expectation
    extra = {"calc/flags.py": "def flag():\n    return EXTRA\n", "tests/test_feature.py": source}
    recorded(pytester, extra, EVERYTHING | nodes("tests/test_feature.py", "test_feature"))
    touch_edit(pytester, "calc/ops.py", "OTHER = 5", "OTHER = 6")
    selects(pytester, set())
    touch_edit(pytester, "calc/ops.py", "def plain(x):", "def EXTRA():\n    pass\n\ndef plain(x):")
    touch_edit(pytester, "calc/flags.py", "def flag():", "def EXTRA():\n    pass\n\ndef flag():")
    fails(pytester, nodes("tests/test_feature.py", "test_feature"))


def test_catch_selects_nothing_for_a_name_its_code_does_not_look_up(pytester: pytest.Pytester) -> None:
    # The catching code ran a function of calc/table.py: a name added there
    # that no code it ran looks up changes nothing for it.
    source = """
        from calc import ops
        from calc.table import size

        def feature():
            try:
                return ops.EXTRA
            except AttributeError:
                return size()

        def test_feature():
            assert feature() == 3
    """
    recorded(pytester, {"tests/test_feature.py": source}, EVERYTHING | nodes("tests/test_feature.py", "test_feature"))
    touch_edit(pytester, "calc/table.py", "TABLE = build()", "TABLE = build()\nNEW = 1")
    selects(pytester, set())
    touch_edit(pytester, "calc/table.py", "def size():", "def helper():\n    return 1\n\ndef size():")
    selects(pytester, set())
    touch_edit(pytester, "calc/ops.py", "OTHER = 5", "OTHER = 5\nEXTRA = 1")
    fails(pytester, nodes("tests/test_feature.py", "test_feature"))


def test_caught_attribute_error_at_import_time(pytester: pytest.Pytester) -> None:
    extra = {
        "calc/feature.py": """
            from calc import ops

            try:
                FEATURE = ops.FEATURE
            except AttributeError:
                FEATURE = None
        """,
        "tests/test_feature.py": """
            from calc.feature import FEATURE
            from calc.table import size

            def test_feature():
                assert FEATURE is None
        """,
    }
    recorded(pytester, extra, EVERYTHING | nodes("tests/test_feature.py", "test_feature"))
    touch_edit(pytester, "calc/table.py", "TABLE = build()", "TABLE = build()\nNEW = 1")
    selects(pytester, set())
    touch_edit(pytester, "calc/ops.py", "OTHER = 5", "OTHER = 5\nFEATURE = 1")
    fails(pytester, nodes("tests/test_feature.py", "test_feature"))


STAR_ALL = {
    "calc/__init__.py": '__version__ = "1.0"\nfrom calc.ops import *\n',
    "tests/test_allstar.py": """
        import calc

        def test_scaled():
            assert calc.scaled(10) > 0

        def test_plain():
            assert calc.plain(1) == 2

        def test_version():
            assert calc.__version__
    """,
}
STAR_ALL_TESTS = nodes("tests/test_allstar.py", "test_scaled", "test_plain", "test_version")


def test_all_entry_added_to_a_star_imported_module_selects_nothing(pytester: pytest.Pytester) -> None:
    recorded(pytester, STAR_ALL, EVERYTHING | STAR_ALL_TESTS)
    touch_edit(pytester, "calc/ops.py", '"plain"]', '"plain", "OTHER"]')
    selects(pytester, set())


def test_all_entry_removed_selects_its_users_through_the_star_import(pytester: pytest.Pytester) -> None:
    recorded(pytester, STAR_ALL, EVERYTHING | STAR_ALL_TESTS)
    touch_edit(pytester, "calc/ops.py", '["scaled", "plain"]', '["scaled"]')
    fails(pytester, nodes("tests/test_allstar.py", "test_plain"))


def test_all_entry_added_shadowing_a_name_selects_its_readers(pytester: pytest.Pytester) -> None:
    # calc/__init__.py binds BASE before the star import: exporting a BASE
    # from ops replaces it.
    star = {**STAR_ALL, "calc/__init__.py": '__version__ = "1.0"\nBASE = 1\nfrom calc.ops import *\n',
            "tests/test_allstar.py": STAR_ALL["tests/test_allstar.py"] + "\n        def test_base():\n            assert calc.BASE == 1\n"}
    recorded(pytester, star, EVERYTHING | STAR_ALL_TESTS | nodes("tests/test_allstar.py", "test_base"))
    touch_edit(pytester, "calc/ops.py", '"plain"]', '"plain", "BASE"]\nBASE = 2')
    fails(pytester, nodes("tests/test_allstar.py", "test_base"))


def test_star_import_chain_follows_names_through_each_importer(pytester: pytest.Pytester) -> None:
    # calc/__init__ star-imports calc/api, which star-imports calc/ops:
    # calc.plain comes from ops through both.
    chain = {
        "calc/__init__.py": '__version__ = "1.0"\nfrom calc.api import *\n',
        "calc/api.py": "from calc.ops import *\n",
        "tests/test_chain.py": """
            import calc
            from calc.api import scaled

            def test_plain():
                assert calc.plain(1) == 2

            def test_scaled():
                assert scaled(10) > 0
        """,
    }
    recorded(pytester, chain, EVERYTHING | nodes("tests/test_chain.py", "test_plain", "test_scaled"))
    touch_edit(pytester, "calc/ops.py", '["scaled", "plain"]', '["scaled"]')
    fails(pytester, nodes("tests/test_chain.py", "test_plain"))
    # The test file's from-import reaches ops through api: the file is
    # collected again, and no longer imports.
    touch_edit(pytester, "calc/ops.py", '["scaled"]', '["plain"]')
    result = diff(pytester)
    assert "cannot import name 'scaled' from 'calc.api'" in output(result), output(result)
    assert result.ret != 0, output(result)


def test_all_entry_renamed_to_a_missing_name_selects_every_star_importer(pytester: pytest.Pytester) -> None:
    # "from calc.ops import *" fails when __all__ names what ops lacks: every
    # test that imports the calc package fails to import, whatever it reads
    # (the harness's more-itertools all-rename mutant).
    recorded(pytester, STAR_ALL, EVERYTHING | STAR_ALL_TESTS)
    touch_edit(pytester, "calc/ops.py", '"plain"]', '"plane"]')
    result = diff(pytester)
    assert "has no attribute 'plane'" in output(result), output(result)
    assert "0 selected" not in output(result), output(result)
    assert result.ret != 0, output(result)
    # Nothing deselected: the files that cannot import are collected and
    # error, the others run.
    assert " 0 deselected" in output(result), output(result)


# A value computed at module level from a name another module gives: the
# tests that read the result must see a change to the source. "exact"
# cases follow the value by name (only test_value runs); the others count
# the statement as one with effects (every importer of calc.derived runs).
VALUE_FLOWS = {
    "assignment": ("from calc.consts import RATE\nT = (RATE,)\n\ndef value():\n    return T[0]\n", True),
    "chain of assignments": ("from calc.consts import RATE\nA = RATE\nB = A\n\ndef value():\n    return B\n", True),
    "condition": (
        "from calc.consts import RATE\nif RATE == 0.1:\n    U = 0.1\nelse:\n    U = 0.0\n\ndef value():\n    return U\n",
        True,
    ),
    "re-exported through a star import": ("from calc.mid import *\n\ndef value():\n    return T[0]\n", True),
    "star-imported name": ("from calc.consts import *\nT = (RATE,)\n\ndef value():\n    return T[0]\n", False),
    "condition on a module attribute": (
        "from calc import consts\nif consts.RATE == 0.1:\n    U = 0.1\nelse:\n    U = 0.0\n\ndef value():\n    return U\n",
        False,
    ),
    "condition in a class body": (
        "import calc.consts as c\n\nclass K:\n    if c.RATE == 0.1:\n        fee = 0.1\n    else:\n        fee = 0.0\n\n"
        "def value():\n    return K.fee\n",
        False,
    ),
    "class attribute": (
        "from calc.consts import RATE as R\n\nclass C:\n    fee = (R,)\n\n    def get(self):\n        return self.fee[0]\n\n"
        "def value():\n    return C().get()\n",
        False,
    ),
}


@pytest.mark.parametrize("case", list(VALUE_FLOWS))
def test_a_value_computed_from_an_imported_name_follows_its_source(pytester: pytest.Pytester, case: str) -> None:
    source, exact = VALUE_FLOWS[case]
    extra = {
        "calc/consts.py": "RATE = 0.1\n",
        "calc/mid.py": "from calc.consts import RATE\nT = (RATE,)\n",
        "calc/derived.py": source,
        "tests/test_derived.py": """
            from calc.derived import value

            def test_value():
                assert value() == 0.1

            def test_other():
                assert True
        """,
    }
    recorded(pytester, extra, EVERYTHING | nodes("tests/test_derived.py", "test_value", "test_other"))
    touch_edit(pytester, "calc/consts.py", "RATE = 0.1", "RATE = 0.2")
    result = diff(pytester)
    expected = nodes("tests/test_derived.py", "test_value")
    if not exact:
        expected |= nodes("tests/test_derived.py", "test_other")
    assert ran(result) == expected, output(result)
    assert result.ret == 1, output(result)


TYPED = {
    "calc/typed.py": """
        from __future__ import annotations

        import sys
        from typing import TYPE_CHECKING

        if TYPE_CHECKING:
            from calc.ops import scaled

        if sys.version_info >= (3, 0):
            LIMIT = 3
        else:
            LIMIT = 2

        def limit() -> int:
            return LIMIT

        def other(f: scaled) -> int:
            return 1
    """,
    "tests/test_typed.py": """
        from calc.typed import limit, other

        def test_limit():
            assert limit() == 3

        def test_other():
            assert other(None) == 1
    """,
}


def test_imports_only_a_type_checker_runs_select_nothing(pytester: pytest.Pytester) -> None:
    # "if TYPE_CHECKING:" never runs: a project import added there (or an
    # unresolvable one) changes nothing at run time. A condition on the
    # Python version binds names like an assignment: its readers run.
    recorded(pytester, TYPED, EVERYTHING | nodes("tests/test_typed.py", "test_limit", "test_other"))
    touch_edit(
        pytester,
        "calc/typed.py",
        "    from calc.ops import scaled\n",
        "    from calc.ops import scaled\n    from calc.table import TABLE\n    import not_installed\n",
    )
    selects(pytester, set())
    touch_edit(pytester, "calc/typed.py", "    LIMIT = 3", "    LIMIT = 4")
    fails(pytester, nodes("tests/test_typed.py", "test_limit"))
