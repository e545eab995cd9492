"""OpenTelemetry spans of a chain: the tree of a get, stream and put; nothing without a provider."""

from __future__ import annotations

import asyncio
import hashlib
import pickle
from collections.abc import Iterator

import pytest

pytest.importorskip("opentelemetry.sdk")

from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode
from opentelemetry.util._once import Once

from asyncbitstore import (
    Composite,
    MemoryRaw,
    NotFoundInStore,
    Sha1Cache,
    Sha1Composite,
    StoreNotAvailable,
)
from asyncbitstore.otel import ChainTracer, instrument, uninstrument
from asyncbitstore.testing import CallbackStore, FaultyStore

BLOB = b"traced blob " * 100
KEY = hashlib.sha1(BLOB).hexdigest()


@pytest.fixture
def exporter(monkeypatch: pytest.MonkeyPatch) -> Iterator[InMemorySpanExporter]:
    """A global SDK tracer provider for this test only; the API's globals are restored after."""
    monkeypatch.setattr(trace, "_TRACER_PROVIDER_SET_ONCE", Once())
    monkeypatch.setattr(trace, "_TRACER_PROVIDER", None)
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    yield exporter
    provider.shutdown()


@pytest.fixture
def no_provider(monkeypatch: pytest.MonkeyPatch) -> None:
    """The API's state before any application sets a tracer provider."""
    monkeypatch.setattr(trace, "_TRACER_PROVIDER_SET_ONCE", Once())
    monkeypatch.setattr(trace, "_TRACER_PROVIDER", None)


def _source(name: str, blobs: dict[str, bytes]) -> CallbackStore:
    async def handler(uri: str) -> bytes | None:
        return blobs.get(uri)

    return CallbackStore(handler, name=name)


def _three_tiers() -> Sha1Composite:
    chain = Sha1Composite(name="traced")
    chain.append_cache(Sha1Cache(MemoryRaw(), "mem://cache/"))
    chain.append_source(_source("empty", {}))
    chain.append_source(_source("origin", {KEY: BLOB}), cache_result=True)
    return chain


def _by_name(spans: tuple[ReadableSpan, ...], name: str) -> list[ReadableSpan]:
    return sorted((s for s in spans if s.name == name), key=lambda s: s.start_time or 0)


def _parent_id(span: ReadableSpan) -> int | None:
    return span.parent.span_id if span.parent is not None else None


async def test_a_get_that_misses_two_tiers_and_hits_the_third(
    exporter: InMemorySpanExporter,
) -> None:
    chain = _three_tiers()
    instrument(chain)
    assert await chain.get(KEY) == BLOB
    await chain.flush()
    spans = exporter.get_finished_spans()
    (root,) = _by_name(spans, "asyncbitstore.get")
    tiers = _by_name(spans, "asyncbitstore.tier.get")
    assert len(spans) == 4  # the background fill makes no span
    assert root.parent is None
    assert root.attributes == {
        "asyncbitstore.chain": "traced",
        "asyncbitstore.key": KEY,
        "asyncbitstore.outcome": "hit",
        "asyncbitstore.bytes": len(BLOB),
    }
    assert [_parent_id(span) for span in tiers] == [root.context.span_id] * 3
    assert {span.context.trace_id for span in spans} == {root.context.trace_id}
    assert [dict(span.attributes or {}) for span in tiers] == [
        {
            "asyncbitstore.tier": chain.tiers[0].name,
            "asyncbitstore.tier.role": "cache",
            "asyncbitstore.outcome": "miss",
        },
        {
            "asyncbitstore.tier": "empty",
            "asyncbitstore.tier.role": "source",
            "asyncbitstore.outcome": "miss",
        },
        {
            "asyncbitstore.tier": "origin",
            "asyncbitstore.tier.role": "source",
            "asyncbitstore.outcome": "hit",
            "asyncbitstore.bytes": len(BLOB),
        },
    ]
    assert all(span.status.status_code is StatusCode.UNSET for span in spans)


async def test_failing_tiers_are_marked_with_their_outcome_and_an_error_status(
    exporter: InMemorySpanExporter,
) -> None:
    async def slow(uri: str) -> bytes | None:
        await asyncio.sleep(5)
        return None

    down = FaultyStore(_source("down", {}), outage=True)
    chain = Composite(name="failing", circuit_threshold=1)
    chain.append_source(CallbackStore(slow, name="slow"), timeout=0.01)
    chain.append_source(down)
    instrument(chain)
    for _ in range(2):  # the second time, both circuits are open
        with pytest.raises(StoreNotAvailable):
            await chain.get("any")
    spans = exporter.get_finished_spans()
    outcomes = [s.attributes["asyncbitstore.outcome"] for s in spans if s.attributes]
    assert outcomes == ["timeout", "error", "error", "skipped", "skipped", "error"]
    first_get = _by_name(spans, "asyncbitstore.get")[0]
    assert first_get.status.status_code is StatusCode.ERROR
    timed_out = _by_name(spans, "asyncbitstore.tier.get")[0]
    assert timed_out.status.status_code is StatusCode.ERROR
    assert timed_out.events[0].name == "exception"
    skipped = _by_name(spans, "asyncbitstore.tier.get")[2]
    assert skipped.status.status_code is StatusCode.UNSET


