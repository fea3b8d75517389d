#!/usr/bin/env python3
"""Safety and precision of test selection, measured on real projects
(issue 9, SPEC 4): does a tool ever skip a test that would fail, and how much
of the suite does it run? Compares this repository's pytest-difftest with
pytest-testmon 2.2.0 and the Rust pytest-difftest 0.3.0 on the same mutants.

    ./build.sh safety                                  # 3 projects x 20 mutants x 3 tools
    ./build.sh safety --mutants 6 --projects more-itertools
    ./build.sh safety --projects all --mutants 30 --seed 7 --no-history
    python bench/safety/run.py --list --projects attrs  # print the mutants, run nothing

For each project (a PyPI sdist that ships its test suite, or a local project
kept under bench/safety/projects/, copied to OUT/work/<project>/, one copy per
tool, each a git repository):

1. plain pytest on the pristine source: the suite (tests that already fail
   there are deselected in every later run, and listed);
2. each tool records its baseline on the pristine source; the database is
   saved, and a no-change selection run checks that it selects nothing;
3. for each of N seeded single-fault mutants (bench/safety/mutate.py): plain
   pytest runs the whole suite to learn which tests fail; then each tool, from
   a fresh copy of its saved baseline, runs in selection mode. A *violation*
   is a failing test that the tool did not run. The share of the suite each
   tool ran is its precision. The pristine file (bytes and mtime) is restored
   after each mutant.
4. history replay (sdists only): each tool records at an older release; then the pinned
   release's source with the older tests, and the whole pinned release; a
   violation is a test whose outcome changed (or a new test) that it did not run.

Results: OUT/results.md (printed) and OUT/results.json; every pytest run's
output in OUT/logs/<project>/ (with --tag T: results-T.*, logs/<project>-T/).
The virtualenvs are made by bench/run.py's helpers, under OUT/venvs (not
shared with the timing benchmark, since the projects' test dependencies are
installed into them).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

HERE = Path(__file__).resolve().parent
PROJECTS_DIR = HERE / "projects"
BENCH = HERE.parent
REPO = BENCH.parent
sys.path.insert(0, str(HERE))
import mutate  # noqa: E402


def _load_bench_run():
    """bench/run.py (the timing benchmark) as a module: its virtualenv and
    database helpers are reused as they are."""
    spec = importlib.util.spec_from_file_location("bench_run", BENCH / "run.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules["bench_run"] = mod
    spec.loader.exec_module(mod)
    return mod


br = _load_bench_run()


@dataclass
class ProjectSpec:
    spec: str  # NAME==VERSION on PyPI (sdist); for a local project, how the results name it
    sources: list[str]  # mutated files/folders, relative to the sdist root
    pythonpath: list[str] = field(default_factory=list)  # put on PYTHONPATH (src layouts)
    deps: list[str] = field(default_factory=list)  # runtime and test dependencies
    args: list[str] = field(default_factory=list)  # extra pytest arguments, every run
    older: str = ""  # an earlier release, for --history (older -> spec)
    local: str = ""  # a folder under bench/safety/projects: the project itself instead of an sdist (no history)


PROJECTS = {
    "more-itertools": ProjectSpec("more-itertools==10.5.0", ["more_itertools"], older="more-itertools==10.4.0"),
    "marshmallow": ProjectSpec("marshmallow==3.26.1", ["src/marshmallow"], ["src"], ["simplejson==4.3.0"],
                               older="marshmallow==3.25.1"),
    # The one with decorator arguments (@attrs(repr=False, slots=True, ...)).
    "attrs": ProjectSpec("attrs==25.3.0", ["src/attr", "src/attrs"], ["src"],
                         ["hypothesis==6.170.17", "pympler==1.1", "cloudpickle==3.1.3"],
                         ["--hypothesis-seed=0"], older="attrs==25.1.0"),
    # A CLI project that tests itself in child interpreters (python -m ledgerkit,
    # multiprocessing spawn, ProcessPoolExecutor): code that runs only there.
    "ledgerkit": ProjectSpec("bench/safety/projects/ledgerkit", ["ledgerkit"], ["."],
                             local="ledgerkit"),
}
DEFAULT_PROJECTS = ["more-itertools", "marshmallow", "ledgerkit"]

TOOL_NAMES = ["ours", "testmon", "rust"]
SELECT = {"ours": ["--diff"], "testmon": ["--testmon-nocollect"], "rust": ["--diff"]}
RECORD = {"ours": ["--diff-baseline"], "testmon": ["--testmon"], "rust": ["--diff-baseline"]}
TITLES = {"ours": "pytest-difftest (this repo)", "testmon": "pytest-testmon 2.2.0",
          "rust": "pytest-difftest 0.3.0 (Rust)"}
COMMON = ["-q", "-p", "safety_outcomes", "--continue-on-collection-errors"]
TOOL_ERROR = ("INTERNALERROR", "difftest: error")


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------
# projects


def fetch_sdist(spec: str, cache: Path, plain_venv: Path) -> Path:
    name, _, version = spec.partition("==")
    key = name.lower().replace("_", "-")
    cache.mkdir(parents=True, exist_ok=True)

    def found() -> list[Path]:
        return [p for p in cache.iterdir()
                if p.name.lower().replace("_", "-").startswith(f"{key}-{version}.")
                and p.name.endswith((".tar.gz", ".zip"))]

    if not found():
        log(f"== downloading the sdist of {spec}")
        subprocess.run([str(br.vpython(plain_venv)), "-m", "pip", "download", "-q", "--no-binary", ":all:",
                        "--no-deps", "--disable-pip-version-check", "-d", str(cache), spec],
                       check=True, env=br.child_env())
    return found()[0]


def unpack(archive: Path, dest: Path) -> None:
    br.unpack(archive, dest)
    tidy(dest)


def copy_local(name: str, dest: Path) -> None:
    """A project kept in this repository (bench/safety/projects/NAME), copied to dest."""
    src = PROJECTS_DIR / name
    if not src.is_dir():
        raise SystemExit(f"no local project {src}")
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(src, dest, ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache", ".testmondata*"))
    tidy(dest)


def tidy(dest: Path) -> None:
    for p in list(dest.rglob("__pycache__")):
        shutil.rmtree(p, ignore_errors=True)
    if not has_pytest_config(dest):
        # Pin the rootdir here: otherwise pytest would look further up for one.
        (dest / "pytest.ini").write_text("[pytest]\ntestpaths = tests\n")


def has_pytest_config(root: Path) -> bool:
    if (root / "pytest.ini").exists() or (root / ".pytest.ini").exists():
        return True
    pyproject = root / "pyproject.toml"
    if pyproject.exists() and "[tool.pytest.ini_options]" in pyproject.read_text(errors="replace"):
        return True
    tox = root / "tox.ini"
    if tox.exists() and "[pytest]" in tox.read_text(errors="replace"):
        return True
    cfg = root / "setup.cfg"
    return cfg.exists() and "[tool:pytest]" in cfg.read_text(errors="replace")


def install_deps(venvs: dict[str, Path], deps: list[str], logs: Path) -> None:
    if not deps:
        return
    for who, venv in venvs.items():
        marker = venv / ".safety-deps"
        have = set(json.loads(marker.read_text())) if marker.exists() else set()
        if set(deps) <= have:
            continue
        log(f"== installing into {who}: {' '.join(deps)}")
        br.pip(venv, ["install", "-q", *deps], logs / f"pip-{who}.txt")
        marker.write_text(json.dumps(sorted(have | set(deps))))


# ---------------------------------------------------------------------------
# running pytest


@dataclass
class Outcome:
    tests: dict[str, str]  # node id -> passed/failed/skipped, for the tests that ran
    collect_errors: list[str]
    rc: int
    seconds: float
    log: str
    broke: bool = False  # the session could not start (e.g. a conftest failed to import)
    hung: bool = False
    tool_error: Optional[str] = None


class Runner:
    def __init__(self, name: str, root: Path, pythonpath: list[str], args: list[str], venvs: dict[str, Path],
                 out: Path, timeout: float, tag: str = "") -> None:
        self.name = name
        self.root = root
        self.pythonpath = pythonpath
        self.args = list(args)
        self.venvs = venvs
        self.out = out
        self.logs = out / "logs" / (f"{name}-{tag}" if tag else name)
        self.logs.mkdir(parents=True, exist_ok=True)
        self.timeout = timeout

    def copy(self, who: str) -> Path:
        return self.root / who

    def run(self, who: str, extra: list[str], tag: str, timeout: Optional[float] = None) -> Outcome:
        venv = self.venvs["plain" if who == "plain" else who]
        cwd = self.copy(who)
        result = self.logs / f"{tag}-{who}.json"
        logfile = self.logs / f"{tag}-{who}.txt"
        result.unlink(missing_ok=True)
        hyp = self.root / "hypothesis" / who  # outside the rootdir; fresh for every run
        if hyp.exists():
            shutil.rmtree(hyp)
        env = br.child_env()
        env.update({
            "PYTHONPATH": os.pathsep.join([str(cwd / p) for p in self.pythonpath] + [str(HERE)]),
            "PYTHONDONTWRITEBYTECODE": "1",
            "SAFETY_OUTCOMES": str(result),
            "HYPOTHESIS_STORAGE_DIRECTORY": str(hyp),
        })
        cmd = [str(br.vpython(venv)), "-m", "pytest", *COMMON, *self.args, *extra]
        limit = timeout or self.timeout
        hung = False
        start = time.perf_counter()
        with open(logfile, "wb") as f:
            f.write(("$ cd " + str(cwd) + " && " + " ".join(cmd)[:4000] + "\n").encode())
            f.flush()
            proc = subprocess.Popen(cmd, cwd=cwd, stdout=f, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    env=env, start_new_session=True)
            try:
                rc = proc.wait(timeout=limit)
            except subprocess.TimeoutExpired:
                br._kill_group(proc.pid)
                rc = proc.wait()
                hung = True
        seconds = time.perf_counter() - start
        text = logfile.read_text(errors="replace")
        data = {"tests": {}, "collect_errors": []}
        if result.exists():
            try:
                data = json.loads(result.read_text())
            except ValueError:
                pass
        o = Outcome(data["tests"], data["collect_errors"], rc, seconds, str(logfile), hung=hung)
        o.broke = not hung and not result.exists() and rc in (2, 3, 4)
        if who != "plain":
            for marker in TOOL_ERROR:
                if marker in text:
                    o.tool_error = f"{marker!r} in the output"
                    break
        return o


class Ids:
    """Node ids as compared across runs. Some suites parametrize with values of
    the moment (marshmallow: datetime.now() in the ids); for such a test (its id
    differed between two pristine runs) every variant is one id, its base."""

    def __init__(self) -> None:
        self.unstable: set[str] = set()

    @staticmethod
    def base(t: str) -> str:
        return t.split("[", 1)[0]

    def learn(self, a: set[str], b: set[str]) -> None:
        self.unstable |= {self.base(t) for t in a ^ b}

    def __call__(self, t: str) -> str:
        b = self.base(t)
        return b if b in self.unstable else t

    def all(self, ts) -> set[str]:
        return {self(t) for t in ts}


def expand(nodes: list[str], universe: set[str]) -> set[str]:
    """The tests of `universe` under failed collection nodes (a file, a folder, or '' = all)."""
    out: set[str] = set()
    for n in nodes:
        n = n.rstrip("/")
        if not n or n == ".":
            return set(universe)
        out |= {t for t in universe if t == n or t.startswith(n + "::") or t.startswith(n + "/")}
    return out


IDS = Ids()  # of the project being measured


def failing(o: Outcome, universe: set[str]) -> set[str]:
    """Tests (as IDS keys) that failed, or that a failed collection stands for."""
    if o.broke:
        return set(universe)
    return IDS.all(t for t, r in o.tests.items() if r == "failed") | expand(o.collect_errors, universe)


def selected(o: Outcome, universe: set[str]) -> set[str]:
    if o.broke:
        return set(universe)
    return IDS.all(o.tests) | expand(o.collect_errors, universe)


# ---------------------------------------------------------------------------
# one project


class Applied:
    """One mutant written into several copies; revert() restores bytes and mtimes."""

    def __init__(self, paths: list[Path], data: bytes) -> None:
        self.saved = []
        now = time.time_ns()
        for p in paths:
            st = p.stat()
            self.saved.append((p, p.read_bytes(), st.st_atime_ns, st.st_mtime_ns))
            p.write_bytes(data)
            t = max(now, st.st_mtime_ns + 2_000_000_000)
            os.utime(p, ns=(t, t))

    def revert(self) -> None:
        for p, data, atime, mtime in self.saved:
            p.write_bytes(data)
            os.utime(p, ns=(atime, mtime))


def run_project(name: str, pspec: ProjectSpec, tools: list[str], venvs: dict[str, Path], args, out: Path) -> dict:
    work = out / "work" / name
    work.mkdir(parents=True, exist_ok=True)
    pristine = work / "pristine"
    if pspec.local:
        copy_local(pspec.local, pristine)
    else:
        unpack(fetch_sdist(pspec.spec, out / "sdists", venvs["plain"]), pristine)
    mutants = mutate.generate(pristine, pspec.sources, args.mutants, args.seed, args.classes)
    res: dict = {"project": name, "spec": pspec.spec, "tools": tools, "mutants": [], "baseline": {},
                 "candidates": {k: list(v) for k, v in mutate.counts(pristine, pspec.sources).items()}}
    if args.list:
        res["listed"] = [(m.describe(), mutate.unified_diff(pristine, m)) for m in mutants]
        return res
    for who in ["plain", *tools]:
        d = work / who
        if d.exists():
            shutil.rmtree(d)
        shutil.copytree(pristine, d)
        br.git_init(d)
    runner = Runner(name, work, pspec.pythonpath, pspec.args, venvs, out, args.timeout, args.tag)

    log(f"== {name} ({pspec.spec}): the pristine suite, plain pytest")
    first = runner.run("plain", [], "pristine")
    if first.broke or first.hung or not first.tests:
        raise SystemExit(f"{name}: the pristine suite does not run (see {first.log})")
    prefail = sorted(t for t, r in first.tests.items() if r == "failed")
    if first.collect_errors:
        raise SystemExit(f"{name}: collection errors on the pristine source: {first.collect_errors} ({first.log})")
    deselect = [a for t in prefail for a in ("--deselect", t)]
    runner.args += deselect
    again = runner.run("plain", [], "pristine-2")
    IDS.unstable = set()
    IDS.learn(set(first.tests) - set(prefail), set(again.tests))
    universe = IDS.all(again.tests)
    res["unstable_ids"] = sorted(IDS.unstable)
    if failing(again, universe) or IDS.all(set(first.tests) - set(prefail)) != universe:
        raise SystemExit(f"{name}: the pristine suite is not stable with the failing tests deselected ({again.log})")
    res.update(tests=len(universe), prefail=prefail, plain_seconds=again.seconds)
    log(f"   {len(universe)} tests ({len(prefail)} failing on the pristine source, deselected), "
        f"{again.seconds:.1f}s")
    timeout = max(args.timeout, 20 * again.seconds)

    snaps = work / "snapshots"
    for who in tools:
        tool = br.TOOLS[who]
        root = runner.copy(who)
        br.remove_db(root, tool)
        rec = runner.run(who, RECORD[who], "baseline", timeout=4 * timeout)
        ok = not rec.hung and not rec.tool_error and IDS.all(rec.tests) == universe and not failing(rec, universe)
        br.snapshot_db(root, tool, snaps / who)
        nochange = runner.run(who, SELECT[who], "nochange", timeout=timeout)
        res["baseline"][who] = {
            "seconds": rec.seconds, "ok": ok, "log": rec.log, "ran": len(rec.tests),
            "nochange_selected": len(selected(nochange, universe)), "nochange_seconds": nochange.seconds,
            "nochange_error": nochange.tool_error,
        }
        log(f"   {who:<8} baseline {rec.seconds:6.1f}s ran {len(rec.tests)}{'' if ok else '  NOT OK: ' + rec.log}; "
            f"no change: selected {res['baseline'][who]['nochange_selected']} in {nochange.seconds:.1f}s")

    for i, m in enumerate(mutants):
        path_bytes = (pristine / m.file).read_bytes()
        new, _, _ = mutate.apply(path_bytes, m.kind, m.index)
        entry: dict = {"id": m.id, "kind": m.kind, "group": m.group, "describe": m.describe(),
                       "diff": mutate.unified_diff(pristine, m), "tools": {}}
        applied = Applied([runner.copy(w) / m.file for w in ["plain", *tools]], new)
        try:
            truth = runner.run("plain", [], m.id, timeout=timeout)
            entry["plain_seconds"] = truth.seconds
            if truth.hung:
                entry["hung"] = True
                log(f"   {m.id} {m.describe()}: the suite hangs (> {timeout:.0f}s); excluded")
                res["mutants"].append(entry)
                continue
            fail = failing(truth, universe)
            entry["failing"] = sorted(fail)
            order = tools[i % len(tools):] + tools[:i % len(tools)]
            for who in order:
                tool = br.TOOLS[who]
                br.restore_db(runner.copy(who), tool, snaps / who)
                o = runner.run(who, SELECT[who], m.id, timeout=timeout)
                sel = selected(o, universe)
                missed = sorted(fail - sel)
                entry["tools"][who] = {
                    "selected": len(sel), "share": len(sel & universe) / len(universe) if universe else 0.0,
                    "seconds": o.seconds, "violations": missed, "error": o.tool_error or ("hung" if o.hung else None),
                    "log": o.log,
                }
        finally:
            applied.revert()
        res["mutants"].append(entry)
        cells = "  ".join(f"{w} {entry['tools'][w]['selected']:>4} sel"
                          + (f" {len(entry['tools'][w]['violations'])} MISSED" if entry['tools'][w]['violations'] else "")
                          + (" ERR" if entry['tools'][w]['error'] else "")
                          for w in tools)
        log(f"   {m.id} {m.kind:<18} failing {len(fail):>4}  {cells}   {m.file}:{m.line}")
    return res


# ---------------------------------------------------------------------------
# history replay


KEEP = (".git", ".gitignore", ".pytest_cache", ".testmondata")


def set_tree(dest: Path, src: Path, only: Optional[list[str]] = None) -> None:
    """Make dest's files those of src (bytes and mtimes): the whole tree except
    git and the tools' databases, or only the listed files/folders."""
    names = only if only is not None else sorted({p.name for p in dest.iterdir()} | {p.name for p in src.iterdir()})
    for rel in names:
        if only is None and rel.startswith(KEEP):
            continue
        d, s_ = dest / rel, src / rel
        if d.is_dir() and not d.is_symlink():
            shutil.rmtree(d)
        elif d.exists() or d.is_symlink():
            d.unlink()
        if s_.is_dir():
            shutil.copytree(s_, d)
        elif s_.exists():
            d.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(s_, d)


