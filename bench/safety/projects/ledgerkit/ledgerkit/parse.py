"""Ledger lines -> entries."""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass, field

from ledgerkit.money import AmountError, parse_amount

COMMENT = ";"
TAG_PREFIX = "#"
DATE_FORMAT = "%Y-%m-%d"
_LINE = re.compile(r"^(\S+)\s+(\S+)\s+(.*?)\s*$")


class ParseError(ValueError):
    def __init__(self, message: str, line: int = 0) -> None:
        super().__init__(f"line {line}: {message}" if line else message)
        self.line = line


@dataclass(frozen=True)
class Entry:
    date: datetime.date
    cents: int
    payee: str
    tags: tuple = field(default_factory=tuple)

    @property
    def month(self) -> str:
        return self.date.strftime("%Y-%m")

    def is_income(self) -> bool:
        return self.cents > 0


def parse_line(text: str, number: int = 0):
    """One line -> an Entry, or None for a blank or comment line."""
    stripped = text.strip()
    if not stripped or stripped.startswith(COMMENT):
        return None
    m = _LINE.match(stripped)
    if m is None:
        raise ParseError(f"expected DATE AMOUNT PAYEE: {stripped!r}", number)
    date_text, amount_text, rest = m.groups()
    try:
        date = datetime.datetime.strptime(date_text, DATE_FORMAT).date()
    except ValueError:
        raise ParseError(f"bad date {date_text!r}", number) from None
    try:
        cents = parse_amount(amount_text)
    except AmountError as e:
        raise ParseError(str(e), number) from None
    words = rest.split()
    tags = tuple(w[len(TAG_PREFIX):].lower() for w in words if w.startswith(TAG_PREFIX) and len(w) > 1)
    payee = " ".join(w for w in words if not w.startswith(TAG_PREFIX))
    if not payee:
        raise ParseError("missing payee", number)
    return Entry(date, cents, payee, tags)


def parse_ledger(text: str) -> list:
    entries = []
    for number, line in enumerate(text.splitlines(), start=1):
        entry = parse_line(line, number)
        if entry is not None:
            entries.append(entry)
    return entries


def read_ledger(path) -> list:
    with open(path, encoding="utf-8") as f:
        return parse_ledger(f.read())
