import datetime

import pytest

from ledgerkit import Entry, parse_ledger, parse_line
from ledgerkit.parse import ParseError

from conftest import SAMPLE


def test_parse_line():
    e = parse_line("2024-01-03  -42.10  Corner Grocer #Food #weekly")
    assert e == Entry(datetime.date(2024, 1, 3), -4210, "Corner Grocer", ("food", "weekly"))
    assert e.month == "2024-01"
    assert not e.is_income()


def test_blank_and_comment_lines():
    assert parse_line("   ") is None
    assert parse_line("; a comment") is None


@pytest.mark.parametrize("line, message", [
    ("2024-13-01 1.00 X", "bad date"),
    ("2024-01-01 1.234 X", "too many decimals"),
    ("2024-01-01 1.00 #only-tags", "missing payee"),
    ("garbage", "expected DATE AMOUNT PAYEE"),
])
def test_parse_errors(line, message):
    with pytest.raises(ParseError, match=message):
        parse_line(line, 7)


def test_parse_ledger():
    entries = parse_ledger(SAMPLE)
    assert len(entries) == 10
    assert sum(e.is_income() for e in entries) == 2
    assert entries[2].tags == ("food", "treats")


def test_error_carries_the_line_number():
    with pytest.raises(ParseError) as info:
        parse_ledger("2024-01-01 1.00 A\nnot a line at all")
    assert info.value.line == 2
