"""--diff-shard K/N (SPEC 6.3), end to end: a baseline of tests that sleep
different amounts gives known durations; after an edit, N shard runs
together run exactly the unsharded selection, each test once, split the
way the longest-first rule splits those durations."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import assert_usage_error, db_file, output, project, ran, run, summary_line, touch_edit, write

CLI = Path(sys.executable).with_name("pytest-difftest")

# Eight tests of `scale` with distinct sleeps, four of `shift` (never
# affected by the edit below), and after the edit a new test file whose
# tests have no recorded duration.
SLEEPS = [0.3, 0.25, 0.2, 0.15, 0.12, 0.1, 0.07, 0.05]
FILES = {
    "calc.py": """
        def scale(x):
            return x * 2


        def shift(x):
            return x + 1
        """,
    "test_slow.py": "import time\nfrom calc import scale\n\n"
    + "".join(f"\ndef test_s{i}():\n    time.sleep({d})\n    assert scale(1) == 2\n\n" for i, d in enumerate(SLEEPS)),
    "test_fast.py": "from calc import shift\n\n"
    + "".join(f"\ndef test_f{i}():\n    assert shift({i}) == {i + 1}\n\n" for i in range(4)),
}
NEW = {"test_new.py": "".join(f"\ndef test_n{i}():\n    pass\n\n" for i in range(3))}
SELECTED = {f"test_slow.py::test_s{i}" for i in range(len(SLEEPS))} | {f"test_new.py::test_n{i}" for i in range(3)}


def lpt(durations: dict[str, float], unknown: list[str], n: int) -> list[set[str]]:
    """The reference split, written out plainly: longest first to the
    least-loaded shard (lowest on ties), then round-robin for the rest."""
    shards: list[set[str]] = [set() for _ in range(n)]
    loads = [0.0] * n
    for nodeid in sorted(durations, key=lambda k: (-durations[k], k)):
        i = min(range(n), key=lambda j: (loads[j], j))
        shards[i].add(nodeid)
        loads[i] += durations[nodeid]
    for j, nodeid in enumerate(sorted(unknown)):
        shards[j % n].add(nodeid)
    return shards


def recorded_durations(pytester: pytest.Pytester) -> dict[str, float]:
    con = sqlite3.connect(db_file(pytester))
    try:
        return {k: us / 1e6 for k, us in con.execute("SELECT nodeid, duration_us FROM tests")}
    finally:
        con.close()


@pytest.fixture
def edited(pytester: pytest.Pytester) -> dict[str, float]:
    """A recorded project, then an edit that affects the eight slow tests and
    a new test file; returns the durations of the affected tests."""
    project(pytester, {**FILES, "pytest.ini": "[pytest]\npythonpath = .\n"})
    result = run(pytester, "--diff-baseline")
    assert result.ret == 0, output(result)
    durations = {k: v for k, v in recorded_durations(pytester).items() if k.startswith("test_slow.py")}
    assert len(durations) == len(SLEEPS)
    touch_edit(pytester, "calc.py", "x * 2", "2 * x")
    write(pytester, NEW)
    result = run(pytester, "--diff")
    assert ran(result) == SELECTED, output(result)
    return durations


def check_shards(pytester: pytest.Pytester, durations: dict[str, float], n: int, *args: str) -> None:
    expected = lpt(durations, sorted(SELECTED - set(durations)), n)
    seen: list[str] = []
    for k in range(1, n + 1):
        result = run(pytester, "--diff", f"--diff-shard={k}/{n}", *args)
        assert result.ret == 0, output(result)
        got = ran(result)
        assert got == expected[k - 1], (k, output(result))
        line = summary_line(result)
        assert f"difftest: shard {k}/{n}: {len(got)} of {len(SELECTED)} selected, 4 deselected," in line, line
        seen += sorted(got)
    assert sorted(seen) == sorted(SELECTED)  # the union, each test once
    # Balance: the busiest shard is within one test's duration of the idlest.
    loads = [sum(durations.get(t, 0.0) for t in part) for part in expected]
    assert max(loads) - min(loads) <= max(durations.values())


@pytest.mark.parametrize("n", [2, 4])
def test_shards_partition_the_selection(pytester: pytest.Pytester, edited: dict[str, float], n: int) -> None:
    check_shards(pytester, edited, n)


def test_shards_with_xdist(pytester: pytest.Pytester, edited: dict[str, float]) -> None:
    """-n 2 inside each shard: the workers split the same way as the
    controller's selection says."""
    check_shards(pytester, edited, 3, "-n", "2")


