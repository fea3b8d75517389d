"""The command line: python -m ledgerkit COMMAND ..."""

from __future__ import annotations

import argparse
import sys

from ledgerkit import budget, export, report, validate, workers
from ledgerkit.money import format_cents
from ledgerkit.parse import ParseError, read_ledger

PROG = "ledgerkit"
EXIT_PROBLEMS = 1
EXIT_USAGE = 2
DEFAULT_TOP = 5


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=PROG, description="A plain-text ledger tool.")
    sub = p.add_subparsers(dest="command", required=True)
    b = sub.add_parser("balance", help="the balance of one or more ledgers")
    b.add_argument("files", nargs="+")
    r = sub.add_parser("report", help="totals grouped by tag, month or payee")
    r.add_argument("file")
    r.add_argument("--by", choices=["tag", "month", "payee"], default="tag")
    r.add_argument("--top", type=int, default=None, help="only the N largest spending groups")
    e = sub.add_parser("export", help="the entries as CSV or JSON")
    e.add_argument("file")
    e.add_argument("--format", choices=sorted(export.FORMATS), default="csv")
    c = sub.add_parser("check", help="report suspicious entries")
    c.add_argument("file")
    c.add_argument("--strict", action="store_true", help="also require dates in order")
    g = sub.add_parser("budget", help="spending against limits per tag")
    g.add_argument("file")
    g.add_argument("--limit", action="append", default=[], metavar="TAG=AMOUNT")
    m = sub.add_parser("merge", help="summarize several ledgers in worker processes")
    m.add_argument("files", nargs="+")
    m.add_argument("--jobs", type=int, default=2)
    m.add_argument("--tags", action="store_true", help="also count the entries per tag")
    return p


def cmd_balance(args) -> int:
    total = 0
    for path in args.files:
        total += report.balance(read_ledger(path))
    print(format_cents(total))
    return 0


def cmd_report(args) -> int:
    totals = report.totals_by(read_ledger(args.file), args.by)
    if args.top is not None:
        rows = report.top(totals, args.top)
    else:
        rows = sorted(totals.items())
    print(report.table(rows, headers=(args.by, "amount")))
    return 0


def cmd_export(args) -> int:
    sys.stdout.write(export.export(read_ledger(args.file), args.format))
    return 0


def cmd_check(args) -> int:
    found = validate.problems(read_ledger(args.file), strict=args.strict)
    for line in found:
        print(line)
    if not found:
        print("ok")
    return EXIT_PROBLEMS if found else 0


def cmd_budget(args) -> int:
    try:
        limits = dict(budget.parse_limit(x) for x in args.limit)
    except ValueError as e:
        print(f"{PROG}: {e}", file=sys.stderr)
        return EXIT_USAGE
    statuses = budget.check(read_ledger(args.file), limits)
    for s in statuses:
        print(s.describe())
    return EXIT_PROBLEMS if budget.worst(statuses) == budget.Status.OVER else 0


def cmd_merge(args) -> int:
    summaries = workers.summarize_files(args.files, args.jobs)
    merged = workers.merge_summaries(summaries)
    print(f"{merged['files']} files, {merged['count']} entries, balance {format_cents(merged['balance'])}, "
          f"{merged['first']} to {merged['last']}")
    if args.tags:
        for tag, n in sorted(workers.tag_counts(args.files, args.jobs).items()):
            print(f"  #{tag}: {n}")
    return 0


COMMANDS = {"balance": cmd_balance, "report": cmd_report, "export": cmd_export, "check": cmd_check,
            "budget": cmd_budget, "merge": cmd_merge}


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except ParseError as e:
        print(f"{PROG}: {e}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as e:
        print(f"{PROG}: {e.filename}: {e.strerror}", file=sys.stderr)
        return EXIT_USAGE
