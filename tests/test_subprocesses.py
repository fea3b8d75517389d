"""What Python subprocesses started by a test ran is that test's dependency
(SPEC 4.4h): `python -m`, `python -I`, multiprocessing spawn, forkserver and
fork, ProcessPoolExecutor, children ending through os._exit, and children
killed by a signal (the test stays selected). The same under pytest-xdist."""

from __future__ import annotations

import sys

import pytest

from conftest import baseline, diff, nodes, ran, summary_line, touch_edit, write

PROJECT = {
    "pytest.ini": "[pytest]\n",
    "pkg/__init__.py": "",
    "pkg/cli.py": """
        from pkg import only_child


        def main():
            print(only_child.value())


        if __name__ == "__main__":
            main()
    """,
    "pkg/only_child.py": """
        def value():
            return 42
    """,
    "pkg/work.py": """
        import os


        def square(x):
            return x * x


        def cube(x):
            return x * x * x


        def read_config():
            with open("config.txt") as f:
                return f.read().strip()


        def exit_early():
            from pkg import exiting

            print(exiting.answer(), flush=True)
            os._exit(0)


        def killed():
            import signal

            from pkg import doomed

            print(doomed.value(), flush=True)
            os.kill(os.getpid(), signal.SIGKILL)
    """,
    "pkg/exiting.py": """
        def answer():
            return 7
    """,
    "pkg/doomed.py": """
        def value():
            return 1
    """,
    "config.txt": "on\n",
    "test_cli.py": """
        import os
        import subprocess
        import sys


        def run(*args):
            out = subprocess.run([sys.executable, *args], capture_output=True, text=True)
            assert out.returncode == 0, out.stderr
            return out.stdout.strip()


        def test_module():
            assert run("-m", "pkg.cli") == "42"


        def test_isolated():
            # -I: no PYTHON* variables, no current directory on the path.
            code = "import sys; sys.path.insert(0, %r); import pkg.work; print(pkg.work.cube(2))" % os.getcwd()
            assert run("-I", "-c", code) == "8"


        def test_reads_a_file():
            assert run("-c", "import pkg.work; print(pkg.work.read_config())") == "on"


        def test_os_exit():
            assert run("-c", "import pkg.work; pkg.work.exit_early()") == "7"


        def test_nothing():
            assert run("-c", "print(1)") == "1"
    """,
    "test_mp.py": """
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        from pkg import work


        def test_spawn():
            with multiprocessing.get_context("spawn").Pool(1) as pool:
                assert pool.map(work.square, [3]) == [9]


        def test_forkserver():
            ctx = multiprocessing.get_context("forkserver")
            with ProcessPoolExecutor(1, mp_context=ctx) as ex:
                assert list(ex.map(work.cube, [2])) == [8]


        def test_fork():
            ctx = multiprocessing.get_context("fork")
            p = ctx.Process(target=work.exit_early)
            p.start()
            p.join()
            assert p.exitcode == 0
    """,
    "test_killed.py": """
        import subprocess
        import sys


        def test_killed_child():
            out = subprocess.run([sys.executable, "-c", "import pkg.work; pkg.work.killed()"], capture_output=True, text=True)
            assert out.stdout.strip() == "1"
    """,
}

CLI = nodes("test_cli.py", "test_module", "test_isolated", "test_reads_a_file", "test_os_exit", "test_nothing")
MP = nodes("test_mp.py", "test_spawn", "test_forkserver", "test_fork")
KILLED = nodes("test_killed.py", "test_killed_child")


@pytest.fixture(params=[[], ["-n", "2"]], ids=["serial", "xdist"])
def children(request: pytest.FixtureRequest, pytester: pytest.Pytester) -> tuple[pytest.Pytester, list[str]]:
    args: list[str] = request.param
    write(pytester, PROJECT)
    result = baseline(pytester, *args)
    assert result.ret == 0, result.stdout.str()
    assert ran(result) == CLI | MP | KILLED
    # Right after the baseline: nothing, but the test whose child was killed
    # before it could report.
    again = baseline(pytester, *args)
    assert ran(again) == KILLED, again.stdout.str()
    assert "subprocess hook" not in again.stdout.str()
    return pytester, args


def test_nothing_changed_selects_only_the_killed_childs_test(children: tuple[pytest.Pytester, list[str]]) -> None:
    pytester, args = children
    result = diff(pytester, *args)
    assert ran(result) == KILLED
    assert "1 selected" in summary_line(result)


