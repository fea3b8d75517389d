"""Project layouts where the code under test is not simply below rootdir
(SPEC 3.2, 4.4f, 4.4g): custom items from non-Python files, code above
rootdir, editable installs, a checkout under the interpreter's prefix."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import textwrap
from pathlib import Path
from types import SimpleNamespace
from typing import Optional

import pytest

from conftest import baseline, bump_mtime, diff, nodes, output, ran, summary_line, write


class Result(SimpleNamespace):
    """What ran() and summary_line() read from a pytest run made outside
    pytester (another directory or interpreter)."""


def run_in(cwd: Path, *args: str, python: str = sys.executable, env: Optional[dict[str, str]] = None) -> Result:
    full = dict(os.environ, PYTHONDONTWRITEBYTECODE="1", **(env or {}))
    proc = subprocess.run(
        [python, "-m", "pytest", "-v", "-p", "no:randomly", *args],
        cwd=cwd, env=full, capture_output=True, text=True, timeout=300,
    )
    return Result(ret=proc.returncode, outlines=proc.stdout.splitlines(), errlines=proc.stderr.splitlines(),
                  stdout=SimpleNamespace(str=lambda: proc.stdout), stderr=SimpleNamespace(str=lambda: proc.stderr))


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert text.count(old) == 1, (old, text)
    path.write_text(text.replace(old, new))
    bump_mtime(path)


def dedent_files(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(textwrap.dedent(text).lstrip("\n"))


def make_venv(where: Path) -> str:
    """A virtualenv without pip that sees this interpreter's packages (pytest,
    pytest-difftest, pip, setuptools) through a site directory added by a
    .pth file, so that what is installed into it stays its own."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(where)], check=True)
    python = str(where / "bin" / "python")
    purelib = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True, capture_output=True, text=True,
    ).stdout.strip()
    outer = sysconfig.get_paths()["purelib"]
    Path(purelib, "_outer.pth").write_text(f"import site; site.addsitedir({outer!r})\n")
    return python


# -- code above rootdir (SPEC 3.2) -----------------------------------------

SRC_LAYOUT = {
    "src/pkg/__init__.py": "",
    "src/pkg/ops.py": """
        def add(a, b):
            return a + b


        def mul(a, b):
            return a * b
    """,
    "tests/test_ops.py": """
        from pkg.ops import add, mul


        def test_add():
            assert add(1, 2) == 3


        def test_mul():
            assert mul(2, 3) == 6
    """,
}


def src_project(root: Path) -> None:
    # No configuration file: pytest started in tests/ takes it as rootdir.
    # The .git directory makes the checkout the project root.
    (root / ".git").mkdir(parents=True)
    dedent_files(root, SRC_LAYOUT)


def test_code_above_rootdir_is_tracked_and_portable(pytester: pytest.Pytester) -> None:
    root = pytester.path / "checkout"
    src_project(root)
    env = {"PYTHONPATH": "../src"}
    first = run_in(root / "tests", "--diff-baseline", env=env)
    assert first.ret == 0, first.stdout.str()
    assert ran(first) == nodes("test_ops.py", "test_add", "test_mul")
    again = run_in(root / "tests", "--diff", env=env)
    assert ran(again) == set(), again.stdout.str()
    assert "0 selected" in summary_line(again)

    # The whole tree, baseline included, somewhere else: still nothing.
    moved = pytester.path / "moved"
    shutil.copytree(root, moved)
    assert ran(run_in(moved / "tests", "--diff", env=env)) == set()

    edit(moved / "src/pkg/ops.py", "a * b", "a * b + 0")
    assert ran(run_in(moved / "tests", "--diff", env=env)) == nodes("test_ops.py", "test_mul")
    # The original checkout did not change.
    assert ran(run_in(root / "tests", "--diff", env=env)) == set()


