"""A chain's `operation_timeout` bounds a read over all its tiers, and `--timeout` sets it."""

from __future__ import annotations

import time

import pytest

from asyncbitstore import Composite, MemoryRaw
from asyncbitstore.errors import StoreTimeout
from asyncbitstore.testing import FaultyStore


def _slow_chain(operation_timeout: float | None) -> Composite:
    chain = Composite(operation_timeout=operation_timeout, circuit_threshold=None)
    for name in ("a", "b"):
        chain.append_source(FaultyStore(MemoryRaw(), latency=3.0), name=name)
    return chain


async def test_a_read_over_slow_tiers_stops_at_the_budget() -> None:
    chain = _slow_chain(1.0)
    started = time.monotonic()
    with pytest.raises(StoreTimeout, match="operation_timeout"):
        await chain.get("mem://b/x")
    assert time.monotonic() - started < 4.0  # each tier alone takes 3 s; both 6 s


@pytest.mark.parametrize("read", ["size", "exists", "head"])
async def test_every_read_keeps_the_budget(read: str) -> None:
    chain = _slow_chain(0.5)
    with pytest.raises(StoreTimeout):
        await getattr(chain, read)("mem://b/x")


async def test_without_a_budget_a_read_waits_for_its_tiers() -> None:
    chain = Composite(circuit_threshold=None)
    source = MemoryRaw()
    await source.put("mem://b/x", b"late")
    chain.append_source(FaultyStore(source, latency=0.3))
    assert await chain.get("mem://b/x") == b"late"


@pytest.mark.parametrize("bad", [0, -1, "2"])
def test_the_budget_is_checked(bad: object) -> None:
    with pytest.raises((ValueError, TypeError)):
        Composite(operation_timeout=bad)  # type: ignore[arg-type]


def test_the_configuration_and_the_command_set_it() -> None:
    config = {
        "chain": {"kind": "plain", "operation_timeout": 2.5},
        "tier": [{"role": "source", "uri": "mem://blobs/"}],
    }
    assert Composite.from_config(config).operation_timeout == 2.5

    from asyncbitstore.cli import _limits
    from asyncbitstore.config import load_config

    loaded = load_config({"chain": {"kind": "plain"}, "tier": config["tier"]})
    _limits.apply(loaded, retries=None, timeout=4.0)
    assert loaded.build().operation_timeout == 4.0
