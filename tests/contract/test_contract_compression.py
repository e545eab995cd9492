"""Transparent compression, on every store: round trips, the stored form, ranges, streams."""

from __future__ import annotations

import gzip
import hashlib
import json
import random
from collections.abc import AsyncIterator

import brotli
import pytest
import zstandard

from asyncbitstore import BitstoreError, CompressedRange, InvalidRange
from asyncbitstore.compression.codecs import HEADER_SIZE, MAGIC
from asyncbitstore.compression.store_io import encode

from .target import Target

CODECS = ["gzip", "br", "zstd"]
CODEC_IDS = {"gzip": 1, "br": 2, "zstd": 3}


def _sample(size: int = 200_000) -> bytes:
    """Compressible but not trivial: JSON records with random numbers."""
    rng = random.Random(size)
    rows = [{"id": i, "name": f"item-{i}", "score": rng.random()} for i in range(size // 40)]
    return json.dumps(rows).encode()[:size]


def _decode_by_hand(codec: str, payload: bytes) -> bytes:
    if codec == "gzip":
        return gzip.decompress(payload)
    if codec == "br":
        return brotli.decompress(payload)  # type: ignore[no-any-return]
    return zstandard.ZstdDecompressor().decompressobj().decompress(payload)  # type: ignore[no-any-return]


async def _store_stored_form(target: Target, uri: str, stored: bytes) -> None:
    """Put a stored form verbatim: out of band for read-only stores."""
    if target.seed is not None:
        await target.seed(uri, stored)
    else:
        await target.store.put(uri, stored, stored=True)


async def _chunked(data: bytes, size: int) -> AsyncIterator[bytes]:
    for offset in range(0, len(data), size):
        yield data[offset : offset + size]


@pytest.mark.parametrize("codec", CODECS)
async def test_a_compressed_put_round_trips_and_its_stored_form_decodes_by_hand(
    target: Target, codec: str
) -> None:
    if not target.writable:
        pytest.skip("read-only store")
    data, uri = _sample(), target.uri(f"z-{codec}")
    await target.store.put(uri, data, compress=codec)
    assert await target.store.get(uri) == data
    stored = await target.store.get(uri, stored=True)
    assert stored[:HEADER_SIZE] == MAGIC + bytes([1, CODEC_IDS[codec]])
    assert len(stored) < len(data) // 2
    assert _decode_by_hand(codec, stored[HEADER_SIZE:]) == data
    assert await target.store.size(uri) == len(stored)  # size is the stored size


@pytest.mark.parametrize("codec", CODECS)
async def test_a_blob_stored_compressed_is_decoded_by_get_and_stream(
    target: Target, codec: str
) -> None:
    data, uri = _sample(50_000), target.uri(f"s-{codec}")
    stored = await encode(data, codec, None)
    assert isinstance(stored, bytes)
    await _store_stored_form(target, uri, stored)
    assert await target.store.get(uri) == data
    assert await target.store.get(uri, stored=True) == stored
    chunks = [chunk async for chunk in target.store.stream(uri, chunk_size=4096)]
    assert b"".join(chunks) == data
    assert max(map(len, chunks)) <= 4096
    assert b"".join([c async for c in target.store.stream(uri, stored=True)]) == stored


@pytest.mark.parametrize("codec", CODECS)
async def test_a_byte_range_of_a_compressed_blob_raises_our_error(
    target: Target, codec: str
) -> None:
    data, uri = _sample(20_000), target.uri(f"r-{codec}")
    await _store_stored_form(target, uri, await encode(data, codec, None))  # type: ignore[arg-type]
    for start, end in [(0, 100), (0, 3), (10, 50), (5_000, 5_010)]:
        with pytest.raises(CompressedRange, match=f"{codec}-compressed") as caught:
            await target.store.get_range(uri, start, end)
        assert isinstance(caught.value, InvalidRange) and isinstance(caught.value, BitstoreError)


async def test_a_streamed_put_is_compressed_and_round_trips(target: Target) -> None:
    if not target.writable:
        pytest.skip("read-only store")
    data, uri = _sample(300_000), target.uri("streamed")
    await target.store.put(uri, _chunked(data, 10_000), compress="zstd", level=5)
    assert await target.store.get(uri) == data
    stored = await target.store.get(uri, stored=True)
    assert stored.startswith(MAGIC) and len(stored) < len(data) // 2
    assert b"".join([c async for c in target.store.stream(uri, chunk_size=50_000)]) == data


@pytest.mark.parametrize("streamed", [False, True], ids=["bytes", "stream"])
async def test_a_plain_blob_that_starts_with_the_magic_round_trips_exactly(
    target: Target, streamed: bool
) -> None:
    if not target.writable:
        pytest.skip("read-only store")
    data, uri = MAGIC + bytes([1, 2]) + b"not really compressed" * 10, target.uri("lookalike")
    await target.store.put(uri, _chunked(data, 3) if streamed else data)
    assert await target.store.get(uri) == data
    assert b"".join([c async for c in target.store.stream(uri, chunk_size=7)]) == data
    assert await target.store.get_range(uri, 0, 12) == data[:12]
    assert await target.store.get_range(uri, 4, 30) == data[4:30]
    assert (await target.store.get(uri, stored=True)).startswith(MAGIC + bytes([1, 0]))


async def test_a_plain_blob_is_stored_verbatim_and_ranges_still_work(target: Target) -> None:
    if not target.writable:
        pytest.skip("read-only store")
    data, uri = b"0123456789" * 100, target.uri("plain")
    await target.store.put(uri, data)
    assert await target.store.get(uri, stored=True) == data
    assert await target.store.get_range(uri, 0, 5) == b"01234"
    assert await target.store.get_range(uri, 995, 2000) == b"56789"


async def test_a_raw_get_put_back_raw_copies_the_encoding(target: Target) -> None:
    if not target.writable:
        pytest.skip("read-only store")
    data, first, second = _sample(30_000), target.uri("orig"), target.uri("copy")
    await target.store.put(first, data, compress="gzip")
    stored = await target.store.get(first, stored=True)
    await target.store.put(second, stored, stored=True)
    assert await target.store.get(second, stored=True) == stored
    assert await target.store.get(second) == data


async def test_bad_compression_options_are_refused_with_the_valid_names(target: Target) -> None:
    if not target.writable:
        pytest.skip("read-only store")
    uri = target.uri("bad")
    with pytest.raises(ValueError, match="'br', 'gzip', 'zstd'"):
        await target.store.put(uri, b"x", compress="lz4")
    with pytest.raises(ValueError, match="from 0 to 9"):
        await target.store.put(uri, b"x", compress="gzip", level=10)
    with pytest.raises(ValueError, match="compress"):
        await target.store.put(uri, b"x", level=3)
    with pytest.raises(ValueError, match="stored"):
        await target.store.put(uri, b"x", compress="gzip", stored=True)
    assert not await target.store.exists(uri)


async def test_content_addressed_keys_are_digests_of_the_uncompressed_bytes(
    target: Target,
) -> None:
    write = getattr(target.store, "write", None)
    if write is None or not target.writable:
        pytest.skip("not a content-addressed store")
    data = _sample(40_000)
    algorithm = target.store.algorithm  # type: ignore[attr-defined]
    plain_key = await write(data)
    await target.store.delete(plain_key)  # else the second write is skipped: the key is stored
    compressed_key = await write(_chunked(data, 8192), compress="br")
    assert plain_key == compressed_key == hashlib.new(algorithm, data).hexdigest()
    assert await target.store.get(compressed_key) == data
    assert (await target.store.get(compressed_key, stored=True)).startswith(MAGIC)
