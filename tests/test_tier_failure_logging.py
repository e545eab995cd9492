"""A failing tier is logged when it starts failing and when it recovers, not once per key."""

from __future__ import annotations

import asyncio
import hashlib
import logging

import pytest

from asyncbitstore import MemoryRaw, Sha1Cache, Sha1Composite, Sha1Store
from asyncbitstore.testing import FaultyStore

BLOBS = [f"blob number {n}".encode() for n in range(64)]
KEYS = [hashlib.sha1(blob).hexdigest() for blob in BLOBS]


async def _source(prefix: str) -> Sha1Store:
    store = Sha1Store(MemoryRaw(), prefix)
    for key, blob in zip(KEYS, BLOBS, strict=True):
        await store.put(key, blob)
    return store


def _lines(caplog: pytest.LogCaptureFixture, level: int, word: str = "") -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name.startswith("asyncbitstore") and r.levelno == level and word in r.getMessage()
    ]


async def test_a_down_source_warns_once_and_logs_its_recovery_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="asyncbitstore")
    down = FaultyStore(await _source("mem://primary/"), outage=True)
    chain = Sha1Composite(name="logged", circuit_threshold=None)
    chain.append_source(down, name="primary")
    chain.append_source(await _source("mem://backup/"), name="backup")
    assert await chain.get_many(KEYS) == BLOBS
    warnings = _lines(caplog, logging.WARNING)
    assert len(warnings) == 1, warnings
    assert "logged: tier primary is failing" in warnings[0]
    assert "injected outage" in warnings[0]
    assert len(_lines(caplog, logging.DEBUG, "primary")) >= 63  # the detail, per key
    caplog.clear()
    down.outage = False  # the server is back
    assert await chain.get_many(KEYS) == BLOBS
    assert await chain.get_many(KEYS) == BLOBS
    assert _lines(caplog, logging.WARNING) == []
    recovered = _lines(caplog, logging.INFO, "primary")
    assert len(recovered) == 1, recovered
    assert "tier primary answers again after 64 failures" in recovered[0]
    await chain.aclose()


async def test_a_down_cache_warns_once_for_reads_and_fills(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="asyncbitstore")
    down = FaultyStore(Sha1Cache(MemoryRaw(), "mem://cache/"), outage=True)
    chain = Sha1Composite(circuit_threshold=None)
    chain.append_cache(down)
    chain.append_source(await _source("mem://s/"), cache_result=True)
    assert await chain.get_many(KEYS) == BLOBS
    await chain.flush()
    assert chain.stats.fills_failed == 64
    warnings = _lines(caplog, logging.WARNING)
    assert len(warnings) == 1, warnings
    assert "tier FaultyStore(Sha1Cache) is failing" in warnings[0]
    await chain.aclose()


async def test_the_circuit_opening_and_closing_is_logged_once_each(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="asyncbitstore")
    down = FaultyStore(await _source("mem://primary/"), outage=True)
    chain = Sha1Composite(circuit_threshold=3, circuit_cooldown=0.05)
    chain.append_source(down, name="primary")
    chain.append_source(await _source("mem://backup/"), name="backup")
    assert await chain.get_many(KEYS) == BLOBS
    assert await chain.get_many(KEYS) == BLOBS
    assert len(_lines(caplog, logging.WARNING)) == 1
    opened = _lines(caplog, logging.INFO, "circuit")
    assert len(opened) == 1 and "primary: circuit opened after 3 failures" in opened[0], opened
    caplog.clear()
    down.outage = False
    await asyncio.sleep(0.1)
    assert await chain.get_many(KEYS) == BLOBS
    assert chain.tiers[0].breaker is not None and chain.tiers[0].breaker.state == "closed"
    closed = _lines(caplog, logging.INFO, "circuit")
    assert len(closed) == 1 and "primary: circuit closed" in closed[0], closed
    assert len(_lines(caplog, logging.INFO, "answers again")) == 1
    assert _lines(caplog, logging.WARNING) == []
    await chain.aclose()


async def test_a_failing_replication_warns_once(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="asyncbitstore")
    mirror = FaultyStore(Sha1Store(MemoryRaw(), "mem://mirror/"), outage=True)
    chain = Sha1Composite()
    chain.append_source(Sha1Store(MemoryRaw(), "mem://main/"), write=True)
    chain.append_source(mirror, write=True, name="mirror")
    for blob in BLOBS:
        await chain.write(blob)
    await chain.flush()
    assert chain.stats.fills_failed == 64
    warnings = _lines(caplog, logging.WARNING)
    assert len(warnings) == 1 and "tier mirror is failing" in warnings[0], warnings
    await chain.aclose()
