"""Robustness (SPEC 3.2, 3.3, 9; issue 7), end to end: tests that fork,
start threads, catch signals, change directory or install their own
profiler; Ctrl-C, SIGTERM and kill -9 of the run; damaged, foreign, hostile
and huge baselines; unreadable and hostile source files; internal errors of
the engine; the library not loaded without a --diff* option.

The large source file is 5 MB here; issue 7's 50 MB, by hand:

    DIFFTEST_LARGE_MB=50 .venv-test/bin/python -m pytest tests/test_robustness.py -k large_source
"""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from xml.etree import ElementTree

import pytest

from conftest import uvarints as _ids
from conftest import (
    bump_mtime,
    db_file,
    nodes,
    output,
    project,
    ran,
    recorded,
    touch_edit,
)

import pytest_difftest

PLUGIN_DIR = Path(pytest_difftest.__file__).parent
REPO = Path(__file__).resolve().parents[1]
LINUX = sys.platform.startswith("linux")
TIMEOUT = 180  # seconds for one inner pytest run: a hang fails, it does not block CI

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="POSIX only")


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess("-v", "-p", "no:randomly", *args, timeout=TIMEOUT)


def engine_lines(result: pytest.RunResult) -> list[str]:
    """The plugin's warning and error lines."""
    return [l for l in output(result).splitlines() if l.startswith(("difftest: warning", "difftest: error"))]


def assert_clean(result: pytest.RunResult) -> None:
    """No traceback of the plugin or the engine, no pytest internal error."""
    text = output(result)
    assert "INTERNALERROR" not in text, text
    assert "pytest_difftest" not in text or "Traceback" not in text, text
    assert "goroutine " not in text, text
    assert engine_lines(result) == [], text


def integrity(pytester: pytest.Pytester) -> str:
    con = sqlite3.connect(db_file(pytester))
    try:
        return str(con.execute("PRAGMA integrity_check").fetchone()[0])
    finally:
        con.close()


# -- tests that fork, start threads, catch signals, chdir, trace --------------

WORK = '''
def square(x):
    return x * x


def threaded_value():
    return 41 + 1


def in_thread(box):
    box.append(threaded_value())


def in_child(path):
    with open(path, "w") as f:
        f.write(str(square(7)))


def in_handler():
    return "handled"
'''

TEST_CHDIR = '''
import os

HERE = os.path.dirname(os.path.abspath(__file__))


def test_read_after_chdir():
    os.chdir(os.path.join(HERE, "sub"))  # not restored: later tests run there
    with open("data.txt") as f:
        assert f.read().strip() == "one"


def test_read_relative_with_dotdot():
    os.chdir(os.path.join(HERE, "sub", "deeper"))
    with open("../other.txt") as f:
        assert f.read().strip() == "two"
'''

TEST_FORK = '''
import multiprocessing
import os

import work


def test_fork_pool():
    with multiprocessing.get_context("fork").Pool(2) as pool:
        assert pool.map(work.square, range(5)) == [0, 1, 4, 9, 16]


def test_bare_fork(tmp_path):
    out = tmp_path / "child.txt"
    pid = os.fork()
    if pid == 0:  # the child works, then leaves without any cleanup
        try:
            work.in_child(str(out))
        finally:
            os._exit(0)
    _, status = os.waitpid(pid, 0)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, status
    assert out.read_text() == "49"
'''

# The child of test_fork_and_return goes on running the session, in its own
# copy of the plugin: it must neither call the engine (a Go runtime does not
# survive fork) nor hang; it fails test_runs_in_both, which the parent's
# records must not show.
TEST_FORK_RETURNS = '''
import os
import signal
import sys
import time

PARENT = os.getpid()
CHILD = {}


def test_fork_and_return():
    pid = os.fork()
    if pid:
        CHILD["pid"] = pid


def test_runs_in_both():
    assert os.getpid() == PARENT


def test_wait_for_the_child():
    if os.getpid() != PARENT:
        return
    deadline = time.monotonic() + 120
    while True:
        pid, status = os.waitpid(CHILD["pid"], os.WNOHANG)
        if pid:
            break
        if time.monotonic() > deadline:
            os.kill(CHILD["pid"], signal.SIGKILL)
            raise AssertionError("the forked child hangs")
        time.sleep(0.05)
    # The child's session ran to its end: one failure, test_runs_in_both.
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 1, status
'''

TEST_SIGNALS = '''
import os
import signal
import sys
import time

import pytest

import work


class Timeout(Exception):
    pass


def test_alarm_like_pytest_timeout():
    def on_alarm(signum, frame):
        raise Timeout(work.in_handler())

    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, 0.2)
    started = time.monotonic()
    try:
        with pytest.raises(Timeout, match="handled"):
            time.sleep(60)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
    assert time.monotonic() - started < 30


def test_signal_to_self():
    got = []
    old = signal.signal(signal.SIGUSR1, lambda signum, frame: got.append(work.in_handler()))
    try:
        os.kill(os.getpid(), signal.SIGUSR1)
        deadline = time.monotonic() + 10
        while not got and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        signal.signal(signal.SIGUSR1, old)
    assert got == ["handled"]
'''

TEST_THREADS = '''
import threading

import work


def test_code_in_a_thread():
    box = []
    t = threading.Thread(target=work.in_thread, args=(box,))
    t.start()
    t.join()
    assert box == [42]
'''

TEST_TRACE = '''
import sys

import work


def test_own_profiler():
    seen = []

    def profiler(frame, event, arg):
        if event == "call":
            seen.append(frame.f_code.co_name)

    old = sys.getprofile()
    sys.setprofile(profiler)
    try:
        work.square(3)
    finally:
        sys.setprofile(old)  # puts the recorder's hook back
    assert "square" in seen


def test_own_tracer():
    seen = []

    def tracer(frame, event, arg):
        if event == "call":
            seen.append(frame.f_code.co_name)

    old = sys.gettrace()
    sys.settrace(tracer)
    try:
        work.square(3)
    finally:
        sys.settrace(old)
    assert "square" in seen
'''

