"""Circuit breakers per tier: a failing tier is skipped for a while, then probed again."""

from __future__ import annotations

import asyncio
import hashlib

import pytest

from asyncbitstore import MemoryRaw, NotFoundInStore, Sha1Composite, Sha1Store, StoreNotAvailable
from asyncbitstore.composite._circuit import CircuitBreaker
from asyncbitstore.testing import FaultyStore


def test_the_circuit_opens_after_threshold_failures_in_a_row() -> None:
    breaker = CircuitBreaker(threshold=3, cooldown=60)
    for _ in range(2):
        assert breaker.allow()
        breaker.failed()
    breaker.succeeded()  # an answer resets the count
    for _ in range(3):
        assert breaker.allow()
        breaker.failed()
    assert breaker.state == "open"
    assert not breaker.allow()
    assert breaker.opened == 1


def test_after_the_cooldown_one_probe_goes_through() -> None:
    breaker = CircuitBreaker(threshold=1, cooldown=0.01)
    breaker.failed()
    assert not breaker.allow()
    breaker._opened_at -= 1  # type: ignore[operator]  # the cool-down has passed
    assert breaker.state == "half-open"
    assert breaker.allow()
    assert not breaker.allow()  # only one probe at a time
    breaker.failed()
    assert breaker.state == "open" and breaker.opened == 2
    breaker._opened_at -= 1  # type: ignore[operator]
    assert breaker.allow()
    breaker.succeeded()
    assert breaker.state == "closed" and breaker.allow()


@pytest.mark.parametrize(("threshold", "cooldown"), [(0, 1.0), (True, 1.0), (3, 0), (3, -1.0)])
def test_bad_breaker_settings_are_refused(threshold: int, cooldown: float) -> None:
    with pytest.raises(ValueError, match="circuit"):
        CircuitBreaker(threshold, cooldown)
    with pytest.raises(ValueError, match="circuit"):
        Sha1Composite(circuit_threshold=threshold, circuit_cooldown=cooldown)


async def _chain_with_dead_front(
    count: int, **options: object
) -> tuple[Sha1Composite, FaultyStore, dict[str, bytes]]:
    blobs = {hashlib.sha1(str(i).encode()).hexdigest(): str(i).encode() for i in range(count)}
    healthy = Sha1Store(MemoryRaw(), "mem://healthy/")
    await healthy.put_many(blobs.items())
    dead = FaultyStore(MemoryRaw(), outage=True, latency=0.01)
    chain = Sha1Composite(**options)  # type: ignore[arg-type]
    chain.append_source(Sha1Store(dead, "mem://dead/"), timeout=1.0)
    chain.append_source(healthy)
    return chain, dead, blobs


async def test_a_dead_tier_costs_a_few_calls_not_one_per_key() -> None:
    chain, dead, blobs = await _chain_with_dead_front(
        2000, circuit_threshold=5, circuit_cooldown=60
    )
    assert await chain.get_many(list(blobs), concurrency=32) == list(blobs.values())
    # Calls already in flight when the circuit opened also fail: at most threshold + concurrency.
    assert dead.calls <= 5 + 32
    stats = chain.stats.tiers[0]
    assert stats.circuit == "open" and stats.circuit_opened == 1
    assert stats.skipped >= 2000 - dead.calls


async def test_a_recovered_tier_is_used_again_after_the_cooldown() -> None:
    chain, dead, blobs = await _chain_with_dead_front(
        50, circuit_threshold=2, circuit_cooldown=0.05
    )
    keys = list(blobs)
    await chain.get_many(keys, concurrency=1)
    assert chain.stats.tiers[0].circuit == "open"
    dead.outage = False
    await asyncio.sleep(0.06)
    with pytest.raises(NotFoundInStore):  # a miss is an answer: the probe closes the circuit
        await chain.tiers[0].get(keys[0])
    assert chain.stats.tiers[0].circuit == "closed"


async def test_with_no_other_copy_an_open_circuit_is_an_outage() -> None:
    chain, _, _ = await _chain_with_dead_front(0, circuit_threshold=1, circuit_cooldown=60)
    key = hashlib.sha1(b"nowhere").hexdigest()
    for _ in range(3):
        with pytest.raises(StoreNotAvailable):
            await chain.get(key)
    with pytest.raises(StoreNotAvailable, match="circuit open"):
        await chain.get(key)


async def test_misses_never_open_the_circuit() -> None:
    chain = Sha1Composite(circuit_threshold=2)
    chain.append_source(Sha1Store(MemoryRaw(), "mem://empty/"))
    for i in range(10):
        with pytest.raises(NotFoundInStore):
            await chain.get(hashlib.sha1(bytes([i])).hexdigest())
    assert chain.stats.tiers[0].circuit == "closed"


async def test_circuit_breakers_can_be_turned_off() -> None:
    chain, dead, blobs = await _chain_with_dead_front(40, circuit_threshold=None)
    await chain.get_many(list(blobs), concurrency=4)
    assert dead.calls == 40
    assert chain.tiers[0].breaker is None
