"""scripts/bench_scan_busy.py: how 2-thread calls are compared with 1-thread calls."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
import bench_scan_busy  # noqa: E402


def test_rank_by_rank_does_not_pair_one_calls_bad_luck_with_anothers_good_luck():
    one = [30.0, 40.0, 30.0, 40.0]  # 1 thread: a good and a bad placement, alternately
    two = [36.0, 20.0, 20.0, 36.0]  # 2 threads: the same, in other rounds
    paired, ranked = bench_scan_busy.compare_to_one_thread(one, two)
    # one round pairs a bad 2-thread call with a good 1-thread one
    assert paired == pytest.approx([0.5, 2 / 3, 0.9, 1.2])
    assert ranked == pytest.approx(0.9)  # fastest with fastest, slowest with slowest: 20/30, 20/30, 36/40, 36/40


def test_a_slower_distribution_shows_in_the_ranks():
    paired, ranked = bench_scan_busy.compare_to_one_thread([10.0, 10.0, 10.0], [9.0, 9.0, 12.0])
    assert paired[1] == pytest.approx(0.9) and ranked == pytest.approx(1.2)


def test_rounds_must_match():
    with pytest.raises(ValueError):
        bench_scan_busy.compare_to_one_thread([1.0, 2.0], [1.0])
