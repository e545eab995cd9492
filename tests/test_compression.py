"""Compression beyond the per-store contract: codecs, memory bounds, chains, verification."""

from __future__ import annotations

import gzip
import hashlib
import os
import pickle
import sys
import tracemalloc
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from asyncbitstore import (
    CompressedRange,
    FileRaw,
    HashCache,
    HashComposite,
    HashStore,
    InvalidDataFound,
    MemoryRaw,
    NotFoundInStore,
    Sha1Store,
)
from asyncbitstore.compression.codecs import HEADER_SIZE, MAGIC
from asyncbitstore.compression.store_io import encode
from asyncbitstore.testing import CallbackStore

TEXT = b"".join(b"line %d of a log that repeats itself quite a bit\n" % i for i in range(20_000))


async def _chunks(data: bytes, size: int) -> AsyncIterator[bytes]:
    for offset in range(0, len(data), size):
        yield data[offset : offset + size]


async def test_a_missing_codec_package_names_the_extra_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "brotli", None)  # `import brotli` now raises ImportError
    monkeypatch.setitem(sys.modules, "zstandard", None)
    store = MemoryRaw()
    for codec in ("br", "zstd"):
        with pytest.raises(ImportError, match=r"pip install 'asyncbitstore\[compression\]'"):
            await store.put("mem://a/x", b"data", compress=codec)
    assert not await store.exists("mem://a/x")
    await store.put("mem://a/g", b"data", compress="gzip")  # the standard library's codec
    assert await store.get("mem://a/g") == b"data"


