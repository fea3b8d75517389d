"""Spending limits per tag."""

from __future__ import annotations

from dataclasses import dataclass

from ledgerkit.money import format_cents, parse_amount
from ledgerkit.report import totals_by


@dataclass(frozen=True)
class Status:
    tag: str
    limit: int  # cents, positive
    spent: int  # cents, positive

    WARN_RATIO = 0.8
    OK, WARN, OVER = "ok", "warn", "over"

    @property
    def level(self) -> str:
        if self.spent > self.limit:
            return self.OVER
        if self.spent >= self.limit * self.WARN_RATIO:
            return self.WARN
        return self.OK

    def describe(self) -> str:
        return (f"{self.tag}: {format_cents(self.spent)} of {format_cents(self.limit)} "
                f"({self.level})")


def parse_limit(text: str) -> tuple:
    """'food=300' -> ('food', 30000)."""
    tag, sep, amount = text.partition("=")
    if not sep or not tag:
        raise ValueError(f"expected TAG=AMOUNT, got {text!r}")
    cents = parse_amount(amount)
    if cents <= 0:
        raise ValueError(f"a limit must be positive: {text!r}")
    return tag.lower(), cents


def check(entries, limits: dict) -> list:
    spent = totals_by([e for e in entries if not e.is_income()], "tag")
    return [Status(tag, limit, -spent.get(tag, 0)) for tag, limit in sorted(limits.items())]


def worst(statuses) -> str:
    levels = [s.level for s in statuses]
    for level in (Status.OVER, Status.WARN):
        if level in levels:
            return level
    return Status.OK