def run_history(name: str, pspec: ProjectSpec, tools: list[str], venvs: dict[str, Path], args, out: Path,
                res: dict) -> None:
    """Record at the older release; then (1) the newer release's source with the
    older tests, (2) the whole newer release. Each tool selects from its baseline;
    a violation is a test whose outcome differs from the one at the older release
    (a new test counts as changed) and that the tool did not run."""
    if not pspec.older or pspec.local:
        return
    work = out / "work" / name / "history"
    work.mkdir(parents=True, exist_ok=True)
    newer = out / "work" / name / "pristine"
    older = work / "older"
    unpack(fetch_sdist(pspec.older, out / "sdists", venvs["plain"]), older)
    for who in ["plain", *tools]:
        d = work / who
        if d.exists():
            shutil.rmtree(d)
        shutil.copytree(older, d)
        br.git_init(d)
    runner = Runner(f"{name}-history", work, pspec.pythonpath, pspec.args, venvs, out, args.timeout, args.tag)
    log(f"== {name}: history replay {pspec.older} -> {pspec.spec}")
    first = runner.run("plain", [], "older")
    prefail = sorted({t for t, r in first.tests.items() if r == "failed"} | set(res.get("prefail", [])))
    runner.args += [a for t in prefail for a in ("--deselect", t)]
    old = runner.run("plain", [], "older-2")
    IDS.learn(set(first.tests) - set(prefail), set(old.tests))
    before = {IDS(t): r for t, r in old.tests.items()}
    if old.broke or old.collect_errors or any(r == "failed" for r in before.values()):
        log(f"   the older release's suite does not pass cleanly ({old.log}); history replay skipped")
        return
    universe = set(before)
    timeout = max(args.timeout, 20 * old.seconds)
    snaps = work / "snapshots"
    for who in tools:
        tool = br.TOOLS[who]
        br.remove_db(runner.copy(who), tool)
        rec = runner.run(who, RECORD[who], "older-baseline", timeout=4 * timeout)
        br.snapshot_db(runner.copy(who), tool, snaps / who)
        log(f"   {who:<8} baseline at {pspec.older} {rec.seconds:6.1f}s ran {len(rec.tests)}")
    steps = [("new source, old tests", list(pspec.sources)), ("whole new release", None)]
    res["history"] = []
    for k, (title, only) in enumerate(steps):
        for who in ["plain", *tools]:
            set_tree(runner.copy(who), older)  # back to the older release
            set_tree(runner.copy(who), newer, only)
        truth = runner.run("plain", [], f"step{k + 1}")
        after = {IDS(t): r for t, r in truth.tests.items()}
        changed = {t for t in after if before.get(t) != after[t]} | expand(truth.collect_errors, universe)
        if truth.broke:
            changed = set(universe)
        entry = {"step": title, "from": pspec.older, "to": pspec.spec, "tests": len(after),
                 "changed": sorted(changed), "failing": sorted(failing(truth, universe)), "tools": {}}
        for who in tools:
            br.restore_db(runner.copy(who), br.TOOLS[who], snaps / who)
            o = runner.run(who, SELECT[who], f"step{k + 1}", timeout=timeout)
            sel = selected(o, universe)
            entry["tools"][who] = {"selected": len(sel), "share": len(sel) / max(1, len(universe | set(after))),
                                   "violations": sorted(changed - sel), "seconds": o.seconds,
                                   "error": o.tool_error or ("hung" if o.hung else None), "log": o.log}
        res["history"].append(entry)
        log(f"   {title}: {len(changed)} tests changed outcome ({len(entry['failing'])} failing); " + "  ".join(
            f"{w} {entry['tools'][w]['selected']} sel, {len(entry['tools'][w]['violations'])} missed" for w in tools))
    for who in ["plain", *tools]:
        set_tree(runner.copy(who), older)


