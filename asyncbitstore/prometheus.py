"""Prometheus metrics of chains: a collector that reads ``chain.stats`` at each scrape.

::

    from prometheus_client import REGISTRY
    from asyncbitstore.prometheus import ChainCollector

    collector = ChainCollector(chain)  # more chains: collector.add(other)
    REGISTRY.register(collector)

or, to share one collector per registry (what ``asyncbitstore.fastapi.mount_metrics`` does),
``expose(chain)``. Install with ``pip install 'asyncbitstore[prometheus]'``.

Every series has a ``chain`` label: the chain's name, made unique in the process (a second
chain called ``blobs`` is ``blobs#2``) unless given with ``chain_label=``. Per-tier series also
have ``tier``: the tier's name in ``chain.stats``. Names and meanings:

| metric | type | what it counts |
|---|---|---|
| ``asyncbitstore_tier_hits_total`` | counter | reads the tier answered with the blob |
| ``asyncbitstore_tier_misses_total`` | counter | "not there" answers (corrupt included) |
| ``asyncbitstore_tier_errors_total{kind}`` | counter | reads that raised, by ``kind`` (below) |
| ``asyncbitstore_tier_bytes_total`` | counter | bytes the tier served |
| ``asyncbitstore_tier_skipped_total`` | counter | calls refused: circuit open |
| ``asyncbitstore_tier_circuit_state`` | gauge | 0 closed, 1 half-open, 2 open |
| ``asyncbitstore_tier_circuit_opened_total`` | counter | times the circuit opened |
| ``asyncbitstore_tier_stale_served_total`` | counter | stale copies served: sources down |
| ``asyncbitstore_tier_revalidated_total{outcome}`` | counter | stale copies checked at the source |
| ``asyncbitstore_tier_get_seconds`` | histogram | latency: a ``get``, a stream's first chunk |
| ``asyncbitstore_fills_total{outcome}`` | counter | background writes, by ``outcome`` |
| ``asyncbitstore_fills_pending`` | gauge | background writes running |
| ``asyncbitstore_single_flight_joins_total`` | counter | calls that shared another's fetch |
| ``asyncbitstore_negative_hits_total`` | counter | misses answered by ``negative_ttl`` |

``kind`` is ``not_found``, ``corrupt``, ``timeout`` or ``unavailable``; ``outcome`` is ``done``,
``failed``, ``dropped`` (too many pending) or ``declined`` (too big for the cache) for fills,
``unchanged`` or ``changed`` for revalidations. The circuit
series exist only for tiers with a breaker. ``misses_total`` is the sum of the ``not_found``
and ``corrupt`` errors; ``timeout`` and ``unavailable`` are the failures that trip a breaker.
The histogram's buckets are the chain's own logarithmic ones summed per doubling, from about 1 µs
(2^-20 s) to 64 s, so every scrape has the same ``le`` values.

Chains are held weakly: a chain that is garbage-collected leaves the metrics and frees its label.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterable, Iterator

try:
    from prometheus_client import REGISTRY, CollectorRegistry
    from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
    from prometheus_client.exposition import choose_encoder
    from prometheus_client.metrics_core import Metric
    from prometheus_client.registry import Collector
except ModuleNotFoundError as exc:  # pragma: no cover - depends on the installed extras
    raise ImportError(
        "asyncbitstore.prometheus needs prometheus_client: pip install 'asyncbitstore[prometheus]'"
    ) from exc

from .composite import Composite
from .stats import ChainStats, LatencyHistogram, TierStats

__all__ = ["LATENCY_BUCKETS", "ChainCollector", "expose", "render"]

#: Upper bounds (seconds) of the exported latency buckets: every power of two, 2^-20 to 2^6.
LATENCY_BUCKETS = tuple(2.0**exponent for exponent in range(-20, 7))

_CIRCUIT_STATES = {"closed": 0, "half-open": 1, "open": 2}

_lock = threading.Lock()
_labels: weakref.WeakValueDictionary[str, Composite] = weakref.WeakValueDictionary()
_label_of: weakref.WeakKeyDictionary[Composite, str] = weakref.WeakKeyDictionary()
_shared: weakref.WeakKeyDictionary[CollectorRegistry, ChainCollector] = weakref.WeakKeyDictionary()


def _assign_label(chain: Composite, wanted: str | None) -> str:
    """The chain's ``chain`` label, the same in every collector, unique in the process."""
    with _lock:
        current = _label_of.get(chain)
        if wanted is None:
            if current is not None:
                return current
            wanted, n = chain.name, 2
            while wanted in _labels:
                wanted, n = f"{chain.name}#{n}", n + 1
        elif current is not None and current != wanted:
            raise ValueError(f"{chain.name} is already exposed with chain={current!r}")
        holder = _labels.get(wanted)
        if holder is not None and holder is not chain:
            raise ValueError(f"chain={wanted!r} is taken by another chain ({holder.name})")
        _labels[wanted] = chain
        _label_of[chain] = wanted
        return wanted


