"""Counters and latency figures for each tier of a chain, printable as a table."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar

__all__ = ["ChainStats", "LatencyHistogram", "TierStats"]

_STEPS_PER_OCTAVE = 8
_MIN_EXPONENT = -24  # about 60 ns; anything faster lands in the first bucket


class LatencyHistogram:
    """Latencies in logarithmic buckets, 8 per doubling: a quantile is reported as the upper
    edge of its bucket, at most 12.5 % above the true value."""

    __slots__ = ("buckets", "count", "max", "total")

    def __init__(self) -> None:
        self.buckets: dict[int, int] = {}
        self.count = 0
        self.total = 0.0
        self.max = 0.0

    def record(self, seconds: float) -> None:
        """Add one observation."""
        self.count += 1
        self.total += seconds
        if seconds > self.max:
            self.max = seconds
        if seconds > 0.0:
            mantissa, exponent = math.frexp(seconds)
            index = max(exponent, _MIN_EXPONENT) * _STEPS_PER_OCTAVE + int(
                (mantissa - 0.5) * 2 * _STEPS_PER_OCTAVE
            )
        else:
            index = _MIN_EXPONENT * _STEPS_PER_OCTAVE
        self.buckets[index] = self.buckets.get(index, 0) + 1

    @staticmethod
    def bucket_upper_bound(index: int) -> float:
        """The upper edge, in seconds, of bucket ``index``."""
        exponent, step = divmod(index, _STEPS_PER_OCTAVE)
        return math.ldexp(0.5 + (step + 1) / (2 * _STEPS_PER_OCTAVE), exponent)

    @property
    def mean(self) -> float:
        """Mean latency in seconds (0 when empty)."""
        return self.total / self.count if self.count else 0.0

    def quantile(self, q: float) -> float:
        """An upper estimate of the ``q`` quantile (0 < q <= 1), in seconds; 0 when empty."""
        if not self.count:
            return 0.0
        rank = q * self.count
        seen = 0
        for index in sorted(self.buckets):
            seen += self.buckets[index]
            if seen >= rank:
                return min(self.bucket_upper_bound(index), self.max)
        return self.max

    def merge(self, other: LatencyHistogram) -> None:
        """Add another histogram's observations to this one."""
        for index, n in other.buckets.items():
            self.buckets[index] = self.buckets.get(index, 0) + n
        self.count += other.count
        self.total += other.total
        self.max = max(self.max, other.max)

    def minus(self, earlier: LatencyHistogram) -> LatencyHistogram:
        """The observations recorded since ``earlier``, an earlier snapshot of this histogram.

        The maximum of that interval is not known: it is taken as the upper edge of the
        highest bucket that gained observations (at most this histogram's ``max``).
        """
        diff = LatencyHistogram()
        for index, n in self.buckets.items():
            gained = n - earlier.buckets.get(index, 0)
            if gained > 0:
                diff.buckets[index] = gained
        diff.count = self.count - earlier.count
        diff.total = self.total - earlier.total
        if diff.buckets:
            diff.max = min(self.max, self.bucket_upper_bound(max(diff.buckets)))
        return diff


def _combine(into: object, first: object, second: object, counts: Iterable[str], sign: int) -> None:
    """Set each of ``counts`` on ``into`` to ``first``'s plus (or minus) ``second``'s."""
    for attr in counts:
        setattr(into, attr, getattr(first, attr) + sign * getattr(second, attr))


def _counts(cls: type, *, levels: Iterable[str] = ()) -> tuple[str, ...]:
    """The names of the ``int`` fields of dataclass ``cls`` but ``levels``."""
    return tuple(f.name for f in fields(cls) if f.type in ("int", int) and f.name not in levels)


