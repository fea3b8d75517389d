"""pytest plugin for the benchmark's floor runs (not a tool being measured):
plain pytest running exactly the given tests, as an ideal selection tool with
no cost of its own would.

Loaded as ``-p only`` with bench/ on PYTHONPATH, in the plain-pytest
virtualenv. ``BENCH_ONLY`` names a JSON list of node ids. Test files holding
none of them are not collected (as the tools under test skip them too), and
the other collected tests are deselected.

Passing the node ids as command-line arguments instead would cost pytest a
matching pass per argument (hundreds of them after a module-level change),
which no selection tool pays, and the floor would not be one.
"""

from __future__ import annotations

import json
import os

import pytest

_IDS: set[str] = set()
_FILES: set[str] = set()


def pytest_configure(config: pytest.Config) -> None:
    with open(os.environ["BENCH_ONLY"]) as f:
        ids = json.load(f)
    _IDS.update(ids)
    root = str(config.rootpath)
    _FILES.update(os.path.join(root, i.split("::", 1)[0]) for i in ids)


def pytest_ignore_collect(collection_path, config):
    path = str(collection_path)
    if path.endswith(".py") and os.path.basename(path) not in ("conftest.py", "__init__.py") \
            and path not in _FILES:
        return True
    return None


def pytest_collection_modifyitems(session, config, items):
    keep = [i for i in items if i.nodeid in _IDS]
    drop = [i for i in items if i.nodeid not in _IDS]
    if drop:
        items[:] = keep
        config.hook.pytest_deselected(items=drop)
