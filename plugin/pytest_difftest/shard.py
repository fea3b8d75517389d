"""--diff-shard K/N: which of the selected tests this CI machine runs.

Every shard computes the same split from the same inputs (the selected node
ids and the baseline's durations), so the N shards together run each
selected test exactly once without talking to each other."""

from __future__ import annotations

import heapq
import re
from typing import Iterable, Mapping, NamedTuple

import pytest

_SPEC = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")


class Shard(NamedTuple):
    index: int  # 1-based, as on the command line
    count: int

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


def parse(value: object) -> Shard:
    """K/N with 1 <= K <= N; anything else is a usage error (exit 4)."""
    m = _SPEC.match(str(value))
    if m:
        k, n = int(m.group(1)), int(m.group(2))
        if 1 <= k <= n:
            return Shard(k, n)
    raise pytest.UsageError(f"pytest-difftest: --diff-shard: expected K/N with 1 <= K <= N, got {value!r}")


def split(nodeids: Iterable[str], durations: Mapping[str, float], count: int) -> list[set[str]]:
    """The N shards of the selected tests.

    Tests with a recorded duration go longest first (ties by node id) to
    the shard with the least total so far (ties to the lowest shard): the
    LPT rule, within one test's duration of the best split. Tests without
    one (new tests) are then dealt round-robin in node id order, since
    nothing says which of them is long."""
    shards: list[set[str]] = [set() for _ in range(count)]
    unique = sorted(set(nodeids))
    timed = sorted((n for n in unique if n in durations), key=lambda n: (-durations[n], n))
    loads = [(0.0, i) for i in range(count)]  # a heap of (total, shard)
    for nodeid in timed:
        total, i = heapq.heappop(loads)
        shards[i].add(nodeid)
        heapq.heappush(loads, (total + durations[nodeid], i))
    for j, nodeid in enumerate(n for n in unique if n not in durations):
        shards[j % count].add(nodeid)
    return shards
