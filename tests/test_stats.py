"""LatencyHistogram accuracy, and the figures and tables of TierStats and ChainStats."""

from __future__ import annotations

import dataclasses
import json
import math
import pickle
import random

import pytest

from asyncbitstore import ChainStats, TierStats
from asyncbitstore.stats import LatencyHistogram

# Buckets are 1/16 of an octave's lower edge wide at most, and a quantile is reported as its
# bucket's upper edge: an upper estimate, at most 12.5 % above the true value.
MAX_OVER = 1.125


def _true_quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def _log_uniform(count: int, seed: int) -> list[float]:
    """Latencies spread from 10 µs to 1 s."""
    rng = random.Random(seed)
    return [10 ** rng.uniform(-5, 0) for _ in range(count)]


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("q", [0.01, 0.1, 0.5, 0.9, 0.99, 0.999, 1.0])
def test_quantiles_are_close_upper_estimates(q: float, seed: int) -> None:
    values = _log_uniform(20_000, seed)
    histogram = LatencyHistogram()
    for value in values:
        histogram.record(value)
    true = _true_quantile(values, q)
    estimate = histogram.quantile(q)
    assert true <= estimate <= true * MAX_OVER


def test_quantiles_of_a_narrow_distribution_are_within_ten_percent() -> None:
    rng = random.Random(4)
    values = [rng.gauss(0.020, 0.002) for _ in range(10_000)]  # 20 ms ± 2 ms
    histogram = LatencyHistogram()
    for value in values:
        histogram.record(value)
    for q in (0.5, 0.9, 0.99):
        true = _true_quantile(values, q)
        assert abs(histogram.quantile(q) - true) <= 0.1 * true


def test_mean_count_and_max() -> None:
    histogram = LatencyHistogram()
    assert (histogram.count, histogram.mean, histogram.max, histogram.quantile(0.5)) == (
        0,
        0.0,
        0.0,
        0.0,
    )
    for value in (0.001, 0.002, 0.003, 0.010):
        histogram.record(value)
    assert histogram.count == 4
    assert histogram.mean == pytest.approx(0.004)
    assert histogram.max == 0.010
    assert histogram.quantile(1.0) == 0.010  # never above the largest observation


def test_zero_and_tiny_latencies_are_recorded() -> None:
    histogram = LatencyHistogram()
    histogram.record(0.0)
    histogram.record(1e-12)
    assert histogram.count == 2
    assert histogram.quantile(0.5) <= 1e-7
    assert histogram.quantile(1.0) == 1e-12


def test_merge_adds_the_observations() -> None:
    left, right, both = LatencyHistogram(), LatencyHistogram(), LatencyHistogram()
    first, second = _log_uniform(1000, 5), _log_uniform(3000, 6)
    for value in first:
        left.record(value)
        both.record(value)
    for value in second:
        right.record(value)
        both.record(value)
    left.merge(right)
    assert left.count == 4000
    assert left.total == pytest.approx(sum(first) + sum(second))
    assert left.max == max(first + second)
    assert left.buckets == both.buckets
    for q in (0.5, 0.99):
        assert left.quantile(q) == both.quantile(q)
    assert right.count == 3000  # the merged-in histogram is unchanged


def _tier(name: str, hits: int, latencies: list[float]) -> TierStats:
    tier = TierStats(name, hits=hits, misses=2, errors=1, timeouts=1, corrupt=0, bytes=4096)
    for value in latencies:
        tier.latency.record(value)
    return tier


def test_tier_stats_as_dict_has_every_figure() -> None:
    tier = _tier("memory", 7, [0.001, 0.002, 0.003])
    figures = tier.as_dict()
    assert figures["name"] == "memory"
    assert (figures["hits"], figures["misses"], figures["errors"]) == (7, 2, 1)
    assert (figures["timeouts"], figures["corrupt"], figures["bytes"]) == (1, 0, 4096)
    assert figures["latency"]["count"] == 3
    assert figures["latency"]["mean"] == pytest.approx(0.002)
    assert 0.002 <= figures["latency"]["p50"] <= 0.002 * MAX_OVER
    assert figures["latency"]["p99"] == 0.003
    json.dumps(figures)  # plain values only


