"""Worker processes started from the test itself (spawn context)."""

import multiprocessing
from concurrent.futures import ProcessPoolExecutor

import pytest

from ledgerkit.workers import count_tags, merge_summaries, summarize_file, summarize_files, tag_counts


def test_summarize_files(sample, second):
    summaries = summarize_files([str(sample), str(second)], jobs=2)
    assert [(s["count"], s["balance"], s["first"], s["last"]) for s in summaries] == [
        (10, 312540, "2024-01-03", "2024-02-20"),
        (3, 168500, "2024-03-01", "2024-03-07"),
    ]


def test_summarize_empty_file(tmp_path):
    p = tmp_path / "empty.ledger"
    p.write_text("; nothing yet\n")
    assert summarize_files([str(p)], jobs=1) == [
        {"path": str(p), "count": 0, "balance": 0, "first": None, "last": None}]


def test_summarize_files_rejects_zero_jobs(sample):
    with pytest.raises(ValueError):
        summarize_files([str(sample)], jobs=0)


def test_tag_counts(sample, second):
    assert tag_counts([str(sample), str(second)], jobs=2) == {"food": 4, "salary": 3, "treats": 3, "rent": 3,
                                                              "fun": 1}


def test_pool_from_the_test(sample):
    # The test starts its own spawned pool on the module's worker function.
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        assert pool.apply(count_tags, (str(sample),)) == {"food": 4, "salary": 2, "treats": 2, "rent": 2,
                                                           "fun": 1}


def test_executor_from_the_test(second):
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as ex:
        assert ex.submit(summarize_file, str(second)).result()["balance"] == 168500


def test_merge_summaries():
    merged = merge_summaries([
        {"count": 2, "balance": 5, "first": "2024-02-01", "last": "2024-02-03"},
        {"count": 0, "balance": 0, "first": None, "last": None},
        {"count": 1, "balance": -1, "first": "2024-01-09", "last": "2024-01-09"},
    ])
    assert merged == {"files": 3, "count": 3, "balance": 4, "first": "2024-01-09", "last": "2024-02-03"}