def _cumulative(latency: LatencyHistogram) -> list[tuple[str, float]]:
    """Prometheus buckets (``le``, cumulative count) summed from the log buckets."""
    edges = sorted(
        (LatencyHistogram.bucket_upper_bound(index), n) for index, n in latency.buckets.items()
    )
    out: list[tuple[str, float]] = []
    seen, position = 0, 0
    for bound in LATENCY_BUCKETS:
        while position < len(edges) and edges[position][0] <= bound:
            seen += edges[position][1]
            position += 1
        out.append((repr(bound), seen))
    out.append(("+Inf", latency.count))
    return out


class ChainCollector(Collector):
    """A collector of the figures of one or more chains (see the module docstring).

    Args:
        chain: a chain to expose now (more with
            [`add`][asyncbitstore.prometheus.ChainCollector.add]).
        chain_label: its ``chain`` label (default: its name, made unique in the process).

    Register one collector per registry and add every chain to it: two collectors in one
    registry would expose the same metric names twice, which the registry refuses.
    """

    def __init__(self, chain: Composite | None = None, *, chain_label: str | None = None) -> None:
        self._chains: weakref.WeakValueDictionary[str, Composite] = weakref.WeakValueDictionary()
        if chain is not None:
            self.add(chain, chain_label=chain_label)

    def add(self, chain: Composite, *, chain_label: str | None = None) -> str:
        """Expose ``chain`` too; returns its ``chain`` label (adding it twice changes nothing).

        Raises:
            ValueError: ``chain_label`` belongs to another chain, or ``chain`` already has
                another label.
            TypeError: ``chain`` is not a [`Composite`][asyncbitstore.Composite].
        """
        if not isinstance(chain, Composite):
            raise TypeError(f"ChainCollector exposes chains, not {type(chain).__name__}")
        label = _assign_label(chain, chain_label)
        self._chains[label] = chain
        return label

    def remove(self, chain: Composite) -> None:
        """Stop exposing ``chain`` here (its label stays reserved while it lives)."""
        for label, held in list(self._chains.items()):
            if held is chain:
                del self._chains[label]

    @property
    def chains(self) -> dict[str, Composite]:
        """The chains exposed, by label."""
        return dict(self._chains)

    def describe(self) -> Iterable[Metric]:
        """The metric families, empty: lets a registry refuse a second collector of them."""
        return self._families()

    def collect(self) -> Iterable[Metric]:
        """The current figures of every chain."""
        families = self._families()
        by_name = {family.name: family for family in families}
        for label, chain in sorted(self.chains.items()):
            self._add_chain(by_name, label, chain, _snapshot(chain))
        return families

    @staticmethod
    def _families() -> list[Metric]:
        tier, chain = ["chain", "tier"], ["chain"]
        return [
            kind(f"asyncbitstore_{name}", help_text, labels=labels)
            for kind, name, help_text, labels in (
                (CounterMetricFamily, "tier_hits", "Reads the tier answered.", tier),
                (
                    CounterMetricFamily,
                    "tier_calls",
                    "Reads asked of the tier: get, stream, size, get_range, exists.",
                    tier,
                ),
                (
                    CounterMetricFamily,
                    "tier_misses",
                    "Reads the tier answered 'not there' (corrupt copies included).",
                    tier,
                ),
                (
                    CounterMetricFamily,
                    "tier_errors",
                    "Reads that raised, by kind: not_found, corrupt, timeout, unavailable.",
                    [*tier, "kind"],
                ),
                (CounterMetricFamily, "tier_bytes", "Bytes the tier served.", tier),
                (
                    CounterMetricFamily,
                    "tier_skipped",
                    "Calls refused while the circuit was open.",
                    tier,
                ),
                (
                    GaugeMetricFamily,
                    "tier_circuit_state",
                    "Circuit breaker state: 0 closed, 1 half-open, 2 open.",
                    tier,
                ),
                (CounterMetricFamily, "tier_circuit_opened", "Times the circuit opened.", tier),
                (
                    CounterMetricFamily,
                    "tier_stale_served",
                    "Stale copies served while every source was down.",
                    tier,
                ),
                (
                    CounterMetricFamily,
                    "tier_revalidated",
                    "Stale copies checked at the source, by outcome: unchanged, changed.",
                    [*tier, "outcome"],
                ),
                (
                    HistogramMetricFamily,
                    "tier_get_seconds",
                    "Latency of reads: a get, or a stream's first chunk.",
                    tier,
                ),
                (
                    CounterMetricFamily,
                    "fills",
                    "Background writes (cache fills, replication) by outcome.",
                    [*chain, "outcome"],
                ),
                (GaugeMetricFamily, "fills_pending", "Background writes running.", chain),
                (
                    CounterMetricFamily,
                    "single_flight_joins",
                    "Calls that shared another call's fetch of the same key.",
                    chain,
                ),
                (
                    CounterMetricFamily,
                    "negative_hits",
                    "Misses answered from the negative_ttl memory.",
                    chain,
                ),
            )
        ]

    @staticmethod
    def _add_chain(
        families: dict[str, Metric], label: str, chain: Composite, stats: ChainStats
    ) -> None:
        def add(name: str, labels: list[str], value: float) -> None:
            family = families["asyncbitstore_" + name]
            family.add_metric(labels, value)  # type: ignore[attr-defined]

        breakers = {tier.name: tier.breaker for tier in chain.tiers}
        for tier in stats.tiers:
            labels = [label, tier.name]
            add("tier_hits", labels, tier.hits)
            add("tier_calls", labels, tier.calls)
            add("tier_misses", labels, tier.misses)
            for kind, value in _error_kinds(tier):
                add("tier_errors", [*labels, kind], value)
            add("tier_bytes", labels, tier.bytes)
            add("tier_skipped", labels, tier.skipped)
            if breakers.get(tier.name) is not None:
                add("tier_circuit_state", labels, _CIRCUIT_STATES.get(tier.circuit, 0))
                add("tier_circuit_opened", labels, tier.circuit_opened)
            add("tier_stale_served", labels, tier.stale_served)
            add("tier_revalidated", [*labels, "unchanged"], tier.revalidated_unchanged)
            add("tier_revalidated", [*labels, "changed"], tier.revalidated_changed)
            histogram = families["asyncbitstore_tier_get_seconds"]
            assert isinstance(histogram, HistogramMetricFamily)
            histogram.add_metric(labels, _cumulative(tier.latency), tier.latency.total)
        for outcome in ("done", "failed", "dropped", "declined"):
            add("fills", [label, outcome], getattr(stats, f"fills_{outcome}", 0))
        add("fills_pending", [label], stats.fills_pending)
        add("single_flight_joins", [label], stats.single_flight_joins)
        add("negative_hits", [label], stats.negative_hits)


