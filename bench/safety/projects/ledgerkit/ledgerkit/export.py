"""Exporters (used by `ledgerkit export`)."""

from __future__ import annotations

import csv
import io
import json

from ledgerkit.money import DECIMALS

CSV_HEADER = ("date", "amount", "payee", "tags")
TAG_SEPARATOR = "|"
JSON_INDENT = 2


def _amount(cents: int) -> str:
    sign = "-" if cents < 0 else ""
    whole, frac = divmod(abs(cents), 10 ** DECIMALS)
    return f"{sign}{whole}.{frac:0{DECIMALS}d}"


def to_csv(entries) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CSV_HEADER)
    for e in entries:
        w.writerow([e.date.isoformat(), _amount(e.cents), e.payee, TAG_SEPARATOR.join(e.tags)])
    return buf.getvalue()


def to_json(entries, indent: int = JSON_INDENT) -> str:
    rows = [{"date": e.date.isoformat(), "amount": _amount(e.cents), "payee": e.payee, "tags": list(e.tags)}
            for e in entries]
    return json.dumps({"entries": rows, "count": len(rows)}, indent=indent, sort_keys=True)


FORMATS = {"csv": to_csv, "json": to_json}


def export(entries, fmt: str) -> str:
    try:
        writer = FORMATS[fmt]
    except KeyError:
        raise ValueError(f"unknown format {fmt!r} (known: {', '.join(sorted(FORMATS))})") from None
    return writer(entries)