@dataclass
class TierStats:
    """What one tier of a chain did.

    ``hits``, ``misses`` and ``bytes`` count the reads of whole blobs (``get`` and ``stream``);
    ``calls`` counts every read the chain made of the tier (``get``, ``stream``, ``size``,
    ``get_range``, ``exists``). ``errors`` counts failures of every kind of read; ``timeouts``
    and ``corrupt`` break some of them out (a corrupt blob in a cache is dropped and counted as
    a miss too). ``skipped`` counts calls refused while the tier's circuit breaker was open;
    ``circuit`` is its state when the snapshot was taken and ``circuit_opened`` how often it
    opened. In a cache whose copies expire (a named cache with a ``ttl``), ``stale_served``
    counts stale copies served while every source was down, ``revalidated_unchanged`` copies
    the source confirmed (no body moved) and ``revalidated_changed`` copies it replaced.
    """

    name: str
    hits: int = 0
    misses: int = 0
    errors: int = 0
    timeouts: int = 0
    corrupt: int = 0
    bytes: int = 0
    skipped: int = 0
    circuit: str = "closed"
    circuit_opened: int = 0
    latency: LatencyHistogram = field(default_factory=LatencyHistogram)
    calls: int = 0
    stale_served: int = 0
    revalidated_unchanged: int = 0
    revalidated_changed: int = 0

    #: The fields that count events, and so add up across processes and runs: every ``int``.
    COUNTS: ClassVar[tuple[str, ...]]

    def as_dict(self) -> dict[str, Any]:
        """The figures as plain values (latencies in seconds)."""
        figures = {f.name: getattr(self, f.name) for f in fields(self)}  # in field order
        figures["latency"] = {
            "count": self.latency.count,
            "mean": self.latency.mean,
            "p50": self.latency.quantile(0.5),
            "p99": self.latency.quantile(0.99),
        }
        return figures

    def merge(self, other: TierStats) -> None:
        """Add another tier's figures to these (for merging stats across processes)."""
        _combine(self, self, other, self.COUNTS, 1)
        self.latency.merge(other.latency)

    def minus(self, earlier: TierStats) -> TierStats:
        """What the tier did since ``earlier``, an earlier snapshot of its figures.

        The result has this snapshot's name and ``circuit`` state, the differences of the
        counts, and the latencies recorded in between (see `LatencyHistogram.minus`).
        """
        diff = TierStats(self.name, circuit=self.circuit)
        _combine(diff, self, earlier, self.COUNTS, -1)
        diff.latency = self.latency.minus(earlier.latency)
        return diff


TierStats.COUNTS = _counts(TierStats)