async def test_reading_a_blob_whose_codec_is_missing_names_the_extra(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    store = MemoryRaw()
    await store.put("mem://a/x", TEXT, compress="zstd")
    monkeypatch.setitem(sys.modules, "zstandard", None)
    with pytest.raises(ImportError, match=r"asyncbitstore\[compression\]"):
        await store.get("mem://a/x")


@pytest.mark.parametrize("codec", ["gzip", "br", "zstd"])
async def test_a_damaged_payload_is_invalid_data_on_get_and_on_stream(codec: str) -> None:
    store = MemoryRaw()
    await store.put("mem://a/x", TEXT, compress=codec)
    stored = await store.get("mem://a/x", stored=True)
    await store.put("mem://a/cut", stored[: len(stored) // 2], stored=True)
    await store.put("mem://a/bad", stored[:HEADER_SIZE] + b"\xff" * 100, stored=True)
    for uri in ("mem://a/cut", "mem://a/bad"):
        with pytest.raises(InvalidDataFound, match="cannot decode"):
            await store.get(uri)
        with pytest.raises(InvalidDataFound, match="cannot decode"):
            async for _ in store.stream(uri):
                pass


async def test_an_unknown_frame_version_is_invalid_data_not_garbage() -> None:
    store = MemoryRaw()
    await store.put("mem://a/x", MAGIC + bytes([9, 1]) + b"payload", stored=True)
    with pytest.raises(InvalidDataFound, match="newer asyncbitstore"):
        await store.get("mem://a/x")


async def test_compressed_range_errors_pickle_and_name_the_codec() -> None:
    store = MemoryRaw()
    await store.put("mem://a/x", TEXT, compress="br")
    with pytest.raises(CompressedRange) as caught:
        await store.get_range("mem://a/x", 0, 10)
    copy = pickle.loads(pickle.dumps(caught.value))
    assert type(copy) is CompressedRange and "br-compressed" in str(copy)


async def test_a_streamed_compressed_put_pulls_its_input_lazily() -> None:
    pulled = 0

    async def source() -> AsyncIterator[bytes]:
        nonlocal pulled
        for _ in range(100):
            pulled += 1
            yield os.urandom(1 << 16)

    stored = await encode(source(), "gzip", 1)
    assert not isinstance(stored, (bytes, bytearray, memoryview))
    parts = aiter(stored)
    assert await anext(parts) == MAGIC + bytes([1, 1])
    await anext(parts)
    assert pulled <= 2  # compressed as it arrives, not gathered first
    await parts.aclose()  # type: ignore[attr-defined]


async def test_streamed_compression_and_decompression_keep_memory_bounded(tmp_path: Path) -> None:
    store, uri = FileRaw(), f"{tmp_path}/big"
    chunk, count = 1 << 20, 32  # 32 MiB through the codec

    async def source() -> AsyncIterator[bytes]:
        block = os.urandom(chunk // 2)  # half random, half zeros: some work for the codec
        for _ in range(count):
            yield block + bytes(chunk // 2)

    tracemalloc.start()
    try:
        await store.put(uri, source(), compress="zstd")
        _, put_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        total = 0
        async for part in store.stream(uri, chunk_size=chunk):
            total += len(part)
        _, stream_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert total == chunk * count
    assert await store.size(uri) < chunk * count * 0.6
    await store.aclose()
    assert put_peak < 12 * chunk and stream_peak < 12 * chunk


async def test_a_compressed_source_blob_reads_the_same_through_a_file_cache_miss_and_hit(
    tmp_path: Path,
) -> None:
    source = Sha1Store(FileRaw(), f"{tmp_path}/source/")
    key = await source.write(TEXT, compress="gzip")
    cache = HashCache(FileRaw(), f"{tmp_path}/cache/", algorithm="sha1")
    chain = HashComposite(algorithm="sha1")
    chain.append_cache(cache)
    chain.append_source(source, cache_result=True)
    async with chain:
        assert await chain.get(key) == TEXT  # the miss: from the source, decoded
        await chain.flush()
        assert (tmp_path / "cache" / key).read_bytes() == TEXT  # the cache holds plain bytes
        assert await chain.get(key) == TEXT  # the hit
        assert chain.stats.tiers[0].hits == 1
        assert (await chain.get(key, stored=True)) == TEXT  # the cache answers first
        await chain.delete(key)  # removed from the cache only (the source is not writable)
        stored = await source.get(key, stored=True)
        assert stored.startswith(MAGIC) and await chain.get(key, stored=True) == stored
        assert b"".join([c async for c in chain.stream(key, stored=True)]) == stored
        with pytest.raises(CompressedRange):
            await chain.get_range(key, 0, 10)
        assert not await cache.exists(key)  # raw reads fill nothing
        assert b"".join([c async for c in chain.stream(key, chunk_size=5000)]) == TEXT
        await chain.flush()
        assert (tmp_path / "cache" / key).read_bytes() == TEXT


async def test_a_chain_put_compresses_in_every_writable_source(tmp_path: Path) -> None:
    first, second = HashStore(MemoryRaw(), "mem://one/"), HashStore(FileRaw(), f"{tmp_path}/2/")
    chain = HashComposite()
    chain.append_source(first, write=True)
    chain.append_source(second, write=True)
    async with chain:
        key = await chain.write(_chunks(TEXT, 30_000), compress="zstd")
        await chain.flush()
        assert key == hashlib.sha256(TEXT).hexdigest()
        for store in (first, second):
            assert (await store.get(key, stored=True)).startswith(MAGIC + bytes([1, 3]))
            assert await store.get(key) == TEXT
        with pytest.raises(InvalidDataFound):  # a stored form that decodes to other data
            await chain.put(key, await encode(b"other", "gzip", None), stored=True)


async def test_verified_stores_check_the_digest_of_the_decoded_data() -> None:
    store = HashStore(MemoryRaw(), "mem://v/", verify=True)
    key = hashlib.sha256(TEXT).hexdigest()
    await store.put(key, TEXT, compress="gzip")
    stored = await store.get(key, stored=True)
    assert gzip.decompress(stored[HEADER_SIZE:]) == TEXT
    other = hashlib.sha256(b"other").hexdigest()
    with pytest.raises(InvalidDataFound):
        await store.put(other, stored, stored=True)
    with pytest.raises(InvalidDataFound):
        await store.put(other, _chunks(stored, 1000), stored=True)
    with pytest.raises(NotFoundInStore):
        await store.get(other)
    await store.put(key, _chunks(stored, 1000), stored=True)  # the right digest: accepted
    assert b"".join([c async for c in store.stream(key, stored=True)]) == stored


async def test_local_path_of_a_compressed_file_is_a_decoded_copy(tmp_path: Path) -> None:
    store, uri = FileRaw(), f"{tmp_path}/blob"
    await store.put(uri, TEXT, compress="br")
    async with store.local_path(uri) as path:
        assert path != Path(uri)
        assert path.read_bytes() == TEXT
    await store.put(uri, TEXT)
    async with store.local_path(uri) as path:
        assert path == Path(uri)


async def test_an_api_source_returning_the_stored_form_is_decoded() -> None:
    stored = await encode(TEXT, "gzip", None)

    async def handler(uri: str) -> bytes:
        return stored  # type: ignore[return-value]

    store = CallbackStore(handler)
    assert await store.get("anything") == TEXT
    assert await store.get("anything", stored=True) == stored
