"""pytest entry point (``pytest11: diff``): options and the switch that turns
the plugin on. Without a ``--diff*`` option nothing else is imported or
loaded (SPEC 1.3)."""

from __future__ import annotations

import pytest

from pytest_difftest import options


def pytest_addoption(parser: pytest.Parser) -> None:
    options.addoption(parser)


@pytest.hookimpl(trylast=True)
def pytest_configure(config: pytest.Config) -> None:
    if not options.active(config):
        return
    settings = options.resolve(config)
    if config.option.diff and config.option.diff_baseline:
        config.issue_config_time_warning(
            pytest.PytestConfigWarning("pytest-difftest: --diff and --diff-baseline given; --diff-baseline wins"),
            stacklevel=2,
        )
    from pytest_difftest.session import DiffSession

    config.pluginmanager.register(DiffSession(config, settings), "difftest-session")