# ---------------------------------------------------------------------------
# report


def mean(xs: list[float]) -> Optional[float]:
    return statistics.fmean(xs) if xs else None


def pct(x: Optional[float]) -> str:
    return "—" if x is None else f"{100 * x:.1f}%"


def summarize(rows: list[dict], who: str) -> dict:
    """rows: mutant entries (of one or several projects) that ran."""
    done = [m for m in rows if not m.get("hung") and who in m["tools"]]
    killed = [m for m in done if m["failing"]]
    viol = [m for m in killed if m["tools"][who]["violations"]]
    share = lambda ms: mean([m["tools"][who]["share"] for m in ms])  # noqa: E731
    return {
        "mutants": len(done),
        "killed": len(killed),
        "violations": sum(len(m["tools"][who]["violations"]) for m in killed),
        "violating_mutants": len(viol),
        "share": share(done),
        "share_body": share([m for m in done if m["group"] == "function body"]),
        "share_other": share([m for m in done if m["group"] != "function body"]),
        "share_killed": share(killed),
        "seconds": mean([m["tools"][who]["seconds"] for m in done]),
        "errors": sum(1 for m in done if m["tools"][who]["error"]),
    }


def table_classes(results: list[dict]) -> list[str]:
    """The rows of the by-class table: every class that has mutants; the six
    default ones all when any of them has (as in the published tables), so a
    default run's table keeps its shape and a module-level run shows only its own."""
    present = {m["kind"] for r in results for m in r["mutants"]}
    shown = set(present)
    if present & set(mutate.DEFAULT_CLASSES) or not present:
        shown |= set(mutate.DEFAULT_CLASSES)
    return [k for k in mutate.CLASSES if k in shown] + sorted(present - set(mutate.CLASSES))


