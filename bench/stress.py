"""Run a recording pytest over and over on the hostile project of
tests/test_robustness.py (fork pools, bare forks, threads, signals, chdir,
tracers of its own) and catch a run that hangs: rare hangs do not show in
one CI run. On a hang it writes, for the run and every process under it,
/proc/PID/status (signal masks), py-spy's and gdb's stacks when those are on
PATH, then kills the run.

    .venv/bin/python bench/stress.py --runs 300            # about 8 minutes
    .venv/bin/python bench/stress.py --runs 300 --jobs 2 -- --diff-batch-size 1

The interpreter that runs it is the one tested (pytest-difftest installed in
it). Exit status 1 when a run hung or failed. Output: bench/out/stress/.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "out" / "stress"


def hostile_project() -> dict[str, str]:
    sys.path.insert(0, str(HERE.parent / "tests"))
    import test_robustness

    return dict(test_robustness.HOSTILE)


def descendants(pid: int) -> list[int]:
    table = subprocess.run(["ps", "-e", "-o", "pid=,ppid="], capture_output=True, text=True).stdout
    pairs = [tuple(int(x) for x in line.split()) for line in table.strip().splitlines()]
    found, i = [pid], 0
    while i < len(found):
        found += [child for child, parent in pairs if parent == found[i]]
        i += 1
    return found


def dump(pid: int, path: Path) -> None:
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    with path.open("w") as out:
        for p in descendants(pid):
            out.write(f"===== pid {p}\n")
            try:
                out.write(Path(f"/proc/{p}/status").read_text())
            except OSError as exc:
                out.write(f"{exc}\n")
            if os.path.exists(spy):
                out.write(subprocess.run([spy, "dump", "--native", "--pid", str(p)], capture_output=True, text=True).stdout)
            if shutil.which("gdb"):
                gdb = ["gdb", "-p", str(p), "-batch", "-ex", "thread apply all bt"]
                out.write(subprocess.run(gdb, capture_output=True, text=True).stdout)


def one_run(files: dict[str, str], args: list[str], timeout: float, tag: str) -> str:
    """'' when the run passed, else what went wrong."""
    work = Path(tempfile.mkdtemp(prefix="difftest-stress-"))
    for name, text in files.items():
        path = work / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    cmd = [sys.executable, "-m", "pytest", "-p", "no:randomly", "-p", "no:cacheprovider", "--diff-baseline", *args]
    proc = subprocess.Popen(cmd, cwd=work, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        dump(proc.pid, OUT / f"hang-{tag}.txt")
        for p in reversed(descendants(proc.pid)):
            try:
                os.kill(p, 9)
            except OSError:
                pass
        proc.communicate()
        return f"hung (stacks in {OUT / f'hang-{tag}.txt'}; project kept in {work})"
    if proc.returncode != 0:
        (OUT / f"failed-{tag}.txt").write_text(out)
        return f"failed with {proc.returncode} (output in {OUT / f'failed-{tag}.txt'})"
    shutil.rmtree(work, ignore_errors=True)
    return ""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=300, help="runs per job")
    parser.add_argument("--jobs", type=int, default=2, help="runs at once (load makes races likelier)")
    parser.add_argument("--timeout", type=float, default=60, help="seconds before a run counts as hung")
    parser.add_argument("pytest_args", nargs="*", help="more pytest arguments, after --")
    opts = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    files = hostile_project()
    problems: list[str] = []
    lock = threading.Lock()

    def job(j: int) -> None:
        for i in range(opts.runs):
            problem = one_run(files, opts.pytest_args, opts.timeout, f"{j}-{i}")
            with lock:
                if problem:
                    problems.append(problem)
                    print(f"job {j} run {i}: {problem}", flush=True)
                elif i % 50 == 49:
                    print(f"job {j}: {i + 1} runs", flush=True)

    started = time.monotonic()
    threads = [threading.Thread(target=job, args=(j,)) for j in range(opts.jobs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    total = opts.runs * opts.jobs
    print(f"{total} runs in {time.monotonic() - started:.0f} s on Python {sys.version.split()[0]}: {len(problems)} hung or failed")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
