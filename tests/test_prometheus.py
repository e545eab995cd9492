"""Prometheus metrics: figures, labels and histogram of the collector; /metrics of the example."""

from __future__ import annotations

import asyncio
import gc
import hashlib
import importlib.util
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from types import ModuleType

import pytest

pytest.importorskip("prometheus_client")
pytest.importorskip("fastapi")

import httpx
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from asyncbitstore import (
    Composite,
    FileRaw,
    MemoryRaw,
    Sha1APISource,
    Sha1Cache,
    Sha1Composite,
    Sha1Store,
)
from asyncbitstore.prometheus import LATENCY_BUCKETS, ChainCollector, expose, render
from asyncbitstore.testing import FaultyStore

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def _blob(name: str) -> tuple[str, bytes]:
    data = f"blob {name} ".encode() * (len(name) + 10)
    return hashlib.sha1(data).hexdigest(), data


def _load_example() -> ModuleType:
    path = Path(__file__).parents[1] / "examples" / "fastapi_app.py"
    spec = importlib.util.spec_from_file_location("fastapi_app_metrics", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class GatedSource(Sha1APISource):
    """An API source whose fetches wait for ``gate`` when one is set."""

    def __init__(self, blobs: dict[str, bytes]) -> None:
        super().__init__()
        self.blobs = blobs
        self.gate: asyncio.Event | None = None

    async def api_get(self, key: str) -> bytes | None:
        if self.gate is not None:
            await self.gate.wait()
        return self.blobs.get(key)


def _parse(text: str, chain: str) -> tuple[Samples, dict[str, str]]:
    """Samples of one chain by (name, labels without ``chain``), and each family's type."""
    samples: Samples = {}
    types = {}
    for family in text_string_to_metric_families(text):
        types[family.name] = family.type
        for sample in family.samples:
            labels = dict(sample.labels)
            if labels.pop("chain", None) == chain:
                samples[(sample.name, frozenset(labels.items()))] = sample.value
    return samples, types


def _value(samples: Samples, name: str, **labels: str) -> float:
    return samples[(name, frozenset(labels.items()))]


# -- the collector ------------------------------------------------------------------------------


def test_chains_with_one_name_get_distinct_labels_and_a_label_is_freed_with_its_chain() -> None:
    first, second = Composite(name="twin"), Composite(name="twin")
    collector = ChainCollector(first)
    assert collector.add(second) == "twin#2"
    assert collector.add(first) == "twin"  # adding twice changes nothing
    assert sorted(collector.chains) == ["twin", "twin#2"]
    del first
    gc.collect()
    assert sorted(collector.chains) == ["twin#2"]
    assert ChainCollector(Composite(name="twin")).chains.keys() == {"twin"}


def test_an_explicit_label_is_kept_and_may_not_be_taken_twice() -> None:
    chain, other = Composite(name="a"), Composite(name="b")
    collector = ChainCollector(chain, chain_label="primary")
    assert collector.chains == {"primary": chain}
    with pytest.raises(ValueError, match="taken by another chain"):
        collector.add(other, chain_label="primary")
    with pytest.raises(ValueError, match="already exposed"):
        collector.add(chain, chain_label="secondary")
    with pytest.raises(TypeError, match="exposes chains"):
        collector.add(MemoryRaw())  # type: ignore[arg-type]


def test_a_registry_refuses_a_second_collector_and_expose_shares_one() -> None:
    registry = CollectorRegistry()
    registry.register(ChainCollector(Composite(name="x")))
    with pytest.raises(ValueError, match="Duplicated"):
        registry.register(ChainCollector(Composite(name="y")))
    shared = CollectorRegistry()
    one, two = Composite(name="svc"), Composite(name="svc")
    assert expose(one, registry=shared) == "svc"
    assert expose(two, registry=shared) == "svc#2"
    body, content_type = render(shared)
    assert content_type.startswith("text/plain")
    chains = {
        sample.labels["chain"]
        for family in text_string_to_metric_families(body.decode())
        for sample in family.samples
    }
    assert chains == {"svc", "svc#2"}


def test_the_histogram_sums_log_buckets_per_doubling() -> None:
    chain = Composite(name="latency")
    chain.append_source(MemoryRaw())
    latency = chain.tiers[0].stats.latency
    for seconds in (3e-6, 3e-6, 0.003, 0.7, 100.0):
        latency.record(seconds)
    registry = CollectorRegistry()
    label = expose(chain, registry=registry)
    samples, types = _parse(render(registry)[0].decode(), label)
    assert types["asyncbitstore_tier_get_seconds"] == "histogram"
    tier = {"tier": "MemoryRaw"}

    def bucket(le: str) -> float:
        return _value(samples, "asyncbitstore_tier_get_seconds_bucket", le=le, **tier)

    assert bucket(repr(2.0**-19)) == 0  # 1.9 µs
    assert bucket(repr(2.0**-18)) == 2  # 3.8 µs
    assert bucket(repr(2.0**-9)) == 2  # 1.95 ms
    assert bucket(repr(2.0**-8)) == 3  # 3.9 ms
    assert bucket("1.0") == 4
    assert bucket("64.0") == 4
    assert bucket("+Inf") == 5
    assert _value(samples, "asyncbitstore_tier_get_seconds_count", **tier) == 5
    assert _value(samples, "asyncbitstore_tier_get_seconds_sum", **tier) == pytest.approx(
        100.703006
    )
    les = {labels for name, labels in samples if name.endswith("_bucket")}
    assert len(les) == len(LATENCY_BUCKETS) + 1  # the same le values at every scrape


# -- /metrics of the example service ------------------------------------------------------------

A, B, C, D, E, F, G1, G2, H = (_blob(n) for n in ("A", "B", "C", "D", "E", "F", "G1", "G2", "H"))
MISSING = "0" * 40


def _service_chain(tmp_path: Path, api: GatedSource) -> Sha1Composite:
    chain = Sha1Composite(
        name="svc",
        circuit_threshold=2,
        circuit_cooldown=600,
        negative_ttl=600,
        max_pending_fills=1,
    )
    chain.append_cache(FaultyStore(Sha1Cache(FileRaw(), f"{tmp_path}/cache/", verify=True)))
    chain.append_source(
        FaultyStore(Sha1Store(FileRaw(), f"{tmp_path}/remote/")), cache_result=True, timeout=0.1
    )
    chain.append_source(api, cache_result=True)
    return chain


@asynccontextmanager
async def _serve(tmp_path: Path) -> AsyncIterator[tuple[httpx.AsyncClient, Sha1Composite, str]]:
    api = GatedSource(dict([A, C, D, E, F, G1, G2, H]))
    registry = CollectorRegistry()
    app = _load_example().create_app(
        lambda: _service_chain(tmp_path, api), metrics_registry=registry
    )
    async with app.router.lifespan_context(app):
        chain = app.state.store
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://blobs") as client:
            yield client, chain, expose(chain, registry=registry)


async def _gated(chain: Sha1Composite, api: GatedSource, keys: list[str]) -> None:
    """Get ``keys`` at once while the API source holds every answer, then release them."""
    api.gate = asyncio.Event()
    tasks = [asyncio.ensure_future(chain.get(key)) for key in keys]
    for _ in range(10):
        await asyncio.sleep(0)
    api.gate.set()
    await asyncio.gather(*tasks)
    api.gate = None


async def test_metrics_after_hits_misses_an_outage_and_a_corrupt_entry(tmp_path: Path) -> None:
    (tmp_path / "remote").mkdir()
    (tmp_path / "remote" / B[0]).write_bytes(B[1])
    async with _serve(tmp_path) as (client, chain, label):
        cache, remote, api = (tier.store for tier in chain.tiers)
        assert isinstance(cache, FaultyStore) and isinstance(remote, FaultyStore)
        assert isinstance(api, GatedSource)
        # Over HTTP (streams): a source hit, a cache hit, a miss everywhere, a remembered miss.
        assert (await client.get(f"/blobs/{A[0]}")).content == A[1]
        assert (await client.get(f"/blobs/{A[0]}")).content == A[1]
        assert (await client.get(f"/blobs/{MISSING}")).status_code == 404
        assert (await client.get(f"/blobs/{MISSING}")).status_code == 404
        # A corrupt cache entry: dropped, counted, and B is served by the remote.
        (tmp_path / "cache" / B[0]).write_bytes(b"not B")
        assert await chain.get(B[0]) == B[1]
        await chain.flush()
        # The remote times out, then is down: two failures in a row open its circuit.
        remote.latency = 1.0
        assert await chain.get(C[0]) == C[1]
        await chain.flush()
        remote.latency, remote.outage = 0.0, True
        assert await chain.get(D[0]) == D[1]
        await chain.flush()
        assert await chain.get(E[0]) == E[1]  # the remote is skipped
        await chain.flush()
        await _gated(chain, api, [F[0]] * 3)  # two callers join the first one's fetch
        await chain.flush()
        await _gated(chain, api, [G1[0], G2[0]])  # one fill slot: the second fill is dropped
        await chain.flush()
        cache.outage = True  # the cache is down: its read fails, and so does its fill
        assert await chain.get(H[0]) == H[1]
        await chain.flush()
        cache.outage = False
        response = await client.get("/metrics")
        stats = chain.stats

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    samples, types = _parse(response.text, label)
    names = [tier.name for tier in chain.tiers]
    expected = {  # per tier: cache, remote, api
        "asyncbitstore_tier_hits_total": (1, 1, 8),
        "asyncbitstore_tier_misses_total": (9, 2, 1),
        "asyncbitstore_tier_bytes_total": (
            len(A[1]),
            len(B[1]),
            sum(len(blob[1]) for blob in (A, C, D, E, F, G1, G2, H)),
        ),
        "asyncbitstore_tier_skipped_total": (0, 5, 0),
        "asyncbitstore_tier_circuit_state": (0, 2, 0),
        "asyncbitstore_tier_circuit_opened_total": (0, 1, 0),
        # Timed: every get a tier was asked (not the skipped ones), and each stream's first chunk.
        "asyncbitstore_tier_get_seconds_count": (11, 5, 9),
        "asyncbitstore_tier_get_seconds_bucket": (11, 5, 9),  # le="+Inf"
    }
    errors = {  # kind: cache, remote, api
        "not_found": (8, 2, 1),
        "corrupt": (1, 0, 0),
        "timeout": (0, 1, 0),
        "unavailable": (1, 1, 0),
    }
    for name, values in expected.items():
        extra = {"le": "+Inf"} if name.endswith("_bucket") else {}
        got = tuple(_value(samples, name, tier=tier, **extra) for tier in names)
        assert got == values, name
    for kind, values in errors.items():
        got = tuple(
            _value(samples, "asyncbitstore_tier_errors_total", tier=tier, kind=kind)
            for tier in names
        )
        assert got == values, kind
    fills = {
        outcome: _value(samples, "asyncbitstore_fills_total", outcome=outcome)
        for outcome in ("done", "failed", "dropped", "declined")
    }
    assert fills == {"done": 7, "failed": 1, "dropped": 1, "declined": 0}
    assert _value(samples, "asyncbitstore_fills_pending") == 0
    assert _value(samples, "asyncbitstore_single_flight_joins_total") == 2
    assert _value(samples, "asyncbitstore_negative_hits_total") == 1
    # The histogram: the timed-out call took at least 0.1 s.
    remote_tier = {"tier": names[1]}
    fast = _value(samples, "asyncbitstore_tier_get_seconds_bucket", le="0.0625", **remote_tier)
    assert fast <= 4
    total = _value(samples, "asyncbitstore_tier_get_seconds_sum", **remote_tier)
    assert total >= 0.1
    assert total == pytest.approx(stats.tiers[1].latency.total)
    assert types["asyncbitstore_tier_hits"] == "counter"
    assert types["asyncbitstore_tier_circuit_state"] == "gauge"
    assert types["asyncbitstore_tier_get_seconds"] == "histogram"


async def test_metrics_offers_openmetrics_when_asked(tmp_path: Path) -> None:
    async with _serve(tmp_path) as (client, _, label):
        response = await client.get(
            "/metrics", headers={"Accept": "application/openmetrics-text; version=1.0.0"}
        )
    assert response.headers["content-type"].startswith("application/openmetrics-text")
    assert response.text.rstrip().endswith("# EOF")
    assert f'asyncbitstore_tier_hits_total{{chain="{label}"' in response.text


async def test_metrics_default_to_the_global_registry_with_its_process_metrics(
    tmp_path: Path,
) -> None:
    app = _load_example().create_app(lambda: _service_chain(tmp_path, GatedSource({})))
    async with app.router.lifespan_context(app):
        label = expose(app.state.store)  # the label the scrape gives it (idempotent)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://blobs") as client:
            assert (await client.get(f"/blobs/{MISSING}")).status_code == 404
            text = (await client.get("/metrics")).text
    samples, types = _parse(text, label)
    assert "process_cpu_seconds" in types or "python_info" in types
    assert _value(samples, "asyncbitstore_tier_misses_total", tier="GatedSource") == 1
