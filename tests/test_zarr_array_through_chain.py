"""A zarr array written through `BitstoreStore` over a memory cache and a file source reads back
through a cold cache (new chain objects over the same files) and then from the warm cache."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("zarr")

import numpy as np
import zarr
from zarr.api import asynchronous as zarr_async

from asyncbitstore import Composite, FileRaw, MemoryRaw, PrefixCache, PrefixStore
from asyncbitstore.zarr import BitstoreStore

SHAPE = (40, 30)
CHUNKS = (10, 10)
CHUNK_COUNT = 4 * 3


def chain_over(source_root: Path) -> Composite:
    chain = Composite()
    chain.append_cache(PrefixCache(MemoryRaw(), "mem://hot/"), name="memory")
    chain.append_source(
        PrefixStore(FileRaw(), f"{source_root}/"), name="files", write=True, cache_result=True
    )
    return chain


async def test_array_round_trip_cold_then_warm_cache(tmp_path: Path) -> None:
    values = np.arange(SHAPE[0] * SHAPE[1], dtype="int32").reshape(SHAPE)
    writer = chain_over(tmp_path)
    async with writer:
        array = await zarr_async.create_array(
            BitstoreStore(writer, "arrays/t/"), shape=SHAPE, chunks=CHUNKS, dtype="int32"
        )
        await array.setitem(slice(None), values)
    chunk_files = list((tmp_path / "arrays" / "t" / "c").rglob("*"))
    assert len([path for path in chunk_files if path.is_file()]) == CHUNK_COUNT
    assert (tmp_path / "arrays" / "t" / "zarr.json").is_file()

    reader = chain_over(tmp_path)  # a cold cache: nothing in its memory tier
    async with reader:
        store = BitstoreStore(reader, "arrays/t/", read_only=True)
        opened = await zarr_async.open_array(store=store, mode="r")
        assert opened.shape == SHAPE
        assert np.array_equal(await opened.getitem(slice(None)), values)
        await reader.flush()  # let the background fills of the cache land
        cold = reader.chain_stats
        assert cold is not None
        assert cold.tier("memory").hits == 0
        assert cold.tier("files").hits >= CHUNK_COUNT

        reader.reset_stats()
        again = await zarr_async.open_array(store=store, mode="r")
        assert np.array_equal(await again.getitem(slice(None)), values)
        warm = reader.chain_stats
        assert warm is not None
        assert warm.tier("memory").hits >= CHUNK_COUNT + 1  # every chunk and the metadata
        assert warm.tier("files").hits == 0

        part = await again.getitem((slice(5, 15), slice(0, 10)))
        assert np.array_equal(part, values[5:15, 0:10])


async def test_a_read_only_store_refuses_array_writes(tmp_path: Path) -> None:
    chain = chain_over(tmp_path)
    async with chain:
        array = await zarr_async.create_array(
            BitstoreStore(chain), shape=(4,), chunks=(2,), dtype="uint8"
        )
        await array.setitem(slice(None), np.arange(4, dtype="uint8"))
        reader = await zarr_async.open_array(store=BitstoreStore(chain, read_only=True), mode="r")
        with pytest.raises(ValueError, match="read-only"):
            await reader.setitem(slice(None), np.zeros(4, dtype="uint8"))
        assert list(await array.getitem(slice(None))) == [0, 1, 2, 3]


def test_the_synchronous_zarr_api_over_a_chain(tmp_path: Path) -> None:
    """zarr's blocking API runs the store on its own event loop thread."""
    root = zarr.open_group(BitstoreStore(chain_over(tmp_path)), mode="w")
    array = root.create_array("sync", shape=(6, 6), chunks=(3, 3), dtype="float64")
    array[:] = np.ones((6, 6))
    group = zarr.open_group(BitstoreStore(chain_over(tmp_path)), mode="r")
    assert set(group.array_keys()) == {"sync"}
    assert float(group["sync"][:].sum()) == 36.0
    alone = zarr.open_array(BitstoreStore(chain_over(tmp_path), "sync/"), mode="r")
    assert alone[1:2, 1:2].tolist() == [[1.0]]
