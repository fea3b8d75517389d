"""The ``pytest-difftest`` command (SPEC 8), end to end: real baselines
recorded by pytest subprocesses, merged and inspected by the installed
console script, then used by ``pytest --diff`` in a fresh clone."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Iterator, Optional

import pytest
from conftest import bump_mtime, output, ran, run, summary_line
from s3server import ACCESS_KEY, SECRET_KEY, S3Server, s3server  # noqa: F401

CLI = Path(sys.executable).with_name("pytest-difftest")
DB = Path(".pytest_cache") / "pytest-difftest" / "pytest_difftest.db"

PROJECT = {
    "pytest.ini": """
        [pytest]
        pythonpath = .
        """,
    "mod_a.py": """
        def double(x):
            return 2 * x


        def triple(x):
            return 3 * x
        """,
    "mod_b.py": """
        class Box:
            def __init__(self, n):
                self.n = n

            def size(self):
                return self.n
        """,
    "tests/test_a.py": """
        import mod_a


        def test_double():
            assert mod_a.double(2) == 4


        def test_triple():
            assert mod_a.triple(2) == 6
        """,
    # mod_a is imported at run time only: test_box does not depend on it at
    # all, test_mixed only on what it ran.
    "tests/test_b.py": """
        import importlib

        import mod_b


        def test_box():
            assert mod_b.Box(3).size() == 3


        def test_mixed():
            mod_a = importlib.import_module("mod_a")
            assert mod_a.triple(mod_b.Box(1).size()) == 3
        """,
}
A_TESTS = {"tests/test_a.py::test_double", "tests/test_a.py::test_triple"}
B_TESTS = {"tests/test_b.py::test_box", "tests/test_b.py::test_mixed"}
ALL_TESTS = A_TESTS | B_TESTS
PASSED, FAILED = 0, 1


# -- helpers -------------------------------------------------------------------


def clean_env(**extra: str) -> dict[str, str]:
    """The environment of a subprocess: no AWS configuration or outer pytest
    state unless given."""
    env = {
        k: v for k, v in os.environ.items()
        if not k.startswith(("AWS_", "PYTEST_XDIST")) and k not in ("PYTEST_ADDOPTS", "PYTEST_CURRENT_TEST")
    }
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env.update(extra)
    return env


def cli(*args: object, env: Optional[dict[str, str]] = None, cwd: Optional[Path] = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(CLI), *map(str, args)], capture_output=True, text=True,
        env=env or clean_env(), cwd=cwd, timeout=300,
    )


def assert_ok(p: subprocess.CompletedProcess[str]) -> None:
    assert p.returncode == 0, p.stdout + p.stderr
    assert "Traceback" not in p.stdout + p.stderr


def assert_error(p: subprocess.CompletedProcess[str], *mentions: str) -> str:
    """Exit 1, nothing on stdout, one line on stderr naming `mentions`."""
    text = p.stdout + p.stderr
    assert p.returncode == 1, text
    assert "Traceback" not in text, text
    assert p.stdout == "", text
    lines = p.stderr.splitlines()
    assert len(lines) == 1, text
    assert lines[0].startswith("pytest-difftest: "), text
    for m in mentions:
        assert m in lines[0], text
    return lines[0]


def make_project(root: Path, files: dict[str, str] = PROJECT) -> Path:
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(textwrap.dedent(text).lstrip("\n"))
    return root


def run_in(pytester: pytest.Pytester, cwd: Path, *args: str) -> pytest.RunResult:
    old = Path.cwd()
    os.chdir(cwd)
    try:
        return run(pytester, *args)
    finally:
        os.chdir(old)


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert text.count(old) == 1, f"{old!r} occurs {text.count(old)} times in {path}"
    path.write_text(text.replace(old, new))
    bump_mtime(path)


def install(db: Path, project: Path) -> None:
    """Use `db` as the project's baseline."""
    (project / DB).parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(db, project / DB)


