import pytest

from ledgerkit.money import AmountError, format_cents, parse_amount, split_evenly


@pytest.mark.parametrize("text, cents", [
    ("12", 1200), ("12.5", 1250), ("-0.05", -5), ("1,234.56", 123456), ("(3.00)", -300), ("+7.10", 710),
    (".5", 50),
])
def test_parse_amount(text, cents):
    assert parse_amount(text) == cents


@pytest.mark.parametrize("text", ["", "abc", "1.234", "1.x", "--1"])
def test_parse_amount_rejects(text):
    with pytest.raises(AmountError):
        parse_amount(text)


def test_format_cents():
    assert format_cents(123456) == "1,234.56"
    assert format_cents(-5) == "-0.05"
    assert format_cents(0) == "0.00"


def test_format_cents_parens_and_plain():
    assert format_cents(-123456, style="parens") == "(1,234.56)"
    assert format_cents(123456, grouping=False) == "1234.56"


def test_split_evenly():
    assert split_evenly(1000, 3) == [334, 333, 333]
    assert split_evenly(-100, 4) == [-25, -25, -25, -25]
    assert sum(split_evenly(1001, 7)) == 1001


def test_split_evenly_rejects_zero_parts():
    with pytest.raises(ValueError):
        split_evenly(100, 0)
