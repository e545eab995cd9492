"""``size_many`` and ``head_many``: sizes and metas of many blobs at once, ``None`` for a miss.

They run like the other bulk methods (bounded concurrency, any iterable or async iterable of
URIs, progress bars, ``return_exceptions``); a bounded cache folder answers a list of URIs in
batches of worker-thread jobs; a chain answers each URI from the first tier that has it, and
never reports an outage as a miss.
"""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import AsyncIterator, Iterable
from pathlib import Path
from typing import Any

import pytest

from asyncbitstore import Composite, FileRaw, HTTPRaw, MemoryRaw, Retry, S3Raw, Store
from asyncbitstore.bounded_cache import BoundedFileRaw
from asyncbitstore.errors import InvalidURI, NotFoundInStore, PathEscapesRoot, StoreNotAvailable
from asyncbitstore.meta import ObjectMeta
from asyncbitstore.sync import SyncStore
from asyncbitstore.testing import CallbackStore, FaultyStore
from tests.contract.targets_s3 import fresh_bucket

SIZES = {"a": 1, "bb": 2, "ccc": 3}


async def _aiter(items: Iterable[str]) -> AsyncIterator[str]:
    for item in items:
        await asyncio.sleep(0)
        yield item


async def _filled(store: Store, prefix: str) -> list[str]:
    uris = []
    for name, size in SIZES.items():
        uri = f"{prefix}{name}blob"
        await store.put(uri, b"x" * size)
        uris.append(uri)
    return uris


async def _check_store(store: Store, prefix: str) -> None:
    """Both methods on ``store`` agree with its single-URI ``size`` and ``head``."""
    uris = await _filled(store, prefix)
    missing = f"{prefix}nothing-here"
    asked = [*uris, missing]
    sizes = await store.size_many(asked, concurrency=2)
    assert sizes == {uri: await store.size(uri) for uri in uris} | {missing: None}
    assert [sizes[uri] for uri in uris] == list(SIZES.values())
    metas = await store.head_many(_aiter(asked), concurrency=2)
    assert metas.keys() == set(asked)
    assert metas[missing] is None
    for uri in uris:
        assert metas[uri] == await store.head(uri)
    assert await store.size_many([]) == {}
    assert await store.head_many(_aiter([])) == {}


async def test_memory_store() -> None:
    await _check_store(MemoryRaw(), "mem://t/")


async def test_file_store(tmp_path: Path) -> None:
    async with FileRaw() as store:
        await _check_store(store, f"{tmp_path}/")


async def test_bounded_cache_folder(tmp_path: Path) -> None:
    async with BoundedFileRaw(FileRaw(), f"{tmp_path}/", 1 << 20) as store:
        await _check_store(store, f"{tmp_path}/")


async def test_s3_on_moto(moto_server: Any) -> None:
    async with (
        fresh_bucket(moto_server.url) as (bucket, _),
        S3Raw(endpoint_url=moto_server.url) as store,
    ):
        await _check_store(store, f"s3://{bucket}/meta/")
        metas = await store.head_many([f"s3://{bucket}/meta/ablob"])
        meta = metas[f"s3://{bucket}/meta/ablob"]
        assert meta is not None and meta.etag is not None


async def test_bounded_cache_folder_answers_a_list_in_batches(tmp_path: Path) -> None:
    raw = FileRaw()
    store = BoundedFileRaw(raw, f"{tmp_path}/", 1 << 20)
    uris = [f"{tmp_path}/blob{i:03d}" for i in range(200)]
    for uri in uris[::2]:
        await store.put(uri, b"y" * 5)
    jobs = 0
    submit = raw._batcher.submit

    def counting(fn: Any, *args: Any) -> Any:
        nonlocal jobs
        jobs += 1
        return submit(fn, *args)

    raw._batcher.submit = counting  # type: ignore[method-assign]
    sizes = await store.size_many(uris)
    metas = await store.head_many(uris)
    assert sizes == {uri: (5 if i % 2 == 0 else None) for i, uri in enumerate(uris)}
    assert [uri for uri, meta in metas.items() if meta is not None] == uris[::2]
    assert all(meta is None or meta.size == 5 for meta in metas.values())
    assert jobs <= 10  # 400 answers, a few dozen per worker-thread job
    await store.aclose()


