"""Results per environment (SPEC 4.7, the --diff-env row of SPEC 2): one
database keeps each interpreter's, or each named environment's, results
apart, so alternating them (tox, nox, a CI matrix sharing a cache) with no
change runs nothing in any of them, and an edit selects the same tests
under each."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import NamedTuple, Optional

import pytest

from conftest import (
    assert_usage_error,
    baseline,
    db_file,
    diff,
    nodes,
    output,
    project,
    ran,
    run,
    summary_line,
    touch_edit,
)

REPO = Path(__file__).resolve().parent.parent
CLI = Path(sys.executable).parent / "pytest-difftest"
HERE = f"{sys.version_info[0]}.{sys.version_info[1]}"

PROJECT = {
    "calc.py": """
        def add(a, b):
            return a + b


        def mul(a, b):
            return a * b
    """,
    "test_calc.py": """
        import calc


        def test_add():
            assert calc.add(1, 2) == 3


        def test_mul():
            assert calc.mul(2, 3) == 6
    """,
    "test_plain.py": """
        def test_plain():
            assert True
    """,
}
ALL = nodes("test_calc.py", "test_add", "test_mul") | {"test_plain.py::test_plain"}
MUL = {"test_calc.py::test_mul"}


def edit_mul(pytester: pytest.Pytester) -> None:
    touch_edit(pytester, "calc.py", "return a * b", "return b * a")


def by_env(pytester: pytest.Pytester) -> dict[str, dict[str, tuple]]:
    """environment name -> {node id: its whole row}, read from the database."""
    con = sqlite3.connect(db_file(pytester))
    try:
        out: dict[str, dict[str, tuple]] = {name: {} for (name,) in con.execute("SELECT name FROM envs")}
        for row in con.execute("SELECT envs.name, tests.* FROM tests JOIN envs ON envs.id = tests.env"):
            out[row[0]][row[2]] = row[1:]
        return out
    finally:
        con.close()


def check(result: pytest.RunResult) -> str:
    text = output(result)
    assert result.ret == 0, text
    assert "Traceback" not in text and "INTERNALERROR" not in text, text
    return text


# -- a second interpreter -------------------------------------------------------------


class Interpreter(NamedTuple):
    python: Path
    version: str  # major.minor: its default environment


def _version(python: Path) -> str:
    out = subprocess.run(
        [str(python), "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
        capture_output=True, text=True, timeout=60,
    )
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def _pyenv_python(version: str) -> Optional[Path]:
    try:
        root = subprocess.run(["pyenv", "root"], capture_output=True, text=True, timeout=30).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    python = Path(root) / "versions" / version / "bin" / "python3"
    return python if root and python.is_file() else None


# What building the package from this checkout needs (see MANIFEST.in).
_SOURCES = ["lib", "include", "plugin", "go.mod", "go.sum", "setup.py", "pyproject.toml", "MANIFEST.in", "README.md", "build.sh"]


def _build_venv(interpreter: Path, venv: Path) -> None:
    """A venv with this checkout installed as users install it, built from a
    copy of the sources (setuptools writes build/ into its source tree)."""
    src = venv.parent / "src"
    shutil.rmtree(src, ignore_errors=True)
    src.mkdir()
    for name in _SOURCES:
        path = REPO / name
        if path.is_dir():
            shutil.copytree(path, src / name, ignore=shutil.ignore_patterns("*.so", "*.egg-info", "__pycache__"))
        elif path.exists():
            shutil.copy2(path, src / name)
    for cmd in (
        [str(interpreter), "-m", "venv", str(venv)],
        [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", str(src)],
    ):
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
        if p.returncode != 0:
            pytest.fail(f"{' '.join(cmd)} failed:\n{p.stdout[-3000:]}{p.stderr[-3000:]}")
    (venv / "ready").touch()


@pytest.fixture(scope="session")
def py313(tmp_path_factory: pytest.TempPathFactory) -> Interpreter:
    """CPython 3.13 with pytest-difftest installed: the venv named by
    DIFFTEST_PY313_VENV (CI provides one), or one built once per session
    from this checkout (shared by pytest-xdist workers)."""
    given = os.environ.get("DIFFTEST_PY313_VENV")
    if given:
        python = Path(given) / "bin" / "python"
        if not python.is_file():
            pytest.fail(f"DIFFTEST_PY313_VENV={given}: no {python}")
    else:
        interpreter = _pyenv_python("3.13.0")
        if interpreter is None:
            pytest.skip("CPython 3.13.0 is not installed through pyenv; set DIFFTEST_PY313_VENV to a venv with pytest-difftest")
        # The directory all workers of this session share.
        shared = tmp_path_factory.getbasetemp()
        if os.environ.get("PYTEST_XDIST_WORKER"):
            shared = shared.parent
        venv = shared / "py313" / "venv"
        venv.parent.mkdir(parents=True, exist_ok=True)
        with open(venv.parent / "lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not (venv / "ready").exists():
                _build_venv(interpreter, venv)
        python = venv / "bin" / "python"
    version = _version(python)
    if version == HERE:
        pytest.skip(f"the second interpreter is Python {version}, the same as this one")
    _probe_recording(python, version, tmp_path_factory.mktemp("probe"))
    return Interpreter(python, version)


def _probe_recording(python: Path, version: str, root: Path) -> None:
    """Skip, saying why, when this interpreter cannot record at all yet
    (3.12+ needs the sys.monitoring recorder: issue 13, item 2)."""
    (root / "pytest.ini").write_text("[pytest]\n")
    (root / "test_probe.py").write_text("def test_probe():\n    pass\n")
    p = subprocess.run(
        [str(python), "-m", "pytest", "-p", "no:randomly", "--diff-baseline"],
        cwd=root, capture_output=True, text=True, timeout=300,
    )
    if p.returncode != 0 and "Another profiling tool is already active" in p.stdout + p.stderr:
        pytest.skip(f"recording on Python {version} needs the sys.monitoring recorder (issue 13, item 2)")
    assert p.returncode == 0, p.stdout + p.stderr


def run_with(pytester: pytest.Pytester, interp: Interpreter, *args: str) -> pytest.RunResult:
    """pytest under the other interpreter, in the project, verbose."""
    return pytester.run(str(interp.python), "-m", "pytest", "-v", "-p", "no:randomly", *args, timeout=300)


def test_two_interpreters_alternating_with_no_change_run_nothing(pytester: pytest.Pytester, py313: Interpreter) -> None:
    project(pytester, PROJECT)
    result = baseline(pytester)
    check(result)
    assert ran(result) == ALL
    # The other interpreter's first run: it has no results yet.
    result = run_with(pytester, py313, "--diff-baseline")
    check(result)
    assert ran(result) == ALL
    assert "no baseline yet" in summary_line(result)
    for _ in range(2):
        for mode in ("--diff", "--diff-baseline"):
            result = run(pytester, mode)
            check(result)
            assert ran(result) == set(), mode
            result = run_with(pytester, py313, mode)
            check(result)
            assert ran(result) == set(), mode
    envs = by_env(pytester)
    assert sorted(envs) == sorted([HERE, py313.version])
    assert set(envs[HERE]) == set(envs[py313.version]) == ALL


def test_two_interpreters_an_edit_selects_the_same_tests_under_each(
    pytester: pytest.Pytester, py313: Interpreter
) -> None:
    project(pytester, PROJECT)
    check(baseline(pytester))
    check(run_with(pytester, py313, "--diff-baseline"))
    edit_mul(pytester)
    result = diff(pytester)
    check(result)
    assert ran(result) == MUL
    result = run_with(pytester, py313, "--diff")
    check(result)
    assert ran(result) == MUL
    # Recording under the other interpreter takes the edit there only.
    result = run_with(pytester, py313, "--diff-baseline")
    check(result)
    assert ran(result) == MUL
    result = run_with(pytester, py313, "--diff")
    check(result)
    assert ran(result) == set()
    result = diff(pytester)
    check(result)
    assert ran(result) == MUL


def test_two_interpreters_an_incremental_baseline_leaves_the_others_results(
    pytester: pytest.Pytester, py313: Interpreter
) -> None:
    project(pytester, PROJECT)
    check(baseline(pytester))
    check(run_with(pytester, py313, "--diff-baseline"))
    theirs = by_env(pytester)[py313.version]
    edit_mul(pytester)
    result = baseline(pytester)
    check(result)
    assert ran(result) == MUL
    result = baseline(pytester, "--diff-force")
    check(result)
    assert ran(result) == ALL
    assert by_env(pytester)[py313.version] == theirs
    result = run_with(pytester, py313, "--diff")
    check(result)
    assert ran(result) == MUL


# -- named environments, one interpreter ----------------------------------------------


def test_default_environment_is_the_interpreters_version(pytester: pytest.Pytester) -> None:
    project(pytester, PROJECT)
    check(baseline(pytester))
    assert list(by_env(pytester)) == [HERE]
    # Naming it explicitly is the same environment.
    result = diff(pytester, "--diff-env", HERE)
    check(result)
    assert ran(result) == set()


def test_named_environments_alternate_independently(pytester: pytest.Pytester) -> None:
    project(pytester, PROJECT)
    for env in ("django4", "django5"):
        result = baseline(pytester, "--diff-env", env, "--diff-v")
        check(result)
        assert ran(result) == ALL, env
        assert any(f", environment {env}: 0 tests known" in l for l in result.outlines), output(result)
    for env in ("django4", "django5", "django4"):
        result = diff(pytester, "--diff-env", env)
        check(result)
        assert ran(result) == set(), env
    # The default environment was never recorded: everything runs.
    result = diff(pytester)
    check(result)
    assert ran(result) == ALL
    edit_mul(pytester)
    result = baseline(pytester, "--diff-env", "django4")
    check(result)
    assert ran(result) == MUL
    result = diff(pytester, "--diff-env", "django4")
    check(result)
    assert ran(result) == set()
    result = diff(pytester, "--diff-env", "django5")
    check(result)
    assert ran(result) == MUL
    assert sorted(by_env(pytester)) == ["django4", "django5"]


@pytest.mark.parametrize(
    ("ini_file", "text"),
    [("pytest.ini", "[pytest]\ndiff_env = ci-linux\n"), ("pyproject.toml", '[tool.pytest.ini_options]\ndiff_env = "ci-linux"\n')],
)
def test_ini_key_names_the_environment(pytester: pytest.Pytester, ini_file: str, text: str) -> None:
    project(pytester, {**PROJECT, ini_file: text}, ini=False)
    check(baseline(pytester))
    assert list(by_env(pytester)) == ["ci-linux"]
    result = diff(pytester)
    check(result)
    assert ran(result) == set()
    # The command line overrides the ini key: a new environment.
    result = diff(pytester, "--diff-env", "other")
    check(result)
    assert ran(result) == ALL
    assert "no baseline yet" in summary_line(result)


@pytest.mark.parametrize(
    ("args", "ini", "mention"),
    [
        (["--diff", "--diff-env", ""], "", "--diff-env"),
        (["--diff-baseline", "--diff-env", "py 3.11"], "", "--diff-env"),
        (["--diff-baseline", "--diff-env=tab\there"], "", "--diff-env"),
        (["--diff", "--diff-env", "x" * 101], "", "--diff-env"),
        (["--diff-baseline"], "diff_env = a b", "diff_env"),
        (["--diff-env", "ci"], "", "--diff"),
    ],
    ids=["empty", "space", "tab", "too long", "ini", "without a mode"],
)
def test_invalid_environment_is_a_usage_error(pytester: pytest.Pytester, args: list[str], ini: str, mention: str) -> None:
    project(pytester, {**PROJECT, "pytest.ini": f"[pytest]\n{ini}\n"}, ini=False)
    result = run(pytester, *args)
    assert_usage_error(result, mention)
    assert ran(result) == set()
    assert not db_file(pytester).exists()


def test_dropping_vanished_tests_touches_only_the_current_environment(pytester: pytest.Pytester) -> None:
    """SPEC 5.1 per environment: a test file gone from the suite is dropped
    from the environment that ran the whole suite, not from the others."""
    project(pytester, PROJECT)
    check(baseline(pytester, "--diff-env", "a"))
    check(baseline(pytester, "--diff-env", "b"))
    (pytester.path / "test_plain.py").unlink()
    result = baseline(pytester, "--diff-env", "a")
    check(result)
    assert ran(result) == set()
    envs = by_env(pytester)
    assert set(envs["a"]) == ALL - {"test_plain.py::test_plain"}
    assert set(envs["b"]) == ALL


def test_xdist_records_and_selects_per_environment(pytester: pytest.Pytester) -> None:
    pytest.importorskip("xdist")
    project(pytester, PROJECT)
    for env in ("a", "b"):
        result = baseline(pytester, "-n", "2", "--diff-env", env)
        check(result)
        assert ran(result) == ALL, env
    edit_mul(pytester)
    result = baseline(pytester, "-n", "2", "--diff-env", "a")
    check(result)
    assert ran(result) == MUL
    result = diff(pytester, "-n", "2", "--diff-env", "a")
    check(result)
    assert ran(result) == set()
    result = diff(pytester, "-n", "2", "--diff-env", "b")
    check(result)
    assert ran(result) == MUL


# -- inspect, merge, remote -------------------------------------------------------------


def cli(*args: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(CLI), *map(str, args)], capture_output=True, text=True, timeout=300)


def test_inspect_lists_the_environments(pytester: pytest.Pytester) -> None:
    project(pytester, PROJECT)
    check(baseline(pytester, "--diff-env", "a"))
    check(baseline(pytester, "--diff-env", "b", "test_plain.py"))
    p = cli("inspect", db_file(pytester), "--json")
    assert p.returncode == 0, p.stderr
    s = json.loads(p.stdout)
    assert s["tests"] == 4
    assert [(e["name"], e["tests"]) for e in s["environments"]] == [("a", 3), ("b", 1)]
    assert all(e["values"]["python"] == HERE and e["recorded_at"].endswith("Z") for e in s["environments"])

    p = cli("inspect", db_file(pytester))
    assert p.returncode == 0, p.stderr
    lines = [l for l in p.stdout.splitlines() if l.startswith("environment:")]
    assert [l.split(":", 1)[1].split(":")[0].strip() for l in lines] == ["a (3 tests)", "b (1 test)"], p.stdout
    assert all(f"python {HERE}" in l for l in lines), p.stdout

    # A test recorded in both environments: name the one to show.
    p = cli("inspect", db_file(pytester), "--test", "test_plain.py::test_plain")
    assert p.returncode == 1 and "name one with --env" in p.stderr, p.stdout + p.stderr
    p = cli("inspect", db_file(pytester), "--test", "test_plain.py::test_plain", "--env", "b", "--json")
    assert p.returncode == 0, p.stderr
    t = json.loads(p.stdout)
    assert t["env"] == "b" and t["files"][-1]["path"] == "<env:b>"
    p = cli("inspect", db_file(pytester), "--env", "b")
    assert p.returncode == 2 and "--env needs --test or --file" in p.stderr and "Traceback" not in p.stderr, p.stderr
    p = cli("inspect", db_file(pytester), "--file", "calc.py", "--json")
    assert p.returncode == 0, p.stderr
    assert [(d["nodeid"], d["env"]) for d in json.loads(p.stdout)["tests"]] == [
        ("test_calc.py::test_add", "a"), ("test_calc.py::test_mul", "a")
    ]


def clone(pytester: pytest.Pytester, name: str) -> Path:
    """A checkout of the project without its .pytest_cache."""
    dst = pytester.path.parent / name
    shutil.copytree(pytester.path, dst, ignore=shutil.ignore_patterns(".pytest_cache"))
    return dst


def run_in(pytester: pytest.Pytester, cwd: Path, *args: str) -> pytest.RunResult:
    old = Path.cwd()
    os.chdir(cwd)
    try:
        return run(pytester, *args)
    finally:
        os.chdir(old)


def test_merge_keeps_environments_apart(pytester: pytest.Pytester, tmp_path: Path) -> None:
    project(pytester, PROJECT)
    first, second = clone(pytester, "first"), clone(pytester, "second")
    check(run_in(pytester, first, "--diff-baseline", "--diff-env", "a"))
    check(run_in(pytester, second, "--diff-baseline", "--diff-env", "b"))
    merged = tmp_path / "merged.db"
    p = cli("merge", merged, first / ".pytest_cache/pytest-difftest/pytest_difftest.db",
            second / ".pytest_cache/pytest-difftest/pytest_difftest.db")
    assert p.returncode == 0, p.stderr
    assert ": 6 tests," in p.stdout, p.stdout
    db_file(pytester).parent.mkdir(parents=True)
    shutil.copyfile(merged, db_file(pytester))
    envs = by_env(pytester)
    assert set(envs["a"]) == set(envs["b"]) == ALL
    for env in ("a", "b"):
        result = diff(pytester, "--diff-env", env)
        check(result)
        assert ran(result) == set(), env
    edit_mul(pytester)
    for env in ("a", "b"):
        result = diff(pytester, "--diff-env", env)
        check(result)
        assert ran(result) == MUL, env


def test_remote_round_trip_keeps_every_environment(pytester: pytest.Pytester, tmp_path: Path) -> None:
    url = (tmp_path / "remote" / "base.db").as_uri()
    project(pytester, PROJECT)
    for env in ("a", "b"):
        result = baseline(pytester, "--diff-env", env, "--diff-upload", "--diff-remote", url)
        check(result)
        assert ran(result) == ALL, env
    branch = clone(pytester, "branch")
    for env in ("a", "b"):
        result = run_in(pytester, branch, "--diff", "--diff-env", env, "--diff-remote", url)
        check(result)
        assert ran(result) == set(), env
    result = run_in(pytester, branch, "--diff", "--diff-env", "c", "--diff-remote", url)
    check(result)
    assert ran(result) == ALL
