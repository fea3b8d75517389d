from ledgerkit import parse_ledger
from ledgerkit.report import balance, running_balance, table, top, totals_by

from conftest import SAMPLE

ENTRIES = parse_ledger(SAMPLE)


def test_balance():
    assert balance(ENTRIES) == 312540


def test_totals_by_tag():
    t = totals_by(ENTRIES, "tag")
    assert t["food"] == -4210 - 1200 - 3550 - 12000
    assert t["treats"] == -1200 - 475
    assert t["salary"] == 500000


def test_totals_by_month_and_payee():
    assert totals_by(ENTRIES, "month") == {"2024-01": 161040, "2024-02": 151500}
    assert totals_by(ENTRIES, "payee")["Bakery"] == -1675


def test_untagged():
    entries = parse_ledger("2024-01-01 -1.00 Kiosk")
    assert totals_by(entries, "tag") == {"(untagged)": -100}


def test_top_spending_and_income():
    t = totals_by(ENTRIES, "tag")
    assert top(t, 2) == [("rent", -160000), ("food", -20960)]
    assert top(t, 5, spending=False) == [("salary", 500000)]


def test_table():
    text = table([("rent", -160000), ("fun", -6025)], headers=("tag", "amount"))
    assert text.splitlines() == [
        "tag      amount",
        "----  ---------",
        "rent  -1,600.00",
        "fun      -60.25",
    ]


def test_running_balance():
    rows = running_balance(parse_ledger("2024-01-02 -1.00 B\n2024-01-01 5.00 A"), start=100)
    assert [(e.payee, b) for e, b in rows] == [("A", 600), ("B", 500)]
