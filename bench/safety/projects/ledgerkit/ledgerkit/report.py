"""Totals and tables."""

from __future__ import annotations

from collections import defaultdict

from ledgerkit.money import format_cents

UNTAGGED = "(untagged)"
COLUMN_GAP = 2


def balance(entries) -> int:
    return sum(e.cents for e in entries)


def totals_by(entries, key: str) -> dict:
    """key: 'tag' (an entry counts under each of its tags), 'month' or 'payee'."""
    out: dict = defaultdict(int)
    for e in entries:
        if key == "tag":
            for t in e.tags or (UNTAGGED,):
                out[t] += e.cents
        elif key == "month":
            out[e.month] += e.cents
        elif key == "payee":
            out[e.payee] += e.cents
        else:
            raise ValueError(f"unknown grouping {key!r}")
    return dict(out)


def top(totals: dict, n: int = 3, spending: bool = True) -> list:
    """The n largest spending (most negative) or income groups, largest first."""
    items = [(k, v) for k, v in totals.items() if (v < 0) == spending and v != 0]
    items.sort(key=lambda kv: (abs(kv[1]), kv[0]), reverse=True)
    return items[:n]


def table(rows, headers=("name", "amount")) -> str:
    """Rows of (name, cents) as a two-column text table, amounts right-aligned."""
    cells = [(str(name), format_cents(cents)) for name, cents in rows]
    w0 = max([len(headers[0])] + [len(a) for a, _ in cells])
    w1 = max([len(headers[1])] + [len(b) for _, b in cells])
    gap = " " * COLUMN_GAP
    lines = [f"{headers[0]:<{w0}}{gap}{headers[1]:>{w1}}", f"{'-' * w0}{gap}{'-' * w1}"]
    lines += [f"{a:<{w0}}{gap}{b:>{w1}}" for a, b in cells]
    return "\n".join(lines)


def running_balance(entries, start: int = 0) -> list:
    """(entry, balance after it), in date order (stable for equal dates)."""
    out = []
    total = start
    for e in sorted(entries, key=lambda e: e.date):
        total += e.cents
        out.append((e, total))
    return out
