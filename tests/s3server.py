"""An S3-compatible server on 127.0.0.1 for the end-to-end tests: moto_server
(PyPI ``moto[server]``), in a subprocess whose access log is kept so that
tests can count the requests an object received.

``.ci/run`` (``./build.sh test``) starts one server for the whole run and
exports ``DIFFTEST_S3_ENDPOINT`` and ``DIFFTEST_S3_LOG``; without them each
test session (each xdist worker) starts its own. Every test uses buckets of
its own, so one server serves all of them.

Use it with ``from s3server import s3server`` (the session fixture) in a
test module, or ``start(...)`` for a server with other settings.
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Optional

import pytest

ENDPOINT_VAR = "DIFFTEST_S3_ENDPOINT"
LOG_VAR = "DIFFTEST_S3_LOG"

# Credentials the tests use: distinctive strings that must never appear in
# any output. moto accepts any credentials unless told otherwise.
ACCESS_KEY = "AKIADIFFTEST00000001"
SECRET_KEY = "dIfFtEsT/sEcReT+aCcEsS/kEy/0000000000001"

_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_ACCESS = re.compile(r'"(?P<method>[A-Z]+) (?P<path>\S+) HTTP/[\d.]+" (?P<status>\d{3})')


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on (right now)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class S3Server:
    endpoint: str
    log: Optional[Path]  # the server's access log, if known

    def client(self) -> Any:
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            region_name="us-east-1",
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
        )

    def bucket(self) -> str:
        """Create a bucket no other test uses; return its name."""
        name = f"difftest-{uuid.uuid4().hex[:20]}"
        self.client().create_bucket(Bucket=name)
        return name

    def put(self, bucket: str, key: str, data: bytes) -> None:
        self.client().put_object(Bucket=bucket, Key=key, Body=data)

    def exists(self, bucket: str, key: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self.client().head_object(Bucket=bucket, Key=key)
        except ClientError:
            return False
        return True

    def requests(self, bucket: str, key: str) -> list[tuple[str, int]]:
        """(method, status) of every request to the object, from the log."""
        if self.log is None:
            pytest.skip(f"the S3 server's access log is unknown (set {LOG_VAR} with {ENDPOINT_VAR})")
        want = f"/{bucket}/{key}"
        out = []
        for line in self.log.read_text(errors="replace").splitlines():
            m = _ACCESS.search(_ANSI.sub("", line))
            if m and m.group("path").split("?", 1)[0] == want:
                out.append((m.group("method"), int(m.group("status"))))
        return out

    def downloads(self, bucket: str, key: str) -> int:
        """How many times the object's content was sent (GET answered 200;
        a conditional GET that hit is 304)."""
        return sum(1 for method, status in self.requests(bucket, key) if method == "GET" and status == 200)


def _wait_ready(endpoint: str, proc: subprocess.Popen, log: Path, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"moto_server exited with {proc.returncode}:\n{log.read_text(errors='replace')}")
        try:
            urllib.request.urlopen(endpoint + "/moto-api/", timeout=1).close()
            return
        except urllib.error.HTTPError:
            return  # it answers
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"moto_server did not start within {timeout}s:\n{log.read_text(errors='replace')}")


@contextlib.contextmanager
def start(log: Path, env: Optional[dict[str, str]] = None) -> Iterator[S3Server]:
    """Run ``python -m moto.server`` on 127.0.0.1 and a free port, its
    output in ``log``, for the duration of the block."""
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    child_env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "PYTEST_"))}
    child_env.update({"PYTHONUNBUFFERED": "1", **(env or {})})
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, env=child_env,
        )
    try:
        _wait_ready(endpoint, proc, log)
        yield S3Server(endpoint, log)
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="session")
def s3server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """The S3 server of this test session: the one named by
    DIFFTEST_S3_ENDPOINT, or one started here."""
    endpoint = os.environ.get(ENDPOINT_VAR)
    if endpoint:
        log = os.environ.get(LOG_VAR)
        yield S3Server(endpoint.rstrip("/"), Path(log) if log else None)
        return
    with start(tmp_path_factory.mktemp("s3server") / "moto.log") as server:
        yield server
