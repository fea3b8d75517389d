"""Options, ini keys and usage errors (SPEC 1.2, 1.3, 2)."""

from __future__ import annotations

import pytest

from conftest import (
    assert_usage_error,
    baseline,
    db_file,
    nodes,
    output,
    project,
    ran,
    recorded,
    run,
)

SIMPLE = {
    "calc.py": "def add(a, b):\n    return a + b\n",
    "test_calc.py": (
        "import calc\n\n\ndef test_one():\n    assert calc.add(1, 1) == 2\n\n\n"
        "def test_two():\n    assert calc.add(2, 2) == 4\n"
    ),
}
SIMPLE_TESTS = nodes("test_calc.py", "test_one", "test_two")


def test_plugin_is_inert_without_options(pytester: pytest.Pytester) -> None:
    project(pytester, SIMPLE)
    result = run(pytester)
    assert result.ret == 0, output(result)
    assert ran(result) == SIMPLE_TESTS
    assert not (pytester.path / ".pytest_cache" / "pytest-difftest").exists()
    assert "difftest:" not in output(result)


def test_no_diff_disables_the_plugin(pytester: pytest.Pytester) -> None:
    project(pytester, SIMPLE)
    result = run(pytester, "-p", "no:diff", "--diff")
    assert result.ret == pytest.ExitCode.USAGE_ERROR, output(result)
    assert "unrecognized arguments: --diff" in output(result)
    assert not (pytester.path / ".pytest_cache" / "pytest-difftest").exists()


@pytest.mark.parametrize(
    ("args", "mention"),
    [
        (["--diff-force"], "--diff-force"),
        (["--diff", "--diff-force"], "--diff-force"),
        (["--diff-baseline", "--diff-batch-size", "0"], "batch"),
        (["--diff-baseline", "--diff-batch-size=-1"], "batch"),
        (["--diff-baseline", "--diff-batch-size", "abc"], "batch"),
        (["--diff", "--diff-cache-size", "0"], "cache"),
        (["--diff", "--diff-cache-size=-1"], "cache"),
        (["--diff", "--diff-cache-size", "abc"], "cache"),
        (["--diff-batch-size", "5"], "--diff"),
        (["--diff-cache-size", "5"], "--diff"),
    ],
    ids=lambda v: " ".join(v) if isinstance(v, list) else None,
)
def test_usage_errors(pytester: pytest.Pytester, args: list[str], mention: str) -> None:
    project(pytester, SIMPLE)
    result = run(pytester, *args)
    assert_usage_error(result, mention)
    assert ran(result) == set()
    assert not db_file(pytester).exists()


@pytest.mark.parametrize(
    "args",
    [
        ["--diff", "--diff-remote", "s3://bucket/prefix/"],
        ["--diff", "--diff-remote", "ftp://host/key.db"],
        ["--diff-baseline", "--diff-remote", "file:///tmp/dir/"],
    ],
    ids=" ".join,
)
def test_invalid_remote_url_is_a_usage_error(pytester: pytest.Pytester, args: list[str]) -> None:
    project(pytester, SIMPLE)
    result = run(pytester, *args)
    assert_usage_error(result, args[-1])
    assert ran(result) == set()


@pytest.mark.parametrize(
    ("ini_file", "section"),
    [
        ("pyproject.toml", "[tool.pytest.ini_options]"),
        ("pytest.ini", "[pytest]"),
        ("tox.ini", "[pytest]"),
    ],
)
@pytest.mark.parametrize("key", ["diff_batch_size", "diff_cache_size"])
def test_ini_value_applies_and_command_line_overrides_it(
    pytester: pytest.Pytester, ini_file: str, section: str, key: str
) -> None:
    project(pytester, {**SIMPLE, ini_file: f'{section}\n{key} = "0"\n'}, ini=False)
    # The invalid ini value is read: a usage error naming the ini key.
    result = baseline(pytester)
    assert_usage_error(result, key)
    # The command line wins over the ini file.
    flag = "--" + key.replace("_", "-")
    result = baseline(pytester, flag, "5")
    assert result.ret == 0, output(result)
    assert ran(result) == SIMPLE_TESTS
    assert set(recorded(pytester)) == SIMPLE_TESTS


def test_ini_settings_without_a_mode_leave_the_plugin_off(pytester: pytest.Pytester) -> None:
    # An ini value alone is configuration, not a request to run the plugin.
    project(pytester, {**SIMPLE, "pytest.ini": "[pytest]\ndiff_batch_size = 0\n"}, ini=False)
    result = run(pytester)
    assert result.ret == 0, output(result)
    assert ran(result) == SIMPLE_TESTS
    assert not (pytester.path / ".pytest_cache" / "pytest-difftest").exists()


def test_valid_ini_batch_size_records_every_test(pytester: pytest.Pytester) -> None:
    files = dict(SIMPLE)
    files["test_more.py"] = "".join(f"def test_{i}():\n    pass\n\n\n" for i in range(7))
    project(pytester, {**files, "pytest.ini": "[pytest]\ndiff_batch_size = 3\n"}, ini=False)
    result = baseline(pytester)
    assert result.ret == 0, output(result)
    expected = SIMPLE_TESTS | nodes("test_more.py", *(f"test_{i}" for i in range(7)))
    assert ran(result) == expected
    assert set(recorded(pytester)) == expected


def test_diff_and_baseline_together_baseline_wins(pytester: pytest.Pytester) -> None:
    project(pytester, SIMPLE)
    result = run(pytester, "--diff", "--diff-baseline")
    assert result.ret == 0, output(result)
    assert ran(result) == SIMPLE_TESTS
    warnings = [l for l in output(result).splitlines() if "--diff-baseline" in l and "warn" in l.lower()]
    assert warnings, output(result)
    assert set(recorded(pytester)) == SIMPLE_TESTS


@pytest.mark.parametrize(
    "quiet, shown",
    [
        ([], "- difftest: 0 selected, 2 deselected"),  # a separator line, as pytest's summary
        (["-q"], "difftest: 0 selected, 2 deselected"),  # a plain line
        (["-qq"], None),  # none
    ],
)
def test_summary_line_follows_quiet(pytester: pytest.Pytester, quiet: list[str], shown: object) -> None:
    project(pytester, SIMPLE)
    assert baseline(pytester).ret == 0
    result = pytester.runpytest_subprocess("-p", "no:randomly", "--diff", *quiet)
    assert result.ret == 0, output(result)
    lines = [line for line in result.outlines if "difftest:" in line]
    if shown is None:
        assert lines == [], output(result)
    else:
        assert len(lines) == 1 and lines[0].startswith(str(shown)), output(result)
        assert lines[0].startswith("-") == (not quiet), output(result)
