"""Keys the plugin keeps in pytest's stash, in a leaf module so that the
plugin's entry point and the controller share them without importing each
other."""

from __future__ import annotations

import pytest

# When the session began importing project code (conftest.py files first),
# in ns since the epoch: a file changed after that may differ from what the
# tests ran (the engine's Config.StartedNs).
STARTED_NS = pytest.StashKey[int]()
