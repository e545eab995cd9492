"""Both kinds of cache count a failed put and log it (content-addressed caches at WARNING,
named caches at DEBUG) instead of raising; `put_or_raise` raises it, and bad input still
raises from `put`."""

from __future__ import annotations

import logging

import pytest

from asyncbitstore import Sha1Cache
from asyncbitstore.errors import InvalidURI, StoreNotAvailable
from asyncbitstore.named import PrefixCache
from asyncbitstore.raw.memory import MemoryRaw
from asyncbitstore.testing import FaultyStore

KEY = "a9993e364706816aba3e25717850c26c9cd0d89d"  # sha1(b"abc")


@pytest.mark.parametrize(
    ("make", "key", "logger", "level"),
    [
        (lambda raw: Sha1Cache(raw, "mem://c/"), KEY, "asyncbitstore.hashing", logging.WARNING),
        (
            lambda raw: PrefixCache(raw, "mem://c/"),
            "some/name",
            "asyncbitstore.named",
            logging.DEBUG,
        ),
    ],
)
async def test_failed_put_is_counted_and_logged(
    make: object, key: str, logger: str, level: int, caplog: pytest.LogCaptureFixture
) -> None:
    cache = make(FaultyStore(MemoryRaw(), outage=True))  # type: ignore[operator]
    caplog.set_level(logging.DEBUG, logger="asyncbitstore")
    await cache.put(key, b"abc")
    assert cache.put_failures == 1
    lines = [r for r in caplog.records if "could not cache" in r.getMessage()]
    assert [(r.name, r.levelno) for r in lines] == [(logger, level)]
    assert key in lines[0].getMessage()
    with pytest.raises(StoreNotAvailable):
        await cache.put_or_raise(key, b"abc")
    assert cache.put_failures == 1  # put_or_raise raises rather than counting
    with pytest.raises((InvalidURI, TypeError)):
        await cache.put(123, b"abc")
    with pytest.raises(TypeError):
        await cache.put(key, "not bytes")
    with pytest.raises(ValueError):
        await cache.put(key, b"abc", compress="nope")
    assert cache.put_failures == 1