HOSTILE = {
    "work.py": WORK,
    "sub/data.txt": "one\n",
    "sub/other.txt": "two\n",
    "sub/deeper/.keep": "",
    "test_chdir.py": TEST_CHDIR,
    "test_fork.py": TEST_FORK,
    "test_signals.py": TEST_SIGNALS,
    "test_threads.py": TEST_THREADS,
    "test_trace.py": TEST_TRACE,
}
HOSTILE_TESTS = (
    nodes("test_chdir.py", "test_read_after_chdir", "test_read_relative_with_dotdot")
    | nodes("test_fork.py", "test_fork_pool", "test_bare_fork")
    | nodes("test_signals.py", "test_alarm_like_pytest_timeout", "test_signal_to_self")
    | nodes("test_threads.py", "test_code_in_a_thread")
    | nodes("test_trace.py", "test_own_profiler", "test_own_tracer")
)
# It replaced the recorder's hook for a moment: not recorded, always selected.
# The sys.monitoring recorder (3.12+) is not displaced by a profile function.
UNRECORDED = nodes("test_trace.py", "test_own_profiler") if sys.version_info < (3, 12) else set()


@pytest.mark.parametrize("mode", ["--diff-baseline", "--diff"])
def test_forks_threads_signals_chdir_and_tracers_run_correctly(pytester: pytest.Pytester, mode: str) -> None:
    project(pytester, HOSTILE)
    result = run(pytester, mode, "--diff-batch-size", "1")
    text = output(result)
    assert result.ret == 0, text
    assert ran(result) == HOSTILE_TESTS
    assert "INTERNALERROR" not in text and "goroutine " not in text, text
    warnings = engine_lines(result)
    if mode == "--diff-baseline":
        if UNRECORDED:
            assert len(warnings) == 1 and "1 test(s) replaced the profile/trace hook" in warnings[0], text
        else:
            assert warnings == [], text
        assert recorded(pytester) == {n: 0 for n in HOSTILE_TESTS - UNRECORDED}
        assert integrity(pytester) == "ok"
    else:
        assert warnings == [], text
        if db_file(pytester).exists():
            assert recorded(pytester) == {}


@pytest.mark.parametrize("mode", ["--diff-baseline", "--diff"])
def test_forked_child_returning_into_pytest(pytester: pytest.Pytester, mode: str) -> None:
    """The child runs the rest of the session in its copy of the plugin and
    exits; the parent waits for it. Both print to the same output, so only
    the exit status and the database tell what happened."""
    project(pytester, {"test_fork_returns.py": TEST_FORK_RETURNS})
    # The child writes its report first; the parent, which waits for it,
    # writes the same file last.
    result = run(pytester, mode, "--diff-batch-size", "1", "--junitxml=report.xml")
    text = output(result)
    assert result.ret == 0, text
    assert "INTERNALERROR" not in text and "goroutine " not in text and "difftest: error" not in text, text
    tests = nodes("test_fork_returns.py", "test_fork_and_return", "test_runs_in_both", "test_wait_for_the_child")
    report = ElementTree.parse(pytester.path / "report.xml").getroot()
    cases = {f"test_fork_returns.py::{c.get('name')}": [x.tag for x in c] for c in report.iter("testcase")}
    assert cases == {n: [] for n in tests}, cases  # all three ran and passed
    if mode == "--diff-baseline":
        # The parent's records only: the child failed test_runs_in_both.
        assert recorded(pytester) == {n: 0 for n in tests}
        assert integrity(pytester) == "ok"
        assert ran(run(pytester, "--diff")) == set()
    elif db_file(pytester).exists():
        assert recorded(pytester) == {}


def test_dependencies_seen_through_threads_signals_and_chdir(pytester: pytest.Pytester) -> None:
    project(pytester, HOSTILE)
    assert run(pytester, "--diff-baseline").ret == 0
    cases = [
        # Code run in a thread the test started.
        ("work.py", "return 41 + 1", "return 1 + 41", nodes("test_threads.py", "test_code_in_a_thread")),
        # Code run by signal handlers.
        ("work.py", 'return "handled"', "return 'handled'", nodes("test_signals.py", "test_alarm_like_pytest_timeout", "test_signal_to_self")),
        # Files opened by relative paths after os.chdir.
        ("sub/data.txt", "one", "one ", nodes("test_chdir.py", "test_read_after_chdir")),
        ("sub/other.txt", "two", "two ", nodes("test_chdir.py", "test_read_relative_with_dotdot")),
        # A tracer of its own does not displace the recorder (it uses the
        # profile hook): what the test ran is recorded. The forked children
        # ran square too, and report it (SPEC 4.4h).
        (
            "work.py",
            "return x * x",
            "return x ** 2",
            nodes("test_trace.py", "test_own_tracer")
            | nodes("test_fork.py", "test_fork_pool", "test_bare_fork")
            # sys.monitoring (3.12+) records the test that swapped the profile
            # function too; on 3.9-3.11 it is UNRECORDED and runs anyway.
            | (nodes("test_trace.py", "test_own_profiler") if sys.version_info >= (3, 12) else set()),
        ),
    ]
    for rel, old, new, expected in cases:
        touch_edit(pytester, rel, old, new)
        result = run(pytester, "--diff")
        assert result.ret == 0, output(result)
        assert ran(result) == expected | UNRECORDED, (rel, new)
        touch_edit(pytester, rel, new, old)
    result = run(pytester, "--diff")
    assert ran(result) == UNRECORDED


