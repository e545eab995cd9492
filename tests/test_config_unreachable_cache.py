"""A plain chain's cache that can hold none of its sources' URIs is refused, naming the forms
that would work; a mirror cache built from TOML serves the sources' full URIs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from asyncbitstore import Composite
from asyncbitstore.config import ConfigError


def plain(*tiers: dict[str, Any]) -> dict[str, Any]:
    return {"chain": {"kind": "plain"}, "tier": list(tiers)}


S3 = {"role": "source", "uri": "s3://bucket/data/", "endpoint": "http://127.0.0.1:9"}


def test_a_memory_cache_in_front_of_s3_is_refused() -> None:
    with pytest.raises(ConfigError) as caught:
        Composite.from_config(plain({"role": "cache", "uri": "mem://hot/"}, S3))
    assert str(caught.value) == (
        "configuration: tier 1 (mem://hot/): this cache accepts none of the sources' URIs "
        "(such as 's3://bucket/data/x'), so the chain would never use it; set mirror = true to "
        'keep copies of the sources\' URIs under this one, or use [chain] kind = "named" with '
        "relative keys"
    )
    assert (caught.value.tier, caught.value.option) == (1, "uri")


def test_a_file_cache_confined_to_another_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"tier 1 .*accepts none of the sources' URIs"):
        Composite.from_config(
            plain(
                {"role": "cache", "uri": f"{tmp_path}/cache/"},
                {"role": "source", "uri": f"{tmp_path}/data/"},
            )
        )


def test_a_cache_that_holds_some_source_uris_is_accepted(tmp_path: Path) -> None:
    chain = Composite.from_config(
        plain({"role": "cache", "uri": "mem://hot/"}, {"role": "source", "uri": "mem://src/"}, S3)
    )
    assert len(chain.tiers) == 3


def test_an_api_source_leaves_the_cache_alone(tmp_path: Path) -> None:
    # Nobody can tell which URIs an api source has: nothing is refused.
    chain = Composite.from_config(
        plain(
            {"role": "cache", "uri": "mem://hot/"},
            {"role": "source", "api": "asyncbitstore:MemoryRaw"},
        )
    )
    assert len(chain.tiers) == 2


async def test_a_mirror_chain_from_toml_caches_full_uris(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "a.png").write_bytes(b"picture")
    path = tmp_path / "bitstore.toml"
    path.write_text(
        f"""
[chain]
kind = "plain"

[[tier]]
role = "cache"
uri = "mem://mirror/"
mirror = true

[[tier]]
role = "cache"
uri = "mirror/"
mirror = true
max_bytes = 1_000_000

[[tier]]
role = "source"
uri = "{data}/"
cache_result = true
"""
    )
    uri = f"file://{data}/a.png"
    async with Composite.from_config(path) as chain:
        assert await chain.get(uri) == b"picture"
        await chain.flush()
        memory, files, _ = (tier.store for tier in chain.tiers)
        assert await memory.get(uri) == b"picture"
        assert await files.get(uri) == b"picture"
        (data / "a.png").unlink()
        assert await chain.get(uri) == b"picture"  # from the mirror
        assert [k async for k in chain.list(f"file://{data}/")] == []  # sources only