def module_level_targets(results: list[dict], peers: list[str]) -> list[str]:
    """Issue 17: on each module-level class, ours selects no more than testmon
    (or, without testmon in the run, the most precise peer)."""
    rows = [m for r in results for m in r["mutants"] if m["kind"] in mutate.MODULE_LEVEL]
    peer = "testmon" if "testmon" in peers else (peers[0] if len(peers) == 1 else None)
    if not rows or peer is None:
        return []
    out = []
    for kind in mutate.MODULE_LEVEL:
        ours, theirs = (summarize([m for m in rows if m["kind"] == kind], w)["share"] for w in ("ours", peer))
        if ours is None or theirs is None:
            continue
        ok = ours <= theirs + 1e-12
        out.append(f"- {kind} (issue 17): mean share selected ≤ {peer}'s: ours {100 * ours:.1f}% vs "
                   f"{100 * theirs:.1f}% — {'met' if ok else 'NOT met'}")
    return out


def render(results: list[dict], tools: list[str], header: list[str]) -> str:
    lines = ["## Safety and precision results", "", *header, ""]
    lines.append("| tool | project | mutants | with failing tests | violations (tests missed) | mutants with a "
                 "violation | mean share selected | … function-body mutants | … module/class/default/decorator "
                 "mutants | baseline s | mean selection s | plain full run s |")
    lines.append("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    everything: dict[str, list[dict]] = {w: [] for w in tools}
    for res in results:
        for who in tools:
            s = summarize(res["mutants"], who)
            everything[who] += res["mutants"]
            b = res["baseline"].get(who, {})
            err = f" ({s['errors']} runs with tool errors)" if s["errors"] else ""
            lines.append(
                f"| {who} | {res['project']} | {s['mutants']} | {s['killed']} | **{s['violations']}**{err} | "
                f"{s['violating_mutants']} | {pct(s['share'])} | {pct(s['share_body'])} | {pct(s['share_other'])} | "
                f"{b.get('seconds', 0):.1f}{'' if b.get('ok', True) else ' (NOT OK)'} | "
                f"{s['seconds'] or 0:.2f} | {res.get('plain_seconds', 0):.2f} |")
    if len(results) > 1:
        for who in tools:
            s = summarize(everything[who], who)
            lines.append(
                f"| **{who}** | all | {s['mutants']} | {s['killed']} | **{s['violations']}** | "
                f"{s['violating_mutants']} | {pct(s['share'])} | {pct(s['share_body'])} | {pct(s['share_other'])} | "
                f"| {s['seconds'] or 0:.2f} | |")
    lines.append("")

    # by mutant class, all projects together
    lines.append("By mutant class (all projects): mutants / with failing tests / violations (tests missed) / "
                 "mean share selected")
    lines.append("")
    lines.append("| class | " + " | ".join(tools) + " |")
    lines.append("|---|" + "---|" * len(tools))
    for kind in table_classes(results):
        cells = []
        for who in tools:
            rows = [m for m in everything[who] if m["kind"] == kind]
            s = summarize(rows, who)
            cells.append(f"{s['mutants']} / {s['killed']} / {s['violations']} / {pct(s['share'])}"
                         if s["mutants"] else "—")
        lines.append(f"| {kind} | " + " | ".join(cells) + " |")
    lines.append("")

    # no-change sanity and baseline checks
    notes = []
    for res in results:
        for who in tools:
            b = res["baseline"].get(who)
            if b and b["nochange_selected"]:
                why = " (the Rust tool does not record skipped tests: they run every time)" if who == "rust" else ""
                notes.append(f"{who} on {res['project']}: with no change it ran {b['nochange_selected']} test(s){why}")
            if b and not b["ok"]:
                notes.append(f"{who} on {res['project']}: the baseline run was not clean (log: "
                             f"{os.path.relpath(b['log'], REPO)})")
        if res.get("prefail"):
            notes.append(f"{res['project']}: {len(res['prefail'])} tests fail on the pristine source and are "
                         f"deselected in every run: {', '.join(res['prefail'])}")
        hung = [m["id"] for m in res["mutants"] if m.get("hung")]
        if hung:
            notes.append(f"{res['project']}: mutants whose suite hangs, excluded: {', '.join(hung)}")
    if notes:
        lines += ["Notes:", ""] + [f"- {n}" for n in notes] + [""]

    # targets
    if "ours" in tools:
        s = summarize([m for r in results for m in r["mutants"]], "ours")
        peers = [w for w in tools if w != "ours"]
        module_lines = module_level_targets(results, peers)
        lines.append("Targets (issues 9 and 17):" if module_lines else "Targets (issue 9):")
        lines.append("")
        n = s["violating_mutants"]
        lines.append(f"- zero violations for ours on every mutant class: {s['violations']} tests missed in "
                     f"{n} mutant{'' if n == 1 else 's'} — {'met' if s['violations'] == 0 else 'NOT met'}")
        allrows = [m for r in results for m in r["mutants"]]
        shares = [(summarize(allrows, p)["share_body"], p) for p in peers]
        shares = [x for x in shares if x[0] is not None]
        if shares and s["share_body"] is not None:
            best = min(shares)
            ok = s["share_body"] <= best[0] + 1e-12
            lines.append(f"- mean share selected on function-body mutants ≤ the most precise peer's: ours "
                         f"{100 * s['share_body']:.2f}% vs {best[1]} {100 * best[0]:.2f}% — "
                         f"{'met' if ok else 'NOT met'}")
        lines += module_lines
        lines.append("")

    hist = [(r["project"], h) for r in results for h in r.get("history", [])]
    if hist:
        lines.append("History replay: each tool records at the older release, then selects for (1) the newer "
                     "release's source with the older tests, (2) the whole newer release. \"tests changed\": tests "
                     "whose outcome differs from the older release's (a new test, or a test in a file that no "
                     "longer collects, counts). Cells: violations (changed, not run) / share selected / selection s")
        lines.append("")
        lines.append("| project | step | tests changed | " + " | ".join(tools) + " |")
        lines.append("|---|---|---:|" + "---|" * len(tools))
        for proj, h in hist:
            cells = [f"**{len(h['tools'][w]['violations'])}** / {pct(h['tools'][w]['share'])} / "
                     f"{h['tools'][w]['seconds']:.1f}" + (" ERR" if h["tools"][w]["error"] else "")
                     for w in tools]
            lines.append(f"| {proj} {h['from'].split('==')[1]} → {h['to'].split('==')[1]} | {h['step']} | "
                         f"{len(h['changed'])} | " + " | ".join(cells) + " |")
        lines.append("")
        for proj, h in hist:
            for w in tools:
                v = h["tools"][w]["violations"]
                if v:
                    lines.append(f"- history, **{w}**, {proj} ({h['step']}): {len(v)} changed tests not run: "
                                 + ", ".join(f"`{t}`" for t in v[:8]) + (" …" if len(v) > 8 else ""))
        lines.append("")

    # violations, with the mutants' diffs
    any_v = False
    for who in tools:
        for res in results:
            for m in res["mutants"]:
                t = m.get("tools", {}).get(who)
                if not t or not t["violations"]:
                    continue
                if not any_v:
                    lines += ["### Violations", ""]
                    any_v = True
                shown = t["violations"][:8]
                more = f" (+{len(t['violations']) - 8} more)" if len(t["violations"]) > 8 else ""
                lines.append(f"- **{who}**, {res['project']} {m['id']} ({m['kind']}): "
                             f"{len(t['violations'])} of {len(m['failing'])} failing tests not selected: "
                             f"{', '.join('`' + v + '`' for v in shown)}{more}")
                lines.append("")
                lines.append("  ```diff")
                lines += ["  " + ln for ln in m["diff"].rstrip("\n").splitlines()]
                lines.append("  ```")
                lines.append("")
    if not any_v:
        lines += ["No violations.", ""]
    return "\n".join(lines)


def built_from() -> tuple[str, bool]:
    """The commit "ours" is built from, and whether the working tree differs
    from it; read when the build happens (the tree may move on during a run)."""
    commit = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True).stdout.strip() or "?"
    dirty = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "--", "lib", "plugin", "include"],
                           capture_output=True, text=True).stdout.strip()
    return commit, bool(dirty)


