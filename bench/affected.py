"""pytest plugin used by the benchmark runner (not by the tools it measures):
which tests execute a given block, measured directly.

Loaded as ``-p affected`` with bench/ on PYTHONPATH, in the plain-pytest
virtualenv, on the unedited project. ``BENCH_AFFECTED`` names a JSON file:

    {"out": "/path/result.json",
     "targets": {"body": {"file": "/abs/pkg/mod.py", "block": "f_0025_002"},
                 "module": {"file": "/abs/pkg/mod.py", "block": "<module>"}}}

For each target it writes the node ids of the tests whose setup, call or
teardown entered the block: for a function or method (``block`` is its
qualified name) the block itself; for ``<module>`` anything in the file. That
is what a block-level selection tool must select after editing that block,
and the set the floor run (plain pytest on just those node ids) runs. A
target with ``"names"`` (the names a module-level edit binds) takes only the
code of the file that reads one of them (``co_names``): what a tool that
tracks module-level names (SPEC 4.8) must select at least.
"""

from __future__ import annotations

import json
import os
import sys

import pytest

_SPEC = None
_HITS: dict[str, list[str]] = {}


def _load() -> dict:
    global _SPEC
    if _SPEC is None:
        with open(os.environ["BENCH_AFFECTED"]) as f:
            _SPEC = json.load(f)
        for name in _SPEC["targets"]:
            _HITS[name] = []
    return _SPEC


_BY_FILE: dict = {}


def _by_file(spec: dict) -> dict:
    """file name -> [(target, block)], or None for files with no target."""
    if not _BY_FILE:
        for name, t in spec["targets"].items():
            names = set(t["names"]) if "names" in t else None
            _BY_FILE.setdefault(os.path.realpath(t["file"]), []).append((name, t["block"], names))
    return _BY_FILE


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_protocol(item, nextitem):
    spec = _load()
    by_file = _by_file(spec)
    hit: set[str] = set()

    def profile(frame, event, arg):
        code = frame.f_code
        wanted = by_file.get(code.co_filename, 0)
        if wanted == 0:  # a file name not seen yet: resolve it once
            wanted = by_file[code.co_filename] = by_file.get(os.path.realpath(code.co_filename))
        if wanted is None:
            return
        qual = getattr(code, "co_qualname", code.co_name)
        for name, block, names in wanted:
            if names is not None:
                # Readers of a module-level name: code of the file that
                # names it (a global or an attribute), or the file's own
                # top level run during the test.
                if code.co_name == "<module>" or names.intersection(code.co_names):
                    hit.add(name)
            elif block == "<module>" or block == qual:
                hit.add(name)

    previous = sys.getprofile()
    sys.setprofile(profile)
    try:
        yield
    finally:
        sys.setprofile(previous)
    for name in hit:
        _HITS[name].append(item.nodeid)


def pytest_sessionfinish(session, exitstatus):
    spec = _load()
    with open(spec["out"], "w") as f:
        json.dump(_HITS, f, indent=1)
