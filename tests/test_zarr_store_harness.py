"""`asyncbitstore.zarr.BitstoreStore` passes zarr's own store test suite, over a named chain
(memory cache in front of a file source) and over a raw memory store with a URI prefix."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("zarr")

from zarr.core.buffer import Buffer, cpu, default_buffer_prototype
from zarr.testing.store import StoreTests

from asyncbitstore import (
    Composite,
    FileRaw,
    InvalidRange,
    MemoryRaw,
    PrefixCache,
    PrefixStore,
    S3Raw,
)
from asyncbitstore.zarr import BitstoreStore
from tests.contract.targets_s3 import fresh_bucket


def named_chain(root: Path) -> Composite:
    chain = Composite()
    chain.append_cache(PrefixCache(MemoryRaw(), "mem://hot/"), name="memory")
    chain.append_source(
        PrefixStore(FileRaw(), f"{root}/source/"), name="files", write=True, cache_result=True
    )
    return chain


class _Harness(StoreTests[BitstoreStore, cpu.Buffer]):
    store_cls = BitstoreStore
    buffer_cls = cpu.Buffer

    async def set(self, store: BitstoreStore, key: str, value: Buffer) -> None:
        await store.store.put(store.prefix + key, value.to_bytes())

    async def get(self, store: BitstoreStore, key: str) -> Buffer:
        return self.buffer_cls.from_bytes(await store.store.get(store.prefix + key))

    def test_store_repr(self, store: BitstoreStore) -> None:
        assert repr(store).startswith("BitstoreStore(")
        assert repr(store.prefix) in repr(store)

    def test_store_supports_writes(self, store: BitstoreStore) -> None:
        assert store.supports_writes

    def test_store_supports_listing(self, store: BitstoreStore) -> None:
        assert store.supports_listing


class TestOverNamedChain(_Harness):
    @pytest.fixture
    def store_kwargs(self, tmp_path: Path) -> dict[str, Any]:
        return {"store": named_chain(tmp_path), "prefix": "arrays/"}


class TestOverRawMemory(_Harness):
    @pytest.fixture
    def store_kwargs(self) -> dict[str, Any]:
        return {"store": MemoryRaw(), "prefix": "mem://zarr/root/"}


class TestOverRawFiles(_Harness):
    @pytest.fixture
    def store_kwargs(self, tmp_path: Path) -> dict[str, Any]:
        return {"store": FileRaw(), "prefix": f"{tmp_path}/zarr/"}


@pytest.fixture(scope="module")
async def s3_bucket(moto_server: Any) -> AsyncIterator[tuple[S3Raw, str]]:
    async with (
        fresh_bucket(moto_server.url) as (bucket, _),
        S3Raw(endpoint_url=moto_server.url) as s3,
    ):
        yield s3, bucket


class TestOverS3(_Harness):
    """Over S3 on moto; zarr's blocking tests use the same `S3Raw` from zarr's own loop."""

    @pytest.fixture
    def store_kwargs(self, s3_bucket: tuple[S3Raw, str]) -> dict[str, Any]:
        s3, bucket = s3_bucket
        return {"store": s3, "prefix": f"s3://{bucket}/{uuid.uuid4().hex}/"}


async def test_a_prefix_must_end_in_a_slash() -> None:
    with pytest.raises(ValueError, match="must be empty or end in '/'"):
        BitstoreStore(MemoryRaw(), "mem://zarr/root")


async def test_only_asyncbitstore_stores_are_wrapped() -> None:
    with pytest.raises(TypeError, match="wraps an asyncbitstore Store"):
        BitstoreStore({}, "")  # type: ignore[arg-type]


async def test_negative_ranges_are_refused() -> None:
    from zarr.abc.store import OffsetByteRequest, RangeByteRequest, SuffixByteRequest

    store = BitstoreStore(MemoryRaw(), "mem://z/")
    await store.set("c/0", cpu.Buffer.from_bytes(b"abcd"))
    for bad in (RangeByteRequest(3, 1), OffsetByteRequest(-1), SuffixByteRequest(-2)):
        with pytest.raises(InvalidRange, match="need 0 <= start <= end"):
            await store.get("c/0", default_buffer_prototype(), bad)


async def test_ranges_past_the_end_and_of_compressed_blobs() -> None:
    from zarr.abc.store import OffsetByteRequest, RangeByteRequest, SuffixByteRequest

    raw = MemoryRaw()
    store = BitstoreStore(raw, "mem://z/")
    await raw.put("mem://z/c/0", b"0123456789", compress="gzip")
    proto = default_buffer_prototype()
    cases = {
        RangeByteRequest(2, 5): b"234",
        OffsetByteRequest(7): b"789",
        SuffixByteRequest(3): b"789",
        SuffixByteRequest(30): b"0123456789",
    }
    for request, expected in cases.items():
        found = await store.get("c/0", proto, request)
        assert found is not None and found.to_bytes() == expected, request
    await raw.put("mem://z/c/1", b"abc")
    past = await store.get("c/1", proto, RangeByteRequest(10, 20))
    assert past is not None and past.to_bytes() == b""
    assert await store.get("c/2", proto, RangeByteRequest(0, 1)) is None


async def test_suffix_of_a_plain_blob_kept_behind_a_header() -> None:
    """Data that starts like a compressed frame is stored behind a header, so its stored size
    is larger than the data; a suffix must still be the data's last bytes."""
    from zarr.abc.store import SuffixByteRequest

    from asyncbitstore.compression.frame import MAGIC

    raw = MemoryRaw()
    store = BitstoreStore(raw, "mem://z/")
    data = MAGIC + b"0123456789"
    await store.set("c/0", cpu.Buffer.from_bytes(data))
    assert await raw.size("mem://z/c/0") > len(data)
    found = await store.get("c/0", default_buffer_prototype(), SuffixByteRequest(4))
    assert found is not None and found.to_bytes() == b"6789"
