"""The ``bitstore`` command with named keys (a ``kind = "named"`` chain) and with full URIs
through mirror caches (a plain chain), run as a subprocess; the S3 source is moto."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.contract.targets_s3 import fresh_bucket
from tests.test_cli import Bitstore, bitstore  # noqa: F401 - the fixture

pytestmark = pytest.mark.servers


@pytest.fixture
async def bucket(moto_server: Any) -> AsyncIterator[str]:
    async with fresh_bucket(moto_server.url) as (name, _):
        yield name


def s3_tier(bucket: str, endpoint: str, uri: str) -> str:
    return f"""
[[tier]]
role = "source"
uri = "{uri}"
endpoint = "{endpoint}"
region = "us-east-1"
write = true
cache_result = true
"""


async def test_named_keys_through_put_get_cat_exists_ls_rm(
    bitstore: Bitstore,  # noqa: F811
    bucket: str,
    moto_server: Any,
) -> None:
    bitstore.config(
        """
[chain]
kind = "named"

[[tier]]
role = "cache"
uri = "cache/"
"""
        + s3_tier(bucket, moto_server.url, f"s3://{bucket}/assets/")
    )
    (bitstore.home / "one.png").write_bytes(b"one")
    put = await bitstore("put", "--key", "img/1.png", "one.png")
    assert (put.code, put.text, put.err) == (0, "img/1.png\n", "")
    put = await bitstore("put", "-k", "img/2.png", "-", stdin=b"two")
    assert (put.code, put.text) == (0, "img/2.png\n")
    got = await bitstore("get", "img/1.png")
    assert (got.code, got.out) == (0, b"one")
    assert (bitstore.home / "cache" / "img" / "1.png").read_bytes() == b"one"
    cat = await bitstore("cat", "img/1.png", "img/2.png")
    assert (cat.code, cat.out) == (0, b"onetwo")
    exists = await bitstore("exists", "img/1.png", "img/9.png")
    assert (exists.code, exists.text) == (1, "present  img/1.png\nmissing  img/9.png\n")
    ls = await bitstore("ls")
    assert (ls.code, ls.text) == (0, "img/1.png\nimg/2.png\n")
    ls = await bitstore("ls", "--flat")
    assert (ls.code, ls.text) == (0, "img/\n")
    ls = await bitstore("--json", "ls", "img/")
    assert (ls.code, ls.json()) == (0, ["img/1.png", "img/2.png"])
    rm = await bitstore("rm", "img/1.png")
    assert rm.code == 0
    ls = await bitstore("ls")
    assert (ls.code, ls.text) == (0, "img/2.png\n")
    gone = await bitstore("get", "img/1.png")
    assert gone.code == 1


async def test_put_in_a_named_chain_needs_one_valid_key(bitstore: Bitstore) -> None:  # noqa: F811
    bitstore.config(
        f"""
[chain]
kind = "named"

[[tier]]
role = "source"
uri = "{bitstore.home}/files/"
write = true
"""
    )
    (bitstore.home / "a.txt").write_bytes(b"a")
    bare = await bitstore("put", "a.txt")
    assert bare.code == 2
    assert "put needs --key KEY for a chain whose keys are names or URIs" in bare.err
    two = await bitstore("put", "--key", "a.txt", "a.txt", "a.txt")
    assert two.code == 2 and "--key names one blob, and 2 files were given" in two.err
    bad = await bitstore("put", "--key", "../a.txt", "a.txt")
    assert bad.code == 2 and "invalid URI '../a.txt'" in bad.err
    assert not (bitstore.home / "a.txt.stored").exists()
    helped = await bitstore("put", "--help")
    assert "--key" in helped.text and "img/1.png" in helped.text


async def test_key_is_refused_in_a_content_addressed_chain(bitstore: Bitstore) -> None:  # noqa: F811
    (bitstore.home / "a.txt").write_bytes(b"a")
    keyed = await bitstore("put", "--key", "x", "a.txt")
    assert keyed.code == 2 and "--key does not apply to a content-addressed chain" in keyed.err


async def test_full_uris_through_a_mirror_cache(
    bitstore: Bitstore,  # noqa: F811
    bucket: str,
    moto_server: Any,
) -> None:
    bitstore.config(
        """
[chain]
kind = "plain"

[[tier]]
role = "cache"
uri = "mirror/"
mirror = true
"""
        + s3_tier(bucket, moto_server.url, f"s3://{bucket}/")
    )
    (bitstore.home / "a.png").write_bytes(b"picture")
    uri = f"s3://{bucket}/a.png"
    put = await bitstore("put", "--key", uri, "a.png")
    assert (put.code, put.text) == (0, uri + "\n")
    got = await bitstore("get", uri)
    assert (got.code, got.out) == (0, b"picture")
    assert (bitstore.home / "mirror" / "s3" / bucket / "a.png").read_bytes() == b"picture"
    ls = await bitstore("ls", f"s3://{bucket}/")
    assert (ls.code, ls.text) == (0, uri + "\n")
    other = await bitstore("ls", "gs://elsewhere/")
    assert other.code == 2 and "invalid URI 'gs://elsewhere/'" in other.err
