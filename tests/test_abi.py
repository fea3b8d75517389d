"""The C ABI's own guarantees (include/difftest.h), called through ctypes
directly, as any caller would, without the plugin's checks: a forked child
gets DT_FORKED without entering Go, misuse of a handle is DT_MISUSE.

Each scenario runs in a fresh interpreter: the Go runtime never unloads, and
the test runner must not carry it into its own forks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

PRELUDE = r'''
import ctypes, json, os, sys
from pytest_difftest import engine

lib = engine.library()
root = sys.argv[1]
out = ctypes.c_void_p()
handle = ctypes.c_size_t()


def take():
    text = ctypes.string_at(out.value).decode() if out.value else ""
    lib.dt_free(out.value)
    out.value = None
    return text


def open_session():
    config = {"root": root, "db_path": os.path.join(root, "d.db"), "record": True, "env": {"python": "3"}}
    code = lib.dt_open(json.dumps(config).encode(), ctypes.byref(handle), ctypes.byref(out))
    assert code == 0, take()
    return handle.value


check = lambda: lib.dt_remote_check(b'{"url": "s3://bucket/key.db"}', ctypes.byref(out))
'''

FORK = PRELUDE + r'''
h = open_session()
assert lib.dt_select(h, ctypes.byref(out)) == 0, take()
take()
r, w = os.pipe()
pid = os.fork()
if pid == 0:
    # The child: no pid check, straight into the library.
    results = []
    for name, call in [("check", check), ("select", lambda: lib.dt_select(h, ctypes.byref(out))),
                       ("close", lambda: lib.dt_close(h, ctypes.byref(out)))]:
        code = call()
        results.append([name, code, take()])
    os.write(w, json.dumps(results).encode())
    os._exit(0)
os.close(w)
child = json.loads(os.read(r, 65536))
_, status = os.waitpid(pid, 0)
# The parent goes on working.
assert check() == 0, take()
take()
assert lib.dt_close(h, ctypes.byref(out)) == 0, take()
print(json.dumps({"child": child, "status": status}))
'''


def script(tmp_path: Path, source: str) -> subprocess.CompletedProcess[str]:
    # A child that entered Go would hang: the timeout turns that into a failure.
    return subprocess.run(
        [sys.executable, "-c", source, str(tmp_path)], capture_output=True, text=True, timeout=60
    )


@pytest.mark.skipif(not hasattr(os, "fork"), reason="POSIX only")
def test_a_forked_child_gets_the_fork_error_without_entering_go(tmp_path: Path) -> None:
    proc = script(tmp_path, FORK)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["status"] == 0
    assert [(name, code) for name, code, _ in report["child"]] == [("check", 4), ("select", 4), ("close", 4)]
    for _, _, message in report["child"]:
        assert message == "pytest-difftest: the engine cannot be called from a process forked after it was loaded"


MISUSE = PRELUDE + r'''
h = open_session()
results = {}
results["null out"] = lib.dt_select(h, None)
assert lib.dt_close(h, ctypes.byref(out)) == 0, take()
for name, call in [("select", lambda: lib.dt_select(h, ctypes.byref(out))),
                   ("record", lambda: lib.dt_record(h, b"\0\0\0\0", 4, ctypes.byref(out))),
                   ("finish", lambda: lib.dt_finish(h, b"{}", ctypes.byref(out))),
                   ("close", lambda: lib.dt_close(h, ctypes.byref(out))),
                   ("zero", lambda: lib.dt_select(0, ctypes.byref(out)))]:
    code = call()
    results[name] = [code, take()]
print(json.dumps(results))
'''


def test_a_closed_handle_is_misuse_not_an_internal_error(tmp_path: Path) -> None:
    proc = script(tmp_path, MISUSE)
    assert proc.returncode == 0, proc.stderr
    results = json.loads(proc.stdout)
    assert results.pop("null out") == 3
    assert results == {
        name: [3, "invalid session handle (never opened, or already closed)"]
        for name in ("select", "record", "finish", "close", "zero")
    }
