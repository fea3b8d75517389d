"""pytest-xdist (SPEC 6): with -n N both modes select the same tests and leave
the same records as a serial run; the controller selects once and records
what workers report; a crashed worker loses nothing already recorded."""

from __future__ import annotations

import shutil

import pytest

from conftest import baseline, dependencies, diff, nodes, output, project, ran, recorded, summary_line, touch_edit

pytest.importorskip("xdist")

PROJECT = {
    "shop/__init__.py": "",
    "shop/prices.py": """
        TAX = 20

        def gross(net):
            return net + net * TAX // 100

        def discount(price, pct):
            return price - price * pct // 100
    """,
    "shop/cart.py": """
        from shop.prices import gross

        class Cart:
            currency = "EUR"

            def __init__(self):
                self.items = []

            def add(self, net):
                self.items.append(gross(net))

            def total(self):
                return sum(self.items)
    """,
    "conftest.py": """
        import pytest
        from shop.cart import Cart

        @pytest.fixture(scope="session")
        def filled():
            cart = Cart()
            cart.add(100)
            return cart
    """,
    "test_prices.py": """
        from shop.prices import gross, discount

        def test_gross():
            assert gross(100) == 120

        def test_discount():
            assert discount(100, 10) == 90

        def test_plain():
            assert 1 + 1 == 2
    """,
    "test_cart.py": """
        from shop.cart import Cart

        def test_empty():
            assert Cart().total() == 0

        def test_add():
            c = Cart()
            c.add(10)
            assert c.total() == 12

        def test_session_fixture(filled):
            assert filled.total() == 120

        def test_session_fixture_again(filled):
            assert filled.items == [120]
    """,
    "test_misc.py": """
        import pytest

        @pytest.mark.parametrize("n", range(6))
        def test_param(n):
            assert n >= 0

        class TestGroup:
            def test_a(self):
                assert True

            def test_b(self, filled):
                assert filled.currency == "EUR"
    """,
}

ALL = (
    nodes("test_prices.py", "test_gross", "test_discount", "test_plain")
    | nodes("test_cart.py", "test_empty", "test_add", "test_session_fixture", "test_session_fixture_again")
    | {f"test_misc.py::test_param[{i}]" for i in range(6)}
    | nodes("test_misc.py", "TestGroup::test_a", "TestGroup::test_b")
)


def fresh_db(pytester: pytest.Pytester) -> None:
    shutil.rmtree(pytester.path / ".pytest_cache", ignore_errors=True)


# On Python 3.12+ the recorder sees every thread (sys.monitoring): when a
# worker's execnet I/O thread runs while a test does, the test also depends
# on pytest-xdist and execnet. An extra dependency (an upgrade of either
# selects it); a serial run has neither.
XDIST_DISTS = {"dist:execnet", "dist:pytest-xdist"}


def without_xdist(records: dict) -> dict:  # type: ignore[type-arg]
    return {
        test: (outcome, frozenset(d for d in deps if d[1] not in XDIST_DISTS))
        for test, (outcome, deps) in records.items()
    }


@pytest.mark.parametrize("workers", ["2", "4"])
def test_parallel_records_and_selects_like_serial(pytester: pytest.Pytester, workers: str) -> None:
    project(pytester, PROJECT)
    serial = baseline(pytester)
    assert serial.ret == 0, output(serial)
    assert ran(serial) == ALL
    serial_records = without_xdist(dependencies(pytester))
    assert set(serial_records) == ALL

    fresh_db(pytester)
    parallel = baseline(pytester, "-n", workers)
    assert parallel.ret == 0, output(parallel)
    assert ran(parallel) == ALL
    assert without_xdist(dependencies(pytester)) == serial_records

    # The same edits select the same tests either way.
    touch_edit(pytester, "shop/cart.py", "return sum(self.items)", "return sum(self.items, 0)")
    # test_session_fixture_again uses the fixture but never calls total().
    want = nodes("test_cart.py", "test_empty", "test_add", "test_session_fixture")
    assert ran(diff(pytester)) == want
    result = diff(pytester, "-n", workers)
    assert result.ret == 0, output(result)
    assert ran(result) == want
    # What the session fixture ran (Cart.add, gross) is charged to every
    # user of the fixture, whichever worker set it up.
    touch_edit(pytester, "shop/prices.py", "return net + net * TAX // 100", "return net + (net * TAX) // 100")
    want |= nodes("test_prices.py", "test_gross") | nodes("test_cart.py", "test_session_fixture_again")
    want |= nodes("test_misc.py", "TestGroup::test_b")
    assert ran(diff(pytester)) == want
    assert ran(diff(pytester, "-n", workers)) == want