async def test_bounded_cache_folder_batch_with_a_bad_entry(tmp_path: Path) -> None:
    store = BoundedFileRaw(FileRaw(), f"{tmp_path}/", 1 << 20)
    good, bad = f"{tmp_path}/good", f"{tmp_path}/evil"
    await store.put(good, b"abc")
    (tmp_path / "ev" / "il").mkdir(parents=True)
    os.symlink("/etc/hostname", tmp_path / "ev" / "il" / "evil")  # the blob's place, a link
    with pytest.raises(PathEscapesRoot):
        await store.size(bad)
    answers = await store.size_many([good, bad], return_exceptions=True)
    assert answers[good] == 3
    assert isinstance(answers[bad], PathEscapesRoot)
    metas = await store.head_many([bad, good], return_exceptions=True)
    assert isinstance(metas[bad], PathEscapesRoot) and isinstance(metas[good], ObjectMeta)
    with pytest.raises(PathEscapesRoot):
        await store.head_many([good, bad])
    invalid = await store.size_many([good, "/elsewhere/x1234"], return_exceptions=True)
    assert invalid[good] == 3 and isinstance(invalid["/elsewhere/x1234"], InvalidURI)
    with pytest.raises(InvalidURI):
        await store.size_many([good, "/elsewhere/x1234"])
    await store.aclose()


async def test_chain_answers_from_the_first_tier_that_has_the_blob() -> None:
    cache, source = MemoryRaw(), MemoryRaw()
    await source.put("mem://a/both", b"source copy")
    await cache.put("mem://a/both", b"cached")
    await source.put("mem://a/below", b"12345")
    chain = Composite()
    chain.append_cache(cache)
    chain.append_source(source)
    sizes = await chain.size_many(["mem://a/both", "mem://a/below", "mem://a/none"])
    assert sizes == {"mem://a/both": 6, "mem://a/below": 5, "mem://a/none": None}
    metas = await chain.head_many(["mem://a/both", "mem://a/below"])
    assert metas["mem://a/both"] == await cache.head("mem://a/both")
    assert metas["mem://a/below"] == await source.head("mem://a/below")


async def test_chain_with_a_failing_tier_never_calls_an_outage_a_miss() -> None:
    source = MemoryRaw()
    await source.put("mem://a/x", b"data")
    chain = Composite()
    chain.append_cache(FaultyStore(MemoryRaw(), outage=True))
    chain.append_source(source)
    uris = ["mem://a/x", "mem://a/missing"]
    sizes = await chain.size_many(uris, return_exceptions=True)
    assert sizes["mem://a/x"] == 4
    assert isinstance(sizes["mem://a/missing"], StoreNotAvailable)
    metas = await chain.head_many(uris, return_exceptions=True)
    assert isinstance(metas["mem://a/x"], ObjectMeta)
    assert isinstance(metas["mem://a/missing"], StoreNotAvailable)
    with pytest.raises(StoreNotAvailable):
        await chain.size_many(uris)
    with pytest.raises(StoreNotAvailable):
        await chain.head_many(uris)


async def test_chain_over_a_port_with_nothing_listening() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}/"

    async def answer(uri: str) -> bytes | None:
        return None if uri.endswith("none") else b"1234"

    chain = Composite()
    chain.append_cache(HTTPRaw(retry=Retry(attempts=1)))
    chain.append_source(CallbackStore(answer))
    uris = [url + "k", url + "none"]
    sizes = await chain.size_many(uris, return_exceptions=True)
    assert sizes[url + "k"] == 4
    assert isinstance(sizes[url + "none"], StoreNotAvailable)
    metas = await chain.head_many([url + "k"])
    assert metas == {url + "k": ObjectMeta(size=4)}
    await chain.aclose()