def header_lines(venvs: dict[str, Path], tools: list[str], argv: list[str], started: float,
                 projects: list[str], args) -> list[str]:
    commit, dirty = args.built_from
    vers = []
    for w in tools:
        dist = "pytest-testmon" if w == "testmon" else "pytest-difftest"
        vers.append(f"{w}: {dist} {br.dist_version(venvs[w], dist)}")
    pyver = subprocess.run([str(br.vpython(venvs["plain"])), "-c", "import sys; print(sys.version.split()[0], sys.base_prefix)"],
                           capture_output=True, text=True).stdout.strip()
    return [
        f"- command: `bench/safety/run.py {' '.join(argv)}` ({time.strftime('%Y-%m-%d %H:%M %Z')}, "
        f"{(time.time() - started) / 60:.1f} min on {os.cpu_count()} CPUs)",
        f"- projects: {', '.join(PROJECTS[p].spec for p in projects)}; {args.mutants} mutants each, seed {args.seed}"
        + (f", classes {', '.join(args.classes)}" if args.classes else ""),
        f"- Python {pyver}, pytest {br.PYTEST_VERSION}; {'; '.join(vers)}; this repository at {commit}"
        f"{' with uncommitted changes' if dirty else ''}",
        "- selection: ours/rust `--diff`, testmon `--testmon-nocollect`, each from a fresh copy of its baseline "
        "recorded on the pristine source (ours/rust `--diff-baseline`, testmon `--testmon`)",
        "- a violation is a test that fails on the mutant (plain pytest, whole suite) and that the tool did not run; "
        "share selected = tests run / tests in the suite, over every mutant (failing tests or not)",
    ]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mutants", type=int, default=20, help="mutants per project (default 20)")
    ap.add_argument("--projects", default=",".join(DEFAULT_PROJECTS),
                    help=f"comma-separated subset of {','.join(PROJECTS)}, or 'all' (default: "
                         f"{','.join(DEFAULT_PROJECTS)})")
    ap.add_argument("--tools", default=",".join(TOOL_NAMES), help="subset of ours,testmon,rust")
    ap.add_argument("--seed", type=int, default=1, help="mutant selection seed (default 1)")
    ap.add_argument("--timeout", type=float, default=120.0,
                    help="seconds after which a run is killed (at least 20x the plain suite; default 120)")
    ap.add_argument("--out", type=Path, default=BENCH / "out" / "safety")
    ap.add_argument("--python", default=None, metavar="PATH_OR_VERSION",
                    help="interpreter for the virtualenvs: a path or a version such as 3.13 (default: this one's base)")
    ap.add_argument("--reinstall", action="store_true", help="reinstall every virtualenv's packages")
    ap.add_argument("--list", action="store_true", help="print the mutants (with diffs) and run nothing")
    ap.add_argument("--classes", default=None,
                    help=f"comma-separated mutant classes or groups (default: the six of the published numbers, "
                         f"{','.join(mutate.DEFAULT_CLASSES)}; module-level: {','.join(mutate.MODULE_LEVEL)}; "
                         f"groups: {', '.join(mutate.GROUPS)})")
    ap.add_argument("--tag", default="", help="write OUT/results-TAG.md/.json instead of OUT/results.md/.json")
    ap.add_argument("--render", action="store_true", help="only re-render OUT/results.md from OUT/results.json")
    ap.add_argument("--docs", action="store_true",
                    help="also write the results into docs/safety.md's latest results (between its markers)")
    ap.add_argument("--no-history", dest="history", action="store_false",
                    help="skip the history replay (one release step per project: its older release -> the pinned one)")
    args = ap.parse_args()
    started = time.time()
    if args.classes:
        try:
            args.classes = mutate.expand_classes([c for c in args.classes.split(",") if c])
        except ValueError as e:
            ap.error(str(e))
    md, js = (f"results-{args.tag}.md", f"results-{args.tag}.json") if args.tag else ("results.md", "results.json")
    projects = list(PROJECTS) if args.projects == "all" else [p for p in args.projects.split(",") if p]
    for p in projects:
        if p not in PROJECTS:
            ap.error(f"unknown project {p} (known: {', '.join(PROJECTS)})")
    tools = [t for t in args.tools.split(",") if t]
    for t in tools:
        if t not in TOOL_NAMES:
            ap.error(f"unknown tool {t}")
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    if args.render:
        saved = json.loads((out / js).read_text())
        text = render(saved["results"], saved["tools"], saved["header"])
        (out / md).write_text(text)
        print(text)
        write_docs(args, text)
        return
    if args.list:
        venvs = br.ensure_venvs(out, [], br.base_python(args.python), False, None)
        for p in projects:
            res = run_project(p, PROJECTS[p], [], venvs, args, out)
            print(f"## {p}: candidates (literals or nodes, sites) {res['candidates']}")
            for desc, diff in res["listed"]:
                print(desc)
                print(diff)
        return
    args.built_from = built_from()
    venvs = br.ensure_venvs(out, tools, br.base_python(args.python), args.reinstall, None)
    for p in projects:
        install_deps(venvs, PROJECTS[p].deps, out / "logs")
    results = []
    text = ""
    for p in projects:
        res = run_project(p, PROJECTS[p], tools, venvs, args, out)
        if args.history:
            run_history(p, PROJECTS[p], tools, venvs, args, out, res)
        results.append(res)
        header = header_lines(venvs, tools, sys.argv[1:], started, projects, args)
        (out / js).write_text(json.dumps({"header": header, "tools": tools, "results": results}, indent=1))
        text = render(results, tools, header)
        (out / md).write_text(text)
    print(text)
    log(f"written: {out / md} and {js}")
    write_docs(args, text)


DOCS_BEGIN = "<!-- safety:begin (bench/safety/run.py --docs writes this part) -->"
DOCS_END = "<!-- safety:end -->"


def write_docs(args: argparse.Namespace, text: str) -> None:
    if args.docs:
        page = br.REPO / "docs" / "safety.md"
        br.update_docs(page, DOCS_BEGIN, DOCS_END, text)
        log(f"updated the latest results in {page}")


if __name__ == "__main__":
    main()