def _error_kinds(tier: TierStats) -> Iterator[tuple[str, int]]:
    yield "not_found", tier.misses - tier.corrupt
    yield "corrupt", tier.corrupt
    yield "timeout", tier.timeouts
    yield "unavailable", tier.errors - tier.timeouts


def _snapshot(chain: Composite) -> ChainStats:
    """``chain.stats``; a scrape from another thread may catch a dict mid-resize: try again."""
    for _ in range(4):
        try:
            return chain.stats
        except RuntimeError:
            continue
    return chain.stats


def expose(
    chain: Composite,
    *,
    registry: CollectorRegistry | None = None,
    chain_label: str | None = None,
) -> str:
    """Add ``chain`` to the [`ChainCollector`][asyncbitstore.prometheus.ChainCollector] of
    ``registry``, registering one if needed.

    Args:
        chain: the chain to expose.
        registry: default ``prometheus_client.REGISTRY``.
        chain_label: as for [`ChainCollector.add`][asyncbitstore.prometheus.ChainCollector.add].

    Returns:
        The chain's ``chain`` label.
    """
    registry = REGISTRY if registry is None else registry
    with _lock:
        collector = _shared.get(registry)
        if collector is None:
            collector = _shared[registry] = ChainCollector()
            registry.register(collector)
    return collector.add(chain, chain_label=chain_label)


def render(
    registry: CollectorRegistry | None = None, accept: str | None = None
) -> tuple[bytes, str]:
    """The body and content type of a scrape of ``registry`` (default: the global one).

    ``accept`` is the request's ``Accept`` header: OpenMetrics when it asks for it, else the
    Prometheus text format.
    """
    encoder, content_type = choose_encoder(accept or "")
    return encoder(REGISTRY if registry is None else registry), content_type