def outcomes_in(db: Path) -> dict[str, int]:
    con = sqlite3.connect(db)
    try:
        return dict(con.execute("SELECT nodeid, outcome FROM tests"))
    finally:
        con.close()


def leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.endswith(".tmp") or p.name.endswith(("-wal", "-shm")))


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A baseline of the whole project (all four tests passed), recorded once
    for the module; tests copy it."""
    root = make_project(tmp_path_factory.mktemp("recorded"))
    p = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:randomly", "-p", "no:cacheprovider", "-q", "--diff-baseline"],
        cwd=root, capture_output=True, text=True, env=clean_env(), timeout=300,
    )
    assert p.returncode == 0, p.stdout + p.stderr
    assert set(outcomes_in(root / DB)) == ALL_TESTS
    return root / DB


@pytest.fixture
def good(recorded: Path, tmp_path: Path) -> Path:
    dst = tmp_path / "good.db"
    shutil.copyfile(recorded, dst)
    return dst


# -- merge: the result works -----------------------------------------------------


def test_partial_baselines_merged(pytester: pytest.Pytester) -> None:
    """Two copies of a project record one test file each; in a clone with
    the merged baseline, --diff selects nothing, then exactly what each edit
    affects, across tests recorded in either copy."""
    a = make_project(pytester.path / "a")
    b = make_project(pytester.path / "b")
    result = run_in(pytester, a, "--diff-baseline", "tests/test_a.py")
    assert result.ret == 0, output(result)
    assert ran(result) == A_TESTS
    result = run_in(pytester, b, "--diff-baseline", "-k", "box or mixed")
    assert result.ret == 0, output(result)
    assert ran(result) == B_TESTS

    merged = pytester.path / "merged.db"
    p = cli("merge", merged, a / DB, b / DB)
    assert_ok(p)
    assert p.stdout.startswith(f"merged 2 databases into {merged}: 4 tests, "), p.stdout
    assert p.stderr == ""  # no progress for two inputs
    assert outcomes_in(merged) == dict.fromkeys(ALL_TESTS, PASSED)

    clone = make_project(pytester.path / "clone")
    install(merged, clone)
    result = run_in(pytester, clone, "--diff")
    assert result.ret == 0, output(result)
    assert ran(result) == set()
    assert "0 selected" in summary_line(result)

    mod_a, mod_b = clone / "mod_a.py", clone / "mod_b.py"
    steps = [
        (mod_a, "return 2 * x", "return x * 2", {"tests/test_a.py::test_double"}),
        (mod_a, "return 3 * x", "return x * 3", {"tests/test_a.py::test_triple", "tests/test_b.py::test_mixed"}),
        (mod_b, "return self.n", "return self.n + 0", {"tests/test_b.py::test_box", "tests/test_b.py::test_mixed"}),
    ]
    for path, old, new, expected in steps:
        original = path.read_text()
        edit(path, old, new)
        result = run_in(pytester, clone, "--diff")
        assert result.ret == 0, output(result)
        assert ran(result) == expected, (old, output(result))
        # Undone, the edit selects nothing again.
        path.write_text(original)
        bump_mtime(path)
        result = run_in(pytester, clone, "--diff")
        assert ran(result) == set(), output(result)

    # The merged baseline records on like any other.
    edit(mod_a, "return 2 * x", "return x * 2")
    result = run_in(pytester, clone, "--diff-baseline")
    assert result.ret == 0, output(result)
    assert ran(result) == {"tests/test_a.py::test_double"}
    result = run_in(pytester, clone, "--diff")
    assert ran(result) == set(), output(result)


@pytest.mark.parametrize("newer", ["passed", "failed"])
def test_newest_record_wins_in_any_order(pytester: pytest.Pytester, newer: str) -> None:
    """The same test recorded in two inputs: the newer record is kept, given
    first or last, whether it passed or failed."""
    fixed, broken = "return 2 * x", "return 2 * x + 1"
    older_dir = make_project(pytester.path / "older")
    newer_dir = make_project(pytester.path / "newer")
    edit(older_dir / "mod_a.py", fixed, broken if newer == "passed" else fixed)
    edit(newer_dir / "mod_a.py", fixed, fixed if newer == "passed" else broken)
    run_in(pytester, older_dir, "--diff-baseline")
    time.sleep(1.1)  # records are timed to the second
    run_in(pytester, newer_dir, "--diff-baseline")
    want = PASSED if newer == "passed" else FAILED
    assert outcomes_in(older_dir / DB)["tests/test_a.py::test_double"] == 1 - want
    assert outcomes_in(newer_dir / DB)["tests/test_a.py::test_double"] == want

    for name, inputs in [("newer-last", (older_dir / DB, newer_dir / DB)), ("newer-first", (newer_dir / DB, older_dir / DB))]:
        merged = pytester.path / f"{name}.db"
        assert_ok(cli("merge", merged, *inputs))
        assert outcomes_in(merged) == {**dict.fromkeys(ALL_TESTS, PASSED), "tests/test_a.py::test_double": want}, name
        p = cli("inspect", merged, "--test", "tests/test_a.py::test_double", "--json")
        assert_ok(p)
        assert json.loads(p.stdout)["outcome"] == newer, name

    # A checkout of the newer code with the merged baseline: a test that
    # passed there is not run; one that failed is.
    clone = make_project(pytester.path / "clone")
    shutil.copyfile(newer_dir / "mod_a.py", clone / "mod_a.py")
    install(pytester.path / "newer-first.db", clone)
    result = run_in(pytester, clone, "--diff")
    assert ran(result) == (set() if newer == "passed" else {"tests/test_a.py::test_double"}), output(result)


def test_directory_input_and_progress(recorded: Path, tmp_path: Path) -> None:
    shards = tmp_path / "shards"
    shards.mkdir()
    for i in range(6):
        shutil.copyfile(recorded, shards / f"shard{i}.db")
    (shards / "notes.txt").write_text("not a database, and not *.db: ignored")
    (shards / "nested").mkdir()
    (shards / "nested" / "deep.db").write_text("not read: directories are not searched recursively")

    out = tmp_path / "out.db"
    p = cli("merge", out, shards)
    assert_ok(p)
    assert p.stdout.startswith(f"merged 6 databases into {out}: 4 tests, "), p.stdout
    assert p.stderr.splitlines() == [f"merging {i}/6: {shards / f'shard{i - 1}.db'}" for i in range(1, 7)]
    assert outcomes_in(out) == dict.fromkeys(ALL_TESTS, PASSED)

    # Five inputs or fewer: quiet.
    p = cli("merge", out, *[shards / f"shard{i}.db" for i in range(5)])
    assert_ok(p)
    assert p.stderr == ""


def test_file_urls(recorded: Path, tmp_path: Path) -> None:
    """A file:// prefix, a file:// object and a file:// output."""
    shards = tmp_path / "shards"
    shards.mkdir()
    shutil.copyfile(recorded, shards / "a.db")
    shutil.copyfile(recorded, shards / "b.db")
    single = tmp_path / "single.db"
    shutil.copyfile(recorded, single)
    out = tmp_path / "remote" / "merged.db"
    p = cli("merge", out.as_uri(), shards.as_uri() + "/", single.as_uri())
    assert_ok(p)
    assert p.stdout.startswith(f"merged 3 databases into {out.as_uri()}: 4 tests, "), p.stdout
    assert outcomes_in(out) == dict.fromkeys(ALL_TESTS, PASSED)