@dataclass
class ChainStats:
    """Per-tier figures plus background-fill counts of a chain.

    ``writes_skipped`` counts content-addressed `write` calls that uploaded nothing because
    the first writable source already held the digest (not to be confused with a tier's
    ``skipped``, which counts calls its open circuit breaker refused).
    """

    tiers: list[TierStats] = field(default_factory=list)
    fills_done: int = 0
    fills_failed: int = 0
    fills_dropped: int = 0
    fills_declined: int = 0
    fills_pending: int = 0
    single_flight_joins: int = 0
    negative_hits: int = 0
    writes_skipped: int = 0

    #: The chain-wide fields that count events: every ``int`` but ``fills_pending``, a level.
    COUNTS: ClassVar[tuple[str, ...]]

    def tier(self, name: str) -> TierStats:
        """The figures of the tier called ``name``."""
        tier = self._find(name)
        if tier is not None:
            return tier
        raise KeyError(f"no tier named {name!r}; tiers: {[t.name for t in self.tiers]}")

    def _find(self, name: str) -> TierStats | None:
        return next((tier for tier in self.tiers if tier.name == name), None)

    def _tier_or_new(self, like: TierStats) -> TierStats:
        """The tier named like ``like``, appended empty (with its circuit state) if missing."""
        tier = self._find(like.name)
        if tier is not None:
            return tier
        tier = TierStats(like.name, circuit=like.circuit)
        self.tiers.append(tier)
        return tier

    def merge(self, other: ChainStats) -> None:
        """Add the figures of another copy of the chain, running beside this one, to these.

        For summing the figures of one chain's copies in several processes. Tiers are matched
        by name; a tier these figures lack is appended, after the others. Every count adds up,
        and so does ``fills_pending`` (each copy has its own fills). A tier's ``circuit`` shows
        ``other``'s state unless that is ``"closed"``: one copy's open breaker is not hidden
        by another's closed one.
        """
        for tier in other.tiers:
            mine = self._tier_or_new(tier)
            mine.merge(tier)
            if tier.circuit != "closed":
                mine.circuit = tier.circuit
        _combine(self, self, other, (*self.COUNTS, "fills_pending"), 1)

    def minus(self, earlier: ChainStats) -> ChainStats:
        """What the chain did since ``earlier``, an earlier snapshot of its figures.

        Tiers are those of this snapshot, in its order, each minus the tier of the same name
        in ``earlier`` (see `TierStats.minus`; a tier ``earlier`` lacks counts from zero).
        ``fills_pending`` is this snapshot's.
        """
        before = {tier.name: tier for tier in earlier.tiers}
        tiers = [tier.minus(before.get(tier.name, TierStats(tier.name))) for tier in self.tiers]
        diff = ChainStats(tiers=tiers, fills_pending=self.fills_pending)
        _combine(diff, self, earlier, self.COUNTS, -1)
        return diff

    def followed_by(self, later: ChainStats) -> ChainStats:
        """The totals of these figures and those of a later run of the same chain.

        For adding up successive runs: the result has ``later``'s tiers, in its order and
        with its ``circuit`` states, each with the counts and latencies of both runs (a tier
        only these figures have is dropped). The chain counts add up; ``fills_pending`` is 0,
        since nothing is pending between runs.
        """
        before = {tier.name: tier for tier in self.tiers}
        tiers = []
        for tier in later.tiers:
            total = TierStats(tier.name, circuit=tier.circuit)
            if tier.name in before:
                total.merge(before[tier.name])
            total.merge(tier)
            tiers.append(total)
        result = ChainStats(tiers=tiers)
        _combine(result, self, later, self.COUNTS, 1)
        return result

    @property
    def hits(self) -> dict[str, int]:
        """``{tier name: hits}``."""
        return {tier.name: tier.hits for tier in self.tiers}

    def as_dict(self) -> dict[str, Any]:
        """Everything as plain values, ready for JSON."""
        return {
            "tiers": [tier.as_dict() for tier in self.tiers],
            "fills": {
                "done": self.fills_done,
                "failed": self.fills_failed,
                "dropped": self.fills_dropped,
                "declined": self.fills_declined,
                "pending": self.fills_pending,
            },
            "single_flight_joins": self.single_flight_joins,
            "negative_hits": self.negative_hits,
        }

    def table(self) -> str:
        """A fixed-width text table, one row per tier."""
        header = (
            "tier",
            "hits",
            "misses",
            "errors",
            "bytes",
            "mean ms",
            "p50 ms",
            "p99 ms",
            "circuit",
        )
        rows = [header]
        for t in self.tiers:
            lat = t.latency
            rows.append(
                (
                    t.name,
                    str(t.hits),
                    str(t.misses),
                    str(t.errors),
                    str(t.bytes),
                    f"{lat.mean * 1e3:.3f}",
                    f"{lat.quantile(0.5) * 1e3:.3f}",
                    f"{lat.quantile(0.99) * 1e3:.3f}",
                    t.circuit,
                )
            )
        widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
        lines = [
            "  ".join(
                cell.ljust(w) if i == 0 else cell.rjust(w)
                for i, (cell, w) in enumerate(zip(row, widths, strict=True))
            )
            for row in rows
        ]
        lines.append(
            f"fills: {self.fills_done} done, {self.fills_failed} failed, "
            f"{self.fills_dropped} dropped, {self.fills_declined} declined, "
            f"{self.fills_pending} pending; "
            f"single-flight joins: {self.single_flight_joins}"
        )
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.table()


ChainStats.COUNTS = _counts(ChainStats, levels=("fills_pending",))