# A thread that outlives the test that started it keeps running project
# code (and opening files) while the recorder finishes that test and starts
# the next ones: the recorder must neither fail the run (a set that changes
# size while it is read) nor make the thread's open() fail.
TEST_BACKGROUND = '''
import sys
import threading
import time

import pytest

ERRORS = []
STOP = threading.Event()


def churn():
    i = 0
    while not STOP.is_set():
        i += 1
        try:
            # A new code object each time, as template engines make them.
            exec(compile(f"def g():\\n    return {i}\\ng()\\n", "<churn>", "exec"))
            with open(__file__) as f:
                f.read(1)
        except BaseException as exc:
            ERRORS.append(repr(exc))
            return


def test_start_a_thread():
    sys.setswitchinterval(1e-5)  # switch threads often
    threading.Thread(target=churn, daemon=True).start()
    time.sleep(0.5)


@pytest.mark.parametrize("i", range(30))
def test_while_it_runs(i):
    time.sleep(0.01)


def test_stop_it():
    STOP.set()
    sys.setswitchinterval(0.005)
    assert ERRORS == []
'''


def test_thread_outliving_its_test(pytester: pytest.Pytester) -> None:
    project(pytester, {"test_background.py": TEST_BACKGROUND})
    result = run(pytester, "--diff-baseline")
    assert result.ret == 0, output(result)
    assert_clean(result)
    assert len(recorded(pytester)) == 32


# -- what the engine does to the process --------------------------------------

THREADS_AND_MODULES = '''
import os
import sys
import threading

import pytest

LINUX = sys.platform.startswith("linux")


def test_engine_state():
    engine = sys.modules.get("pytest_difftest.engine")
    loaded = engine is not None and engine._lib is not None
    assert loaded == (os.environ["EXPECT_ENGINE"] == "1")
    if LINUX:
        threads = len(os.listdir("/proc/self/task"))
        assert (threads > 1) == loaded, threads


@pytest.mark.skipif(not LINUX, reason="/proc")
def test_go_threads_never_take_python_signals():
    import signal

    python = {t.native_id for t in threading.enumerate()}
    others = [int(t) for t in os.listdir("/proc/self/task") if int(t) not in python]
    if os.environ["EXPECT_ENGINE"] != "1":
        assert others == []
        return
    assert others, "the Go runtime starts threads"
    for tid in others:
        with open(f"/proc/self/task/{tid}/status") as f:
            blocked = int(next(l for l in f if l.startswith("SigBlk:")).split()[1], 16)
        # (Go insists on receiving SIGCHLD and SIGPROF, blocked or not.)
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGALRM, signal.SIGHUP, signal.SIGUSR1, signal.SIGWINCH):
            assert blocked & (1 << (sig - 1)), (tid, sig, hex(blocked))


def test_fork_without_a_warning():
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    assert os.waitpid(pid, 0)[1] == 0
'''