def test_tier_stats_merge_adds_counters_and_latencies() -> None:
    left = _tier("s3", 3, [0.1])
    left.merge(_tier("s3", 4, [0.2, 0.3]))
    assert (left.hits, left.misses, left.errors, left.timeouts, left.bytes) == (7, 4, 2, 2, 8192)
    assert left.latency.count == 3


def _chain() -> ChainStats:
    return ChainStats(
        tiers=[
            _tier("MemoryRaw", 90, [0.000_004] * 10),
            _tier("FileRaw('/var/cache')", 9, [0.000_3] * 10),
            _tier("S3Raw", 1, [0.045] * 10),
        ],
        fills_done=10,
        fills_failed=2,
        fills_dropped=3,
        fills_pending=1,
        single_flight_joins=5,
    )


def test_chain_stats_as_dict_is_json_ready_and_complete() -> None:
    figures = _chain().as_dict()
    assert [tier["name"] for tier in figures["tiers"]] == [
        "MemoryRaw",
        "FileRaw('/var/cache')",
        "S3Raw",
    ]
    assert [tier["hits"] for tier in figures["tiers"]] == [90, 9, 1]
    assert figures["fills"] == {"done": 10, "failed": 2, "dropped": 3, "declined": 0, "pending": 1}
    assert figures["single_flight_joins"] == 5
    assert json.loads(json.dumps(figures)) == figures


def test_chain_stats_table_shows_each_tier_and_its_figures() -> None:
    stats = _chain()
    table = stats.table()
    assert str(stats) == table
    lines = table.splitlines()
    assert lines[0].split() == [
        "tier",
        "hits",
        "misses",
        "errors",
        "bytes",
        "mean",
        "ms",
        "p50",
        "ms",
        "p99",
        "ms",
        "circuit",
    ]
    rows = {line.split()[0]: line.split()[1:] for line in lines[1:4]}
    assert rows["MemoryRaw"][:4] == ["90", "2", "1", "4096"]
    assert rows["FileRaw('/var/cache')"][:4] == ["9", "2", "1", "4096"]
    assert rows["S3Raw"][:4] == ["1", "2", "1", "4096"]
    assert rows["S3Raw"][4] == "45.000"  # mean latency in ms
    assert float(rows["S3Raw"][5]) == pytest.approx(45, rel=0.13)
    assert "10 done, 2 failed, 3 dropped, 0 declined, 1 pending" in lines[-1]
    assert "single-flight joins: 5" in lines[-1]
    assert len({len(line) for line in lines[:4]}) == 1  # columns are aligned


def test_chain_stats_hits_and_tier_lookup() -> None:
    stats = _chain()
    assert stats.hits == {"MemoryRaw": 90, "FileRaw('/var/cache')": 9, "S3Raw": 1}
    assert stats.tier("S3Raw").hits == 1


def test_unknown_tier_raises_key_error_naming_the_tiers() -> None:
    with pytest.raises(KeyError) as caught:
        _chain().tier("GSRaw")
    message = str(caught.value)
    assert "GSRaw" in message
    for name in ("MemoryRaw", "S3Raw", "FileRaw"):
        assert name in message


def test_empty_chain_stats_print() -> None:
    table = ChainStats().table()
    assert table.splitlines()[0].startswith("tier")
    assert "0 done" in table


def test_stats_pickle_for_merging_across_processes() -> None:
    stats = _chain()
    clone = pickle.loads(pickle.dumps(stats))
    assert clone.as_dict() == stats.as_dict()
    assert clone.tier("S3Raw").latency.buckets == stats.tier("S3Raw").latency.buckets


# -- arithmetic: minus, merge, followed_by ------------------------------------------------------


def test_counts_name_every_counting_field() -> None:
    fields = {f.name for f in dataclasses.fields(TierStats)}
    assert set(TierStats.COUNTS) == fields - {"name", "circuit", "latency"}
    chain_fields = {f.name for f in dataclasses.fields(ChainStats)}
    assert set(ChainStats.COUNTS) == chain_fields - {"tiers", "fills_pending"}


