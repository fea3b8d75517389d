"""Remote baselines (SPEC 7): before selecting or recording, bring the local
database up to date from ``--diff-remote``; after a successful recording run
with ``--diff-upload``, upload it. Only the process that owns the engine (the
pytest process, or the pytest-xdist controller) calls this module.

The transfers run in the Go engine. Go copied the process environment when
the library was loaded, so every call passes the ``AWS_*`` variables as
Python sees them at that moment (a conftest.py may have set some). Each
transfer runs in a thread, so that Ctrl-C cancels it instead of waiting for
a long download. Errors are one line naming the URL and the cause; every
remote error ends the run with ``EXIT_REMOTE_ERROR``.
"""

from __future__ import annotations

import os
import threading
import uuid
from pathlib import Path
from typing import Any

import pytest

from pytest_difftest import engine

# Exit status of a run stopped or failed by the remote (fetch before the run,
# upload after it): the status pytest gives usage errors, which is also what
# a bad URL gets. Documented in the README.
EXIT_REMOTE_ERROR = pytest.ExitCode.USAGE_ERROR


def aws_env() -> dict[str, str]:
    """Every AWS_* variable as Python sees it now (empty values included:
    they override the Go process environment)."""
    return {k: v for k, v in os.environ.items() if k.startswith("AWS_")}


def check(url: str, source: str) -> str:
    """Validate a remote URL without touching the network; return it
    normalised. A bad URL is a usage error (exit 4), named by its source
    (``--diff-remote`` or ``diff_remote_url``)."""
    try:
        result = engine.call_json("dt_remote_check", {"url": url})
    except engine.EngineError as exc:
        raise pytest.UsageError(f"pytest-difftest: {source}: {exc}") from None
    return str(result["url"])


def fetch(url: str, db: Path, progress: bool, verbose: bool) -> list[str]:
    """Bring ``db`` up to date from the remote ``url`` (skipped when the
    remote's ETag equals the cached one, in ``<db>.etag``). Return the lines
    to show; raise pytest.UsageError (one line, exit 4) on any remote error,
    before any test runs."""
    request = {"url": url, "local_path": str(db), "env": aws_env(), "progress": progress}
    try:
        res = _transfer("dt_remote_fetch", request)
    except engine.EngineError as exc:
        raise pytest.UsageError(f"pytest-difftest: remote baseline: {exc}") from None
    url = res["url"]
    if res["missing"]:
        if res["size"] >= 0:
            return [f"remote {url} has no baseline yet; using the local baseline"]
        return [f"remote {url} has no baseline yet; first run"]
    if res["fetched"]:
        return [f"fetched the baseline from {url} ({_size(res['size'])})"]
    return [f"remote {url} unchanged; using the local copy"] if verbose else []


def upload(url: str, db: Path, progress: bool, status: int, recorded: bool) -> tuple[list[str], bool]:
    """After a recording run with --diff-upload: upload ``db`` to ``url`` if
    the run succeeded (exit ``status`` 0) and recording was not stopped by an
    engine error. Return the lines to show, and whether the run must end
    with EXIT_REMOTE_ERROR (a failed or refused upload)."""
    if status != pytest.ExitCode.OK:
        return [f"not uploading the baseline to {url}: the run did not succeed (exit status {status})"], False
    if not recorded:
        return [f"error: not uploading the baseline to {url}: recording stopped after an engine error"], True
    request = {"url": url, "local_path": str(db), "env": aws_env(), "progress": progress}
    try:
        res = _transfer("dt_remote_upload", request)
    except engine.EngineError as exc:
        return [f"error: upload failed: {exc}"], True
    return [f"uploaded the baseline to {res['url']} ({_size(res['size'])})"], False


def _size(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 100_000 else f"{n / 1e3:.1f} kB"


def _transfer(name: str, request: dict[str, Any]) -> dict[str, Any]:
    """Call a transfer function in a thread; on Ctrl-C, cancel it in Go and
    let KeyboardInterrupt through."""
    op = uuid.uuid4().hex
    request = {**request, "op": op}
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["result"] = engine.call_json(name, request)
        except BaseException as exc:  # handed to the calling thread
            box["error"] = exc

    engine.library()  # load (and check the pid) in the calling thread
    thread = threading.Thread(target=target, name=f"difftest-{name}", daemon=True)
    thread.start()
    try:
        while thread.is_alive():
            thread.join(0.1)
    except KeyboardInterrupt:
        try:
            engine.call_json("dt_remote_cancel", {"op": op})
        except engine.EngineError:
            pass
        thread.join(10)
        raise
    if "error" in box:
        raise box["error"]
    return box["result"]  # type: ignore[no-any-return]
