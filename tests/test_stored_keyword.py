"""``raw=``, the old name of ``stored=``, still works on get, stream and put, and warns."""

from __future__ import annotations

import hashlib

import pytest

from asyncbitstore import HashComposite, HashStore, MemoryRaw, Small, Store
from asyncbitstore.compression.codecs import MAGIC

DATA = b"some text that compresses " * 20
KEY = hashlib.sha256(DATA).hexdigest()


def _stores() -> dict[str, tuple[Store, str]]:
    memory = MemoryRaw()
    keyed = HashStore(MemoryRaw(), "mem://k/")
    chain = HashComposite()
    chain.append_source(HashStore(MemoryRaw(), "mem://c/"), write=True)
    return {
        "raw": (memory, "mem://a/x"),
        "wrapper": (Small(MemoryRaw(), max_size=1 << 20), "mem://w/x"),
        "keyed": (keyed, KEY),
        "chain": (chain, KEY),
    }


@pytest.fixture(params=["raw", "wrapper", "keyed", "chain"])
def store_and_uri(request: pytest.FixtureRequest) -> tuple[Store, str]:
    return _stores()[request.param]


async def test_raw_keyword_is_a_deprecated_alias_of_stored(
    store_and_uri: tuple[Store, str],
) -> None:
    store, uri = store_and_uri
    await store.put(uri, DATA, compress="gzip")
    stored = await store.get(uri, stored=True)
    assert stored.startswith(MAGIC)

    with pytest.warns(DeprecationWarning, match="stored="):
        assert await store.get(uri, raw=True) == stored
    with pytest.warns(DeprecationWarning, match="stored="):
        assert b"".join([c async for c in store.stream(uri, raw=True)]) == stored
    with pytest.warns(DeprecationWarning, match="stored="):
        await store.put(uri, stored, raw=True)
    assert await store.get(uri) == DATA
    assert await store.get(uri, stored=True) == stored


async def test_raw_false_reads_the_data(store_and_uri: tuple[Store, str]) -> None:
    store, uri = store_and_uri
    await store.put(uri, DATA, compress="gzip")
    with pytest.warns(DeprecationWarning, match="stored="):
        assert await store.get(uri, raw=False) == DATA


async def test_stored_and_raw_together_are_refused(store_and_uri: tuple[Store, str]) -> None:
    store, uri = store_and_uri
    await store.put(uri, DATA)
    with pytest.raises(TypeError, match="stored="):
        await store.get(uri, stored=True, raw=True)
    with pytest.raises(TypeError, match="stored="):
        await store.put(uri, DATA, stored=True, raw=True)
    with pytest.raises(TypeError, match="stored="):
        async for _ in store.stream(uri, stored=True, raw=True):
            pass
