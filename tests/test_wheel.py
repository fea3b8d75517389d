"""The prebuilt x86_64 wheel (./build.sh wheels), as a user without Go gets
it: installed into a clean virtualenv whose PATH has no go binary, under the
oldest and newest supported Pythons, then a record/edit/select round.

The wheel comes from DIFFTEST_WHEEL (one built earlier in the same CI run),
or is built here (zig from PyPI; about a minute from a warm Go cache)."""

from __future__ import annotations

import fcntl
import os
import platform
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Iterator, Optional

import pytest

REPO = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.skipif(
    sys.platform != "linux" or platform.machine() != "x86_64", reason="the wheel test loads the x86_64 Linux wheel"
)

_RAN = re.compile(r"^(?P<id>\S+::\S+) (PASSED|FAILED|ERROR)\b")


def pyenv_python(version: str) -> Optional[str]:
    root = os.environ.get("PYENV_ROOT") or str(Path.home() / ".pyenv")
    exe = Path(root) / "versions" / version / "bin" / "python3"
    return str(exe) if exe.exists() else None


INTERPRETERS = {"3.9": pyenv_python("3.9.18"), "current": sys.executable, "3.13": pyenv_python("3.13.0")}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    given = os.environ.get("DIFFTEST_WHEEL")
    if given:
        yield Path(given)
        return
    # Under pytest-xdist every worker asks: the first builds (in the
    # directory of this run that all workers share), the others wait for it
    # and reuse it.
    base = tmp_path_factory.getbasetemp()
    shared = (base.parent if "PYTEST_XDIST_WORKER" in os.environ else base) / "difftest-wheel"
    shared.mkdir(exist_ok=True)
    with open(shared / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        found = list(shared.glob("pytest_difftest-*-py3-none-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"))
        if not found:
            env = dict(os.environ, DIFFTEST_WHEELS_OUT=str(shared), DIFFTEST_NO_SDIST="1")
            p = subprocess.run(
                [str(REPO / "build.sh"), "wheels", "x86_64"], cwd=REPO, env=env, capture_output=True, text=True
            )
            assert p.returncode == 0, p.stdout + p.stderr
            assert re.search(r'platform tag:\s+"manylinux_2_17_x86_64"', p.stdout), p.stdout
            found = list(shared.glob("pytest_difftest-*-py3-none-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"))
    (whl,) = found
    yield whl


def path_without_go() -> str:
    """PATH minus every directory that holds a go binary."""
    dirs = [d for d in os.environ.get("PATH", "").split(os.pathsep) if d and not (Path(d) / "go").exists()]
    return os.pathsep.join(dirs)


def ran(out: str) -> set[str]:
    return {m.group("id") for m in map(_RAN.match, out.splitlines()) if m}


@pytest.mark.parametrize("python", INTERPRETERS, ids=list(INTERPRETERS))
def test_wheel_installs_and_selects_without_go(wheel: Path, tmp_path: Path, python: str) -> None:
    exe = INTERPRETERS[python]
    if exe is None:
        pytest.skip(f"no Python {python} here (pyenv)")
    venv = tmp_path / "venv"
    subprocess.run([exe, "-m", "venv", str(venv)], check=True)
    bin_dir = venv / "bin"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GO", "CGO", "PYTEST", "VIRTUAL_ENV"))}
    env["PATH"] = os.pathsep.join([str(bin_dir), path_without_go()])
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    assert shutil.which("go", path=env["PATH"]) is None

    # A wheel is never built: no Go, no compiler, nothing but unpacking.
    p = subprocess.run(
        [str(bin_dir / "python"), "-m", "pip", "install", "-q", "--only-binary=:all:", str(wheel)],
        env=env, capture_output=True, text=True,
    )
    assert p.returncode == 0, p.stdout + p.stderr

    project = tmp_path / "project"
    project.mkdir()
    files = {
        "pytest.ini": "[pytest]\npythonpath = .\n",
        "calc.py": """
            def add(a, b):
                return a + b


            def mul(a, b):
                return a * b
            """,
        "test_calc.py": """
            from calc import add, mul


            def test_add():
                assert add(2, 3) == 5


            def test_mul():
                assert mul(2, 3) == 6
            """,
    }
    for name, text in files.items():
        (project / name).write_text(textwrap.dedent(text).lstrip())

    def pytest_run(*args: str) -> tuple[set[str], str]:
        p = subprocess.run(
            [str(bin_dir / "python"), "-m", "pytest", "-v", "-p", "no:randomly", *args],
            cwd=project, env=env, capture_output=True, text=True,
        )
        assert p.returncode == 0, p.stdout + p.stderr
        return ran(p.stdout), p.stdout

    # The engine loads: no baseline, so everything runs, nothing recorded.
    got, out = pytest_run("--diff")
    assert got == {"test_calc.py::test_add", "test_calc.py::test_mul"}, out
    assert "difftest: no baseline yet: ran all 2 tests" in out, out
    got, out = pytest_run("--diff-baseline")
    assert got == {"test_calc.py::test_add", "test_calc.py::test_mul"}, out
    assert "difftest: no baseline yet: recorded all 2 tests" in out, out
    got, out = pytest_run("--diff")
    assert got == set(), out
    calc = project / "calc.py"
    calc.write_text(calc.read_text().replace("a * b", "b * a"))
    st = calc.stat()
    os.utime(calc, ns=(st.st_atime_ns, st.st_mtime_ns + 2_000_000_000))
    got, out = pytest_run("--diff")
    assert got == {"test_calc.py::test_mul"}, out
    assert "1 selected, 1 deselected" in out, out
