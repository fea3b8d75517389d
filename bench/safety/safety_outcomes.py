"""pytest plugin for bench/safety: writes every test that ran, with its
outcome, and every failed collection, as JSON to $SAFETY_OUTCOMES.

    PYTHONPATH=bench/safety SAFETY_OUTCOMES=out.json pytest -p safety_outcomes

A test's outcome is the worst of its reports (setup, call, teardown, and
subtests): "failed" if any failed, else "skipped" if it was skipped (xfail
included), else "passed". A test that was deselected or not collected does not
appear: the keys are exactly the tests that ran.
"""

from __future__ import annotations

import json
import os

_RANK = {"passed": 0, "skipped": 1, "failed": 2}


class _Outcomes:
    def __init__(self) -> None:
        self.tests: dict[str, str] = {}
        self.collect_errors: list[str] = []

    def pytest_runtest_logreport(self, report) -> None:
        if report.failed:
            outcome = "failed"
        elif report.skipped:
            outcome = "skipped"
        elif report.when == "call" or report.nodeid not in self.tests:
            outcome = "passed"
        else:
            return
        old = self.tests.get(report.nodeid)
        if old is None or _RANK[outcome] > _RANK[old]:
            self.tests[report.nodeid] = outcome

    def pytest_collectreport(self, report) -> None:
        if report.failed:
            self.collect_errors.append(report.nodeid)

    def pytest_sessionfinish(self, session, exitstatus) -> None:
        path = os.environ.get("SAFETY_OUTCOMES")
        if not path:
            return
        with open(path, "w") as f:
            json.dump({"tests": self.tests, "collect_errors": self.collect_errors,
                       "exitstatus": int(exitstatus)}, f)


def pytest_configure(config) -> None:
    if getattr(config, "workerinput", None) is None:
        config.pluginmanager.register(_Outcomes(), "safety-outcomes-recorder")