def test_without_diff_options_the_engine_is_not_loaded(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    """SPEC 1.3: no library, no Go threads, so on Python 3.12+ os.fork()
    cannot warn about a multi-threaded process (-W error makes that a
    failure)."""
    project(pytester, {"test_state.py": THREADS_AND_MODULES})
    monkeypatch.setenv("EXPECT_ENGINE", "0")
    result = run(pytester, "-W", "error::DeprecationWarning")
    assert result.ret == 0, output(result)
    assert ran(result) == nodes("test_state.py", "test_engine_state", "test_go_threads_never_take_python_signals", "test_fork_without_a_warning")


def test_with_diff_the_engine_is_loaded_and_its_threads_block_signals(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    """Go's threads block the asynchronous signals: Python's handlers (not
    SA_ONSTACK) must never run on a Go stack, and a signal meant for Python
    lands on a Python thread."""
    project(pytester, {"test_state.py": THREADS_AND_MODULES})
    monkeypatch.setenv("EXPECT_ENGINE", "1")
    for mode in ("--diff", "--diff-baseline"):
        result = run(pytester, mode, "--diff-force" if mode == "--diff-baseline" else "--diff-v")
        assert result.ret == 0, output(result)
        assert nodes("test_state.py", "test_engine_state", "test_go_threads_never_take_python_signals") <= ran(result)


# -- Ctrl-C, SIGTERM, kill -9 ---------------------------------------------------

LIB = "def value():\n    return 1\n"

STOPPING = '''
import os
import signal
import sys
import time

import lib

HERE = os.path.dirname(os.path.abspath(__file__))


def test_1():
    assert lib.value() == 1


def test_2():
    assert lib.value() == 1


def test_3_stops_the_run():
    assert lib.value() == 1
    how = os.environ.get("STOP_HOW")
    if how and os.path.exists(os.path.join(HERE, "stop.marker")):
        if how == "wait":
            with open(os.path.join(HERE, "started.marker"), "w"):
                pass
            time.sleep(120)
        else:
            os.kill(os.getpid(), getattr(signal, how))
            time.sleep(120)


def test_4():
    assert lib.value() == 1
'''
STOPPING_TESTS = nodes("test_stop.py", "test_1", "test_2", "test_3_stops_the_run", "test_4")
FINISHED = nodes("test_stop.py", "test_1", "test_2")
UNFINISHED = STOPPING_TESTS - FINISHED


def stopping_project(pytester: pytest.Pytester) -> None:
    """Recorded once, then lib.py changes: every test is affected, and the
    stopped run re-records only those that finish."""
    project(pytester, {"lib.py": LIB, "test_stop.py": STOPPING})
    assert run(pytester, "--diff-baseline").ret == 0
    touch_edit(pytester, "lib.py", "return 1", "return 2 - 1")
    (pytester.path / "stop.marker").touch()


def after_the_stop(pytester: pytest.Pytester, survivors: set[str]) -> None:
    """The database is consistent, opens without being set aside, and what
    did not get recorded in the stopped run is selected."""
    assert integrity(pytester) == "ok"
    (pytester.path / "stop.marker").unlink()
    result = run(pytester, "--diff")
    text = output(result)
    assert result.ret == 0, text
    assert "moved it to" not in text and engine_lines(result) == [], text
    assert ran(result) == STOPPING_TESTS - survivors
    result = run(pytester, "--diff-baseline")
    assert result.ret == 0, output(result)
    assert ran(result) == STOPPING_TESTS - survivors
    assert ran(run(pytester, "--diff")) == set()


@pytest.mark.parametrize("batch", ["1", "20"])
def test_ctrl_c_in_a_test_records_the_finished_tests(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, batch: str) -> None:
    """SPEC 9.2: the interrupted test and those after it are not recorded."""
    stopping_project(pytester)
    monkeypatch.setenv("STOP_HOW", "SIGINT")
    started = time.monotonic()
    result = run(pytester, "--diff-baseline", "--diff-batch-size", batch)
    assert result.ret == pytest.ExitCode.INTERRUPTED, output(result)
    assert time.monotonic() - started < 60
    assert "KeyboardInterrupt" in output(result)
    after_the_stop(pytester, FINISHED)


def popen_pytest(pytester: pytest.Pytester, *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "pytest", "-v", "-p", "no:randomly", *args],
        cwd=pytester.path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


def stop_from_outside(pytester: pytest.Pytester, sig: int, *args: str) -> tuple[int, str, float]:
    """Run pytest until test_3 has started, send it `sig`, and return the exit
    status, the output and how long it took to stop."""
    proc = popen_pytest(pytester, *args)
    marker = pytester.path / "started.marker"
    deadline = time.monotonic() + TIMEOUT
    try:
        while not marker.exists():
            assert proc.poll() is None, proc.communicate()[0].decode()
            assert time.monotonic() < deadline, "test_3 did not start"
            time.sleep(0.05)
        time.sleep(0.2)
        sent = time.monotonic()
        proc.send_signal(sig)
        out, _ = proc.communicate(timeout=60)
        return proc.returncode, out.decode(), time.monotonic() - sent
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.mark.parametrize("batch", ["1", "20"])
def test_ctrl_c_from_outside(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, batch: str) -> None:
    stopping_project(pytester)
    monkeypatch.setenv("STOP_HOW", "wait")
    status, out, took = stop_from_outside(pytester, signal.SIGINT, "--diff-baseline", "--diff-batch-size", batch)
    assert status == pytest.ExitCode.INTERRUPTED, out
    assert took < 15, out
    assert "Traceback" not in out.split("KeyboardInterrupt")[0] or "pytest_difftest" not in out, out
    after_the_stop(pytester, FINISHED)


@pytest.mark.parametrize("batch", ["1", "20"])
def test_sigterm(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, batch: str) -> None:
    """pytest does not handle SIGTERM: the process ends at once. What we
    guarantee (README): a consistent database that keeps every batch
    written before (with --diff-batch-size 1, every finished test); what was
    not written is selected next time."""
    stopping_project(pytester)
    monkeypatch.setenv("STOP_HOW", "wait")
    status, out, took = stop_from_outside(pytester, signal.SIGTERM, "--diff-baseline", "--diff-batch-size", batch)
    assert status == -signal.SIGTERM, out
    assert took < 15
    after_the_stop(pytester, FINISHED if batch == "1" else set())


def test_kill_9_during_recording(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    """The whole run is killed: the next run opens the database (recovering
    its write-ahead log) without error and selects what was not recorded."""
    stopping_project(pytester)
    monkeypatch.setenv("STOP_HOW", "SIGKILL")
    result = run(pytester, "--diff-baseline", "--diff-batch-size", "1")
    assert result.ret == -signal.SIGKILL, output(result)
    wal = Path(str(db_file(pytester)) + "-wal")
    assert wal.exists() and wal.stat().st_size > 0, "expected a write-ahead log to recover"
    after_the_stop(pytester, FINISHED)


def test_kill_9_of_a_first_baseline(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    project(pytester, {"lib.py": LIB, "test_stop.py": STOPPING, "stop.marker": ""})
    monkeypatch.setenv("STOP_HOW", "SIGKILL")
    result = run(pytester, "--diff-baseline", "--diff-batch-size", "1")
    assert result.ret == -signal.SIGKILL, output(result)
    assert set(recorded(pytester)) == FINISHED
    after_the_stop(pytester, FINISHED)


# -- bad databases --------------------------------------------------------------

SIMPLE = {
    "calc.py": "def add(a, b):\n    return a + b\n\n\ndef sub(a, b):\n    return a - b\n",
    "test_calc.py": (
        "import calc\n\n\ndef test_add():\n    assert calc.add(1, 1) == 2\n\n\n"
        "def test_sub():\n    assert calc.sub(2, 1) == 1\n"
    ),
    "test_other.py": "def test_other():\n    assert True\n",
}
SIMPLE_TESTS = nodes("test_calc.py", "test_add", "test_sub") | nodes("test_other.py", "test_other")


def truncate(db: Path) -> None:
    # Enough rows to span many pages, checkpointed, then cut in half.
    con = sqlite3.connect(db)
    con.executemany(
        "INSERT INTO tests (env, nodeid, outcome, duration_us, recorded_at, deps) VALUES (1, ?, 0, 0, 0, x'')",
        [(f"x.py::t{i}" + "x" * 40,) for i in range(3000)],
    )
    con.commit()
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()
    data = db.read_bytes()
    db.write_bytes(data[: len(data) // 2])


def newer(db: Path) -> None:
    con = sqlite3.connect(db)
    con.execute("PRAGMA user_version = 99")
    con.commit()
    con.close()


def forged(db: Path) -> None:
    # Our application id and version, but not our tables.
    con = sqlite3.connect(db)
    con.execute("DROP TABLE tests")
    con.execute("CREATE TABLE tests (nodeid TEXT)")
    con.commit()
    con.close()


def bad_header(db: Path) -> None:
    # A SQLite file whose header SQLite refuses ("unsupported file format").
    data = bytearray(db.read_bytes())
    data[44:48] = (99).to_bytes(4, "big")  # schema format number
    db.write_bytes(bytes(data))


@pytest.mark.parametrize("damage", [truncate, newer, forged, bad_header], ids=lambda f: f.__name__)
@pytest.mark.parametrize("mode", ["--diff-baseline", "--diff"])
def test_unusable_database_is_set_aside(pytester: pytest.Pytester, mode: str, damage) -> None:  # type: ignore[no-untyped-def]
    """SPEC 3.3: set aside with one warning, and a first run; never a
    traceback."""
    project(pytester, SIMPLE)
    assert run(pytester, "--diff-baseline").ret == 0
    db = db_file(pytester)
    con = sqlite3.connect(db)
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()
    damage(db)
    result = run(pytester, mode)
    text = output(result)
    assert result.ret == 0, text
    assert "Traceback" not in text and "INTERNALERROR" not in text, text
    assert ran(result) == SIMPLE_TESTS
    warnings = engine_lines(result)
    assert len(warnings) == 1 and "moved it to" in warnings[0], text
    if damage is newer:
        assert "newer" in warnings[0], text
    assert len(list(db.parent.glob("pytest_difftest.db.bad-*"))) == 1
    if mode == "--diff-baseline":
        assert set(recorded(pytester)) == SIMPLE_TESTS
        assert ran(run(pytester, "--diff")) == set()


def _uvarints(ids: list[int]) -> bytes:
    out, prev = bytearray(), 0
    for i in sorted(set(ids)):
        d, prev = i - prev, i
        while True:
            b = d & 0x7F
            d >>= 7
            out.append(b | (0x80 if d else 0))
            if not d:
                break
    return bytes(out)


def test_hostile_paths_in_the_database_are_never_touched(pytester: pytest.Pytester, tmp_path: Path) -> None:
    """SPEC 3.2: stored paths that are absolute or leave the rootdir are
    ignored with a warning and never read or written; the tests that depend
    on them are selected, and a recording run drops them."""
    project(pytester, SIMPLE)
    assert run(pytester, "--diff-baseline").ret == 0
    outside = tmp_path / "outside"
    outside.mkdir()
    secret = outside / "secret.py"
    secret.write_text("SECRET = 1\n")
    old = 978307200  # 2001: a read would move the access time
    os.utime(secret, (old, time.time()))
    fifo = outside / "fifo.py"
    os.mkfifo(fifo)  # opening it for reading would block the run
    rel = os.path.relpath(secret, pytester.path)
    rel_fifo = os.path.relpath(fifo, pytester.path)
    assert rel.startswith("..")
    untouched_mtime = secret.stat().st_mtime_ns
    paths = [str(secret), rel, rel_fifo, "/etc/passwd", "sub/../calc.py"]
    con = sqlite3.connect(db_file(pytester))
    ids = []
    for i, p in enumerate(paths):
        # A fingerprint that cannot match: were it checked, it would be read.
        cur = con.execute("INSERT INTO files (path, size, mtime_ns, hash) VALUES (?, ?, 1, 1)", (p, 1000 + i))
        ids.append(con.execute("INSERT INTO blocks (file_id, name, checksum) VALUES (?, '<module>', 1)", (cur.lastrowid,)).lastrowid)
    (deps,) = con.execute("SELECT deps FROM tests WHERE nodeid = 'test_calc.py::test_add'").fetchone()
    con.execute("UPDATE tests SET deps = ? WHERE nodeid = 'test_calc.py::test_add'", (_uvarints(_ids(deps) + ids),))
    # A test of a test file outside the root, and a complete-file entry.
    con.execute(
        "INSERT INTO tests (env, nodeid, outcome, duration_us, recorded_at, deps) VALUES (1, ?, 0, 0, 0, ?)",
        (rel + "::test_x", _uvarints(ids)),
    )
    con.execute("INSERT INTO test_files (env, path, hash) VALUES (1, ?, 1)", (rel,))
    con.commit()
    con.close()

    result = run(pytester, "--diff", "--diff-why")
    text = output(result)
    assert result.ret == 0, text
    assert ran(result) == nodes("test_calc.py", "test_add")
    warnings = engine_lines(result)
    assert len(warnings) == 1 and "ignoring 5 unsafe path(s)" in warnings[0], text
    assert "test_calc.py::test_add: " in text and "unsafe path in the baseline" in text, text
    assert "SECRET" not in text
    untouched = (old, untouched_mtime, 11)

    def state() -> tuple[float, int, int]:
        st = secret.stat()  # never read it here: that would move the atime
        return (st.st_atime, st.st_mtime_ns, st.st_size)

    assert state() == untouched, "a file outside the rootdir was read or written"
    assert fifo.is_fifo()

    result = run(pytester, "--diff-baseline")
    assert result.ret == 0, output(result)
    assert ran(result) == nodes("test_calc.py", "test_add")
    assert state() == untouched, "a file outside the rootdir was read or written"
    result = run(pytester, "--diff")
    assert result.ret == 0, output(result)
    assert ran(result) == set()
    assert engine_lines(result) == [], output(result)
    con = sqlite3.connect(db_file(pytester))
    left = [p for (p,) in con.execute("SELECT path FROM files") if p in paths]
    assert left == [] and set(recorded(pytester)) == SIMPLE_TESTS
    con.close()


def test_damaged_dependency_list_selects_its_test(pytester: pytest.Pytester) -> None:
    project(pytester, SIMPLE)
    assert run(pytester, "--diff-baseline").ret == 0
    con = sqlite3.connect(db_file(pytester))
    con.execute("UPDATE tests SET deps = x'ffffffff' WHERE nodeid = 'test_calc.py::test_sub'")
    con.commit()
    con.close()
    touch_edit(pytester, "calc.py", "return a + b", "return b + a")
    result = run(pytester, "--diff")
    assert result.ret == 0, output(result)
    assert engine_lines(result) == [], output(result)
    assert ran(result) == nodes("test_calc.py", "test_add", "test_sub")
    result = run(pytester, "--diff-baseline")
    assert result.ret == 0 and engine_lines(result) == [], output(result)
    assert ran(run(pytester, "--diff")) == set()


def test_millions_of_rows(pytester: pytest.Pytester) -> None:
    """A baseline with 1,000,000 block versions and 200,000 tests: --diff
    with no change, and with a change, stay fast (nothing quadratic)."""
    n_blocks = int(os.environ.get("DIFFTEST_BIG_BLOCKS", "1000000"))
    n_tests = n_blocks // 5
    project(pytester, {**SIMPLE, "helpers.py": "def helper():\n    return 1\n", "test_helpers.py": "import helpers\n\n\ndef test_helper():\n    assert helpers.helper() == 1\n"})
    assert run(pytester, "--diff-baseline").ret == 0
    con = sqlite3.connect(db_file(pytester))
    (fid,) = con.execute("SELECT id FROM files WHERE path = 'helpers.py'").fetchone()
    (first,) = con.execute("SELECT max(id) + 1 FROM blocks").fetchone()
    con.execute(
        """WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < ? - 1)
        INSERT INTO blocks (id, file_id, name, checksum) SELECT ? + i, ?, 'gen' || i, (i * 2654435761) % 4294967291 FROM n""",
        (n_blocks, first, fid),
    )
    (real,) = con.execute("SELECT deps FROM tests WHERE nodeid = 'test_calc.py::test_add'").fetchone()
    con.execute("CREATE TEMP TABLE blobs (k INTEGER PRIMARY KEY, deps BLOB)")
    con.executemany(
        "INSERT INTO blobs VALUES (?, ?)",
        [(k, _uvarints(_ids(real) + [first + (k * 997 + j * 131) % n_blocks for j in range(8)])) for k in range(100)],
    )
    con.execute(
        """WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < ? - 1)
        INSERT INTO tests (env, nodeid, outcome, duration_us, recorded_at, deps)
        SELECT 1, 'tests/gen_' || (i % 2000) || '.py::test_' || i, 0, 100000, 0,
               (SELECT deps FROM blobs WHERE k = i % 100) FROM n""",
        (n_tests,),
    )
    con.commit()
    con.close()

    started = time.monotonic()
    result = run(pytester, "--diff")
    no_change = time.monotonic() - started
    assert result.ret == 0, output(result)
    assert ran(result) == set()
    touch_edit(pytester, "calc.py", "return a - b", "return -b + a")
    started = time.monotonic()
    result = run(pytester, "--diff")
    one_change = time.monotonic() - started
    assert result.ret == 0, output(result)
    # The whole baseline is scanned for the tests of calc.sub.
    assert ran(result) == nodes("test_calc.py", "test_sub")
    print(f"--diff on {n_blocks} blocks / {n_tests} tests: no change {no_change:.1f}s, one change {one_change:.1f}s")
    assert no_change < 60 and one_change < 90


# -- bad source files -------------------------------------------------------------

READER = '''
import os

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))


def test_reads_data():
    path = os.path.join(HERE, "data.txt")
    if not os.path.isfile(path):
        pytest.skip("no data file")
    with open(path) as f:
        assert f.read()


def test_lazy_import():
    import lib

    assert lib.value() == 1


def test_unrelated():
    pass
'''


def _fifo(p: Path) -> None:
    p.unlink()
    os.mkfifo(p)


def _directory(p: Path) -> None:
    p.unlink()
    p.mkdir()


def _loop(p: Path) -> None:
    p.unlink()
    os.symlink(p.name + ".2", p)
    os.symlink(p.name, str(p) + ".2")


def _dangling(p: Path) -> None:
    p.unlink()
    os.symlink("nowhere", p)


def _deleted(p: Path) -> None:
    p.unlink()


def _device(p: Path) -> None:
    p.unlink()
    os.symlink("/dev/zero", p)


@pytest.mark.parametrize("replace", [_fifo, _directory, _loop, _dangling, _deleted, _device], ids=lambda f: f.__name__.strip("_"))
def test_unreadable_data_file(pytester: pytest.Pytester, replace) -> None:  # type: ignore[no-untyped-def]
    """Whatever replaces a recorded file, the run neither hangs (a FIFO is
    never opened for reading) nor fails, and the test that read it runs."""
    project(pytester, {"data.txt": "x\n", "lib.py": LIB, "test_reader.py": READER})
    assert run(pytester, "--diff-baseline").ret == 0
    replace(pytester.path / "data.txt")
    for mode in ("--diff", "--diff-baseline"):
        result = run(pytester, mode)
        assert result.ret == 0, output(result)
        assert_clean(result)
        assert ran(result) == nodes("test_reader.py", "test_reads_data"), mode
    assert ran(run(pytester, "--diff")) == set()


@pytest.mark.parametrize(
    "content",
    [b"def value(:\n    return 1\n", b"def value():\n    return '\xff\xfe'\n", b"def value():\n    return 1\x00\n", b"\xef\xbb\xbf\xff" * 1000],
    ids=["syntax-error", "undecodable", "nul-byte", "binary"],
)
def test_unparsable_source_counts_as_changed(pytester: pytest.Pytester, content: bytes) -> None:
    """SPEC 4.3: the engine does not fail; the tests that depend on the file
    are selected (and fail, as they should)."""
    project(pytester, {"data.txt": "x\n", "lib.py": LIB, "test_reader.py": READER})
    assert run(pytester, "--diff-baseline").ret == 0
    lib = pytester.path / "lib.py"
    lib.write_bytes(content)
    bump_mtime(lib)
    result = run(pytester, "--diff")
    assert result.ret == 1, output(result)
    assert_clean(result)
    assert ran(result) == nodes("test_reader.py", "test_lazy_import")
    result = run(pytester, "--diff-baseline")
    assert_clean(result)
    assert ran(result) == nodes("test_reader.py", "test_lazy_import")
    # Still failing, so still selected (SPEC 4.6).
    assert ran(run(pytester, "--diff")) == nodes("test_reader.py", "test_lazy_import")


def test_large_source_file(pytester: pytest.Pytester) -> None:
    """A generated module of DIFFTEST_LARGE_MB megabytes (5 by default)."""
    megabytes = float(os.environ.get("DIFFTEST_LARGE_MB", "5"))
    body = "".join(
        f"def f{i}(x):\n    '''Function {i}.'''\n    y = x + {i}\n    return [y, y * 2, {{'k': y}}]\n\n\n"
        for i in range(int(megabytes * 1e6 / 80))
    )
    last = body.count("def f") - 1
    project(
        pytester,
        {
            "big.py": body,
            "test_big.py": f"import big\n\n\ndef test_last():\n    assert big.f{last}(0)[0] == {last}\n\n\ndef test_other():\n    pass\n",
        },
    )
    assert (pytester.path / "big.py").stat().st_size >= megabytes * 1e6 * 0.9
    result = run(pytester, "--diff-baseline")
    assert result.ret == 0, output(result)
    assert_clean(result)
    # A function no test ran: nothing selected (and big.py not imported).
    touch_edit(pytester, "big.py", "y = x + 0\n", "y = 0 + x\n")
    result = run(pytester, "--diff")
    assert result.ret == 0, output(result)
    assert ran(result) == set()
    touch_edit(pytester, "big.py", f"y = x + {last}\n", f"y = {last} + x\n")
    result = run(pytester, "--diff")
    assert result.ret == 0, output(result)
    assert_clean(result)
    assert ran(result) == nodes("test_big.py", "test_last")


def test_deep_nesting_and_symlink_loops_in_imported_modules(pytester: pytest.Pytester) -> None:
    """Modules Python cannot even compile (nesting too deep), and import
    paths that are symlink loops: the engine reads what its test file
    imports, and survives."""
    deep = "x = " + "(" * 100_000 + "1" + ")" * 100_000 + "\n"
    project(
        pytester,
        {
            "deep.py": deep,
            "test_deep.py": textwrap.dedent(
                """
                try:
                    import deep
                except (SyntaxError, RecursionError, MemoryError):
                    deep = None
                try:
                    import loop
                except (ImportError, OSError):
                    loop = None


                def test_deep():
                    assert deep is None
                """
            ),
        },
    )
    os.symlink("loop2.py", pytester.path / "loop.py")
    os.symlink("loop.py", pytester.path / "loop2.py")
    result = run(pytester, "--diff-baseline")
    assert result.ret == 0, output(result)
    assert_clean(result)
    assert ran(result) == nodes("test_deep.py", "test_deep")
    assert ran(run(pytester, "--diff")) == set()
    (pytester.path / "deep.py").write_text("x = " + "[" * 100_001 + "]" * 100_001 + "\n")
    bump_mtime(pytester.path / "deep.py")
    result = run(pytester, "--diff")
    assert result.ret == 0, output(result)
    assert_clean(result)
    assert ran(result) == nodes("test_deep.py", "test_deep")


# -- internal errors of the engine (SPEC 9.3) ---------------------------------

# Test-only: the engine built with the build tag difftest_debug
# (lib/cabi/debug_on.go) reads the configuration key "debug_panic"
# (include/difftest.h) and panics at that point; the shipped library has no
# such key. This plugin module, loaded with -p before the plugin loads the
# engine, points the plugin at the test build (when DIFFTEST_DEBUG_LIBRARY
# names one) and adds the key to the configuration it passes.
PANIC_PLUGIN = '''
import os
from pathlib import Path

from pytest_difftest import engine

if os.environ.get("DIFFTEST_DEBUG_LIBRARY"):
    engine.LIBRARY = Path(os.environ["DIFFTEST_DEBUG_LIBRARY"])

_init = engine.Session.__init__


def _with_panic(self, config):
    _init(self, {**config, "debug_panic": os.environ["DIFFTEST_DEBUG_PANIC"]})


engine.Session.__init__ = _with_panic
'''


@pytest.fixture(scope="session")
def debug_library(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The engine library built with the build tag difftest_debug."""
    go = shutil.which("go")
    if go is None:
        pytest.fail("the engine panic tests build a test library of the engine: they need Go on PATH")
    lib = tmp_path_factory.mktemp("debug-library") / "_difftest_debug.so"
    proc = subprocess.run(
        [go, "build", "-tags", "difftest_debug", "-buildmode=c-shared", "-trimpath", "-o", str(lib), "./lib/cabi"],
        cwd=REPO,
        env={**os.environ, "CGO_ENABLED": "1"},
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stderr
    return lib


def run_panicking(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return run(pytester, "-p", "difftest_panic", *args)


@pytest.mark.parametrize(
    "mode, point, fallback",
    [
        ("--diff", "open", "running all tests"),
        ("--diff", "select", "running all tests"),
        ("--diff-baseline", "select", "running all tests, recording nothing"),
        ("--diff-baseline", "record", "recording nothing more"),
        ("--diff-baseline", "finish", "the baseline keeps what was recorded so far"),
        ("--diff", "close", ""),
    ],
)
def test_engine_panic_becomes_one_line_and_a_safe_fallback(
    pytester: pytest.Pytester,
    monkeypatch: pytest.MonkeyPatch,
    debug_library: Path,
    mode: str,
    point: str,
    fallback: str,
) -> None:
    project(pytester, {**SIMPLE, "difftest_panic.py": PANIC_PLUGIN})
    monkeypatch.setenv("DIFFTEST_DEBUG_LIBRARY", str(debug_library))
    if mode == "--diff":
        # A baseline exists: without the fallback, nothing would run.
        monkeypatch.setenv("DIFFTEST_DEBUG_PANIC", "")
        assert run_panicking(pytester, "--diff-baseline").ret == 0
    monkeypatch.setenv("DIFFTEST_DEBUG_PANIC", point)
    result = run_panicking(pytester, mode, "--diff-batch-size", "1")
    text = output(result)
    assert result.ret == 0, text
    assert "Traceback" not in text and "goroutine " not in text and "INTERNALERROR" not in text, text
    errors = engine_lines(result)
    assert len(errors) == 1, text
    assert errors[0].startswith(f"difftest: error: internal error: debug_panic at {point} (please report this)"), text
    assert errors[0].endswith(fallback), text
    if point in ("open", "select"):
        assert ran(result) == SIMPLE_TESTS
    # The database is consistent and usable afterwards.
    monkeypatch.setenv("DIFFTEST_DEBUG_PANIC", "")
    assert integrity(pytester) == "ok"
    if point == "record":
        assert recorded(pytester) == {}  # the batch was rolled back
    if point == "finish":
        assert set(recorded(pytester)) == SIMPLE_TESTS
    result = run_panicking(pytester, "--diff-baseline")
    assert result.ret == 0 and engine_lines(result) == [], output(result)
    assert ran(run_panicking(pytester, "--diff")) == set()


def test_engine_panic_detail_with_diff_v(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, debug_library: Path
) -> None:
    project(pytester, {**SIMPLE, "difftest_panic.py": PANIC_PLUGIN})
    monkeypatch.setenv("DIFFTEST_DEBUG_LIBRARY", str(debug_library))
    monkeypatch.setenv("DIFFTEST_DEBUG_PANIC", "select")
    result = run_panicking(pytester, "--diff", "--diff-v")
    assert result.ret == 0
    assert "goroutine " in output(result)  # the Go stack, for a bug report


def test_shipped_library_cannot_be_made_to_panic(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    """Only the test build reads "debug_panic": the shipped library ignores it."""
    project(pytester, {**SIMPLE, "difftest_panic.py": PANIC_PLUGIN})
    monkeypatch.delenv("DIFFTEST_DEBUG_LIBRARY", raising=False)
    for point in ("open", "select", "record", "finish", "close"):
        monkeypatch.setenv("DIFFTEST_DEBUG_PANIC", point)
        result = run_panicking(pytester, "--diff-baseline", "--diff-batch-size", "1")
        assert result.ret == 0 and engine_lines(result) == [], output(result)
        assert ran(result) == (SIMPLE_TESTS if point == "open" else set()), point
    assert set(recorded(pytester)) == SIMPLE_TESTS


ABI_CALLS = '''
import ctypes
import json
import sys

from pytest_difftest import engine

root = sys.argv[1]
session = engine.Session({"root": root, "db_path": root + "/d.db", "record": True, "env": {"python": "3.11"}})
session.select()
for batch in (b"", b"\\x05\\x00\\x00\\x00garbage", b"\\xff" * 64, b"\\x01\\x00\\x00\\x00" + b"\\xff\\xff\\xff\\x7f"):
    try:
        session.record(batch)
        print("accepted", batch)
    except engine.EngineError as exc:
        print("refused", exc.internal, exc)
for args in ((987654321,), (0,)):
    try:
        engine.call("dt_select", *args)
    except engine.EngineError as exc:
        print("bad handle", exc.internal, exc)
handle = session._handle
session.close()
try:
    engine.call("dt_close", handle)
except engine.EngineError as exc:
    print("closed twice", exc.internal, exc)
try:
    engine.Session({"root": root, "db_path": root + "/d.db", "batch_size": "many"})
except engine.EngineError as exc:
    print("bad config", exc.internal, exc)
print("alive")
'''


def test_malformed_calls_return_errors(tmp_path: Path) -> None:
    """Every exported function returns an error, never takes the process
    down (the plugin never makes these calls; a caller of the C ABI might)."""
    script = tmp_path / "abi.py"
    script.write_text(ABI_CALLS)
    proc = subprocess.run([sys.executable, str(script), str(tmp_path)], capture_output=True, text=True, timeout=120)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    lines = proc.stdout.splitlines()
    assert lines[-1] == "alive", out
    refused = [l for l in lines if l.startswith("refused")]
    assert len(refused) == 4 and all(l.startswith("refused False record batch") for l in refused), out
    assert len([l for l in lines if l.startswith("bad handle")]) == 2, out
    assert any(l.startswith("closed twice") for l in lines), out
    assert any(l.startswith("bad config False bad configuration") for l in lines), out


# -- the build ----------------------------------------------------------------------


def test_library_is_built_with_trimpath() -> None:
    lib = PLUGIN_DIR / "_difftest.so"
    assert lib.exists()
    go = shutil.which("go")
    if go is not None:
        info = subprocess.run([go, "version", "-m", str(lib)], capture_output=True, text=True, timeout=60)
        if info.returncode == 0:
            assert "-trimpath=true" in info.stdout, info.stdout
    # No path of the machine that built it.
    assert str(REPO).encode() not in lib.read_bytes()


def test_ci_runs_the_race_detector_and_the_fuzzers() -> None:
    build = (REPO / "build.sh").read_text()
    assert "go test -race" in build
    assert "-fuzz=" in build and "fuzz brief" in build
    assert "-trimpath" in build and "-trimpath" in (REPO / "setup.py").read_text()
    targets = subprocess.run(["grep", "-rhl", "^func Fuzz", str(REPO / "lib")], capture_output=True, text=True).stdout
    for name in ("blocks", "store", "engine"):
        assert f"/lib/internal/{name}/" in targets, targets


def test_a_stand_in_in_sys_modules_that_refuses_attribute_access(pytester: pytest.Pytester) -> None:
    # Recording looks at every module's __file__ when sys.modules grows; a
    # lazy stand-in may raise anything on attribute access.
    project(pytester, {
        "test_weird.py": """
            import sys

            class Weird:
                def __getattr__(self, name):
                    raise RuntimeError("no attribute access here: " + name)

            sys.modules["weird_stand_in"] = Weird()

            def test_one():
                assert True

            def test_two():
                import json
                assert json
        """,
    })
    result = run(pytester, "--diff-baseline")
    assert result.ret == 0, output(result)
    assert ran(result) == nodes("test_weird.py", "test_one", "test_two"), output(result)
    assert "INTERNALERROR" not in output(result), output(result)
    result = run(pytester, "--diff")
    assert result.ret == 0 and ran(result) == set(), output(result)