def test_module_run_with_dash_m(children: tuple[pytest.Pytester, list[str]]) -> None:
    pytester, args = children
    touch_edit(pytester, "pkg/cli.py", "print(only_child.value())", "print(only_child.value() + 0)")
    assert ran(diff(pytester, *args)) == nodes("test_cli.py", "test_module") | KILLED


def test_module_only_the_child_imports(children: tuple[pytest.Pytester, list[str]]) -> None:
    pytester, args = children
    touch_edit(pytester, "pkg/only_child.py", "return 42", "return 42 + 0")
    assert ran(diff(pytester, *args)) == nodes("test_cli.py", "test_module") | KILLED


def test_file_a_child_read(children: tuple[pytest.Pytester, list[str]]) -> None:
    pytester, args = children
    touch_edit(pytester, "config.txt", "on", "off")
    assert ran(diff(pytester, *args)) == nodes("test_cli.py", "test_reads_a_file") | KILLED


def test_child_ending_with_os_exit(children: tuple[pytest.Pytester, list[str]]) -> None:
    pytester, args = children
    touch_edit(pytester, "pkg/exiting.py", "return 7", "return 7 + 0")
    assert ran(diff(pytester, *args)) == nodes("test_cli.py", "test_os_exit") | nodes("test_mp.py", "test_fork") | KILLED


def test_multiprocessing_spawn_and_forkserver(children: tuple[pytest.Pytester, list[str]]) -> None:
    pytester, args = children
    touch_edit(pytester, "pkg/work.py", "return x * x\n", "return x * x + 0\n")
    assert ran(diff(pytester, *args)) == nodes("test_mp.py", "test_spawn") | KILLED
    touch_edit(pytester, "pkg/work.py", "return x * x * x", "return x * x * x + 0")
    assert ran(diff(pytester, *args)) == nodes("test_mp.py", "test_spawn", "test_forkserver") | nodes("test_cli.py", "test_isolated") | KILLED


def test_child_started_by_a_wider_fixture_is_charged_to_its_users(pytester: pytest.Pytester) -> None:
    write(pytester, {
        **{k: v for k, v in PROJECT.items() if k.startswith(("pkg/", "pytest.ini"))},
        "test_fixture.py": """
            import subprocess
            import sys

            import pytest


            @pytest.fixture(scope="module")
            def answer():
                out = subprocess.run([sys.executable, "-m", "pkg.cli"], capture_output=True, text=True, check=True)
                return out.stdout.strip()


            def test_first(answer):
                assert answer == "42"


            def test_second(answer):
                assert answer == "42"


            def test_without():
                assert True
        """,
    })
    assert ran(baseline(pytester)) == nodes("test_fixture.py", "test_first", "test_second", "test_without")
    assert ran(baseline(pytester)) == set()
    touch_edit(pytester, "pkg/only_child.py", "return 42", "return 42 + 0")
    assert ran(diff(pytester)) == nodes("test_fixture.py", "test_first", "test_second")


def test_console_script(pytester: pytest.Pytester) -> None:
    """A console script: an executable file whose first line names the
    interpreter (what pip writes into bin/ for an entry point)."""
    import os
    import sys

    write(pytester, {
        **{k: v for k, v in PROJECT.items() if k.startswith(("pkg/", "pytest.ini"))},
        "test_script.py": """
            import os
            import subprocess


            def test_tool():
                env = dict(os.environ, PYTHONPATH=os.getcwd())
                out = subprocess.run([os.path.join("bin", "tool")], capture_output=True, text=True, check=True, env=env)
                assert out.stdout.strip() == "42"


            def test_without():
                assert True
        """,
    })
    tool = pytester.path / "bin" / "tool"
    tool.parent.mkdir()
    tool.write_text(f"#!{sys.executable}\nimport sys\nfrom pkg.cli import main\nsys.exit(main())\n")
    os.chmod(tool, 0o755)
    assert ran(baseline(pytester)) == nodes("test_script.py", "test_tool", "test_without")
    assert ran(baseline(pytester)) == set()
    touch_edit(pytester, "pkg/only_child.py", "return 42", "return 42 + 0")
    assert ran(diff(pytester)) == nodes("test_script.py", "test_tool")


# -- SIGTERM that Python notes but cannot handle at once ----------------------
#
# A recorded child handles SIGTERM in Python, to report before it dies. Python
# runs the handler only when its main thread runs bytecode or a blocking call
# returns EINTR. A SIGTERM that lands just before the main thread blocks (what
# multiprocessing's Pool.terminate() does to an idle worker, about once in a
# hundred pools) is noted and left unhandled: the child lived on and whoever
# sent the signal waited forever. Here the signal is sent to another thread of
# the child while its main thread waits on a lock, which is the same state,
# every time. Plain Python dies of it at once; so must a recorded child.

