"""The ``pytest-difftest`` command (SPEC 8): ``merge`` and ``inspect``.

This module only parses arguments and prints: the work is done by the
engine (dt_merge, dt_inspect), which answers in JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any, Optional, Sequence

from pytest_difftest import __version__

PROG = "pytest-difftest"
DEFAULT_DB = os.path.join(".pytest_cache", "pytest-difftest", "pytest_difftest.db")


def remote_env() -> dict[str, str]:
    """The AWS configuration as this process sees it. The Go runtime copied
    the environment when it started, so later changes to os.environ reach it
    only this way."""
    return {k: v for k, v in os.environ.items() if k.startswith("AWS_")}


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=PROG,
        description="Merge and inspect pytest-difftest baselines.",
    )
    p.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", required=True)

    m = sub.add_parser(
        "merge",
        help="merge baselines into one",
        description=(
            "Merge baselines (for example one per CI shard) into OUTPUT. Every test of every input "
            "is kept; a test recorded in several inputs keeps its newest record, whatever the "
            "order of the arguments. OUTPUT is replaced only when the merge succeeded."
        ),
    )
    m.add_argument(
        "output", metavar="OUTPUT",
        help="the merged database: a file, s3://bucket/key.db or file:///path/key.db",
    )
    m.add_argument(
        "inputs", metavar="INPUT", nargs="+",
        help="a database file, a directory (its *.db files), a remote object (s3://..., file://...) "
        "or a remote prefix ending in / (the *.db objects under it)",
    )

    i = sub.add_parser(
        "inspect",
        help="describe a baseline",
        description="Describe a baseline: a summary, what one test depends on, or which tests depend on a file.",
    )
    i.add_argument(
        "db", metavar="DB", nargs="?", default=DEFAULT_DB,
        help=f"the database (default: {DEFAULT_DB})",
    )
    which = i.add_mutually_exclusive_group()
    which.add_argument("--test", metavar="NODEID", help="the files and blocks this test depends on")
    which.add_argument("--file", metavar="PATH", help="the tests that depend on this file (path relative to the rootdir)")
    i.add_argument(
        "--env", metavar="NAME",
        help="with --test or --file: only this environment's results (see pytest --diff-env)",
    )
    i.add_argument("--json", action="store_true", help="machine-readable output")
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    p = parser()
    args = p.parse_args(argv)
    if args.command == "inspect" and args.env is not None and not (args.test or args.file):
        p.error("inspect: --env needs --test or --file (the summary lists every environment)")
    # Imported late: --help and --version do not load the engine.
    from pytest_difftest import engine

    try:
        if args.command == "merge":
            return merge(engine, args)
        return inspect(engine, args)
    except engine.EngineError as exc:
        message = str(exc)
        if message.startswith(f"{PROG}: "):
            message = message[len(PROG) + 2:]
        print(f"{PROG}: {message}", file=sys.stderr)
        if exc.internal and exc.detail:
            print(exc.detail, file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (`| head`): not an error worth a traceback.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0


def merge(engine: Any, args: argparse.Namespace) -> int:
    request = {"output": args.output, "inputs": args.inputs, "env": remote_env(), "progress": True}
    sys.stdout.flush()
    sys.stderr.flush()  # the engine writes progress lines to the same stderr
    res = engine.call_json("dt_merge", request)
    n = len(res["inputs"])
    print(
        f"merged {n} database{'s' if n != 1 else ''} into {res['output']}: "
        f"{res['tests']} tests, {res['files']} files, {res['blocks']} blocks, "
        f"{res['bytes']} bytes, {res['millis'] / 1000:.2f}s"
    )
    return 0


def inspect(engine: Any, args: argparse.Namespace) -> int:
    request = {"db": args.db, "test": args.test or "", "file": args.file or "", "env": args.env or ""}
    rep = engine.call_json("dt_inspect", request)
    kind = "test" if args.test else "file" if args.file else "summary"
    if args.json:
        print(json.dumps(rep[kind], indent=2, sort_keys=True))
    elif kind == "summary":
        print_summary(rep[kind])
    elif kind == "test":
        print_test(rep[kind])
    else:
        print_file(rep[kind])
    return 0


def _environment(e: dict[str, Any]) -> str:
    """One environment in a line: its name and tests, then its values."""
    # Installed distributions ("dist:NAME") are many: counted here, listed by --json.
    # The Python version first: it is what a reader looks for.
    items = sorted(e["values"].items(), key=lambda kv: (kv[0] != "python", kv[0]))
    dists = sum(1 for k, _ in items if k.startswith("dist:"))
    values = [f"{k} {v}" for k, v in items if not k.startswith("dist:")]
    values += [f"{dists} installed distributions"] if dists else []
    n = e["tests"]
    head = f"{e['name']} ({n} test{'s' if n != 1 else ''})"
    return f"{head}: {', '.join(values)}" if values else head


def print_summary(s: dict[str, Any]) -> None:
    outcomes = ", ".join(f"{n} {o}" for o, n in sorted(s["outcomes"].items(), key=lambda kv: (-kv[1], kv[0])))
    rows = [
        ("database", f"{s['path']} ({s['size']} bytes)"),
        ("tests", f"{s['tests']}" + (f" ({outcomes})" if outcomes else "")),
        ("files", str(s["files"])),
        ("blocks", f"{s['blocks']} ({s['stale_blocks']} stale)"),
        ("commit", s["commit"] or "(unknown)"),
        ("recorded", s["recorded_at"] or "(never completed)"),
    ]
    # One line per environment (SPEC 4.7).
    rows += [("environment", _environment(e)) for e in s["environments"]] or [("environment", "(none)")]
    untracked = s.get("untracked") or []
    if untracked:
        more = f" and {len(untracked) - 1} more" if len(untracked) > 1 else ""
        rows.append(("untracked", f"{len(untracked)} Python file(s) outside the project: {untracked[0]}{more}"))
    for label, value in rows:
        print(f"{label + ':':<13}{value}")


def _block(b: dict[str, Any]) -> str:
    text = b["name"]
    if b.get("value"):
        text += f" = {b['value']}"
    if b["stale"]:
        text += " [stale]"
    return text


def print_test(t: dict[str, Any]) -> None:
    print(f"{t['nodeid']}: {t['outcome']} in {t['duration']:.3f}s, recorded {t['recorded_at']} in environment {t['env']}")
    for f in t["files"]:
        print(f["path"])
        for b in f["blocks"]:
            print(f"    {_block(b)}")


def print_file(d: dict[str, Any]) -> None:
    n = len(d["tests"])
    print(f"{d['path']}: {n} test{'s' if n != 1 else ''} depend{'s' if n == 1 else ''} on it")
    several = len({t["env"] for t in d["tests"]}) > 1
    for t in d["tests"]:
        # The environment only when several hold dependents (SPEC 4.7).
        what = f"{t['outcome']}, {t['env']}" if several else t["outcome"]
        print(f"{t['nodeid']} ({what}): {', '.join(_block(b) for b in t['blocks'])}")


if __name__ == "__main__":
    sys.exit(main())