@pytest.mark.parametrize("value", ["5/4", "0/4", "x", "1/0", "2/"])
def test_bad_shard_is_a_usage_error(pytester: pytest.Pytester, value: str) -> None:
    project(pytester, {"test_a.py": "def test_a():\n    pass\n"})
    result = run(pytester, "--diff", f"--diff-shard={value}")
    assert_usage_error(result, "--diff-shard", repr(value))


def test_shard_needs_a_mode(pytester: pytest.Pytester) -> None:
    project(pytester, {"test_a.py": "def test_a():\n    pass\n"})
    assert_usage_error(run(pytester, "--diff-shard=1/2"), "--diff-shard")


def test_no_baseline_shards_everything(pytester: pytest.Pytester) -> None:
    """No durations yet: every test is dealt round-robin, each once."""
    project(pytester, {"test_a.py": "".join(f"\ndef test_{i}():\n    pass\n" for i in range(5))})
    everything = {f"test_a.py::test_{i}" for i in range(5)}
    results = [run(pytester, "--diff", f"--diff-shard={k}/2") for k in (1, 2)]
    assert [ran(r) for r in results] == lpt({}, sorted(everything), 2)
    assert "difftest: shard 1/2: no baseline yet: ran 3 of all 5 tests," in summary_line(results[0])
    assert "difftest: shard 2/2: no baseline yet: ran 2 of all 5 tests," in summary_line(results[1])


def test_pytest_split_beside_it(pytester: pytest.Pytester, edited: dict[str, float]) -> None:
    """pytest-split splits what the selection and the shard left."""
    pytest.importorskip("pytest_split")
    mine = lpt(edited, sorted(SELECTED - set(edited)), 2)[0]
    groups = []
    for g in (1, 2):
        result = run(pytester, "--diff", "--diff-shard=1/2", "--splits=2", f"--group={g}")
        assert result.ret == 0, output(result)
        groups.append(ran(result))
    assert not groups[0] & groups[1]
    assert groups[0] | groups[1] == mine
    # And alone, after the selection, as before.
    groups = [ran(run(pytester, "--diff", "--splits=2", f"--group={g}")) for g in (1, 2)]
    assert not groups[0] & groups[1]
    assert groups[0] | groups[1] == SELECTED


def test_each_shard_records_and_merge_combines(pytester: pytest.Pytester, edited: dict[str, float]) -> None:
    """Each shard records its own copy of the baseline (as on its own CI
    machine); the merge of the copies selects nothing afterwards, and an
    edit afterwards selects exactly its tests."""
    db = db_file(pytester)
    start = pytester.path / "start.db"
    shutil.copy(db, start)
    copies = []
    for k in (1, 2, 3):
        shutil.copy(start, db)
        result = run(pytester, "--diff-baseline", f"--diff-shard={k}/3")
        assert result.ret == 0, output(result)
        copies.append(pytester.path / f"shard{k}.db")
        shutil.copy(db, copies[-1])
    merged = pytester.path / "merged.db"
    p = subprocess.run([str(CLI), "merge", str(merged), *map(str, copies)], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    shutil.copy(merged, db)
    result = run(pytester, "--diff", "--diff-v")
    assert ran(result) == set(), output(result)
    # test_slow.py's tests all have records (each shard ran some, and kept
    # the others' old ones), so it is not even collected; test_new.py's
    # three new tests each have a record in one shard only: collected until
    # the next recording run.
    assert "2 test files not collected" in output(result), output(result)
    touch_edit(pytester, "calc.py", "x + 1", "1 + x")
    result = run(pytester, "--diff")
    assert ran(result) == {f"test_fast.py::test_f{i}" for i in range(4)}, output(result)
