"""`ObspecStore` answers every obspec async method, over a memory chain of named tiers and over
S3 (moto), as obspec describes them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Protocol, runtime_checkable

import pytest

from asyncbitstore.errors import AlreadyExists

pytest.importorskip("obspec")

import obspec

from asyncbitstore import (
    Composite,
    InvalidRange,
    MemoryRaw,
    NotFoundInStore,
    PrefixCache,
    PrefixStore,
    S3Raw,
)
from asyncbitstore.obspec import ObspecStore
from tests.contract.targets_s3 import fresh_bucket


@runtime_checkable
class Everything(
    obspec.GetAsync,
    obspec.GetRangeAsync,
    obspec.GetRangesAsync,
    obspec.PutAsync,
    obspec.DeleteAsync,
    obspec.HeadAsync,
    obspec.ListAsync,
    obspec.ListWithDelimiterAsync,
    obspec.CopyAsync,
    obspec.RenameAsync,
    Protocol,
):
    """All of obspec's async protocols at once, checkable with ``isinstance``."""


def memory_chain() -> Composite:
    chain = Composite()
    chain.append_cache(PrefixCache(MemoryRaw(), "mem://hot/"), name="memory")
    chain.append_source(PrefixStore(MemoryRaw(), "mem://source/data/"), name="source", write=True)
    return chain


@pytest.fixture(params=["memory-chain", "s3"])
async def obs(request: pytest.FixtureRequest) -> AsyncIterator[ObspecStore]:
    if request.param == "memory-chain":
        chain = memory_chain()
        async with chain:
            yield ObspecStore(chain)
        return
    moto = request.getfixturevalue("moto_server")
    async with fresh_bucket(moto.url) as (bucket, _), S3Raw(endpoint_url=moto.url) as s3:
        yield ObspecStore(s3, f"s3://{bucket}/data/")


async def test_every_protocol_is_satisfied(obs: ObspecStore) -> None:
    assert isinstance(obs, Everything)


async def test_put_get_and_ranges(obs: ObspecStore, tmp_path: Path) -> None:
    done = await obs.put_async("a/one.bin", b"0123456789")
    assert done == {"e_tag": None, "version": None}

    result = await obs.get_async("a/one.bin")
    assert bytes(await result.buffer_async()) == b"0123456789"
    assert b"".join([bytes(part) async for part in result]) == b"0123456789"
    assert result.range == (0, 10)
    assert result.meta["path"] == "a/one.bin" and result.meta["size"] == 10

    for options, expected, span in [
        ({"range": (2, 5)}, b"234", (2, 5)),
        ({"range": {"offset": 7}}, b"789", (7, 10)),
        ({"range": {"suffix": 4}}, b"6789", (6, 10)),
    ]:
        part = await obs.get_async("a/one.bin", options=options)  # type: ignore[arg-type]
        assert bytes(await part.buffer_async()) == expected
        assert part.range == span
    headed = await obs.get_async("a/one.bin", options={"head": True})
    assert headed.meta["size"] == 10 and bytes(await headed.buffer_async()) == b""

    assert bytes(await obs.get_range_async("a/one.bin", start=1, end=3)) == b"12"
    assert bytes(await obs.get_range_async("a/one.bin", start=1, length=3)) == b"123"
    ranges = await obs.get_ranges_async("a/one.bin", starts=[0, 5], lengths=[2, 5])
    assert [bytes(r) for r in ranges] == [b"01", b"56789"]
    ranges = await obs.get_ranges_async("a/one.bin", starts=[8], ends=[10])
    assert [bytes(r) for r in ranges] == [b"89"]

    with pytest.raises(InvalidRange, match="exactly one of end= and length="):
        await obs.get_range_async("a/one.bin", start=1)
    with pytest.raises(InvalidRange, match="2 starts but 1 ends or lengths"):
        await obs.get_ranges_async("a/one.bin", starts=[0, 1], ends=[1])
    with pytest.raises(NotImplementedError, match="if_none_match"):
        await obs.get_async("a/one.bin", options={"if_none_match": '"x"'})
    with pytest.raises(NotFoundInStore):
        await obs.get_async("a/missing.bin")

    file = tmp_path / "up.bin"
    file.write_bytes(b"from a file")
    await obs.put_async("a/file.bin", file)
    with file.open("rb") as handle:
        await obs.put_async("a/handle.bin", handle, chunk_size=4)

    async def chunks() -> AsyncIterator[bytes]:
        yield b"as"
        yield b"ync"

    await obs.put_async("a/async.bin", chunks())
    await obs.put_async("a/sync.bin", iter([b"sy", b"nc"]))
    for path, expected in [
        ("a/file.bin", b"from a file"),
        ("a/handle.bin", b"from a file"),
        ("a/async.bin", b"async"),
        ("a/sync.bin", b"sync"),
    ]:
        assert bytes(await (await obs.get_async(path)).buffer_async()) == expected

    with pytest.raises(AlreadyExists):  # a create where something is stored
        await obs.put_async("a/one.bin", b"x", mode="create")
    with pytest.raises(NotImplementedError, match="attributes"):
        await obs.put_async("a/one.bin", b"x", attributes={"Content-Type": "text/plain"})
    with pytest.raises(TypeError, match="not int"):
        await obs.put_async("a/one.bin", 5)  # type: ignore[arg-type]


async def test_head_list_copy_rename_delete(obs: ObspecStore) -> None:
    for path in ["d/x/1", "d/x/2", "d/y", "e/z"]:
        await obs.put_async(path, path.encode())
    meta = await obs.head_async("d/y")
    assert meta["path"] == "d/y" and meta["size"] == 3

    pages = [page async for page in obs.list_async("d/")]
    assert sorted(item["path"] for page in pages for item in page) == ["d/x/1", "d/x/2", "d/y"]
    after = [item["path"] async for page in obs.list_async("d/", offset="d/x/1") for item in page]
    assert sorted(after) == ["d/x/2", "d/y"]
    everything = [item["path"] async for page in obs.list_async() for item in page]
    assert sorted(everything) == ["d/x/1", "d/x/2", "d/y", "e/z"]

    level = await obs.list_with_delimiter_async("d")
    assert list(level["common_prefixes"]) == ["d/x"]
    assert [item["path"] for item in level["objects"]] == ["d/y"]

    await obs.copy_async("d/y", "d/copy")
    assert bytes(await obs.get_range_async("d/copy", start=0, end=3)) == b"d/y"
    await obs.rename_async("d/copy", "d/moved")
    with pytest.raises(NotFoundInStore):
        await obs.head_async("d/copy")
    with pytest.raises(NotImplementedError, match="overwrite=False"):
        await obs.copy_async("d/y", "d/other", overwrite=False)

    await obs.delete_async("d/moved")
    await obs.delete_async(["d/x/1", "d/x/2", "never/there"])
    left = [item["path"] async for page in obs.list_async() for item in page]
    assert sorted(left) == ["d/y", "e/z"]


async def test_prefix_must_end_in_a_slash() -> None:
    with pytest.raises(ValueError, match="must be empty or end in '/'"):
        ObspecStore(MemoryRaw(), "mem://b/data")
    with pytest.raises(TypeError, match="wraps an asyncbitstore Store"):
        ObspecStore(object())  # type: ignore[arg-type]