def test_code_outside_the_project_root_is_named_not_tracked(pytester: pytest.Pytester) -> None:
    root = pytester.path / "checkout"
    src_project(root)
    dedent_files(pytester.path, {"shared/sharedmod.py": "def helper():\n    return 1\n"})
    dedent_files(root, {"tests/test_shared.py": "import sharedmod\n\n\ndef test_helper():\n    assert sharedmod.helper() == 1\n"})
    env = {"PYTHONPATH": os.pathsep.join(["../src", str(pytester.path / "shared")])}
    first = run_in(root / "tests", "--diff-baseline", env=env)
    warnings = [l for l in first.outlines if "not tracked" in l]
    assert len(warnings) == 1, first.stdout.str()
    assert "1 Python file(s)" in warnings[0] and str(pytester.path / "shared" / "sharedmod.py") in warnings[0]
    assert ran(run_in(root / "tests", "--diff", env=env)) == set()

    shown = subprocess.run(
        [str(Path(sys.executable).parent / "pytest-difftest"), "inspect"],
        cwd=root / "tests", capture_output=True, text=True, timeout=60,
    )
    assert "untracked:" in shown.stdout and "sharedmod.py" in shown.stdout, shown.stdout + shown.stderr


def test_baseline_path_escaping_the_project_root_is_refused(pytester: pytest.Pytester) -> None:
    """A stored ".." path is read only while it stays inside the project
    root: the same baseline in a project root one level lower refuses it."""
    root = pytester.path / "checkout"
    src_project(root)
    env = {"PYTHONPATH": "../src"}
    assert ran(run_in(root / "tests", "--diff-baseline", env=env)) == nodes("test_ops.py", "test_add", "test_mul")
    # tests/ becomes its own project root: "../src/pkg/ops.py" now leaves it.
    (root / "tests" / ".git").mkdir()
    result = run_in(root / "tests", "--diff", env=env)
    assert any("unsafe path" in l and "../src/pkg/ops.py" in l for l in result.outlines), result.stdout.str()
    assert ran(result) == nodes("test_ops.py", "test_add", "test_mul")


# -- a checkout under the interpreter's prefix (issue 15, item 8) ----------


def test_checkout_under_the_interpreter_prefix(pytester: pytest.Pytester) -> None:
    """A container's system Python has prefix /usr and the application
    lives in /usr/src/app: its files are the project's, not installed."""
    python = make_venv(pytester.path / "usr")
    app = pytester.path / "usr" / "src" / "app"
    dedent_files(app, {
        "pytest.ini": "[pytest]\n",
        "calc.py": "def add(a, b):\n    return a + b\n\n\ndef sub(a, b):\n    return a - b\n",
        "test_calc.py": """
            from calc import add, sub


            def test_add():
                assert add(1, 2) == 3


            def test_sub():
                assert sub(2, 1) == 1
        """,
    })
    assert ran(run_in(app, "--diff-baseline", python=python)) == nodes("test_calc.py", "test_add", "test_sub")
    assert ran(run_in(app, "--diff", python=python)) == set()
    edit(app / "calc.py", "a - b", "a - b + 0")
    assert ran(run_in(app, "--diff", python=python)) == nodes("test_calc.py", "test_sub")


# -- editable installs (SPEC 4.4g) ------------------------------------------


def site_packages(python: str) -> Path:
    out = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True, capture_output=True, text=True,
    ).stdout.strip()
    return Path(out)