async def test_first_failure_cancels_the_rest() -> None:
    started: list[str] = []

    class Slow(MemoryRaw):
        async def size(self, uri: str) -> int:
            started.append(uri)
            if uri.endswith("/bad"):
                raise StoreNotAvailable(self, "down", uri=uri)
            await asyncio.sleep(30)
            raise AssertionError("never reached")

    uris = ["mem://t/bad"] + [f"mem://t/{i}" for i in range(50)]
    with pytest.raises(StoreNotAvailable):
        await asyncio.wait_for(Slow().size_many(uris, concurrency=4), 20)
    assert len(started) <= 8  # the rest never started


async def test_return_exceptions_keeps_going_and_a_miss_stays_none() -> None:
    store = FaultyStore(MemoryRaw(), error_rate=0.5, seed=3)
    for i in range(20):
        await store.inner.put(f"mem://t/{i}", b"z" * i)
    uris = [f"mem://t/{i}" for i in range(20)] + ["mem://t/none"]
    sizes = await store.size_many(uris, return_exceptions=True)
    assert sizes.keys() == set(uris)
    failed = [uri for uri, size in sizes.items() if isinstance(size, StoreNotAvailable)]
    assert 0 < len(failed) < len(uris)
    for i in range(20):
        assert sizes[f"mem://t/{i}"] in (i, *(sizes[uri] for uri in failed))
    assert sizes["mem://t/none"] is None or "mem://t/none" in failed
    with pytest.raises(StoreNotAvailable):
        await store.head_many(uris)


async def test_progress_bar_counts_every_uri(capsys: pytest.CaptureFixture[str]) -> None:
    store = MemoryRaw()
    uris = await _filled(store, "mem://p/")
    await store.size_many([*uris, "mem://p/none"], progress=True)
    await store.head_many([*uris, "mem://p/none"], progress=True)
    await store.head_many(_aiter(uris), progress=True)
    err = capsys.readouterr().err
    assert "size: 100%" in err and "head: 100%" in err
    assert err.count("4/4") == 2
    assert "3blob" in err  # the async iterable had no known total


async def test_bounded_progress_bar(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    async with BoundedFileRaw(FileRaw(), f"{tmp_path}/", 1 << 20) as store:
        uris = await _filled(store, f"{tmp_path}/")
        assert len(await store.size_many(uris, progress=True)) == 3
    assert "3/3" in capsys.readouterr().err


async def test_arguments_are_checked() -> None:
    store = MemoryRaw()
    with pytest.raises(TypeError, match="str"):
        await store.size_many("mem://t/abc")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="concurrency"):
        await store.head_many(["mem://t/abc"], concurrency=0)
    with pytest.raises(TypeError):
        await store.size_many([123])  # type: ignore[list-item]


def test_sync_store_forms(tmp_path: Path) -> None:
    with SyncStore(MemoryRaw()) as store:
        store.put("mem://s/a", b"12")
        assert store.size_many(["mem://s/a", "mem://s/b"]) == {"mem://s/a": 2, "mem://s/b": None}
        metas = store.head_many(["mem://s/a", "mem://s/b"], concurrency=1)
        assert isinstance(metas["mem://s/a"], ObjectMeta) and metas["mem://s/a"].size == 2
        assert metas["mem://s/b"] is None
    faulty = FaultyStore(MemoryRaw(), outage=True)
    with SyncStore(faulty) as store:
        answers = store.size_many(["mem://s/a"], return_exceptions=True)
        assert isinstance(answers["mem://s/a"], StoreNotAvailable)
        with pytest.raises(StoreNotAvailable):
            store.head_many(["mem://s/a"])


async def test_a_miss_is_not_an_error_for_a_store_with_only_get() -> None:
    async def fetch(uri: str) -> bytes:
        if uri.endswith("none"):
            raise NotFoundInStore(None, uri)
        return b"four"

    store = CallbackStore(fetch)
    assert await store.size_many(["k", "none"]) == {"k": 4, "none": None}
    assert await store.head_many(["k"]) == {"k": ObjectMeta(size=4)}
