"""Amounts as integer cents: parsing and formatting."""

from __future__ import annotations

DECIMALS = 2
THOUSANDS = ","
NEGATIVE_STYLE = "minus"  # or "parens": (12.00)


class AmountError(ValueError):
    pass


def parse_amount(text: str) -> int:
    """'-1,234.5' -> -123450 (cents). Parentheses mean negative."""
    s = text.strip()
    if not s:
        raise AmountError("empty amount")
    negative = False
    if s.startswith("(") and s.endswith(")"):
        negative, s = True, s[1:-1]
    if s[0] in "+-":
        negative = negative != (s[0] == "-")
        s = s[1:]
    s = s.replace(THOUSANDS, "")
    whole, _, frac = s.partition(".")
    if not whole.isdigit() and not (whole == "" and frac):
        raise AmountError(f"not an amount: {text!r}")
    if len(frac) > DECIMALS or (frac and not frac.isdigit()):
        raise AmountError(f"too many decimals: {text!r}")
    cents = int(whole or "0") * 10 ** DECIMALS + int(frac.ljust(DECIMALS, "0") or "0")
    return -cents if negative else cents


def format_cents(cents: int, style: str = NEGATIVE_STYLE, grouping: bool = True) -> str:
    """-123450 -> '-1,234.50' (or '(1,234.50)')."""
    sign = cents < 0
    whole, frac = divmod(abs(cents), 10 ** DECIMALS)
    body = f"{whole:,}" if grouping else str(whole)
    if THOUSANDS != ",":
        body = body.replace(",", THOUSANDS)
    text = f"{body}.{frac:0{DECIMALS}d}"
    if not sign:
        return text
    return f"({text})" if style == "parens" else "-" + text


def split_evenly(cents: int, parts: int) -> list[int]:
    """Split an amount into `parts` shares that differ by at most a cent and
    add up to the amount (the first shares get the extra cents)."""
    if parts <= 0:
        raise ValueError("parts must be positive")
    base, extra = divmod(abs(cents), parts)
    shares = [base + 1 if i < extra else base for i in range(parts)]
    return [-s for s in shares] if cents < 0 else shares
