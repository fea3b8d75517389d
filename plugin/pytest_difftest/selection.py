"""Applying a selection where collection happens (the pytest process, or
each pytest-xdist worker): test files not to import, tests to deselect, and
what was collected, for the end-of-run bookkeeping."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Mapping, Optional

import pytest

from pytest_difftest import shard as sharding


def test_file(nodeid: str) -> str:
    return nodeid.split("::", 1)[0]


def outside_root(location_path: str) -> bool:
    """Whether a test's file (its report's location, relative to rootdir)
    lies outside rootdir (``pytest ../other/test_x.py``). Such a file's
    code is no project file, so nothing the test depends on there would
    ever select it: it is never recorded and always runs."""
    path = location_path.replace(os.sep, "/")
    return os.path.isabs(location_path) or path == ".." or path.startswith("../")


class Collector:
    def __init__(self, config: pytest.Config, skip_files: list[str], deselect: list[str]) -> None:
        self.config = config
        root = config.rootpath
        self.skip = {str(root / p) for p in skip_files}
        self.deselect = set(deselect)
        self.collected: dict[str, list[str]] = {}
        self.deselected: list[str] = []
        self.incomplete: set[str] = set()
        self.outside: list[str] = []  # test files outside rootdir, relative to it
        self.collection_failed = False
        self.n_items = 0
        # --diff-shard: this machine's part of the selection, split by the
        # baseline's durations (set before collection, like skip/deselect).
        self.shard: Optional[sharding.Shard] = None
        self.durations: Mapping[str, float] = {}
        self.n_before_shard: Optional[int] = None
        self.sharded_known: list[str] = []

    def pytest_ignore_collect(self, collection_path: Path, config: pytest.Config) -> Optional[bool]:
        if self.skip and str(collection_path) in self.skip:
            return True
        return None

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            self.collection_failed = True
            self.incomplete.add(test_file(report.nodeid))

    # tryfirst: see every collected test before -k/-m deselect any, so that
    # a test file counts as completely recorded only if all of it ran.
    @pytest.hookimpl(tryfirst=True)
    def pytest_collection_modifyitems(self, session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
        outside, outside_files = set(), set()
        for item in items:
            if outside_root(item.location[0]):
                outside.add(item.nodeid)
                outside_files.add(item.location[0].replace(os.sep, "/"))
                continue
            self.collected.setdefault(test_file(item.nodeid), []).append(item.nodeid)
        self.outside = sorted(outside_files)
        if self.deselect or self.skip:
            # A skipped file still gets collected when named on the command
            # line (pytest does not ask pytest_ignore_collect then); all its
            # tests are known and unaffected.
            skip, root = self.skip, str(self.config.rootpath)
            keep, drop = [], []
            for item in items:
                unaffected = item.nodeid not in outside and (
                    item.nodeid in self.deselect
                    or bool(skip and os.path.join(root, test_file(item.nodeid)) in skip)
                )
                (drop if unaffected else keep).append(item)
            if drop:
                items[:] = keep
                config.hook.pytest_deselected(items=drop)
                self.deselected = [item.nodeid for item in drop]
        if self.shard is not None:
            self._keep_shard(config, items)

    def _keep_shard(self, config: pytest.Config, items: list[pytest.Item]) -> None:
        """Keep this shard's part of the selected items. A test left to
        another shard keeps its record here as it was (still affected, so
        still selected against this shard's database; pytest-difftest merge
        takes the newer record of the shard that ran it). Those with a
        record (a duration) leave their file completely recorded; a new one
        does not, as with -k."""
        assert self.shard is not None
        self.n_before_shard = len(items)
        mine = sharding.split((i.nodeid for i in items), self.durations, self.shard.count)[self.shard.index - 1]
        keep = [i for i in items if i.nodeid in mine]
        if len(keep) < len(items):
            drop = [i for i in items if i.nodeid not in mine]
            items[:] = keep
            config.hook.pytest_deselected(items=drop)
            self.sharded_known = [i.nodeid for i in drop if i.nodeid in self.durations]

    @pytest.hookimpl(trylast=True)
    def pytest_collection_finish(self, session: pytest.Session) -> None:
        self.n_items = len(session.items)

    def info(self) -> dict[str, Any]:
        """What the controller needs at the end of the run (JSON-able, so a
        pytest-xdist worker can send it back in workeroutput)."""
        return {
            "collected": self.collected,
            "deselected": self.deselected,
            "incomplete": sorted(self.incomplete),
            "outside": self.outside,
            "collection_failed": self.collection_failed,
            "n_items": self.n_items,
            "n_before_shard": self.n_before_shard,
            "sharded_known": self.sharded_known,
        }

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        workeroutput = getattr(self.config, "workeroutput", None)
        if workeroutput is not None:
            workeroutput["difftest"] = self.info()