TERM_SCENARIO = """
import multiprocessing, signal, threading, time
import pkg.work

pkg.work.square(3)
lock = multiprocessing.Lock()
lock.acquire()


def deliver():
    time.sleep(0.3)
    signal.pthread_kill(threading.get_ident(), signal.SIGTERM)


threading.Thread(target=deliver).start()
lock.acquire()
"""

# The child's main thread blocks in C code that retries on EINTR (a lock it
# holds itself): Python never gets to run a handler. Plain Python dies at
# once; a recorded child dies too, without a report (the test stays selected).
TERM_IN_C = """
import ctypes, os, signal, sys
import pkg.work

pkg.work.square(3)
libc = ctypes.CDLL(None)
mutex = ctypes.create_string_buffer(64)  # PTHREAD_MUTEX_INITIALIZER: zeros
libc.pthread_mutex_lock(mutex)
print("ready", flush=True)
libc.pthread_mutex_lock(mutex)
"""

TERM_TESTS = '''
import os
import signal
import subprocess
import sys
import time

SCENARIO = {scenario!r}
IN_C = {in_c!r}


def wait(pid):
    deadline = time.monotonic() + 60
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return status
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            raise AssertionError("the child did not end")
        time.sleep(0.02)


def test_subprocess():
    child = subprocess.Popen([sys.executable, "-c", SCENARIO])
    status = wait(child.pid)
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGTERM, status


def test_fork_of_a_subprocess():
    code = "import os, sys\\npid = os.fork()\\nif pid == 0:\\n" + "".join("    " + l + "\\n" for l in SCENARIO.splitlines())
    code += "_, st = os.waitpid(pid, 0)\\nsys.exit(0 if os.WIFSIGNALED(st) and os.WTERMSIG(st) == 15 else 1)\\n"
    assert subprocess.run([sys.executable, "-c", code], timeout=60).returncode == 0


def test_fork_of_the_test_process():
    pid = os.fork()
    if pid == 0:
        try:
            exec(SCENARIO, {{"__name__": "forked"}})
        finally:
            os._exit(3)
    status = wait(pid)
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGTERM, status


def blocked_in_futex(pid):
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{{pid}}/wchan") as f:
                if "futex" in f.read():
                    return
        except OSError:
            pass
        time.sleep(0.01)


def test_blocked_in_c():
    child = subprocess.Popen([sys.executable, "-c", IN_C], stdout=subprocess.PIPE, text=True)
    assert child.stdout.readline().strip() == "ready"
    blocked_in_futex(child.pid)  # past Python's last look at signals
    child.terminate()
    status = wait(child.pid)
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGTERM, status


def test_without_children():
    assert True
'''

TERM = nodes("test_term.py", "test_subprocess", "test_fork_of_a_subprocess", "test_fork_of_the_test_process")
TERM_IN_C_TEST = nodes("test_term.py", "test_blocked_in_c")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the SIGTERM guard is Linux only")
def test_sigterm_noted_but_not_yet_handled_still_ends_the_child(pytester: pytest.Pytester) -> None:
    write(pytester, {
        **{k: v for k, v in PROJECT.items() if k.startswith(("pkg/", "pytest.ini"))},
        "test_term.py": TERM_TESTS.format(scenario=TERM_SCENARIO, in_c=TERM_IN_C),
    })
    everything = TERM | TERM_IN_C_TEST | nodes("test_term.py", "test_without_children")
    plain = pytester.runpytest_subprocess("-v", "-p", "no:randomly", timeout=300)
    assert plain.ret == 0 and ran(plain) == everything, plain.stdout.str()
    result = pytester.runpytest_subprocess("-v", "-p", "no:randomly", "--diff-baseline", timeout=300)
    assert result.ret == 0 and ran(result) == everything, result.stdout.str()
    # The children reported before dying: nothing to run again, but the test
    # whose child could not report (blocked in C).
    again = pytester.runpytest_subprocess("-v", "-p", "no:randomly", "--diff", timeout=300)
    assert ran(again) == TERM_IN_C_TEST, again.stdout.str()
    # What the children ran is their tests' dependency.
    touch_edit(pytester, "pkg/work.py", "return x * x\n", "return x * x + 0\n")
    changed = pytester.runpytest_subprocess("-v", "-p", "no:randomly", "--diff", timeout=300)
    assert ran(changed) == TERM | TERM_IN_C_TEST, changed.stdout.str()
