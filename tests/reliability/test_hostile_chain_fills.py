"""A streamed fill that fails at once must not stall the stream that feeds it (the tee)."""

from __future__ import annotations

import asyncio
import hashlib
import os
from pathlib import Path

from asyncbitstore import FileRaw, MemoryRaw, Sha1Cache, Sha1Composite, Sha1Store
from asyncbitstore._data import PutData
from asyncbitstore.composite._tee import TeePipe

BLOB = os.urandom(64 * 1024)
KEY = hashlib.sha1(BLOB).hexdigest()
CHUNK = 1024  # 64 chunks: far more than a tee pipe holds
LIMIT = 20.0  # generous: a hang fails the test instead of hanging it


class RefusingCache(Sha1Cache):
    """A cache whose puts fail before reading a byte of what they are given."""

    async def put_or_raise(self, uri: str, data: PutData, **options: object) -> None:
        raise OSError("the cache's disk is gone")


async def _source() -> Sha1Store:
    source = Sha1Store(MemoryRaw(), "mem://src/")
    await source.put(KEY, BLOB)
    return source


async def _read(chain: Sha1Composite) -> bytes:
    async def read() -> bytes:
        return b"".join([chunk async for chunk in chain.stream(KEY, chunk_size=CHUNK)])

    return await asyncio.wait_for(read(), LIMIT)


async def test_a_cache_whose_put_fails_at_once_does_not_stall_the_stream() -> None:
    chain = Sha1Composite()
    chain.append_cache(RefusingCache(MemoryRaw(), "mem://c/"))
    chain.append_source(await _source(), cache_result=True)
    assert await _read(chain) == BLOB
    assert await _read(chain) == BLOB  # the next stream of the key is not stuck behind it
    await asyncio.wait_for(chain.flush(), LIMIT)
    stats = chain.stats
    assert stats.fills_failed == 2 and stats.fills_done == 0


async def test_a_cache_folder_that_cannot_be_made_does_not_stall_the_stream(
    tmp_path: Path,
) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_bytes(b"a file where the cache folder should be")
    chain = Sha1Composite()
    chain.append_cache(Sha1Cache(FileRaw(), f"{blocker}/cache/"))
    chain.append_source(await _source(), cache_result=True)
    assert await _read(chain) == BLOB
    assert await _read(chain) == BLOB
    await asyncio.wait_for(chain.flush(), LIMIT)
    assert chain.stats.fills_failed == 2


async def test_a_healthy_cache_beside_a_failing_one_is_still_filled() -> None:
    good = Sha1Cache(MemoryRaw(), "mem://good/")
    chain = Sha1Composite()
    chain.append_cache(RefusingCache(MemoryRaw(), "mem://bad/"))
    chain.append_cache(good)
    chain.append_source(await _source(), cache_result=True)
    assert await _read(chain) == BLOB
    await asyncio.wait_for(chain.flush(), LIMIT)
    assert await good.get(KEY) == BLOB
    assert chain.stats.fills_done == 1 and chain.stats.fills_failed == 1


async def test_a_pipe_whose_reader_left_never_blocks_its_writer() -> None:
    pipe = TeePipe(max_chunks=2)
    await pipe.send(b"a")
    await pipe.send(b"b")
    blocked = asyncio.ensure_future(pipe.send(b"c"))
    await asyncio.sleep(0)
    assert not blocked.done()
    pipe.detach()  # the cache write ended without reading
    await asyncio.wait_for(blocked, LIMIT)
    for _ in range(10):
        await asyncio.wait_for(pipe.send(b"more"), LIMIT)
    await asyncio.wait_for(pipe.finish(), LIMIT)
