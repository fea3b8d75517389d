import pytest

from ledgerkit import parse_ledger
from ledgerkit.budget import Status, check, parse_limit, worst

from conftest import SAMPLE


def test_parse_limit():
    assert parse_limit("Food=300") == ("food", 30000)


@pytest.mark.parametrize("text", ["food", "=3", "food=-1", "food=0"])
def test_parse_limit_rejects(text):
    with pytest.raises(ValueError):
        parse_limit(text)


def test_levels():
    assert Status("a", 10000, 5000).level == "ok"
    assert Status("a", 10000, 8000).level == "warn"
    assert Status("a", 10000, 10001).level == "over"


def test_check_and_worst():
    statuses = check(parse_ledger(SAMPLE), {"food": 25000, "fun": 5000})
    assert [(s.tag, s.spent, s.level) for s in statuses] == [("food", 20960, "warn"), ("fun", 6025, "over")]
    assert worst(statuses) == "over"
    assert worst(statuses[:1]) == "warn"