def install_editable(python: str, name: str, source: Path) -> None:
    """What an editable install leaves in site-packages (setuptools'
    lenient mode, hatch, pdm): a .pth path entry to the source directory,
    and a dist-info whose direct_url.json says editable (PEP 610). Written
    here rather than by pip, which needs a build backend and `wheel` the
    test environment may not hold without the network."""
    site = site_packages(python)
    meta = site / f"{name}-1.0.dist-info"
    meta.mkdir()
    (meta / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    (meta / "top_level.txt").write_text(f"{name}\n")
    (meta / "direct_url.json").write_text(f'{{"url": "{source.as_uri()}", "dir_info": {{"editable": true}}}}')
    (site / f"__editable__.{name}-1.0.pth").write_text(f"{source}\n")


def install_plain(python: str, name: str, version: str, code: str) -> Path:
    """A non-editable distribution: its package and dist-info in site-packages."""
    site = site_packages(python)
    (site / name).mkdir()
    (site / name / "__init__.py").write_text(textwrap.dedent(code))
    meta = site / f"{name}-{version}.dist-info"
    meta.mkdir()
    (meta / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    (meta / "top_level.txt").write_text(f"{name}\n")
    return meta


SIDE_TESTS = {
    "pytest.ini": "[pytest]\n",
    "test_side.py": """
        from sidelib.ops import double, triple


        def test_double():
            assert double(2) == 4


        def test_triple():
            assert triple(2) == 6
    """,
    "test_plain.py": """
        import plainlib


        def test_plain():
            assert plainlib.VALUE == 1
    """,
    "test_other.py": """
        def test_nothing_installed():
            assert True
    """,
}


def test_editable_sibling_library_is_tracked_by_content(pytester: pytest.Pytester) -> None:
    python = make_venv(pytester.path / "venv")
    dedent_files(pytester.path / "sidelib", {
        "pyproject.toml": '[project]\nname = "sidelib"\nversion = "1.0"\n',
        "sidelib/__init__.py": "",
        "sidelib/ops.py": "def double(x):\n    return 2 * x\n\n\ndef triple(x):\n    return 3 * x\n",
    })
    install_editable(python, "sidelib", pytester.path / "sidelib")
    meta = install_plain(python, "plainlib", "1.0", "VALUE = 1\n")
    app = pytester.path / "app"
    dedent_files(app, SIDE_TESTS)
    everything = nodes("test_side.py", "test_double", "test_triple") | nodes("test_plain.py", "test_plain") | nodes("test_other.py", "test_nothing_installed")
    assert ran(run_in(app, "--diff-baseline", python=python)) == everything
    assert ran(run_in(app, "--diff", python=python)) == set()

    edit(pytester.path / "sidelib/sidelib/ops.py", "3 * x", "3 * x + 0")
    assert ran(run_in(app, "--diff-baseline", python=python)) == nodes("test_side.py", "test_triple")

    # The baseline names the library, not where its checkout lies.
    shown = subprocess.run(
        [python, "-m", "pytest_difftest.cli", "inspect", "--test", "test_side.py::test_triple"],
        cwd=app, capture_output=True, text=True, timeout=60,
    )
    assert "<dist:sidelib>/sidelib/ops.py" in shown.stdout, shown.stdout + shown.stderr
    assert str(pytester.path) not in shown.stdout

    # A non-editable distribution is still tracked by its version.
    meta.rename(meta.with_name("plainlib-1.1.dist-info"))
    assert ran(run_in(app, "--diff", python=python)) == nodes("test_plain.py", "test_plain")


def test_editable_library_moved_elsewhere_keeps_the_baseline(pytester: pytest.Pytester) -> None:
    """Another machine: the library's checkout elsewhere, installed editable
    there too; the app's baseline still selects nothing, and an edit in the
    new place selects its caller."""
    python = make_venv(pytester.path / "venv")
    lib = {"sidelib/__init__.py": "", "sidelib/ops.py": "def double(x):\n    return 2 * x\n\n\ndef triple(x):\n    return 3 * x\n"}
    dedent_files(pytester.path / "one" / "sidelib", lib)
    install_editable(python, "sidelib", pytester.path / "one" / "sidelib")
    install_plain(python, "plainlib", "1.0", "VALUE = 1\n")
    app = pytester.path / "app"
    dedent_files(app, SIDE_TESTS)
    assert len(ran(run_in(app, "--diff-baseline", python=python))) == 4

    shutil.copytree(pytester.path / "one" / "sidelib", pytester.path / "two" / "sidelib")
    site = site_packages(python)
    (site / "sidelib-1.0.dist-info" / "direct_url.json").write_text(
        f'{{"url": "{(pytester.path / "two" / "sidelib").as_uri()}", "dir_info": {{"editable": true}}}}'
    )
    (site / "__editable__.sidelib-1.0.pth").write_text(f"{pytester.path / 'two' / 'sidelib'}\n")
    shutil.rmtree(pytester.path / "one")
    assert ran(run_in(app, "--diff", python=python)) == set()
    edit(pytester.path / "two/sidelib/sidelib/ops.py", "2 * x", "2 * x + 0")
    assert ran(run_in(app, "--diff", python=python)) == nodes("test_side.py", "test_double")


def test_monorepo_packages_installed_editable_from_inside_rootdir(pytester: pytest.Pytester) -> None:
    python = make_venv(pytester.path / "venv")
    repo = pytester.path / "repo"
    dedent_files(repo, {
        "pytest.ini": "[pytest]\n",
        "packages/liba/src/liba/__init__.py": "def one():\n    return 1\n\n\ndef two():\n    return 2\n",
        "packages/liba/pyproject.toml": '[project]\nname = "liba"\nversion = "1.0"\n',
        "tests/test_liba.py": """
            from liba import one, two


            def test_one():
                assert one() == 1


            def test_two():
                assert two() == 2
        """,
    })
    install_editable(python, "liba", repo / "packages" / "liba" / "src")
    assert ran(run_in(repo, "--diff-baseline", python=python)) == nodes("tests/test_liba.py", "test_one", "test_two")
    assert ran(run_in(repo, "--diff", python=python)) == set()
    edit(repo / "packages/liba/src/liba/__init__.py", "return 2", "return 2 + 0")
    assert ran(run_in(repo, "--diff", python=python)) == nodes("tests/test_liba.py", "test_two")


# -- items collected from non-Python files (SPEC 4.4f) ----------------------

SPEC_PROJECT = {
    "pytest.ini": "[pytest]\n",
    "calc.py": """
        def add(a, b):
            return a + b


        def mul(a, b):
            return a * b
    """,
    "conftest.py": """
        import pytest

        import calc

        OPS = {"add": calc.add, "mul": calc.mul}


        def pytest_collect_file(parent, file_path):
            if file_path.suffix == ".spec" and file_path.name.startswith("test_"):
                return SpecFile.from_parent(parent, path=file_path)


        class SpecFile(pytest.File):
            def collect(self):
                # The collector reads a second file: a dependency of every
                # item of this file.
                scale = int((self.path.parent / "scale.txt").read_text())
                for line in self.path.read_text().splitlines():
                    name, op, a, b, want = line.split()
                    yield SpecItem.from_parent(self, name=name, op=op, args=(int(a), int(b)), want=int(want) * scale)


        class SpecItem(pytest.Item):
            def __init__(self, *, op, args, want, **kwargs):
                super().__init__(**kwargs)
                self.op, self.args, self.want = op, args, want

            def runtest(self):
                got = OPS[self.op](*self.args)
                assert got == self.want, (got, self.want)

            def reportinfo(self):
                return self.path, 0, self.name
    """,
    "scale.txt": "1\n",
    "test_ops.spec": "sum add 1 2 3\nproduct mul 2 3 6\n",
    "test_more.spec": "other_sum add 5 5 10\n",
    "test_plain.py": """
        import calc


        def test_add():
            assert calc.add(1, 1) == 2
    """,
}

ALL_SPEC = (
    nodes("test_ops.spec", "sum", "product") | nodes("test_more.spec", "other_sum") | nodes("test_plain.py", "test_add")
)


@pytest.fixture
def specs(pytester: pytest.Pytester) -> pytest.Pytester:
    write(pytester, SPEC_PROJECT)
    result = baseline(pytester)
    assert ran(result) == ALL_SPEC, result.stdout.str()
    assert ran(diff(pytester)) == set()
    return pytester


def test_editing_a_data_file_selects_its_items(specs: pytest.Pytester) -> None:
    edit(specs.path / "test_ops.spec", "product mul 2 3 6", "product mul 2 3 7")
    result = diff(specs)
    assert ran(result) == nodes("test_ops.spec", "sum", "product")
    assert result.ret == pytest.ExitCode.TESTS_FAILED


def test_editing_a_function_an_item_calls_selects_that_item(specs: pytest.Pytester) -> None:
    edit(specs.path / "calc.py", "a * b", "a * b + 0")
    assert ran(diff(specs)) == nodes("test_ops.spec", "product")


def test_a_new_data_file_runs_its_items(specs: pytest.Pytester) -> None:
    write(specs, {"test_new.spec": "fresh mul 3 3 9\n"})
    assert ran(diff(specs)) == nodes("test_new.spec", "fresh")


def test_a_file_the_collector_read_selects_every_item(specs: pytest.Pytester) -> None:
    edit(specs.path / "scale.txt", "1", "2")
    result = diff(specs)
    assert ran(result) == nodes("test_ops.spec", "sum", "product") | nodes("test_more.spec", "other_sum")
    assert result.ret == pytest.ExitCode.TESTS_FAILED


def test_editing_the_item_class_selects_the_items(specs: pytest.Pytester) -> None:
    edit(specs.path / "conftest.py", "assert got == self.want, (got, self.want)", "assert got == self.want, (self.want, got)")
    assert ran(diff(specs)) == nodes("test_ops.spec", "sum", "product") | nodes("test_more.spec", "other_sum")