# -- merge: S3 ---------------------------------------------------------------------


@pytest.fixture
def s3(s3server: S3Server, tmp_path: Path) -> Iterator[tuple[S3Server, dict[str, str]]]:  # noqa: F811
    env = clean_env(
        AWS_ENDPOINT_URL=s3server.endpoint,
        AWS_ACCESS_KEY_ID=ACCESS_KEY,
        AWS_SECRET_ACCESS_KEY=SECRET_KEY,
        AWS_DEFAULT_REGION="us-east-1",
        AWS_EC2_METADATA_DISABLED="true",
        AWS_CONFIG_FILE=str(tmp_path / "no-aws-config"),
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "no-aws-credentials"),
    )
    yield s3server, env


def assert_no_secrets(p: subprocess.CompletedProcess[str]) -> None:
    assert SECRET_KEY not in p.stdout + p.stderr
    assert ACCESS_KEY not in p.stdout + p.stderr


def test_s3_prefix_to_s3_output(s3: tuple[S3Server, dict[str, str]], recorded: Path, tmp_path: Path) -> None:
    server, env = s3
    bucket = server.bucket()
    data = recorded.read_bytes()
    server.put(bucket, "shards/a.db", data)
    server.put(bucket, "shards/b.db", data)
    server.put(bucket, "shards/readme.txt", b"ignored")
    server.put(bucket, "shards/deeper/c.db", b"not listed: not directly under the prefix")

    p = cli("merge", f"s3://{bucket}/merged.db", f"s3://{bucket}/shards/", env=env)
    assert_ok(p)
    assert_no_secrets(p)
    assert p.stdout.startswith(f"merged 2 databases into s3://{bucket}/merged.db: 4 tests, "), p.stdout
    out = tmp_path / "downloaded.db"
    out.write_bytes(server.client().get_object(Bucket=bucket, Key="merged.db")["Body"].read())
    assert outcomes_in(out) == dict.fromkeys(ALL_TESTS, PASSED)

    # An S3 object to a local file.
    local = tmp_path / "local.db"
    assert_ok(cli("merge", local, f"s3://{bucket}/shards/a.db", env=env))
    assert outcomes_in(local) == dict.fromkeys(ALL_TESTS, PASSED)


