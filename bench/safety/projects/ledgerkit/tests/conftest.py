import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

SAMPLE = """\
; January
2024-01-03  -42.10    Grocer #food
2024-01-05  2,500.00  Employer #salary
2024-01-09  -12.00    Bakery #food #treats
2024-01-15  -800.00   Landlord #rent
2024-01-20  -35.50    Grocer #food
; February
2024-02-01  -800.00   Landlord #rent
2024-02-05  2,500.00  Employer #salary
2024-02-11  -60.25    Cinema #fun
2024-02-12  -4.75     Bakery #treats
2024-02-20  -120.00   Grocer #food
"""

SECOND = """\
2024-03-01  -800.00   Landlord #rent
2024-03-05  2,500.00  Employer #salary
2024-03-07  -15.00    Bakery #treats
"""


@pytest.fixture
def sample(tmp_path):
    p = tmp_path / "sample.ledger"
    p.write_text(SAMPLE)
    return p


@pytest.fixture
def second(tmp_path):
    p = tmp_path / "second.ledger"
    p.write_text(SECOND)
    return p


def ledgerkit(*args, check_rc=None):
    """Run the command line in a child interpreter, as a user would."""
    proc = subprocess.run([sys.executable, "-m", "ledgerkit", *map(str, args)], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    if check_rc is not None:
        assert proc.returncode == check_rc, proc.stderr
    return proc


@pytest.fixture
def cli():
    return ledgerkit
