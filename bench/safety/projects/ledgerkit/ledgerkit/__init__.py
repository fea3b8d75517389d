"""A small plain-text ledger: parsing, reports, budgets, exports, a CLI."""

from ledgerkit.money import format_cents, parse_amount
from ledgerkit.parse import Entry, parse_ledger, parse_line

__all__ = ["Entry", "format_cents", "parse_amount", "parse_ledger", "parse_line"]
__version__ = "1.0.0"
