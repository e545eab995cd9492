"""A circuit-breaker probe that is cancelled must not leave its tier skipped for good."""

from __future__ import annotations

import asyncio
import hashlib

import pytest

from asyncbitstore import Composite, StoreNotAvailable
from asyncbitstore.composite._circuit import CircuitBreaker
from asyncbitstore.testing import CallbackStore

BLOB = b"served by the front tier"
KEY = hashlib.sha1(BLOB).hexdigest()
COOLDOWN = 0.05


class Front:
    """A tier handler that fails, hangs, or serves, as the test says."""

    def __init__(self) -> None:
        self.mode = "fail"
        self.entered = asyncio.Event()

    async def __call__(self, uri: str) -> bytes | None:
        self.entered.set()
        if self.mode == "fail":
            raise OSError("front tier is down")
        if self.mode == "hang":
            await asyncio.Event().wait()
        return BLOB


async def _tripped() -> tuple[Composite, Front]:
    front = Front()
    chain = Composite(circuit_threshold=1, circuit_cooldown=COOLDOWN)
    chain.append_source(CallbackStore(front, name="front"))
    chain.append_source(CallbackStore(_nothing, name="back"))
    with pytest.raises(StoreNotAvailable):
        await chain.get(KEY)
    assert chain.stats.tiers[0].circuit == "open"
    return chain, front


async def _nothing(uri: str) -> bytes | None:
    return None


async def _cancel_a_hung_probe(chain: Composite, front: Front, call: object) -> None:
    front.mode = "hang"
    await asyncio.sleep(COOLDOWN * 2)
    front.entered.clear()
    task = asyncio.ensure_future(call)  # type: ignore[arg-type]
    await asyncio.wait_for(front.entered.wait(), 10)  # the probe is in flight
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def _serves_again(chain: Composite, front: Front) -> None:
    front.mode = "serve"
    await asyncio.sleep(COOLDOWN * 2)
    assert await chain.get(KEY) == BLOB
    assert chain.stats.tiers[0].circuit == "closed"


async def test_a_cancelled_get_probe_lets_the_tier_be_probed_again() -> None:
    chain, front = await _tripped()
    await _cancel_a_hung_probe(chain, front, chain.get(KEY))
    await _serves_again(chain, front)


async def test_a_probe_cut_by_the_callers_deadline_lets_the_tier_be_probed_again() -> None:
    chain, front = await _tripped()
    front.mode = "hang"
    await asyncio.sleep(COOLDOWN * 2)
    with pytest.raises(asyncio.TimeoutError):
        await asyncio.wait_for(chain.get(KEY), 0.05)
    await _serves_again(chain, front)


async def test_a_cancelled_stream_probe_lets_the_tier_be_probed_again() -> None:
    chain, front = await _tripped()

    async def read() -> bytes:
        return b"".join([chunk async for chunk in chain.stream(KEY)])

    await _cancel_a_hung_probe(chain, front, read())
    await _serves_again(chain, front)


async def test_a_cancelled_size_probe_lets_the_tier_be_probed_again() -> None:
    chain, front = await _tripped()
    await _cancel_a_hung_probe(chain, front, chain.size(KEY))
    await _serves_again(chain, front)


async def test_a_released_probe_reopens_the_circuit_for_a_cooldown() -> None:
    breaker = CircuitBreaker(threshold=1, cooldown=COOLDOWN)
    breaker.failed()
    await asyncio.sleep(COOLDOWN * 2)
    assert breaker.allow() and breaker.state == "half-open"
    breaker.released()
    assert breaker.state == "open" and breaker.opened == 1
    assert not breaker.allow()  # a fresh cooldown runs
    await asyncio.sleep(COOLDOWN * 2)
    assert breaker.allow()


async def test_a_cancelled_call_while_closed_changes_nothing() -> None:
    chain = Composite(circuit_threshold=1, circuit_cooldown=60)
    front = Front()
    front.mode = "hang"
    chain.append_source(CallbackStore(front, name="front"))
    task = asyncio.ensure_future(chain.get(KEY))
    await asyncio.wait_for(front.entered.wait(), 10)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert chain.stats.tiers[0].circuit == "closed"
    front.mode = "serve"
    assert await chain.get(KEY) == BLOB
