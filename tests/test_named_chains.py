"""Chains over named keys: `PrefixCache` tiers in front of a `PrefixStore` source, and
`MirrorCache` tiers in front of S3 and HTTP sources, on real servers."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from asyncbitstore import (
    Composite,
    FileRaw,
    HTTPRaw,
    MemoryRaw,
    MirrorCache,
    NotFoundInStore,
    PrefixCache,
    PrefixStore,
    S3Raw,
)
from tests.contract.targets_s3 import fresh_bucket
from tests.servers import NginxServer


@pytest.fixture
async def bucket(moto_server: Any) -> AsyncIterator[tuple[str, str]]:
    async with fresh_bucket(moto_server.url) as (name, _):
        yield moto_server.url, name


async def test_prefix_caches_in_front_of_an_s3_prefix_store(
    bucket: tuple[str, str], tmp_path: Path
) -> None:
    endpoint, name = bucket
    memory = PrefixCache(MemoryRaw(), "mem://hot/", max_bytes=1 << 20)
    files = PrefixCache(FileRaw(), f"{tmp_path}/warm/", max_bytes=1 << 20)
    source = PrefixStore(S3Raw(endpoint_url=endpoint), f"s3://{name}/assets/")
    chain = Composite()
    chain.append_cache(memory, name="memory")
    chain.append_cache(files)
    chain.append_source(source, name="source", write=True, cache_result=True)
    async with chain:
        await chain.put("img/1.png", b"one")
        assert await source.get("img/1.png") == b"one"
        assert not await memory.exists("img/1.png")  # a put drops cached copies, fills none
        assert await chain.get("img/1.png") == b"one"
        await chain.flush()
        assert await memory.get("img/1.png") == b"one"  # filled above the hit
        assert await files.get("img/1.png") == b"one"
        chain.reset_stats()
        assert await chain.get("img/1.png") == b"one"
        stats = chain.chain_stats
        assert stats is not None and stats.tier("memory").hits == 1
        assert stats.tier("source").hits == 0
        await chain.delete("img/1.png")
        for tier in (memory, files, source):
            assert not await tier.exists("img/1.png")
        with pytest.raises(NotFoundInStore):
            await chain.get("img/1.png")
        assert [k async for k in chain.list("img/")] == []  # the source's keys, now none


async def test_a_file_cache_hit_fills_memory_only(bucket: tuple[str, str], tmp_path: Path) -> None:
    endpoint, name = bucket
    memory = PrefixCache(MemoryRaw(), "mem://hot/")
    files = PrefixCache(FileRaw(), f"{tmp_path}/warm/")
    source = PrefixStore(S3Raw(endpoint_url=endpoint), f"s3://{name}/assets/")
    chain = Composite()
    chain.append_cache(memory, name="memory")
    chain.append_cache(files)
    chain.append_source(source)
    async with chain:
        await files.put("doc/a.txt", b"from files")
        assert await chain.get("doc/a.txt") == b"from files"
        await chain.flush()
        assert await memory.get("doc/a.txt") == b"from files"
        assert not await source.exists("doc/a.txt")


@pytest.fixture
def nginx(nginx_bin: Path, tmp_path: Path) -> Any:
    with NginxServer(tmp_path / "www", binary=nginx_bin) as server:
        yield server


async def test_mirror_caches_in_front_of_s3_and_http_sources(
    bucket: tuple[str, str], nginx: Any, tmp_path: Path
) -> None:
    endpoint, name = bucket
    page = f"{uuid.uuid4().hex}/page.html"
    (nginx.root_dir / page).parent.mkdir(parents=True)
    (nginx.root_dir / page).write_bytes(b"<html>")
    http_uri = f"{nginx.url}/{page}"
    s3_uri = f"s3://{name}/data/x.bin"
    s3 = S3Raw(endpoint_url=endpoint)
    await s3.put(s3_uri, b"s3 bytes")
    memory = MirrorCache(MemoryRaw(), "mem://m/")
    files = MirrorCache(FileRaw(), f"{tmp_path}/mirror/")
    chain = Composite()
    chain.append_cache(memory, name="memory")
    chain.append_cache(files)
    chain.append_source(s3, name="s3", cache_result=True)
    chain.append_source(HTTPRaw(), cache_result=True)
    async with chain:
        assert await chain.get(s3_uri) == b"s3 bytes"
        assert await chain.get(http_uri) == b"<html>"
        await chain.flush()
        assert sorted([u async for u in files.list()]) == sorted([s3_uri, http_uri])
        port = http_uri.split("/")[2].split(":")[1]
        assert (tmp_path / f"mirror/http/127.0.0.1~3A{port}" / page).read_bytes() == b"<html>"
        assert (tmp_path / f"mirror/s3/{name}/data/x.bin").read_bytes() == b"s3 bytes"
        chain.reset_stats()
        for _ in range(3):
            assert await chain.get(s3_uri) == b"s3 bytes"
            assert await chain.get(http_uri) == b"<html>"
        stats = chain.chain_stats
        assert stats is not None
        assert stats.tier("memory").hits == 6
        assert stats.tier("s3").hits == 0


async def test_why_a_mem_cache_before_another_scheme_is_never_used(tmp_path: Path) -> None:
    # A plain chain asks a tier only for URIs it accepts (``is_valid``), and fills only those:
    # a memory store takes mem:// URIs alone, so for every s3:// or file:// key it is skipped,
    # silently (no hit, miss or skip is counted). A mirror takes any full URI.
    uri = f"file://{tmp_path}/src/blob"
    (tmp_path / "src").mkdir()
    (tmp_path / "src/blob").write_bytes(b"data")
    memory, mirror = MemoryRaw(), MirrorCache(MemoryRaw(), "mem://m/")
    assert not memory.is_valid(uri) and not memory.is_valid("s3://bucket/key")
    assert mirror.is_valid(uri) and mirror.is_valid("s3://bucket/key")
    for cache in (memory, mirror):
        chain = Composite()
        chain.append_cache(cache, name="cache")
        chain.append_source(FileRaw(), cache_result=True)
        assert await chain.get(uri) == b"data"
        await chain.flush()
        stats = chain.chain_stats
        assert stats is not None
        figures = stats.tier("cache")
        if cache is memory:
            assert len(memory) == 0 and figures.misses == figures.skipped == 0
        else:
            assert await mirror.get(uri) == b"data" and figures.misses == 1