def test_histogram_minus_keeps_what_was_recorded_since() -> None:
    before = LatencyHistogram()
    for value in (0.001, 0.002):
        before.record(value)
    after = LatencyHistogram()
    after.merge(before)
    for value in (0.002, 0.5):
        after.record(value)
    diff = after.minus(before)
    assert diff.count == 2 and diff.total == pytest.approx(0.502)
    assert sum(diff.buckets.values()) == 2 and diff.max == 0.5
    assert after.count == 4 and before.count == 2  # neither snapshot changes
    assert LatencyHistogram().minus(LatencyHistogram()).max == 0.0


def test_histogram_minus_bounds_the_unknown_maximum_by_its_bucket() -> None:
    before = LatencyHistogram()
    before.record(1.0)  # the maximum overall, recorded before the interval
    after = LatencyHistogram()
    after.merge(before)
    after.record(0.01)
    diff = after.minus(before)
    assert 0.01 <= diff.max <= 0.01 * MAX_OVER


def test_tier_minus_subtracts_every_count_and_keeps_the_later_state() -> None:
    before = _tier("s3", 3, [0.1])
    after = _tier("s3", 3, [0.1])
    after.merge(_tier("s3", 4, [0.2, 0.3]))
    after.circuit, after.circuit_opened, after.skipped = "open", 1, 6
    diff = after.minus(before)
    assert (diff.name, diff.circuit, diff.circuit_opened, diff.skipped) == ("s3", "open", 1, 6)
    assert (diff.hits, diff.misses, diff.errors, diff.timeouts, diff.bytes) == (4, 2, 1, 1, 4096)
    assert diff.latency.count == 2


def test_chain_minus_matches_tiers_by_name_and_keeps_fills_pending() -> None:
    before = ChainStats(tiers=[_tier("S3Raw", 1, [0.1])], fills_done=4, fills_pending=7)
    after = _chain()
    diff = after.minus(before)
    assert [tier.name for tier in diff.tiers] == [tier.name for tier in after.tiers]
    assert diff.tier("S3Raw").hits == 0 and diff.tier("S3Raw").latency.count == 9
    assert diff.tier("MemoryRaw").hits == 90  # a tier new since `before` counts from zero
    assert (diff.fills_done, diff.fills_failed, diff.single_flight_joins) == (6, 2, 5)
    assert diff.fills_pending == after.fills_pending == 1


def test_chain_merge_sums_copies_side_by_side() -> None:
    total = ChainStats()
    first = ChainStats(tiers=[_tier("a", 1, [0.1]), _tier("b", 2, [])], fills_pending=2)
    second = ChainStats(tiers=[_tier("c", 5, []), _tier("a", 3, [0.2])], fills_done=1)
    second.tiers[1].circuit = "open"
    third = ChainStats(tiers=[_tier("a", 0, [])], negative_hits=4, fills_pending=1)
    for part in (first, second, third):
        total.merge(part)
    assert [tier.name for tier in total.tiers] == ["a", "b", "c"]  # in first-seen order
    assert total.tier("a").hits == 4 and total.tier("a").latency.count == 2
    assert total.tier("a").circuit == "open"  # a later "closed" does not hide it
    assert (total.fills_done, total.negative_hits, total.fills_pending) == (1, 4, 3)
    assert first.tiers[0].hits == 1  # the parts are unchanged


def test_chain_followed_by_adds_runs_with_the_later_runs_tiers_and_states() -> None:
    earlier = ChainStats(
        tiers=[_tier("old", 9, []), _tier("a", 1, [0.1])], fills_done=2, fills_pending=5
    )
    earlier.tiers[1].circuit = "open"
    later = ChainStats(tiers=[_tier("b", 2, []), _tier("a", 3, [0.2])], fills_done=1)
    total = earlier.followed_by(later)
    assert [tier.name for tier in total.tiers] == ["b", "a"]  # "old" is gone
    assert total.tier("a").hits == 4 and total.tier("a").latency.count == 2
    assert total.tier("a").circuit == "closed"  # the later run's state
    assert total.tier("b").hits == 2
    assert (total.fills_done, total.fills_pending) == (3, 0)
    assert earlier.tier("a").hits == 1 and later.tier("a").hits == 3  # both unchanged
