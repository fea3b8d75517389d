#!/usr/bin/env python3
"""Benchmark pytest-difftest (this repository) against pytest-testmon and the
Rust pytest-difftest, side by side in one run. See bench/README.md.

    ./build.sh bench                       # sizes 1,000, 5,000, 20,000 + a real project
    ./build.sh bench --quick               # 1,000 tests only (a few minutes)
    python bench/run.py --sizes 5000 --repeat 5 --tools ours,testmon

Every tool lives in its own virtualenv under OUT/venvs (same base Python, same
pytest). Every project is copied once per tool, so that each tool has its own
database. Every timing is the wall clock of one whole ``python -m pytest``
subprocess; runs are interleaved (in each round, every scenario runs for every
tool, in an order that rotates from round to round), the first round is a
discarded warm-up, and the reported value is the median of the other rounds.
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import json
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tarfile
import threading
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))
import generate  # noqa: E402

PYTEST_VERSION = "9.2.0"
COMMON_FLAGS = ["-q"]  # identical for every tool and every floor
DEFAULT_SIZES = [1000, 5000, 20000]
DEFAULT_REAL = "more-itertools==10.5.0"
# Where to edit a real project: one function whose body changes, and the
# module whose top level changes (a new module-level statement).
REAL_EDITS = {
    "more-itertools": {"file": "more_itertools/more.py", "function": "chunked"},
}


@dataclass
class Tool:
    name: str
    packages: list[str]
    record: list[str]
    select: list[str]
    db: list[str]  # database files or folders, relative to the project root
    title: str = ""


TOOLS = {
    "ours": Tool(
        "ours", [], ["--diff-baseline"], ["--diff"], [".pytest_cache/pytest-difftest"],
        "pytest-difftest (this repo)",
    ),
    "testmon": Tool(
        "testmon", ["pytest-testmon==2.2.0"], ["--testmon"], ["--testmon-nocollect"],
        [".testmondata", ".testmondata-wal", ".testmondata-shm", ".testmondata-journal"],
        "pytest-testmon 2.2.0",
    ),
    "rust": Tool(
        "rust", ["pytest-difftest==0.3.0"], ["--diff-baseline"], ["--diff"], [".pytest_cache/pytest-difftest"],
        "pytest-difftest 0.3.0 (Rust, PyPI)",
    ),
}

SCENARIOS = ["record", "nochange", "body", "module"]
SCENARIO_TITLES = {
    "record": "first recording run (floor: plain full run)",
    "nochange": "selection, no change (floor: pytest start-up, empty dir)",
    "body": "selection, one function body changed (floor: plain pytest on the affected tests)",
    "module": "selection, module-level change (floor: plain pytest on the affected tests)",
}


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------
# virtualenvs


def base_python(explicit: Optional[str]) -> str:
    """The interpreter --python names: a path, a command, or a version
    ("3.13": pyenv's newest 3.13.x, else python3.13 on PATH)."""
    if not explicit:
        return getattr(sys, "_base_executable", None) or sys.executable
    if os.sep in explicit:
        return explicit
    if all(part.isdigit() for part in explicit.split(".")):
        try:
            root = subprocess.run(["pyenv", "root"], capture_output=True, text=True).stdout.strip()
        except OSError:
            root = ""
        if root:
            found = sorted(
                Path(root, "versions").glob(f"{explicit}.*"),
                key=lambda p: [int(x) if x.isdigit() else 0 for x in p.name.split(".")],
                reverse=True,
            )
            for d in found:
                if (d / "bin" / "python3").exists():
                    return str(d / "bin" / "python3")
        explicit = f"python{explicit}"
    found_cmd = shutil.which(explicit)
    if found_cmd is None:
        raise SystemExit(f"--python {explicit}: no such interpreter (pyenv or PATH)")
    return found_cmd


def venvs_dir(out: Path, python: str) -> Path:
    """Virtualenvs per interpreter version: switching --python does not
    rebuild the other's."""
    version = subprocess.run([python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                             capture_output=True, text=True, check=True).stdout.strip()
    return out / f"venvs-{version}"


def vpython(venv: Path) -> Path:
    return venv / "bin" / "python"


def pip(venv: Path, args: list[str], logfile: Path) -> None:
    with open(logfile, "ab") as f:
        f.write(("$ pip " + " ".join(args) + "\n").encode())
        f.flush()
        rc = subprocess.call(
            [str(vpython(venv)), "-m", "pip", "--disable-pip-version-check", *args],
            stdout=f, stderr=subprocess.STDOUT, env=child_env(),
        )
    if rc != 0:
        tail = logfile.read_text(errors="replace").splitlines()[-30:]
        raise SystemExit(f"pip {' '.join(args)} failed in {venv}:\n" + "\n".join(tail))


def source_digest() -> str:
    """What an install of this repository depends on: reinstall when it changes."""
    h = hashlib.sha256()
    paths = [REPO / p for p in ("setup.py", "pyproject.toml", "go.mod", "go.sum", "MANIFEST.in")]
    for top in ("lib", "include", "plugin"):
        for p in sorted((REPO / top).rglob("*")):
            if p.is_file() and "__pycache__" not in p.parts and p.suffix not in (".so", ".h.gch") \
                    and not p.name.endswith(".egg-info"):
                paths.append(p)
    for p in paths:
        if p.is_file():
            h.update(str(p.relative_to(REPO)).encode() + b"\0" + p.read_bytes() + b"\0")
    return h.hexdigest()


def resolve_ref(ref: str) -> str:
    out = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--verify", ref + "^{commit}"],
                         capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"--ours-ref {ref}: not a commit of {REPO}")
    return out.stdout.strip()


def copy_repo_for_build(dest: Path, ref: Optional[str]) -> None:
    if dest.exists():
        shutil.rmtree(dest)
    if ref:
        dest.mkdir(parents=True)
        archive = subprocess.run(["git", "-C", str(REPO), "archive", "--format=tar", ref],
                                 capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)
        return
    ignore = shutil.ignore_patterns(
        ".git", ".venv*", "build", "dist", "*.egg-info", "__pycache__", ".pytest_cache", "out", "*.so",
    )
    dest.mkdir(parents=True)
    for name in ("lib", "include", "plugin"):
        shutil.copytree(REPO / name, dest / name, ignore=ignore)
    for name in ("setup.py", "pyproject.toml", "go.mod", "go.sum", "MANIFEST.in", "README.md"):
        if (REPO / name).exists():
            shutil.copy2(REPO / name, dest / name)


def ensure_venvs(out: Path, tools: list[str], python: str, reinstall: bool,
                 ours_ref: Optional[str]) -> dict[str, Path]:
    venvs = {}
    logs = out / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    for who in ["plain", *tools]:
        venv = venvs_dir(out, python) / who
        venvs[who] = venv
        marker = venv / ".bench-marker"
        want = {"python": python, "pytest": PYTEST_VERSION}
        if who == "ours":
            want["source"] = resolve_ref(ours_ref) if ours_ref else source_digest()
        elif who != "plain":
            want["packages"] = TOOLS[who].packages
        have = None
        if marker.exists():
            try:
                have = json.loads(marker.read_text())
            except ValueError:
                have = None
        if have == want and not reinstall and vpython(venv).exists():
            continue
        logfile = logs / f"pip-{who}.txt"
        logfile.write_text("")
        if not vpython(venv).exists() or (have or {}).get("python") != python:
            log(f"== creating virtualenv {venv} ({python})")
            if venv.exists():
                shutil.rmtree(venv)
            subprocess.run([python, "-m", "venv", str(venv)], check=True)
        log(f"== installing into {who}: pytest=={PYTEST_VERSION} {' '.join(want.get('packages', []))}")
        pip(venv, ["install", "-q", f"pytest=={PYTEST_VERSION}", *want.get("packages", [])], logfile)
        if who == "ours":
            src = out / "build" / "ours-src"
            copy_repo_for_build(src, ours_ref)
            log(f"== building and installing this repository into {who} (Go build)")
            pip(venv, ["install", "-q", "--force-reinstall", "--no-deps", str(src)], logfile)
        marker.write_text(json.dumps(want))
    return venvs


def dist_version(venv: Path, dist: str) -> str:
    out = subprocess.run(
        [str(vpython(venv)), "-c", f"import importlib.metadata as m; print(m.version({dist!r}))"],
        capture_output=True, text=True, env=child_env(),
    )
    return out.stdout.strip() or "?"


def child_env() -> dict[str, str]:
    drop = ("PYTEST_", "PYTHON", "COV_CORE", "COVERAGE_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop) and k != "VIRTUAL_ENV"}
    return env


# ---------------------------------------------------------------------------
# projects and edits


@dataclass
class Edit:
    file: str  # relative to the project root
    block: str  # qualified name of a function, or "<module>"
    old: Optional[str]  # a whole line to replace inside the block; None: insert `new`
    new: str


@dataclass
class Project:
    label: str
    title: str
    pristine: Path
    body: Edit
    module: Edit
    tests: int = 0
    affected: dict[str, list[str]] = field(default_factory=dict)
    readers: list[str] = field(default_factory=list)  # tests reading what the module edit changes
    dirs: dict[str, Path] = field(default_factory=dict)


def qualnames(tree: ast.AST) -> dict[str, ast.AST]:
    found: dict[str, ast.AST] = {}

    def walk(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                name = prefix + child.name
                found.setdefault(name, child)
                walk(child, name + ".<locals>.")
            elif isinstance(child, ast.ClassDef):
                name = prefix + child.name
                found.setdefault(name, child)
                walk(child, name + ".")
            else:
                walk(child, prefix)

    walk(tree, "")
    return found


def apply_edit(text: str, edit: Edit) -> str:
    lines = text.splitlines(keepends=True)
    tree = ast.parse(text)
    if edit.block == "<module>":
        if edit.old is not None:
            top = [n for n in tree.body]
            for n in top:
                if lines[n.lineno - 1] == edit.old:
                    lines[n.lineno - 1] = edit.new
                    return "".join(lines)
            raise ValueError(f"{edit.file}: no top-level line {edit.old!r}")
        first = next(n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)))
        at = min([first.lineno] + [d.lineno for d in first.decorator_list]) - 1
        lines.insert(at, edit.new.rstrip("\n") + "\n\n\n")
        return "".join(lines)
    node = qualnames(tree).get(edit.block)
    if node is None:
        raise ValueError(f"{edit.file}: no block {edit.block}")
    if edit.old is not None:
        for i in range(node.lineno - 1, node.end_lineno):
            if lines[i] == edit.old:
                lines[i] = edit.new
                return "".join(lines)
        raise ValueError(f"{edit.file}:{edit.block}: no line {edit.old!r}")
    body = node.body
    first = body[0]
    if isinstance(first, ast.Expr) and isinstance(getattr(first, "value", None), ast.Constant) \
            and isinstance(first.value.value, str):
        indent = " " * first.col_offset
        at = first.end_lineno  # after the docstring
    else:
        indent = " " * first.col_offset
        at = first.lineno - 1
    lines.insert(at, indent + edit.new.strip() + "\n")
    return "".join(lines)


class Applied:
    """An edit applied to several copies; revert() restores bytes and mtimes."""

    def __init__(self, dirs: list[Path], edit: Edit) -> None:
        self.saved = []
        for d in dirs:
            path = d / edit.file
            st = path.stat()
            data = path.read_bytes()
            self.saved.append((path, data, st.st_atime_ns, st.st_mtime_ns))
            path.write_text(apply_edit(data.decode(), edit))

    def revert(self) -> None:
        for path, data, atime, mtime in self.saved:
            path.write_bytes(data)
            os.utime(path, ns=(atime, mtime))


def git_init(path: Path) -> None:
    with open(path / ".gitignore", "a") as f:
        f.write("\n.pytest_cache/\n.testmondata*\n__pycache__/\n")
    git = ["git", "-c", "user.name=bench", "-c", "user.email=bench@example.invalid",
           "-c", "init.defaultBranch=main", "-c", "commit.gpgsign=false"]
    try:
        subprocess.run(git + ["init", "-q"], cwd=path, check=True)
        subprocess.run(git + ["add", "-A"], cwd=path, check=True)
        subprocess.run(git + ["commit", "-q", "-m", "bench"], cwd=path, check=True)
    except (OSError, subprocess.CalledProcessError) as exc:
        log(f"warning: git init in {path} failed ({exc}); continuing without a repository")


def synthetic_project(work: Path, tests: int, functions: int, seed: int) -> Project:
    modules = generate.default_modules(tests)
    label = f"synthetic-{tests}"
    pristine = work / label / "pristine"
    m = generate.generate(pristine, tests, modules, functions, seed)
    body = Edit(**m["body_change"])
    module = Edit(**m["module_change"])
    title = (f"Synthetic, {m['tests']:,} tests ({m['modules']:,} modules × {functions} functions "
             f"+ {m['classes_per_module']} classes; {m['test_files']:,} test files; seed {seed})")
    return Project(label, title, pristine, body, module, tests=m["tests"])



def unpack(archive: Path, dest: Path) -> None:
    """Unpack an sdist (one top-level directory) to dest, replacing it."""
    if dest.exists():
        shutil.rmtree(dest)
    tmp = dest.parent / (dest.name + ".unpack")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    if archive.name.endswith(".zip"):
        with zipfile.ZipFile(archive) as z:
            z.extractall(tmp)
    else:
        with tarfile.open(archive) as t:
            if hasattr(tarfile, "data_filter"):
                t.extractall(tmp, filter="data")
            else:
                t.extractall(tmp)
    (top,) = list(tmp.iterdir())
    top.rename(dest)
    shutil.rmtree(tmp)

def real_project(work: Path, spec: str, plain_venv: Path, cache: Path) -> Project:
    name, _, version = spec.partition("==")
    if not version:
        raise SystemExit(f"--real {spec}: give NAME==VERSION")
    key = name.lower().replace("_", "-")
    if key not in REAL_EDITS:
        raise SystemExit(f"--real {spec}: no edit points known for {name} (add it to REAL_EDITS in bench/run.py)")
    cache.mkdir(parents=True, exist_ok=True)
    found = [p for p in cache.iterdir() if p.name.lower().replace("_", "-").startswith(f"{key}-{version}.")]
    if not found:
        log(f"== downloading the sdist of {spec}")
        subprocess.run(
            [str(vpython(plain_venv)), "-m", "pip", "download", "-q", "--no-binary", ":all:", "--no-deps",
             "--disable-pip-version-check", "-d", str(cache), spec],
            check=True, env=child_env(),
        )
        found = [p for p in cache.iterdir() if p.name.lower().replace("_", "-").startswith(f"{key}-{version}.")]
    archive = found[0]
    label = f"real-{key}"
    pristine = work / label / "pristine"
    if pristine.exists():
        shutil.rmtree(pristine)
    unpack(archive, pristine)
    if not any((pristine / n).exists() for n in ("pytest.ini", ".pytest.ini")):
        # Pin the rootdir (and stop pytest looking further up for a config).
        (pristine / "pytest.ini").write_text("[pytest]\ntestpaths = tests\n")
    where = REAL_EDITS[key]
    body = Edit(where["file"], where["function"], None, "_bench_edit = 1")
    module = Edit(where["file"], "<module>", None, "_BENCH_MODULE_EDIT = 1")
    title = (f"Real project: {name} {version} (sdist from PyPI, its own test suite; edits in "
             f"{where['file']}: a statement added to `{where['function']}`, and a new module-level statement)")
    return Project(label, title, pristine, body, module)


# ---------------------------------------------------------------------------
# running pytest


SUMMARY_RE = re.compile(r"\bin \d+(?:\.\d+)?s\b")
COUNT_RE = re.compile(
    r"(?<![\w.])(\d+) (subtests? )?(passed|failed|errors?|skipped|deselected|xfailed|xpassed|warnings?)\b"
)


def parse_counts(text: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    line = ""
    for candidate in text.splitlines():
        if SUMMARY_RE.search(candidate) and ("passed" in candidate or "deselected" in candidate
                                              or "no tests ran" in candidate or "failed" in candidate
                                              or "error" in candidate or "skipped" in candidate):
            line = candidate
    for m in COUNT_RE.finditer(line):
        if m.group(2):
            continue
        key = m.group(3)
        key = {"error": "errors", "warning": "warnings"}.get(key, key)
        counts[key] = counts.get(key, 0) + int(m.group(1))
    counts["ran"] = sum(counts.get(k, 0) for k in ("passed", "failed", "skipped", "xfailed", "xpassed"))
    return counts


@dataclass
class Run:
    who: str
    scenario: str
    seconds: float
    rc: int
    rss_kb: int
    cpu: float  # user + system seconds of the child and its descendants
    counts: dict[str, int]
    log: str
    error: Optional[str] = None
    note: Optional[str] = None


def execute(python: Path, args: list[str], cwd: Path, logfile: Path,
            env: dict[str, str]) -> tuple[float, int, int, float, str]:
    logfile.parent.mkdir(parents=True, exist_ok=True)
    with open(logfile, "wb") as f:
        f.write(("$ cd " + str(cwd) + " && " + " ".join([str(python), "-m", "pytest", *args])[:2000] + "\n").encode())
        f.flush()
        start = time.perf_counter()
        proc = subprocess.Popen(
            [str(python), "-m", "pytest", *args], cwd=cwd, stdout=f, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, env=env, start_new_session=True,
        )
        timer = threading.Timer(TIMEOUT, _kill_group, (proc.pid,))
        timer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            timer.cancel()
        seconds = time.perf_counter() - start
    proc.returncode = rc = os.waitstatus_to_exitcode(status)
    text = logfile.read_text(errors="replace")
    if seconds >= TIMEOUT:
        text += f"\nBENCH-TIMEOUT after {TIMEOUT:.0f}s\n"
    return seconds, rc, usage.ru_maxrss, usage.ru_utime + usage.ru_stime, text


TIMEOUT = 7200.0
SLOW_RECORD = 300.0


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except OSError:
        pass


ERROR_RE = re.compile(r"BENCH-TIMEOUT.*|INTERNALERROR|Traceback \(most recent call last\)|difftest: error|^E\s", re.M)


def judge(run: Run, text: str, expected: Optional[int], exact: bool, allow_empty: bool,
          minimum: Optional[int] = None) -> None:
    """Sanity checks of one run. expected: the tests it should run; fewer
    is an error, unless minimum (a module-level edit: the tests that read
    the changed name) allows it, which only a statement-level tool reaches."""
    if minimum is None:
        minimum = expected
    c = run.counts
    problems = []
    if run.rc not in ((0, 5) if allow_empty else (0,)):
        problems.append(f"exit code {run.rc}")
    if c.get("failed") or c.get("errors"):
        problems.append(f"{c.get('failed', 0)} failed, {c.get('errors', 0)} errors")
    m = ERROR_RE.search(text)
    if m:
        line = text[m.start():].splitlines()[0]
        problems.append(f"error output: {line[:160]}")
    if expected is not None:
        if c["ran"] < (minimum or 0):
            problems.append(f"ran {c['ran']} tests, {minimum} read the change")
        elif c["ran"] < expected:
            run.note = f"ran {c['ran']} tests: {minimum} read the changed name, {expected} ran code of its module"
        elif c["ran"] > expected:
            if exact:
                problems.append(f"ran {c['ran']} tests, expected {expected}")
            else:
                run.note = f"ran {c['ran']} tests, {expected} affected"
    if problems:
        run.error = "; ".join(problems)


def db_size(root: Path, tool: Tool) -> int:
    total = 0
    for rel in tool.db:
        p = root / rel
        if p.is_dir():
            total += sum(f.stat().st_size for f in p.rglob("*") if f.is_file())
        elif p.is_file():
            total += p.stat().st_size
    return total


def remove_db(root: Path, tool: Tool) -> None:
    for rel in tool.db:
        p = root / rel
        if p.is_dir():
            shutil.rmtree(p)
        elif p.exists():
            p.unlink()


def snapshot_db(root: Path, tool: Tool, dest: Path) -> None:
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    for rel in tool.db:
        p = root / rel
        if p.is_dir():
            shutil.copytree(p, dest / rel)
        elif p.exists():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(p, dest / rel)


def restore_db(root: Path, tool: Tool, src: Path) -> None:
    if not src.exists():
        return
    remove_db(root, tool)
    for rel in tool.db:
        p = src / rel
        if p.is_dir():
            shutil.copytree(p, root / rel)
        elif p.exists():
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(p, root / rel)


# ---------------------------------------------------------------------------
# one project


def edit_names(edit: Edit) -> list[str]:
    """The names a module-level edit binds (its old and new lines)."""
    import ast

    names: set[str] = set()
    for line in (edit.old, edit.new):
        try:
            tree = ast.parse((line or "").strip())
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                names.add(node.id)
    return sorted(names)


def measure_affected(project: Project, venvs: dict[str, Path], out: Path) -> None:
    """Plain pytest with bench/affected.py on the unedited project: the node ids
    each edit affects (and a check that the suite passes)."""
    root = project.dirs["plain"]
    spec = out / "logs" / project.label / "affected-spec.json"
    result = out / "logs" / project.label / "affected.json"
    spec.parent.mkdir(parents=True, exist_ok=True)
    spec.write_text(json.dumps({
        "out": str(result),
        "targets": {
            "body": {"file": str(root / project.body.file), "block": project.body.block},
            "module": {"file": str(root / project.module.file), "block": "<module>"},
            "module_readers": {"file": str(root / project.module.file), "block": "<module>",
                               "names": edit_names(project.module)},
        },
    }))
    env = child_env()
    env["PYTHONPATH"] = str(HERE)
    env["BENCH_AFFECTED"] = str(spec)
    logfile = out / "logs" / project.label / "affected-run.txt"
    secs, rc, _, _, text = execute(vpython(venvs["plain"]), [*COMMON_FLAGS, "-p", "affected"], root, logfile, env)
    counts = parse_counts(text)
    if rc != 0 or counts.get("failed") or counts.get("errors"):
        raise SystemExit(f"{project.label}: the suite does not pass under plain pytest (see {logfile})")
    project.tests = counts["ran"]
    hits = json.loads(result.read_text())
    project.affected = {k: sorted(set(v)) for k, v in hits.items()}
    project.readers = project.affected.pop("module_readers", project.affected["module"])
    for k in ("body", "module"):
        if not project.affected.get(k):
            raise SystemExit(f"{project.label}: the {k} edit affects no test; pick another edit point")
    log(f"   {project.tests} tests; body edit affects {len(project.affected['body'])}, "
        f"module edit {len(project.affected['module'])} ({secs:.1f}s traced run)")


def bench_project(project: Project, venvs: dict[str, Path], tools: list[str], repeat: int, out: Path) -> dict:
    work = project.pristine.parent
    log(f"== {project.title}")
    for who in ["plain", *tools]:
        d = work / who
        if d.exists():
            shutil.rmtree(d)
        shutil.copytree(project.pristine, d)
        git_init(d)
        project.dirs[who] = d
    empty = work / "empty"
    if empty.exists():
        shutil.rmtree(empty)
    empty.mkdir()
    (empty / "pytest.ini").write_text("[pytest]\n")
    for edit in (project.body, project.module):  # fail early on a bad edit point
        text = (project.pristine / edit.file).read_text()
        new = apply_edit(text, edit)
        assert new != text
        ast.parse(new)
    measure_affected(project, venvs, out)

    env = child_env()
    runs: list[tuple[int, Run]] = []
    dbs: dict[str, list[tuple[int, int]]] = {t: [] for t in tools}
    slow: set[str] = set()
    snaps = work / "snapshots"
    all_dirs = [project.dirs[w] for w in ["plain", *tools]]

    for rnd in range(repeat + 1):
        tag = "warm-up" if rnd == 0 else f"round {rnd}/{repeat}"
        for scenario in SCENARIOS:
            applied = None
            if scenario in ("body", "module"):
                applied = Applied(all_dirs, project.body if scenario == "body" else project.module)
            try:
                entries = ["plain", *tools]
                k = rnd % len(entries)
                for who in entries[k:] + entries[:k]:
                    if scenario == "record" and who in slow:
                        continue  # measured already; its saved database serves the selections
                    run = one_run(project, scenario, who, rnd, venvs, env, out, empty, snaps)
                    if who != "plain" and scenario == "record" and run.error is None:
                        tool = TOOLS[who]
                        dbs[who].append((rnd, db_size(project.dirs[who], tool)))
                        snapshot_db(project.dirs[who], tool, snaps / who)
                        if run.seconds > SLOW_RECORD and rnd < repeat:
                            slow.add(who)
                            log(f"   {who}: recording took over {SLOW_RECORD:.0f} s (--slow-record); "
                                "not recorded again, its database is reused")
                    status = "ok" if run.error is None else f"ERROR: {run.error}"
                    if run.note and run.error is None:
                        status += f" ({run.note})"
                    log(f"   [{project.label}] {tag:>11} {scenario:<8} {who:<8} {run.seconds:7.3f}s "
                        f"(cpu {run.cpu:7.3f}s) "
                        f"{run.rss_kb / 1024:6.0f} MB  ran {run.counts['ran']:>6}  {status}")
                    runs.append((rnd, run))
            finally:
                if applied is not None:
                    applied.revert()
    return summarize(project, tools, runs, dbs, repeat)


def one_run(project: Project, scenario: str, who: str, rnd: int, venvs: dict[str, Path], env: dict[str, str],
            out: Path, empty: Path, snaps: Path) -> Run:
    logfile = out / "logs" / project.label / f"{scenario}-{who}-r{rnd}.txt"
    python = vpython(venvs[who])
    expected: Optional[int] = None
    minimum: Optional[int] = None
    exact = False
    allow_empty = False
    cwd = project.dirs[who]
    if who == "plain":
        if scenario == "record":
            args, expected, exact = list(COMMON_FLAGS), project.tests, True
        elif scenario == "nochange":
            args, cwd, expected, exact, allow_empty = list(COMMON_FLAGS), empty, 0, True, True
        else:
            ids = project.affected[scenario]
            only = out / "logs" / project.label / f"only-{scenario}.json"
            only.write_text(json.dumps(ids))
            env = dict(env, PYTHONPATH=str(HERE), BENCH_ONLY=str(only))
            args, expected, exact = [*COMMON_FLAGS, "-p", "only"], len(ids), True
    else:
        tool = TOOLS[who]
        if scenario == "record":
            remove_db(cwd, tool)
            args, expected, exact = [*COMMON_FLAGS, *tool.record], project.tests, True
        else:
            restore_db(cwd, tool, snaps / who)
            args = [*COMMON_FLAGS, *tool.select]
            expected = 0 if scenario == "nochange" else len(project.affected[scenario])
            allow_empty = True
            if scenario == "module":
                minimum = len(project.readers)
    seconds, rc, rss, cpu, text = execute(python, args, cwd, logfile, env)
    run = Run(who, scenario, seconds, rc, rss, cpu, parse_counts(text), str(logfile))
    judge(run, text, expected, exact, allow_empty, minimum)
    return run


def summarize(project: Project, tools: list[str], runs: list[tuple[int, Run]], dbs: dict[str, list[tuple[int, int]]],
              repeat: int) -> dict:
    res: dict = {
        "label": project.label, "title": project.title, "tests": project.tests,
        "affected": {k: len(v) for k, v in project.affected.items()},
        "readers": len(project.readers),
        "tools": tools, "repeat": repeat, "scenarios": {}, "db_bytes": {}, "errors": [],
    }
    for scenario in SCENARIOS:
        per: dict = {}
        for who in ["plain", *tools]:
            mine = [r for rnd, r in runs if rnd > 0 and r.scenario == scenario and r.who == who]
            warm_only = False
            if not mine:  # a slow recording measured only in the warm-up round
                mine = [r for rnd, r in runs if r.scenario == scenario and r.who == who]
                warm_only = bool(mine)
            if not mine:
                continue
            bad = [r for r in mine if r.error]
            per[who] = {
                "median": statistics.median(r.seconds for r in mine),
                "samples": [round(r.seconds, 4) for r in mine],
                "rss_mb": statistics.median(r.rss_kb for r in mine) / 1024,
                "cpu": statistics.median(r.cpu for r in mine),
                "cpu_samples": [round(r.cpu, 4) for r in mine],
                "ran": mine[-1].counts["ran"],
                "error": bad[0].error if bad else None,
                "note": next((r.note for r in mine if r.note), None),
                "runs": len(mine),
                "warm_up_only": warm_only,
                "log": bad[0].log if bad else mine[-1].log,
            }
            if bad:
                res["errors"].append({"scenario": scenario, "who": who, "error": bad[0].error, "log": bad[0].log,
                                      "failed_runs": len(bad), "runs": len(mine)})
        res["scenarios"][scenario] = per
    for who, sizes in dbs.items():
        measured = [b for rnd, b in sizes if rnd > 0] or [b for _, b in sizes]
        if measured:
            res["db_bytes"][who] = int(statistics.median(measured))
    return res


# ---------------------------------------------------------------------------
# report


def fmt_s(x: Optional[float]) -> str:
    return "—" if x is None else f"{x:.3f}"


def fmt_o(x: Optional[float]) -> str:
    return "—" if x is None else f"{x:+.3f}"


def fmt_r(a: Optional[float], b: Optional[float]) -> str:
    if a is None or b is None or b == 0:
        return "—"
    if b < 0 or a < 0:
        return f"({a:+.3f} / {b:+.3f})"
    return f"{a / b:.2f}"


def render_project(res: dict) -> str:
    tools = res["tools"]
    peers = [t for t in tools if t != "ours"]
    sc = res["scenarios"]
    notes: list[str] = []

    def cell(scenario: str, who: str, value: Optional[float], fmt) -> str:
        d = sc.get(scenario, {}).get(who)
        if d is None:
            return "—"
        text = fmt(value)
        if d.get("runs", res["repeat"]) < res["repeat"] or d.get("warm_up_only"):
            n = d["runs"]
            what = "the warm-up run only" if d.get("warm_up_only") else f"{n} run{'s' if n != 1 else ''}"
            notes.append(f"{who}, {scenario}: {what} (a recording slower than --slow-record is not repeated)")
            text += f" [{len(notes)}]"
        if d["error"]:
            notes.append(f"{who}, {scenario}: {d['error']} (log: {os.path.relpath(d['log'], REPO)})")
            text += f" ERR[{len(notes)}]"
        return text

    def t(scenario: str, who: str) -> Optional[float]:
        d = sc.get(scenario, {}).get(who)
        return None if d is None else d["median"]

    def ovh(scenario: str, who: str) -> Optional[float]:
        a, f = t(scenario, who), t(scenario, "plain")
        return None if a is None or f is None else a - f

    lines = [f"### {res['title']}", ""]
    if res.get("left_out"):
        lines += [f"Not run at this size: {', '.join(res['left_out'])}.", ""]
    lines.append(f"{res['tests']:,} tests; the body edit affects {res['affected']['body']:,} of them, the "
                 f"module-level edit {res['affected']['module']:,} (tests that run code of the edited module; "
                 f"{res.get('readers', res['affected']['module']):,} of them read the changed name). Wall-clock seconds of the whole pytest "
                 f"process, median of {res['repeat']} interleaved runs after a warm-up; overhead = time − floor. "
                 "The CPU rows (same medians, user + system time) are less sensitive to other load.")
    lines.append("")
    head = ["scenario", "floor"] + [f"{w}" for w in tools] + [f"{w} overhead" for w in tools]
    lines.append("| " + " | ".join(head) + " |")
    lines.append("|" + "---|" + "---:|" * (len(head) - 1))
    for scenario in SCENARIOS:
        row = [SCENARIO_TITLES[scenario], cell(scenario, "plain", t(scenario, "plain"), fmt_s)]
        row += [cell(scenario, w, t(scenario, w), fmt_s) for w in tools]
        row += [fmt_o(ovh(scenario, w)) for w in tools]
        lines.append("| " + " | ".join(row) + " |")
    for scenario in ("nochange", "body", "module"):
        row = [f"tests run: {scenario} (expected {0 if scenario == 'nochange' else res['affected'][scenario]:,})",
               str(sc[scenario].get("plain", {}).get("ran", "—"))]
        row += [str(sc[scenario].get(w, {}).get("ran", "—")) for w in tools]
        row += [""] * len(tools)
        lines.append("| " + " | ".join(row) + " |")
    for scenario in SCENARIOS:
        row = [f"CPU seconds (user+sys): {scenario}"]
        row += [fmt_s(sc[scenario][w].get("cpu")) if w in sc[scenario] else "—" for w in ["plain", *tools]]
        row += [fmt_o(sc[scenario][w]["cpu"] - sc[scenario]["plain"]["cpu"])
                if w in sc[scenario] and "plain" in sc[scenario] else "—" for w in tools]
        lines.append("| " + " | ".join(row) + " |")
    db = res["db_bytes"]
    row = ["database size after recording (KiB)", "—"]
    row += [f"{db[w] / 1024:,.0f}" if w in db else "—" for w in tools] + [""] * len(tools)
    lines.append("| " + " | ".join(row) + " |")
    for scenario, what in (("record", "recording"), ("nochange", "no change")):
        row = [f"peak RSS, {what} (MiB)"]
        row += [f"{sc[scenario][w]['rss_mb']:.0f}" if w in sc[scenario] else "—" for w in ["plain", *tools]]
        row += [""] * len(tools)
        lines.append("| " + " | ".join(row) + " |")
    lines.append("")

    if "ours" in tools:
        head = ["scenario", "ours / floor"]
        for p in peers:
            head += [f"ours / {p}", f"overhead ours / {p}"]
        lines.append("| " + " | ".join(head) + " |")
        lines.append("|" + "---|" + "---:|" * (len(head) - 1))
        for scenario in SCENARIOS:
            row = [scenario, fmt_r(t(scenario, "ours"), t(scenario, "plain"))]
            for p in peers:
                row += [fmt_r(t(scenario, "ours"), t(scenario, p)), fmt_r(ovh(scenario, "ours"), ovh(scenario, p))]
            lines.append("| " + " | ".join(row) + " |")
        row = ["database size", "—"]
        for p in peers:
            row += [fmt_r(db.get("ours"), db.get(p)), ""]
        lines.append("| " + " | ".join(row) + " |")
        lines.append("")
        lines += render_targets(res, t, ovh)
    for w in tools:
        for scenario in SCENARIOS:
            d = sc.get(scenario, {}).get(w)
            if d and d.get("note") and not d["error"]:
                notes.append(f"{w}, {scenario}: {d['note']} (over-selection, not an error)")
    if notes:
        lines.append("")
        lines += [f"{i}. {n}" for i, n in enumerate(notes, 1)]
    return "\n".join(lines) + "\n"


def render_targets(res: dict, t, ovh) -> list[str]:
    """The targets of issue 8 (SPEC 10), checked on this table."""
    peers = [p for p in res["tools"] if p != "ours"]
    if not peers:
        return []
    out = ["Targets (issue 8):", ""]

    def best_peer(scenario: str) -> Optional[float]:
        vals = [ovh(scenario, p) for p in peers if ovh(scenario, p) is not None]
        return min(vals) if vals else None

    def line(name: str, value: Optional[float], bound: Optional[float], fmt=fmt_o) -> None:
        if value is None or bound is None:
            out.append(f"- {name}: —")
            return
        ok = "met" if value <= bound else "NOT met"
        out.append(f"- {name}: {fmt(value)} vs ≤ {fmt(bound)}: {ok}")

    sc = res["scenarios"]
    err = lambda s: sc.get(s, {}).get("ours", {}).get("error")  # noqa: E731
    for s, name in (("nochange", "no-change overhead ≤ ½ faster peer's"),
                    ("body", "one-change overhead ≤ ½ faster peer's"),
                    ("record", "recording overhead ≤ ½ faster peer's")):
        bp = best_peer(s)
        line(name + (" (ours had errors)" if err(s) else ""), ovh(s, "ours"), None if bp is None else bp / 2)
    if res["label"].startswith("synthetic-"):
        n = res["tests"]
        bound = 0.1 if n <= 1000 else 0.3 if n >= 20000 else None
        if bound is not None:
            line(f"no-change absolute overhead < {bound} s at {n:,} tests", ovh("nochange", "ours"), bound)
    rec, plain = t("record", "ours"), t("record", "plain")
    if rec is not None and plain:
        line("recording ≤ 1.5× plain run", rec / plain, 1.5, fmt=lambda x: f"{x:.2f}×")
    db = res["db_bytes"]
    if "ours" in db and any(p in db for p in peers):
        smallest = min(db[p] for p in peers if p in db)
        line("database ≤ ½ smaller peer's", db["ours"] / 1024, smallest / 2048, fmt=lambda x: f"{x:,.0f} KiB")
    return out


def machine(venvs: dict[str, Path], python: str, tools: list[str], ours_ref: Optional[str]) -> list[str]:
    cpu = "?"
    try:
        for ln in Path("/proc/cpuinfo").read_text().splitlines():
            if ln.startswith("model name"):
                cpu = ln.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        go = subprocess.run(["go", "version"], capture_output=True, text=True).stdout.strip()
    except OSError:
        go = "go: not found"
    pyver = subprocess.run([python, "-c", "import sys; print(sys.version.split()[0])"],
                           capture_output=True, text=True).stdout.strip()
    mem = "?"
    try:
        for ln in Path("/proc/meminfo").read_text().splitlines():
            if ln.startswith("MemTotal"):
                mem = f"{int(ln.split()[1]) / 1024 / 1024:.0f} GiB"
    except OSError:
        pass
    commit = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", ours_ref or "HEAD"],
                            capture_output=True, text=True).stdout.strip() or "?"
    dirty = "" if ours_ref else subprocess.run(
        ["git", "-C", str(REPO), "status", "--porcelain", "--", "lib", "plugin", "include", "setup.py"],
        capture_output=True, text=True).stdout.strip()
    vers = []
    for w in tools:
        dist = "pytest-testmon" if w == "testmon" else "pytest-difftest"
        vers.append(f"{w} {dist} {dist_version(venvs[w], dist)}")
    return [
        f"- machine: {os.cpu_count()} CPUs ({cpu}), {mem} RAM, {platform.system()} {platform.release()}",
        f"- Python {pyver} ({python}), pytest {PYTEST_VERSION}, {go}",
        f"- tools: {', '.join(vers)}; this repository at {commit}{' with uncommitted changes' if dirty else ''}",
    ]


def loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


LOAD_AT_START = loadavg()


def render(results: list[dict], header: list[str], argv: list[str], started: float) -> str:
    lines = ["## Benchmark results", "", *header,
             f"- command: `bench/run.py {' '.join(argv)}`; {time.strftime('%Y-%m-%d %H:%M %Z')}, "
             f"{(time.time() - started) / 60:.1f} min; load average (1/5/15 min) at start {LOAD_AT_START}, "
             f"now {loadavg()} (other work on the machine makes the numbers noisy)",
             f"- flags for every tool and floor: `{' '.join(COMMON_FLAGS)}`; record: ours/rust `--diff-baseline`, "
             "testmon `--testmon` (empty database); select: ours/rust `--diff`, testmon `--testmon-nocollect` "
             "(select without writing, like `--diff`)",
             ""]
    for res in results:
        lines.append(render_project(res))
    return "\n".join(lines)


def main() -> None:
    global TIMEOUT, SLOW_RECORD
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default=None, help="comma-separated test counts (default 1000,5000,20000), or 'none'")
    ap.add_argument("--quick", action="store_true", help="1,000 tests only, no real project")
    ap.add_argument("--repeat", type=int, default=3, help="measured rounds after the warm-up (median; default 3)")
    ap.add_argument("--tools", default="ours,testmon,rust", help="subset of ours,testmon,rust")
    ap.add_argument("--real", default=DEFAULT_REAL, help="real project NAME==VERSION, or 'none'")
    ap.add_argument("--functions", type=int, default=10, help="functions per synthetic module")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--python", default=None, metavar="PATH_OR_VERSION",
                    help="interpreter for the virtualenvs: a path or a version such as 3.13 (default: this one's base)")
    ap.add_argument("--out", type=Path, default=HERE / "out")
    ap.add_argument("--reinstall", action="store_true", help="reinstall every virtualenv's packages")
    ap.add_argument("--ours-ref", default=None,
                    help="build this repository from a git commit (e.g. HEAD) instead of the working tree")
    ap.add_argument("--docs", "--readme", dest="docs", action="store_true",
                    help="also write the results into docs/benchmarks.md (between its markers)")
    ap.add_argument("--timeout", type=float, default=TIMEOUT,
                    help="seconds after which one pytest run is killed and counted as an error (default 7200)")
    ap.add_argument("--slow-record", type=float, default=SLOW_RECORD,
                    help="a tool whose recording takes longer than this (seconds, default 300) is not "
                         "recorded again in later rounds (its median is of fewer runs, or the warm-up)")
    ap.add_argument("--limit", action="append", default=[], metavar="TOOL=TESTS",
                    help="run TOOL only on synthetic projects of at most TESTS tests (e.g. rust=5000: "
                         "its recording of 20,000 tests alone takes about an hour); repeatable")
    args = ap.parse_args()
    started = time.time()
    TIMEOUT = args.timeout
    SLOW_RECORD = args.slow_record
    if args.sizes and args.quick:
        ap.error("--quick and --sizes are exclusive")
    if args.quick:
        sizes = [1000]
    elif args.sizes is None:
        sizes = DEFAULT_SIZES
    elif args.sizes.strip().lower() == "none":
        sizes = []
    else:
        sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]
    tools = [t for t in args.tools.split(",") if t]
    for tname in tools:
        if tname not in TOOLS:
            ap.error(f"unknown tool {tname}")
    limits: dict[str, int] = {}
    for spec in args.limit:
        name, _, n = spec.partition("=")
        if name not in TOOLS or not n.replace("_", "").isdigit():
            ap.error(f"--limit {spec}: expected TOOL=TESTS with TOOL one of {', '.join(TOOLS)}")
        limits[name] = int(n.replace("_", ""))
    if args.repeat < 1:
        ap.error("--repeat must be at least 1")
    if args.repeat < 3:
        log("warning: fewer than 3 rounds: the medians are not the suite's standard")
    python = base_python(args.python)
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    venvs = ensure_venvs(out, tools, python, args.reinstall, args.ours_ref)
    header = machine(venvs, python, tools, args.ours_ref)
    work = out / "work"
    results = []
    projects = [(lambda n=n: synthetic_project(work, n, args.functions, args.seed),
                 [t for t in tools if n <= limits.get(t, n)]) for n in sizes]
    if args.real.lower() != "none" and not args.quick:
        projects.append((lambda: real_project(work, args.real, venvs["plain"], out / "cache"), tools))
    if not projects:
        ap.error("nothing to run: --sizes none and --real none")
    for make, these in projects:
        project = make()
        res = bench_project(project, venvs, these, args.repeat, out)
        res["left_out"] = [f"{t} (--limit {t}={limits[t]:,})" for t in tools if t not in these]
        results.append(res)
        text = render(results, header, sys.argv[1:], started)
        (out / "results.md").write_text(text)
        (out / "results.json").write_text(json.dumps({"machine": header, "results": results}, indent=1))
    print(text)
    log(f"written: {out / 'results.md'} and results.json")
    if args.docs:
        page = REPO / "docs" / "benchmarks.md"
        update_docs(page, DOCS_BEGIN, DOCS_END, text)
        log(f"updated the latest results in {page}")


DOCS_BEGIN = "<!-- bench:begin (bench/run.py --docs writes this part) -->"
DOCS_END = "<!-- bench:end -->"


def update_docs(page: Path, begin: str, end: str, text: str) -> None:
    """Put results between the markers of a docs page (under its "## Latest
    results" heading: the results' own "## " title is dropped, "### "
    sections stay), the rest of the page untouched."""
    doc = page.read_text()
    if begin not in doc or end not in doc:
        raise SystemExit(f"{page} has no {begin} ... {end} markers")
    body = [ln for ln in text.splitlines() if not ln.startswith("## ")]
    head, rest = doc.split(begin, 1)
    _, tail = rest.split(end, 1)
    page.write_text(head + begin + "\n" + "\n".join(body).strip() + "\n" + end + tail)


if __name__ == "__main__":
    main()
