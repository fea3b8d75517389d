"""Remote baselines (SPEC 7, issue 5), end to end: real pytest subprocesses
against a real S3-compatible server (moto_server on 127.0.0.1, see
s3server.py) and against file:// URLs."""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path
from typing import Iterator

import pytest
from conftest import (
    ALL_TESTS,
    BANK_TESTS,
    CALC_TESTS,
    COMMON,
    assert_usage_error,
    baseline,
    bump_mtime,
    db_file,
    diff,
    nodes,
    output,
    project,
    ran,
    run,
    write,
)
from s3server import ACCESS_KEY, SECRET_KEY, S3Server, free_port, s3server, start  # noqa: F401

KEY = "ci/base.db"
CACHE = Path(".pytest_cache") / "pytest-difftest"
DB = CACHE / "pytest_difftest.db"
ETAG = CACHE / "pytest_difftest.db.etag"


def aws_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, endpoint: str, key: str = ACCESS_KEY) -> None:
    """Only our AWS_* variables reach the inner pytest: an isolated
    configuration pointing at `endpoint`."""
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))


@pytest.fixture
def aws(s3server: S3Server, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> S3Server:
    aws_environment(monkeypatch, tmp_path, s3server.endpoint)
    return s3server


def check(result: pytest.RunResult) -> str:
    """The whole output, after checking that no credential is in it."""
    text = output(result)
    assert SECRET_KEY not in text, text
    assert ACCESS_KEY not in text, text
    return text


def run_in(pytester: pytest.Pytester, cwd: Path, *args: str) -> pytest.RunResult:
    """run() with another project directory as the working directory."""
    old = Path.cwd()
    os.chdir(cwd)
    try:
        return run(pytester, *args)
    finally:
        os.chdir(old)


def clone(pytester: pytest.Pytester) -> Path:
    """A fresh copy of the project, as a checkout elsewhere: no
    .pytest_cache, new mtimes."""
    dst = pytester.path.parent / f"{pytester.path.name}-clone"
    shutil.copytree(
        pytester.path, dst, copy_function=shutil.copy,
        ignore=shutil.ignore_patterns(".pytest_cache", "runpytest-*", "__pycache__"),
    )
    return dst


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert text.count(old) == 1, f"{old!r} occurs {text.count(old)} times in {path}"
    path.write_text(text.replace(old, new))
    bump_mtime(path)


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def leftovers(root: Path) -> list[str]:
    """Temporary files of a transfer left in the cache directory."""
    return sorted(p.name for p in (root / CACHE).iterdir() if p.name.endswith((".tmp", ".pull")))


def assert_aborted(result: pytest.RunResult, *mentions: str) -> None:
    """Aborted before any test ran: exit 4, one line naming `mentions`."""
    check(result)
    assert_usage_error(result, *mentions)
    assert ran(result) == set()


# -- round trips ------------------------------------------------------------


def test_s3_round_trip(pytester: pytest.Pytester, aws: S3Server) -> None:
    """Main records and uploads; a fresh clone fetches once, selects nothing,
    then exactly what its edits affect; when main uploads again, the clone
    fetches the new baseline."""
    bucket = aws.bucket()
    url = f"s3://{bucket}/{KEY}"
    project(pytester, COMMON)

    result = baseline(pytester, "--diff-upload", "--diff-remote", url)
    text = check(result)
    assert result.ret == 0, text
    assert ran(result) == ALL_TESTS
    assert f"difftest: remote {url} has no baseline yet; first run" in result.outlines, text
    assert any(l.startswith(f"difftest: uploaded the baseline to {url} (") for l in result.outlines), text
    assert aws.exists(bucket, KEY)
    assert aws.downloads(bucket, KEY) == 0

    branch = clone(pytester)
    assert not (branch / DB).exists()
    result = run_in(pytester, branch, "--diff", "--diff-remote", url)
    text = check(result)
    assert result.ret == 0, text
    assert ran(result) == set()
    assert any(l.startswith(f"difftest: fetched the baseline from {url} (") for l in result.outlines), text
    assert aws.downloads(bucket, KEY) == 1
    etag = (branch / ETAG).read_text()

    # An edit on the branch: exactly its tests; the unchanged remote is not
    # downloaded again (the conditional GET is answered 304).
    edit(branch / "calc.py", "return a + b", "return b + a")
    for _ in range(2):
        result = run_in(pytester, branch, "--diff", "--diff-remote", url)
        text = check(result)
        assert result.ret == 0, text
        assert ran(result) == {"test_calc.py::test_add"}
        assert "fetched" not in text
    assert aws.downloads(bucket, KEY) == 1
    assert ("GET", 304) in aws.requests(bucket, KEY)
    assert (branch / ETAG).read_text() == etag

    # Main moves on and uploads; the branch fetches the new baseline, in
    # which its own edit is still a change and main's edit (which the branch
    # does not have) is one too.
    edit(pytester.path / "bank.py", "self.balance -= n + self.fee", "self.balance -= self.fee + n")
    result = baseline(pytester, "--diff-upload", "--diff-remote", url)
    assert result.ret == 0, check(result)
    assert ran(result) == {"test_bank.py::test_withdraw"}
    result = run_in(pytester, branch, "--diff", "--diff-remote", url)
    text = check(result)
    assert result.ret == 0, text
    assert ran(result) == {"test_calc.py::test_add", "test_bank.py::test_withdraw"}
    assert aws.downloads(bucket, KEY) == 2
    assert (branch / ETAG).read_text() != etag


def test_s3_round_trip_under_xdist(pytester: pytest.Pytester, aws: S3Server) -> None:
    """With -n 2 only the controller fetches and uploads."""
    bucket = aws.bucket()
    url = f"s3://{bucket}/{KEY}"
    project(pytester, COMMON)
    result = baseline(pytester, "-n", "2", "--diff-upload", "--diff-remote", url)
    assert result.ret == 0, check(result)
    assert ran(result) == ALL_TESTS
    assert aws.exists(bucket, KEY)

    branch = clone(pytester)
    edit(branch / "bank.py", "fee = 1", "fee = 0")
    result = run_in(pytester, branch, "-n", "2", "--diff", "--diff-remote", url)
    assert result.ret == 0, check(result)
    # SPEC 4.8: the class attribute is read by withdraw only.
    assert ran(result) == nodes("test_bank.py", "test_withdraw")
    assert aws.downloads(bucket, KEY) == 1


def test_file_round_trip(pytester: pytest.Pytester, tmp_path: Path) -> None:
    remote_db = tmp_path / "shared" / "baselines" / "base.db"
    url = remote_db.as_uri()
    project(pytester, COMMON)
    result = baseline(pytester, "--diff-upload", "--diff-remote", url)
    assert result.ret == 0, output(result)
    assert ran(result) == ALL_TESTS
    assert f"difftest: remote {url} has no baseline yet; first run" in result.outlines
    assert remote_db.is_file()

    branch = clone(pytester)
    result = run_in(pytester, branch, "--diff", "--diff-remote", url)
    assert result.ret == 0, output(result)
    assert ran(result) == set()
    assert any(l.startswith(f"difftest: fetched the baseline from {url} (") for l in result.outlines)

    # The second run copies nothing: same file (inode) and same cached ETag.
    edit(branch / "calc.py", "return y + 1", "return 1 + y")
    inode, etag = (branch / DB).stat().st_ino, (branch / ETAG).read_text()
    result = run_in(pytester, branch, "--diff", "--diff-remote", url, "--diff-v")
    assert result.ret == 0, output(result)
    assert ran(result) == {"test_calc.py::test_outer"}
    assert f"difftest: remote {url} unchanged; using the local copy" in result.outlines
    assert (branch / DB).stat().st_ino == inode
    assert (branch / ETAG).read_text() == etag

    # Set from the ini file too.
    write(pytester, {"pytest.ini": f"[pytest]\ndiff_remote_url = {url}\n"})
    shutil.copy(pytester.path / "pytest.ini", branch / "pytest.ini")
    result = run_in(pytester, branch, "--diff")
    assert result.ret == 0, output(result)
    assert ran(result) == {"test_calc.py::test_outer"}


# -- first run and errors before the run ------------------------------------


def test_missing_object_is_a_first_run(pytester: pytest.Pytester, aws: S3Server) -> None:
    url = f"s3://{aws.bucket()}/{KEY}"
    project(pytester, COMMON)
    result = diff(pytester, "--diff-remote", url)
    text = check(result)
    assert result.ret == 0, text
    assert ran(result) == ALL_TESTS
    assert f"difftest: remote {url} has no baseline yet; first run" in result.outlines, text

    # With a local baseline, it is kept and used.
    result = baseline(pytester)
    assert result.ret == 0
    result = diff(pytester, "--diff-remote", url)
    text = check(result)
    assert result.ret == 0, text
    assert ran(result) == set()
    assert f"difftest: remote {url} has no baseline yet; using the local baseline" in result.outlines, text


@pytest.fixture
def local_baseline(pytester: pytest.Pytester) -> Iterator[str]:
    """A project with a local baseline; after the test, the database must be
    byte for byte what it was."""
    project(pytester, COMMON)
    result = baseline(pytester)
    assert result.ret == 0, output(result)
    before = digest(db_file(pytester))
    yield before
    assert digest(db_file(pytester)) == before
    assert not (pytester.path / ETAG).exists()
    assert leftovers(pytester.path) == []


@pytest.mark.parametrize("mode", ["--diff", "--diff-baseline"])
def test_missing_bucket(pytester: pytest.Pytester, aws: S3Server, local_baseline: str, mode: str) -> None:
    url = f"s3://difftest-missing-{uuid.uuid4().hex[:12]}/{KEY}"
    result = run(pytester, mode, "--diff-remote", url)
    assert_aborted(result, f"{url}: bucket does not exist")


@pytest.fixture(scope="module")
def auth_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """A moto server that checks credentials from the first request on."""
    with start(tmp_path_factory.mktemp("s3auth") / "moto.log", {"INITIAL_NO_AUTH_ACTION_COUNT": "0"}) as server:
        yield server


def test_wrong_credentials(
    pytester: pytest.Pytester, auth_server: S3Server, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, local_baseline: str
) -> None:
    aws_environment(monkeypatch, tmp_path, auth_server.endpoint)
    url = f"s3://difftest-auth/{KEY}"
    result = diff(pytester, "--diff-remote", url, "--diff-v")
    assert_aborted(result, f"{url}: access denied", "access key ID is not valid")


def test_unreachable_endpoint(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, local_baseline: str
) -> None:
    endpoint = f"http://127.0.0.1:{free_port()}"
    aws_environment(monkeypatch, tmp_path, endpoint)
    url = f"s3://difftest-any/{KEY}"
    result = baseline(pytester, "--diff-remote", url)
    assert_aborted(result, f"{url}: cannot reach endpoint {endpoint}: connection refused")


def test_ctrl_c_cancels_a_transfer(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """An endpoint that accepts the connection and never answers: Ctrl-C
    ends the run at once, not when the engine's own deadline (20 s) ends
    the request."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(8)
        server.settimeout(120)
        aws_environment(monkeypatch, tmp_path, f"http://127.0.0.1:{server.getsockname()[1]}")
        project(pytester, COMMON)
        proc = pytester.popen(
            [sys.executable, "-m", "pytest", "-p", "no:randomly", "--diff", "--diff-remote", f"s3://difftest-any/{KEY}"],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        )
        try:
            conn, _ = server.accept()  # the request is under way
            with conn:
                time.sleep(0.5)
                interrupted = time.monotonic()
                proc.send_signal(signal.SIGINT)
                out, _ = proc.communicate(timeout=60)
                elapsed = time.monotonic() - interrupted
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    text = out.decode(errors="replace")
    assert proc.returncode == pytest.ExitCode.INTERRUPTED, text
    assert elapsed < 10, f"{elapsed:.1f}s after Ctrl-C\n{text}"
    assert "PASSED" not in text and " passed" not in text, text


def _foreign_sqlite(tmp_path: Path) -> bytes:
    p = tmp_path / "other.sqlite"
    con = sqlite3.connect(p)
    con.execute("CREATE TABLE t (x)")
    con.commit()
    con.close()
    return p.read_bytes()


@pytest.mark.parametrize("content", ["garbage", "foreign sqlite", "empty"])
def test_corrupt_remote_object(
    pytester: pytest.Pytester, aws: S3Server, tmp_path: Path, local_baseline: str, content: str
) -> None:
    data = {"garbage": b"this is not a database\n" * 100, "foreign sqlite": _foreign_sqlite(tmp_path), "empty": b""}[content]
    bucket = aws.bucket()
    aws.put(bucket, KEY, data)
    url = f"s3://{bucket}/{KEY}"
    result = diff(pytester, "--diff-remote", url)
    assert_aborted(result, f"{url}: not a pytest-difftest database")


def test_corrupt_file_object(pytester: pytest.Pytester, tmp_path: Path, local_baseline: str) -> None:
    remote_db = tmp_path / "base.db"
    remote_db.write_bytes(b"\x00garbage" * 1000)
    result = baseline(pytester, "--diff-remote", remote_db.as_uri())
    assert_aborted(result, f"{remote_db.as_uri()}: not a pytest-difftest database")


@pytest.mark.parametrize(
    "url, ini, mentions",
    [
        ("s3://bucket/dir/", False, ["--diff-remote", "names a prefix"]),
        ("gs://bucket/base.db", False, ["--diff-remote", 'unknown scheme "gs"']),
        ("file://relative/base.db", False, ["--diff-remote", "relative"]),
        ("s3://bucket/", True, ["diff_remote_url", "names a prefix"]),
    ],
)
def test_bad_url_is_a_usage_error(pytester: pytest.Pytester, url: str, ini: bool, mentions: list[str]) -> None:
    project(pytester, COMMON)
    if ini:
        write(pytester, {"pytest.ini": f"[pytest]\ndiff_remote_url = {url}\n"})
        result = diff(pytester)
    else:
        result = diff(pytester, "--diff-remote", url)
    assert_usage_error(result, *mentions)
    assert ran(result) == set()


# -- the environment comes from Python ----------------------------------------

ENV_CONFTEST = {
    # At import: before the engine is loaded.
    "import": """
        import os
        os.environ.update({env!r})
    """,
    # After the engine is loaded (the remote URL was checked in
    # pytest_configure), so the Go runtime's own copy of the environment
    # cannot have these values: only what the plugin passes counts.
    "sessionstart": """
        import os
        import pytest

        @pytest.hookimpl(hookwrapper=True)
        def pytest_sessionstart(session):
            from pytest_difftest import engine
            assert engine._lib is not None, "the engine should be loaded by now"
            os.environ.update({env!r})
            yield
    """,
}


@pytest.mark.parametrize("when", sorted(ENV_CONFTEST))
def test_environment_set_in_conftest(
    pytester: pytest.Pytester, aws: S3Server, monkeypatch: pytest.MonkeyPatch, when: str
) -> None:
    bucket = aws.bucket()
    url = f"s3://{bucket}/{KEY}"
    env = {name: os.environ[name] for name in ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")}
    # What the process starts with would fail: a closed port, no keys.
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    project(pytester, {**COMMON, "conftest.py": textwrap.dedent(ENV_CONFTEST[when].format(env=env))})
    result = baseline(pytester, "--diff-upload", "--diff-remote", url)
    text = check(result)
    assert result.ret == 0, text
    assert ran(result) == ALL_TESTS
    assert aws.exists(bucket, KEY)


# -- upload -------------------------------------------------------------------

REMOVE_BUCKET = """
import os
import urllib.request


def test_remove_the_bucket():
    endpoint = os.environ["AWS_ENDPOINT_URL"]
    req = urllib.request.Request(endpoint + "/{bucket}", method="DELETE")
    urllib.request.urlopen(req).close()
"""


def test_failed_upload_fails_the_run(pytester: pytest.Pytester, aws: S3Server) -> None:
    """The bucket disappears while the tests run: the tests pass, the upload
    fails, and so does the run."""
    bucket = aws.bucket()
    url = f"s3://{bucket}/{KEY}"
    project(pytester, {"test_a.py": "def test_one():\n    pass\n", "test_zz.py": REMOVE_BUCKET.format(bucket=bucket)})
    result = baseline(pytester, "--diff-upload", "--diff-remote", url)
    text = check(result)
    assert result.ret == 4, text
    assert ran(result) == {"test_a.py::test_one", "test_zz.py::test_remove_the_bucket"}
    assert f"difftest: error: upload failed: {url}: bucket does not exist" in result.outlines, text
    assert "Traceback" not in text


def test_failed_file_upload_fails_the_run(pytester: pytest.Pytester, tmp_path: Path) -> None:
    """The remote directory cannot be created (a file is in the way)."""
    blocker = tmp_path / "shared"
    url = (blocker / "base.db").as_uri()
    project(pytester, {"test_a.py": f"def test_one():\n    open({str(blocker)!r}, 'w').close()\n"})
    result = baseline(pytester, "--diff-upload", "--diff-remote", url)
    text = output(result)
    assert result.ret == 4, text
    assert ran(result) == {"test_a.py::test_one"}
    lines = [l for l in result.outlines if l.startswith(f"difftest: error: upload failed: {url}: ")]
    assert len(lines) == 1, text


def test_no_upload_after_failing_tests(pytester: pytest.Pytester, aws: S3Server) -> None:
    bucket = aws.bucket()
    url = f"s3://{bucket}/{KEY}"
    project(pytester, {"test_a.py": "def test_ok():\n    pass\n\ndef test_bad():\n    assert False\n"})
    result = baseline(pytester, "--diff-upload", "--diff-remote", url)
    text = check(result)
    assert result.ret == 1, text
    assert f"difftest: not uploading the baseline to {url}: the run did not succeed (exit status 1)" in result.outlines
    assert not aws.exists(bucket, KEY)


def test_upload_when_nothing_is_selected(pytester: pytest.Pytester, aws: S3Server) -> None:
    """Exit status 5 turned into 0 counts as success: the baseline is
    uploaded, and the next clone downloads it."""
    bucket = aws.bucket()
    url = f"s3://{bucket}/{KEY}"
    project(pytester, COMMON)
    assert baseline(pytester).ret == 0
    result = baseline(pytester, "--diff-upload", "--diff-remote", url)
    text = check(result)
    assert result.ret == 0, text
    assert ran(result) == set()
    # The local baseline was kept (nothing remote yet) and uploaded as is.
    assert aws.exists(bucket, KEY)
    branch = clone(pytester)
    result = run_in(pytester, branch, "--diff", "--diff-remote", url)
    assert result.ret == 0, check(result)
    assert ran(result) == set()
    assert CALC_TESTS <= ALL_TESTS
