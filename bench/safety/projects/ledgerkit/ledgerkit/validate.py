"""Consistency checks on a ledger (used by `ledgerkit check`)."""

from __future__ import annotations

import datetime

MAX_AMOUNT = 1_000_000_00  # cents: larger entries are flagged as suspicious
DUPLICATE_WINDOW_DAYS = 3


def problems(entries, strict: bool = False) -> list:
    """Human-readable problems, in ledger order. Out-of-order dates are only
    problems when strict."""
    out = []
    previous = None
    seen: dict = {}
    for i, e in enumerate(entries, start=1):
        if abs(e.cents) > MAX_AMOUNT:
            out.append(f"entry {i}: suspicious amount for {e.payee}")
        if e.cents == 0:
            out.append(f"entry {i}: zero amount for {e.payee}")
        if strict and previous is not None and e.date < previous:
            out.append(f"entry {i}: date {e.date.isoformat()} before {previous.isoformat()}")
        key = (e.payee.lower(), e.cents)
        if key in seen and _close(seen[key], e.date):
            out.append(f"entry {i}: possible duplicate of an entry on {seen[key].isoformat()}")
        seen[key] = e.date
        previous = e.date
    return out


def _close(a: datetime.date, b: datetime.date) -> bool:
    return abs((b - a).days) <= DUPLICATE_WINDOW_DAYS
