"""Reading many ledgers in worker processes (used by `ledgerkit merge --jobs`).

The workers are spawned, not forked: they import this module afresh, so what
they run is only ever run in a child process."""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor

from ledgerkit.parse import read_ledger

CONTEXT = "spawn"
CHUNK = 1


def summarize_file(path: str) -> dict:
    """Runs in a worker: one file's count, balance, first and last date."""
    entries = read_ledger(path)
    dates = sorted(e.date for e in entries)
    return {
        "path": path,
        "count": len(entries),
        "balance": sum(e.cents for e in entries),
        "first": dates[0].isoformat() if dates else None,
        "last": dates[-1].isoformat() if dates else None,
    }


def summarize_files(paths, jobs: int = 2) -> list:
    """summarize_file for every path, in order, in `jobs` spawned processes."""
    if jobs < 1:
        raise ValueError("jobs must be at least 1")
    ctx = multiprocessing.get_context(CONTEXT)
    with ProcessPoolExecutor(max_workers=jobs, mp_context=ctx) as pool:
        return list(pool.map(summarize_file, paths, chunksize=CHUNK))


def count_tags(path: str) -> dict:
    """Runs in a worker: how many entries carry each tag."""
    counts: dict = {}
    for e in read_ledger(path):
        for t in e.tags:
            counts[t] = counts.get(t, 0) + 1
    return counts


def tag_counts(paths, jobs: int = 2) -> dict:
    """count_tags over every file with a spawned multiprocessing pool, added up."""
    ctx = multiprocessing.get_context(CONTEXT)
    total: dict = {}
    with ctx.Pool(jobs) as pool:
        for counts in pool.map(count_tags, paths):
            for t, n in counts.items():
                total[t] = total.get(t, 0) + n
    return total


def merge_summaries(summaries) -> dict:
    firsts = [s["first"] for s in summaries if s["first"] is not None]
    lasts = [s["last"] for s in summaries if s["last"] is not None]
    return {
        "files": len(summaries),
        "count": sum(s["count"] for s in summaries),
        "balance": sum(s["balance"] for s in summaries),
        "first": min(firsts) if firsts else None,
        "last": max(lasts) if lasts else None,
    }