async def test_a_missing_key_is_a_miss_not_an_error(exporter: InMemorySpanExporter) -> None:
    chain = _three_tiers()
    instrument(chain, record_keys=False)
    with pytest.raises(NotFoundInStore):
        await chain.get("0" * 40)
    (root,) = _by_name(exporter.get_finished_spans(), "asyncbitstore.get")
    assert root.attributes == {"asyncbitstore.chain": "traced", "asyncbitstore.outcome": "miss"}
    assert root.status.status_code is StatusCode.UNSET


async def test_a_follower_of_a_shared_fetch_has_no_tier_spans(
    exporter: InMemorySpanExporter,
) -> None:
    gate = asyncio.Event()

    async def held(uri: str) -> bytes | None:
        await gate.wait()
        return BLOB

    chain = Sha1Composite(name="shared")
    chain.append_source(CallbackStore(held))
    instrument(chain)
    gets = [asyncio.ensure_future(chain.get(KEY)) for _ in range(2)]
    await asyncio.sleep(0.01)
    gate.set()
    assert await asyncio.gather(*gets) == [BLOB, BLOB]
    assert chain.stats.single_flight_joins == 1
    spans = exporter.get_finished_spans()
    spans_of_gets = _by_name(spans, "asyncbitstore.get")
    parents = [_parent_id(s) for s in _by_name(spans, "asyncbitstore.tier.get")]
    assert len(spans_of_gets) == 2
    assert sorted(parents.count(g.context.span_id) for g in spans_of_gets) == [0, 1]


async def test_a_stream_has_a_span_per_tier_and_does_not_stay_current_between_chunks(
    exporter: InMemorySpanExporter,
) -> None:
    chain = _three_tiers()
    instrument(chain)
    chunks, current = [], []
    async for chunk in chain.stream(KEY, chunk_size=100):
        chunks.append(chunk)
        current.append(trace.get_current_span())
    await chain.flush()
    assert b"".join(chunks) == BLOB
    assert all(not span.get_span_context().is_valid for span in current)
    spans = exporter.get_finished_spans()
    (root,) = _by_name(spans, "asyncbitstore.stream")
    tiers = _by_name(spans, "asyncbitstore.tier.stream")
    assert root.attributes is not None
    assert (root.attributes["asyncbitstore.outcome"], root.attributes["asyncbitstore.bytes"]) == (
        "hit",
        len(BLOB),
    )
    assert [_parent_id(s) for s in tiers] == [root.context.span_id] * 3
    assert [(s.attributes or {}).get("asyncbitstore.outcome") for s in tiers] == [
        "miss",
        "miss",
        "hit",
    ]
    assert (tiers[2].attributes or {}).get("asyncbitstore.bytes") == len(BLOB)


async def test_a_put_has_a_span_for_the_tier_written(exporter: InMemorySpanExporter) -> None:
    chain = Sha1Composite(name="written")
    chain.append_source(Sha1Cache(MemoryRaw(), "mem://target/"), write=True)
    instrument(chain)
    assert await chain.write(BLOB) == KEY
    spans = exporter.get_finished_spans()
    (root,) = _by_name(spans, "asyncbitstore.put")
    (tier,) = _by_name(spans, "asyncbitstore.tier.put")
    assert _parent_id(tier) == root.context.span_id
    assert (root.attributes or {}).get("asyncbitstore.outcome") == "written"
    assert (tier.attributes or {}).get("asyncbitstore.bytes") == len(BLOB)


async def test_without_a_tracer_provider_nothing_is_recorded(no_provider: None) -> None:
    seen: list[trace.Span] = []

    async def handler(uri: str) -> bytes | None:
        seen.append(trace.get_current_span())
        return BLOB

    unused = InMemorySpanExporter()
    TracerProvider().add_span_processor(SimpleSpanProcessor(unused))  # not the global one
    chain = Composite(name="quiet")
    chain.append_source(CallbackStore(handler))
    instrument(chain)
    assert await chain.get("x") == BLOB
    assert len(seen) == 1
    assert not seen[0].is_recording()
    assert not seen[0].get_span_context().is_valid
    assert unused.get_finished_spans() == ()


async def test_an_uninstrumented_chain_makes_no_spans(exporter: InMemorySpanExporter) -> None:
    chain = _three_tiers()
    instrument(chain)
    uninstrument(chain)
    assert chain.tracer is None
    assert await chain.get(KEY) == BLOB
    assert [c async for c in chain.stream(KEY)] == [BLOB]
    assert exporter.get_finished_spans() == ()


async def test_an_explicit_provider_needs_no_global_one(no_provider: None) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    chain = _three_tiers()
    instrument(chain, tracer_provider=provider)
    assert await chain.get(KEY) == BLOB
    assert len(exporter.get_finished_spans()) == 4
    provider.shutdown()


def test_a_traced_chain_pickles_without_its_provider() -> None:
    chain = Sha1Composite(name="pickled")
    chain.append_cache(Sha1Cache(MemoryRaw(), "mem://cache/"))
    instrument(chain, tracer_provider=TracerProvider(), record_keys=False)
    copy = pickle.loads(pickle.dumps(chain))
    assert isinstance(copy.tracer, ChainTracer)
    assert copy.tracer.record_keys is False
    assert copy.tracer._provider is None
