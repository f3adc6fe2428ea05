"""``usecases.memo.Memo``: one computation per key however many threads ask, the oldest dropped, errors not kept."""

from __future__ import annotations

import threading
import time

import pytest

from phasegate.usecases.memo import Memo

pytestmark = pytest.mark.unit  # pure: no database, no Prefect, no browser (make test-fast)


def test_threads_asking_for_one_key_together_compute_it_once() -> None:
    memo, calls = Memo(), []
    start = threading.Barrier(8)

    def slow() -> int:
        calls.append(1)
        time.sleep(0.05)
        return 42

    results: list[int] = []

    def ask() -> None:
        start.wait()
        results.append(memo.get("report", slow))

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [42] * 8 and len(calls) == 1


def test_the_least_recently_used_key_goes_first() -> None:
    memo = Memo(size=2)
    memo.get("a", lambda: 1)
    memo.get("b", lambda: 2)
    assert memo.get("a", lambda: -1) == 1  # a is now the most recent
    memo.get("c", lambda: 3)
    assert memo.get("b", lambda: 20) == 20 and memo.get("a", lambda: -1) == -1  # b went, then a (size 2)
    assert len(memo) == 2


def test_an_error_is_raised_and_nothing_is_kept() -> None:
    memo = Memo()

    def broken() -> int:
        raise ValueError("no")

    with pytest.raises(ValueError, match="no"):
        memo.get("k", broken)
    assert memo.get("k", lambda: 7) == 7


def test_a_new_version_drops_the_results_of_the_others() -> None:
    memo = Memo()
    memo.get(("report", "v1"), lambda: 1, version="v1")
    memo.get(("rows", "v1"), lambda: 2, version="v1")
    assert len(memo) == 2
    assert memo.get(("report", "v2"), lambda: 3, version="v2") == 3
    assert len(memo) == 1  # v1's two results can never be asked for again
    assert memo.get(("report", "v1"), lambda: 4, version="v1") == 4  # a late v1 request computes and is kept
    assert memo.get(("report", "v2"), lambda: 5, version="v2") == 5 and len(memo) == 1


def test_kept_answers_without_computing_and_only_for_the_newest_version() -> None:
    memo = Memo()
    assert memo.kept(("report", "v1"), version="v1") == (False, None)  # nothing computed, nothing kept
    memo.get(("report", "v1"), lambda: 1, version="v1")
    assert memo.kept(("report", "v1"), version="v1") == (True, 1)
    assert memo.kept(("report", "v1"), version=None) == (False, None)
    memo.get(("report", "v2"), lambda: 2, version="v2")
    assert memo.kept(("report", "v1"), version="v1") == (False, None)  # an older state's result is gone
    assert memo.kept(("report", "v2"), version="v2") == (True, 2)