def test_s3_configuration_reaches_the_engine_after_it_loaded(
    s3: tuple[S3Server, dict[str, str]], recorded: Path, tmp_path: Path
) -> None:
    """AWS_* variables set in os.environ after the engine was loaded are
    used: the Go runtime's copy of the environment is never relied on."""
    server, env = s3
    bucket = server.bucket()
    server.put(bucket, "shards/a.db", recorded.read_bytes())
    out = tmp_path / "out.db"
    script = textwrap.dedent(
        f"""
        import os, sys
        from pytest_difftest import cli
        assert cli.main(["inspect", {str(recorded)!r}]) == 0  # loads the engine
        os.environ.update({json.dumps({k: v for k, v in env.items() if k.startswith("AWS_")})})
        sys.exit(cli.main(["merge", {str(out)!r}, "s3://{bucket}/shards/"]))
        """
    )
    p = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=clean_env(), timeout=300)
    assert p.returncode == 0, p.stdout + p.stderr
    assert outcomes_in(out) == dict.fromkeys(ALL_TESTS, PASSED)


def test_s3_errors(s3: tuple[S3Server, dict[str, str]], good: Path, tmp_path: Path) -> None:
    server, env = s3
    out = tmp_path / "out.db"
    shutil.copyfile(good, out)
    before = out.read_bytes()
    missing_bucket = f"s3://no-such-bucket-{os.getpid()}/shards/"
    assert_error(cli("merge", out, good, missing_bucket, env=env), missing_bucket)
    bucket = server.bucket()
    missing_key = f"s3://{bucket}/nope.db"
    assert_error(cli("merge", out, good, missing_key, env=env), missing_key)
    empty_prefix = f"s3://{bucket}/empty/"
    assert_error(cli("merge", out, good, empty_prefix, env=env), empty_prefix, "no .db objects")
    server.put(bucket, "text.db", b"definitely not SQLite")
    line = assert_error(cli("merge", out, good, f"s3://{bucket}/text.db", env=env), f"s3://{bucket}/text.db", "not a pytest-difftest database")
    assert "input-" not in line  # the scratch copy is not what the user named
    # An output in a missing bucket: nothing is uploaded, nothing else changes.
    assert_error(cli("merge", f"s3://no-such-bucket-{os.getpid()}/m.db", good, env=env), f"s3://no-such-bucket-{os.getpid()}/m.db")
    assert out.read_bytes() == before
    assert leftovers(tmp_path) == []