@pytest.mark.parametrize("dist", ["load", "loadscope", "loadfile", "worksteal"])
def test_every_distribution_mode(pytester: pytest.Pytester, dist: str) -> None:
    project(pytester, PROJECT)
    first = baseline(pytester, "-n", "2", "--dist", dist)
    assert first.ret == 0, output(first)
    assert ran(first) == ALL
    assert set(recorded(pytester)) == ALL
    touch_edit(pytester, "shop/prices.py", "return net + net * TAX // 100", "return net + (net * TAX) // 100")
    want = nodes("test_prices.py", "test_gross") | nodes(
        "test_cart.py", "test_add", "test_session_fixture", "test_session_fixture_again"
    ) | nodes("test_misc.py", "TestGroup::test_b")
    assert ran(diff(pytester, "-n", "2", "--dist", dist)) == want
    second = baseline(pytester, "-n", "2", "--dist", dist)
    assert ran(second) == want
    assert ran(diff(pytester, "-n", "2", "--dist", dist)) == set()


def test_nothing_selected_exits_0_with_summary_on_controller(pytester: pytest.Pytester) -> None:
    project(pytester, PROJECT)
    assert baseline(pytester, "-n", "2").ret == 0
    result = diff(pytester, "-n", "2")
    assert result.ret == 0, output(result)
    assert ran(result) == set()
    line = summary_line(result)
    assert "0 selected" in line and f"{len(ALL)} deselected" in line, line

    touch_edit(pytester, "test_prices.py", "assert 1 + 1 == 2", "assert 2 + 2 == 4")
    result = diff(pytester, "-n", "2")
    assert ran(result) == nodes("test_prices.py", "test_plain")
    line = summary_line(result)
    assert "1 selected" in line and f"{len(ALL) - 1} deselected" in line, line


def test_five_hundred_tests_on_four_workers_lose_no_record(pytester: pytest.Pytester) -> None:
    project(
        pytester,
        {
            "mod.py": "def double(n):\n    return 2 * n\n",
            **{
                f"test_many_{i}.py": f"""
                    import pytest
                    from mod import double

                    @pytest.mark.parametrize("n", range(100))
                    def test_double(n):
                        assert double(n) == n + n
                """
                for i in range(5)
            },
        },
    )
    result = baseline(pytester, "-n", "4", "--diff-batch-size", "7")
    assert result.ret == 0, output(result)
    want = {f"test_many_{i}.py::test_double[{n}]" for i in range(5) for n in range(100)}
    assert ran(result) == want
    assert set(recorded(pytester)) == want
    result = diff(pytester, "-n", "4")
    assert result.ret == 0, output(result)
    assert ran(result) == set()


def test_killed_worker_leaves_a_consistent_database(pytester: pytest.Pytester) -> None:
    project(
        pytester,
        {
            "test_crash.py": """
                import os

                def test_before():
                    assert True

                def test_crash():
                    if os.environ.get("CRASH") == "1":
                        os._exit(3)

                def test_after():
                    assert True
            """,
        },
    )
    pytester._monkeypatch.setenv("CRASH", "1")  # type: ignore[attr-defined]
    first = baseline(pytester, "-n", "2", "-p", "no:randomly")
    assert first.ret == 1, output(first)
    # The crashed test has no record; the others were recorded.
    assert set(recorded(pytester)) == nodes("test_crash.py", "test_before", "test_after")
    pytester._monkeypatch.setenv("CRASH", "0")  # type: ignore[attr-defined]
    result = diff(pytester, "-n", "2")
    assert result.ret == 0, output(result)
    assert ran(result) == nodes("test_crash.py", "test_crash")
    # Recorded once it passes; then nothing is left to run.
    assert ran(baseline(pytester, "-n", "2")) == nodes("test_crash.py", "test_crash")
    assert ran(diff(pytester, "-n", "2")) == set()
