"""``[chain] kind = "named"`` and ``mirror = true`` caches from a configuration, and where
their options (``ttl``, ``revalidate``, ``serve_stale``, ``mirror``, ``max_bytes``) are refused."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from asyncbitstore import Composite, MemoryRaw
from asyncbitstore.config import ConfigError, load_config
from asyncbitstore.named import MirrorCache, PrefixCache, PrefixStore
from tests.contract.targets_s3 import fresh_bucket


def named(*tiers: dict[str, Any], kind: str = "named") -> dict[str, Any]:
    return {"chain": {"kind": kind}, "tier": list(tiers)}


def refused(config: dict[str, Any]) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        load_config(config).build()
    return caught.value


def test_a_named_chain_is_prefix_caches_in_front_of_prefix_stores(tmp_path: Path) -> None:
    chain = Composite.from_config(
        named(
            {"role": "cache", "uri": "mem://hot/", "max_bytes": 1000},
            {"role": "cache", "uri": f"{tmp_path}/cache/", "max_bytes": 5000},
            {"role": "source", "uri": f"{tmp_path}/files/", "write": True},
        )
    )
    memory, files, source = (tier.store for tier in chain.tiers)
    assert isinstance(memory, PrefixCache) and memory.max_bytes == 1000
    assert isinstance(files, PrefixCache) and files.max_bytes == 5000
    assert type(source) is PrefixStore and source.prefix == f"{tmp_path}/files/"
    assert chain.is_valid("img/1.png") and not chain.is_valid("../escape")


def test_a_mirror_cache_in_a_plain_chain_keeps_full_uris(tmp_path: Path) -> None:
    chain = Composite.from_config(
        named(
            {"role": "cache", "uri": f"{tmp_path}/mirror/", "mirror": True},
            {"role": "source", "uri": "s3://bucket/", "endpoint": "http://127.0.0.1:9"},
            kind="plain",
        )
    )
    mirror = chain.tiers[0].store
    assert isinstance(mirror, MirrorCache) and mirror.prefix == f"{tmp_path}/mirror/"
    assert mirror.is_valid("s3://bucket/a.png")


def test_freshness_options_become_the_cache_keywords() -> None:
    from asyncbitstore.config._named import cache_keywords

    config = load_config(
        named(
            {"role": "cache", "uri": "mem://a/", "ttl": 30, "revalidate": True},
            {"role": "cache", "uri": "mem://b/", "serve_stale": False, "max_bytes": 10},
            {"role": "source", "uri": "mem://src/"},
        )
    )
    first, second, _ = config.tiers
    assert cache_keywords(first) == {"ttl": 30, "revalidate": True}
    assert cache_keywords(second) == {"serve_stale": False, "max_bytes": 10}


def test_the_freshness_options_reach_the_cache() -> None:
    config = load_config(
        named(
            {"role": "cache", "uri": "mem://a/", "ttl": 2.5, "revalidate": True},
            {"role": "source", "uri": "mem://src/"},
        )
    )
    try:
        chain = config.build()
    except ConfigError as exc:
        if "unexpected keyword" in str(exc):
            pytest.skip("PrefixCache takes no freshness keywords yet (the freshness branch)")
        raise
    cache = chain.tiers[0].store
    assert (getattr(cache, "ttl", None), getattr(cache, "revalidate", None)) == (2.5, True)


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (
            named({"role": "source", "uri": "mem://s/", "ttl": 5}),
            r"configuration: tier 1 \(mem://s/\): option 'ttl' applies to caches; "
            "remove it from this source",
        ),
        (
            named({"role": "cache", "uri": "mem://c/", "revalidate": True}, kind="sha1"),
            r"tier 1 \(mem://c/\): option 'revalidate' is a named cache's freshness; "
            "content-addressed copies never go stale; remove it",
        ),
        (
            named(
                {"role": "cache", "uri": "mem://c/", "serve_stale": False},
                {"role": "source", "uri": "mem://s/"},
                kind="plain",
            ),
            r"tier 1 \(mem://c/\): option 'serve_stale' applies to named caches only; this cache "
            'keeps raw copies; use \\[chain\\] kind = "named", or set mirror = true',
        ),
        (
            named({"role": "cache", "uri": "mem://c/", "mirror": True}),
            r"tier 1 \(mem://c/\): mirror = true is for plain chains; "
            'a kind = "named" chain\'s caches hold its keys already; remove it',
        ),
        (
            named({"role": "source", "uri": "mem://s/", "mirror": True}, kind="plain"),
            r"tier 1 \(mem://s/\): mirror = true makes a cache; remove it from this source",
        ),
        (
            named({"role": "cache", "uri": "mem://c/", "ttl": 0}),
            r"tier 1 \(mem://c/\): ttl must be a positive number of seconds, not 0; fix it",
        ),
        (
            named({"role": "cache", "uri": "mem://c/", "ttl": True}),
            r"tier 1 \(mem://c/\): option 'ttl' must be an integer or a number, not True",
        ),
        (
            named({"role": "cache", "uri": "redis://127.0.0.1:9/0/c/", "ttl": 5}),
            r"tier 1 \(redis://127.0.0.1:9/0/c/\): ttl on a redis:// named cache would mean both",
        ),
        (
            named({"role": "cache", "api": "os:path", "ttl": 5}),
            r"tier 1 \(os:path\): unknown option 'ttl' for an api tier",
        ),
        (
            {"chain": {"kind": "named", "algorithm": "sha256"}, "tier": []},
            r"\[chain\] algorithm = 'sha256' does not fit kind = 'named'",
        ),
        (
            named({"role": "source", "uri": "/srv/files/", "max_bytes": 10}),
            r"tier 1 \(/srv/files/\): max_bytes on a file:// tier bounds a cache",
        ),
    ],
)
def test_options_are_refused_where_they_mean_nothing(config: dict[str, Any], message: str) -> None:
    error = refused(config)
    assert error.tier in (1, None)
    assert re.search(message, str(error)), str(error)


def test_a_redis_tier_keeps_its_own_ttl_outside_named_caches() -> None:
    config = load_config(
        named(
            {"role": "cache", "uri": "redis://127.0.0.1:9/0/c/", "ttl": 5},
            {"role": "source", "uri": "mem://s/"},
            kind="sha1",
        )
    )
    assert config.tiers[0].options["ttl"] == 5


@pytest.fixture
async def bucket(moto_server: Any) -> AsyncIterator[str]:
    async with fresh_bucket(moto_server.url) as (name, _):
        yield name


@pytest.mark.servers
async def test_a_named_chain_from_toml_serves_memory_file_and_s3(
    tmp_path: Path, bucket: str, moto_server: Any
) -> None:
    path = tmp_path / "bitstore.toml"
    path.write_text(
        f"""