# -- merge: errors -------------------------------------------------------------------


def _text(path: Path) -> None:
    path.write_text("hello, I am not a database")


def _foreign(path: Path) -> None:
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE notes (text)")
    con.commit()
    con.close()


def _newer(path: Path, source: Path) -> None:
    shutil.copyfile(source, path)
    con = sqlite3.connect(path)
    con.execute("PRAGMA user_version = 99")
    con.commit()
    con.close()


@pytest.mark.parametrize(
    "case, mention",
    [
        ("missing file", "no such file or directory"),
        ("empty directory", "no .db files in this directory"),
        ("not SQLite", "not a pytest-difftest database (not a SQLite file)"),
        ("foreign SQLite", "not a pytest-difftest database (a SQLite file of another application)"),
        ("newer schema", "schema version 99 is newer"),
        ("missing file URL", "file does not exist"),
        ("empty file:// prefix", "no .db objects under this prefix"),
        ("bad URL scheme", "unknown scheme \"gs\""),
    ],
)
def test_merge_errors_leave_output_untouched(good: Path, tmp_path: Path, case: str, mention: str) -> None:
    bad = tmp_path / "bad.db"
    arg: str = str(bad)
    if case == "empty directory":
        bad.mkdir()
        (bad / "readme.txt").write_text("no databases here")
    elif case == "not SQLite":
        _text(bad)
    elif case == "foreign SQLite":
        _foreign(bad)
    elif case == "newer schema":
        _newer(bad, good)
    elif case == "missing file URL":
        arg = bad.as_uri()
    elif case == "empty file:// prefix":
        (tmp_path / "empty").mkdir()
        arg = (tmp_path / "empty").as_uri() + "/"
    elif case == "bad URL scheme":
        arg = "gs://bucket/key.db"
    outdir = tmp_path / "out"
    outdir.mkdir()
    out = outdir / "merged.db"
    shutil.copyfile(good, out)
    before, mtime = out.read_bytes(), out.stat().st_mtime_ns

    line = assert_error(cli("merge", out, good, arg), mention)
    assert arg in line
    assert out.read_bytes() == before and out.stat().st_mtime_ns == mtime
    assert leftovers(outdir) == []
    # A new output is not created either.
    fresh = outdir / "new" / "merged.db"
    assert_error(cli("merge", fresh, good, arg), mention)
    assert not fresh.exists()


def test_merge_output_errors(good: Path, tmp_path: Path) -> None:
    # A directory as output.
    assert_error(cli("merge", tmp_path, good), str(tmp_path), "is a directory")
    # An existing file that is not a database is not overwritten (swapped
    # arguments, say).
    notes = tmp_path / "notes.txt"
    notes.write_text("precious")
    assert_error(cli("merge", notes, good), str(notes), "not overwriting")
    assert notes.read_text() == "precious"
    # A remote prefix is not an object.
    assert_error(cli("merge", (tmp_path / "dir").as_uri() + "/", good), "prefix")


def test_merge_usage_errors(good: Path, tmp_path: Path) -> None:
    for args in [("merge",), ("merge", tmp_path / "out.db"), ("frobnicate",), ()]:
        p = cli(*args)
        assert p.returncode == 2, (args, p.stdout + p.stderr)
        assert "usage: pytest-difftest" in p.stderr
        assert "Traceback" not in p.stderr
    assert not (tmp_path / "out.db").exists()


# -- inspect ------------------------------------------------------------------------------


