"""pytest-difftest: run only the tests affected by a change."""

__version__ = "0.1.0"