[chain]
kind = "named"

[[tier]]
role = "cache"
uri = "mem://hot/"
max_bytes = 1_000_000

[[tier]]
role = "cache"
uri = "cache/"

[[tier]]
role = "source"
uri = "s3://{bucket}/assets/"
endpoint = "{moto_server.url}"
region = "us-east-1"
write = true
cache_result = true
"""
    )
    async with Composite.from_config(path) as chain:
        await chain.put("img/1.png", b"one")
        await chain.put("img/2.png", b"two")
        await chain.put("readme.txt", b"text")
        assert await chain.get("img/1.png") == b"one"
        await chain.flush()
        assert (tmp_path / "cache" / "img" / "1.png").read_bytes() == b"one"
        assert [k async for k in chain.list()] == ["img/1.png", "img/2.png", "readme.txt"]
        assert [k async for k in chain.list("img/")] == ["img/1.png", "img/2.png"]
        assert [k async for k in chain.list("", flat=True)] == ["img/", "readme.txt"]
        await chain.delete("img/1.png")
        assert not await chain.exists("img/1.png")
        assert [k async for k in chain.list()] == ["img/2.png", "readme.txt"]
    async with Composite.from_config(path) as again:  # the S3 source has them
        raw = again.tiers[2].store
        assert await raw.get("img/2.png") == b"two"


def test_a_memory_tier_is_bounded_once(tmp_path: Path) -> None:
    chain = Composite.from_config(
        named(
            {"role": "cache", "uri": "mem://hot/", "max_bytes": 64},
            {"role": "source", "uri": "mem://src/"},
        )
    )
    cache = chain.tiers[0].store
    assert isinstance(cache, PrefixCache)
    assert isinstance(cache.raw, MemoryRaw) and cache.raw.max_bytes == 64