def test_inspect_summary(good: Path) -> None:
    p = cli("inspect", good)
    assert_ok(p)
    lines = p.stdout.splitlines()
    assert lines[0] == f"database:    {good} ({good.stat().st_size} bytes)"
    assert lines[1] == "tests:       4 (4 passed)"
    assert lines[2] == "files:       6"
    assert lines[3].startswith("blocks:      ") and lines[3].endswith(" (0 stale)")
    assert lines[4].startswith("commit:      ")
    assert lines[5].startswith("recorded:    20")
    here = f"{sys.version_info[0]}.{sys.version_info[1]}"
    assert lines[6].startswith(f"environment: {here} (4 tests): python {here}, pytest-config ")
    assert lines[6].endswith(" installed distributions")

    p = cli("inspect", good, "--json")
    assert_ok(p)
    s = json.loads(p.stdout)
    assert s["tests"] == 4 and s["outcomes"] == {"passed": 4}
    # mod_a.py, mod_b.py, the two test files, and the two conftest.py files
    # that do not exist (creating one selects the tests below it).
    assert s["files"] == 6
    assert s["size"] == good.stat().st_size
    assert s["stale_blocks"] == 0 and s["blocks"] > 10
    assert [(e["name"], e["tests"], e["values"]["python"]) for e in s["environments"]] == [(here, 4, here)]
    assert s["recorded_at"].endswith("Z")


def test_inspect_default_database(recorded: Path) -> None:
    """Without DB, the baseline of the current directory's project."""
    p = cli("inspect", "--json", cwd=recorded.parent.parent.parent)
    assert_ok(p)
    assert json.loads(p.stdout)["tests"] == 4


def test_inspect_test(good: Path) -> None:
    p = cli("inspect", good, "--test", "tests/test_b.py::test_box", "--json")
    assert_ok(p)
    t = json.loads(p.stdout)
    assert t["nodeid"] == "tests/test_b.py::test_box"
    assert t["outcome"] == "passed"
    files = {f["path"]: [b["name"] for b in f["blocks"]] for f in t["files"]}
    here = f"{sys.version_info[0]}.{sys.version_info[1]}"
    assert t["env"] == here
    assert [f["path"] for f in t["files"]][-1] == f"<env:{here}>"
    # SPEC 4.8: the statements with effects and the bound names of a
    # module and of a plain class; the test file's own whole top level.
    assert files["mod_b.py"] == ["<defs>", "<effects>", "Box.__init__", "Box.size", "Box:<effects>", "Box:<names>"]
    assert files["tests/test_b.py"] == ["<defs>", "<effects>", "<module>", "test_box"]
    assert "mod_a.py" not in files
    env = {b["name"]: b["value"] for f in t["files"] if f["path"] == f"<env:{here}>" for b in f["blocks"]}
    assert env["python"] == f"{sys.version_info[0]}.{sys.version_info[1]}"
    assert not any(b["stale"] for f in t["files"] for b in f["blocks"])

    p = cli("inspect", good, "--test", "tests/test_b.py::test_box")
    assert_ok(p)
    lines = p.stdout.splitlines()
    assert lines[0].startswith("tests/test_b.py::test_box: passed in ")
    i = lines.index("mod_b.py")
    assert lines[i + 1:i + 7] == ["    " + b for b in ["<defs>", "<effects>", "Box.__init__", "Box.size", "Box:<effects>", "Box:<names>"]]
    assert f"    python = {sys.version_info[0]}.{sys.version_info[1]}" in lines


