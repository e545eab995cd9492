"""A zstd blob of incompressible data streams back whole, whatever the chunk sizes."""

from __future__ import annotations

import os

import pytest

from asyncbitstore import MemoryRaw
from asyncbitstore.compression.frame import CorruptFrame
from asyncbitstore.compression.zstd import Zstd

pytest.importorskip("zstandard")

DATA = os.urandom(3 << 20)  # stored as raw blocks: a decoded byte per payload byte


@pytest.mark.parametrize("chunk_size", [4096, 64 << 10, 1 << 20, 4 << 20])
async def test_a_random_zstd_blob_streams_back_whole(chunk_size: int) -> None:
    store = MemoryRaw()
    await store.put("mem://t/random", DATA, compress="zstd")
    got = b"".join([chunk async for chunk in store.stream("mem://t/random", chunk_size)])
    assert len(got) == len(DATA)
    assert got == DATA


@pytest.mark.parametrize("fed", [1 << 10, 64 << 10, 300 << 10, 1 << 20])
@pytest.mark.parametrize("limit", [64 << 10, 1 << 20, 8 << 20])
def test_the_decoder_yields_every_byte_at_any_feed_and_output_size(fed: int, limit: int) -> None:
    codec = Zstd()
    payload = codec.compress(DATA, 3)
    decoder = codec.decompressor()
    out: list[bytes] = []
    for start in range(0, len(payload), fed):
        out.extend(decoder.feed(payload[start : start + fed], limit))
    out.extend(decoder.finish())
    assert all(len(piece) <= max(limit, 1 << 20) for piece in out)
    assert b"".join(out) == DATA


def test_a_frame_cut_short_is_an_error_not_a_shorter_blob() -> None:
    codec = Zstd()
    payload = codec.compress(DATA, 3)
    decoder = codec.decompressor()
    with pytest.raises(CorruptFrame):
        list(decoder.feed(payload[: len(payload) // 2], 1 << 20))
        list(decoder.finish())
