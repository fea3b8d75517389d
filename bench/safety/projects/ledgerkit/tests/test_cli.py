"""The command line, run in a child interpreter (python -m ledgerkit)."""

import csv
import io
import json


def test_balance(cli, sample):
    assert cli("balance", sample, check_rc=0).stdout == "3,125.40\n"


def test_balance_of_two_files(cli, sample, second):
    assert cli("balance", sample, second, check_rc=0).stdout == "4,810.40\n"


def test_report_by_tag(cli, sample):
    out = cli("report", sample, check_rc=0).stdout.splitlines()
    assert out[0].split() == ["tag", "amount"]
    assert out[2:] == [
        "food      -209.60",
        "fun        -60.25",
        "rent    -1,600.00",
        "salary   5,000.00",
        "treats     -16.75",
    ]


def test_report_top(cli, sample):
    out = cli("report", sample, "--by", "payee", "--top", "2", check_rc=0).stdout.splitlines()
    assert [line.split()[0] for line in out[2:]] == ["Landlord", "Grocer"]


def test_report_by_month(cli, sample):
    out = cli("report", sample, "--by", "month", check_rc=0).stdout.splitlines()
    assert out[2:] == ["2024-01  1,610.40", "2024-02  1,515.00"]


def test_export_csv(cli, sample):
    rows = list(csv.reader(io.StringIO(cli("export", sample, check_rc=0).stdout)))
    assert rows[0] == ["date", "amount", "payee", "tags"]
    assert rows[1] == ["2024-01-03", "-42.10", "Grocer", "food"]
    assert rows[3] == ["2024-01-09", "-12.00", "Bakery", "food|treats"]
    assert len(rows) == 11


def test_export_json(cli, sample):
    data = json.loads(cli("export", sample, "--format", "json", check_rc=0).stdout)
    assert data["count"] == 10
    assert data["entries"][1] == {"date": "2024-01-05", "amount": "2500.00", "payee": "Employer",
                                  "tags": ["salary"]}


def test_export_json_is_indented(cli, second):
    out = cli("export", second, "--format", "json", check_rc=0).stdout
    assert out.startswith('{\n  "count": 3,\n  "entries": [\n    {\n')


def test_check_ok(cli, sample):
    proc = cli("check", sample, check_rc=0)
    assert proc.stdout == "ok\n"


def test_check_finds_problems(cli, tmp_path):
    p = tmp_path / "bad.ledger"
    p.write_text("2024-01-05 -10.00 Shop\n2024-01-04 0.00 Nobody\n2024-01-06 -10.00 shop\n"
                 "2024-01-07 -2,000,000.00 Yacht\n")
    proc = cli("check", p, check_rc=1)
    assert proc.stdout.splitlines() == [
        "entry 2: zero amount for Nobody",
        "entry 3: possible duplicate of an entry on 2024-01-05",
        "entry 4: suspicious amount for Yacht",
    ]


def test_check_strict_dates(cli, tmp_path):
    p = tmp_path / "order.ledger"
    p.write_text("2024-01-05 -10.00 A\n2024-01-01 -3.00 B\n")
    assert cli("check", p, check_rc=0).stdout == "ok\n"
    proc = cli("check", p, "--strict", check_rc=1)
    assert proc.stdout == "entry 2: date 2024-01-01 before 2024-01-05\n"


def test_budget(cli, sample):
    proc = cli("budget", sample, "--limit", "food=250", "--limit", "rent=2500", check_rc=0)
    assert proc.stdout.splitlines() == ["food: 209.60 of 250.00 (warn)", "rent: 1,600.00 of 2,500.00 (ok)"]


def test_budget_over(cli, sample):
    proc = cli("budget", sample, "--limit", "fun=50", check_rc=1)
    assert proc.stdout == "fun: 60.25 of 50.00 (over)\n"


def test_budget_bad_limit(cli, sample):
    proc = cli("budget", sample, "--limit", "fun", check_rc=2)
    assert proc.stderr == "ledgerkit: expected TAG=AMOUNT, got 'fun'\n"


def test_parse_error_exit(cli, tmp_path):
    p = tmp_path / "broken.ledger"
    p.write_text("2024-01-01 1.00 A\n2024-02-30 1.00 B\n")
    proc = cli("balance", p, check_rc=2)
    assert proc.stderr == "ledgerkit: line 2: bad date '2024-02-30'\n"


def test_missing_file(cli, tmp_path):
    proc = cli("balance", tmp_path / "nope.ledger", check_rc=2)
    assert proc.stderr.endswith("nope.ledger: No such file or directory\n")


def test_merge(cli, sample, second):
    proc = cli("merge", sample, second, "--jobs", "2", check_rc=0)
    assert proc.stdout == "2 files, 13 entries, balance 4,810.40, 2024-01-03 to 2024-03-07\n"


def test_merge_with_tags(cli, sample, second):
    proc = cli("merge", sample, second, "--jobs", "1", "--tags", check_rc=0)
    assert proc.stdout.splitlines()[1:] == ["  #food: 4", "  #fun: 1", "  #rent: 3", "  #salary: 3",
                                            "  #treats: 3"]


def test_usage_error(cli):
    proc = cli("frobnicate", check_rc=2)
    assert "invalid choice" in proc.stderr