def test_inspect_stale_marker(pytester: pytest.Pytester) -> None:
    """A recording run that did not run a test leaves the versions it
    depends on stale; inspect shows them."""
    make_project(pytester.path)
    result = run(pytester, "--diff-baseline")
    assert ran(result) == ALL_TESTS
    edit(pytester.path / "mod_a.py", "return 2 * x", "return x * 2")
    # Records the new fingerprint of mod_a.py; test_double, affected but
    # deselected, keeps depending on the old version of double.
    result = run(pytester, "--diff-baseline", "-k", "triple")
    assert result.ret == 0, output(result)
    assert ran(result) == set()
    db = pytester.path / DB

    p = cli("inspect", db, "--test", "tests/test_a.py::test_double")
    assert_ok(p)
    assert "    double [stale]" in p.stdout.splitlines(), p.stdout
    p = cli("inspect", db, "--test", "tests/test_a.py::test_double", "--json")
    blocks = {b["name"]: b["stale"] for f in json.loads(p.stdout)["files"] if f["path"] == "mod_a.py" for b in f["blocks"]}
    assert blocks == {"<defs>": False, "<effects>": False, "double": True}
    p = cli("inspect", db, "--json")
    assert json.loads(p.stdout)["stale_blocks"] == 1


def test_inspect_file(good: Path) -> None:
    p = cli("inspect", good, "--file", "mod_b.py", "--json")
    assert_ok(p)
    d = json.loads(p.stdout)
    assert d["path"] == "mod_b.py"
    assert [t["nodeid"] for t in d["tests"]] == sorted(B_TESTS)
    box = d["tests"][0]
    assert box["outcome"] == "passed"
    assert [b["name"] for b in box["blocks"]] == ["<defs>", "<effects>", "Box.__init__", "Box.size", "Box:<effects>", "Box:<names>"]

    p = cli("inspect", good, "--file", "mod_a.py")
    assert_ok(p)
    lines = p.stdout.splitlines()
    assert lines[0] == "mod_a.py: 3 tests depend on it"
    assert lines[1:] == [
        "tests/test_a.py::test_double (passed): <defs>, <effects>, double",
        "tests/test_a.py::test_triple (passed): <defs>, <effects>, triple",
        # importlib.import_module: dynamic access, the whole top level, its
        # class attributes, the names it binds and its exports.
        "tests/test_b.py::test_mixed (passed): <allnames>, <classes>, <defs>, <effects>, <exports>, <module>, triple",
    ]
    # Spelled with ./ or as an absolute path inside the project: the same.
    assert cli("inspect", good, "--file", "./mod_a.py").stdout == p.stdout
    project_db = good.parent / DB
    project_db.parent.mkdir(parents=True)
    shutil.copyfile(good, project_db)
    assert cli("inspect", project_db, "--file", good.parent / "mod_a.py").stdout == p.stdout


def test_inspect_errors(good: Path, tmp_path: Path) -> None:
    assert_error(cli("inspect", good, "--test", "tests/test_a.py::test_nope"), str(good), "no test", "test_nope")
    assert_error(cli("inspect", good, "--test", "tests/test_a.py::test_nope", "--json"), "no test")
    line = assert_error(cli("inspect", good, "--file", "test_a.py"), "no file", "test_a.py")
    assert "did you mean \"tests/test_a.py\"" in line
    assert_error(cli("inspect", tmp_path / "missing.db"), "missing.db", "no such file")
    text = tmp_path / "text.db"
    _text(text)
    assert_error(cli("inspect", text), str(text), "not a pytest-difftest database")
    foreign = tmp_path / "foreign.db"
    _foreign(foreign)
    assert_error(cli("inspect", foreign, "--json"), str(foreign), "another application")
    p = cli("inspect", good, "--test", "x", "--file", "y")
    assert p.returncode == 2 and "not allowed with argument" in p.stderr


# -- the command itself ------------------------------------------------------------------


def test_version_and_help() -> None:
    from pytest_difftest import __version__

    p = cli("--version")
    assert_ok(p)
    assert p.stdout.strip() == f"pytest-difftest {__version__}"
    for args in [("--help",), ("merge", "--help"), ("inspect", "--help")]:
        p = cli(*args)
        assert_ok(p)
        assert p.stdout.startswith("usage: pytest-difftest"), args
    assert "OUTPUT INPUT [INPUT ...]" in cli("merge", "--help").stdout
    assert "--test NODEID" in cli("inspect", "--help").stdout
