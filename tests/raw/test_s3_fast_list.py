"""S3Raw.list on the fast path: signed ListObjectsV2 pages read by a small parser.

The fast listing must give the same keys in the same order as botocore's, page after page,
flat or not, for keys XML and URLs find awkward, and the same errors; a hostile server's
oversized or malformed page is a clear error, never a wrong listing.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from asyncbitstore import BucketNotFound, InvalidURI, Retry, S3Raw, StoreNotAvailable
from asyncbitstore.raw.s3._fast import MAX_LIST_PAGE
from asyncbitstore.raw.s3._list import parse_page
from asyncbitstore.raw.s3._sign import Signer, bucket_target, canonical_query
from tests.contract.targets_s3 import fresh_bucket
from tests.faults import FaultProxy
from tests.hostile import Scripted

ONCE = Retry(attempts=1)
KEYS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
NASTY = [
    "with space", "plus+sign", "percent%41", "amp&lt;<>\"'", "ünïcødé/日本語/😀", "tab\there",
    "a/b/c", "a/b/d", "a/e", "a/f/", "top", "eq=1&x=2", "semi;colon,", "hash#frag?query",
    "brackets[]{}^|`", "x" * 250,
]  # fmt: skip
CONTROL = ["ctl\x01bell\x07", "cr\rlf\nend"]


async def _all(chunks: AsyncIterator[str]) -> list[str]:
    return [item async for item in chunks]


@pytest.fixture(params=["moto", "seaweed"])
async def bucket(request: pytest.FixtureRequest) -> AsyncIterator[tuple[str, str, Any]]:
    url = str(request.getfixturevalue(f"{request.param}_server").url)
    async with fresh_bucket(url) as (name, admin):
        yield url, name, admin


async def _fill(admin: Any, name: str, keys: list[str]) -> list[str]:
    """Put ``keys``; the ones the server took (some refuse control characters)."""
    kept = []
    for key in keys:
        try:
            await admin.put_object(Bucket=name, Key=key, Body=b"v")
        except Exception:  # a server refusing a key is not what is tested
            continue
        kept.append(key)
    return kept


def _agents(proxy: FaultProxy) -> list[bool]:
    return ["Botocore" in r.headers.get("User-Agent", "") for r in proxy.requests]


# -- against real servers ------------------------------------------------------------------------


@pytest.mark.parametrize("page_size", [1000, 3])
async def test_fast_and_botocore_listings_agree_on_awkward_keys(
    bucket: tuple[str, str, Any], page_size: int
) -> None:
    url, name, admin = bucket
    kept = await _fill(admin, name, NASTY + CONTROL)
    assert set(NASTY) <= set(kept)
    async with FaultProxy(url) as proxy:
        fast = S3Raw(KEYS, endpoint_url=proxy.url)
        slow = S3Raw(KEYS, endpoint_url=proxy.url, fast_path=False)
        fast.list_page_size = slow.list_page_size = page_size
        async with fast, slow:
            for prefix in (f"s3://{name}/", f"s3://{name}/a/", f"s3://{name}/a/b"):
                for flat in (False, True):
                    proxy.requests.clear()
                    ours = await _all(fast.list(prefix, flat=flat))
                    assert not any(_agents(proxy)), "the fast store listed through botocore"
                    theirs = await _all(slow.list(prefix, flat=flat))
                    assert all(_agents(proxy)[-1:])
                    assert ours == theirs, (prefix, flat)
            everything = await _all(fast.list(f"s3://{name}/"))
            flat_top = await _all(fast.list(f"s3://{name}/", flat=True))
    assert sorted(everything) == sorted(f"s3://{name}/{key}" for key in kept)
    assert f"s3://{name}/a/" in flat_top and f"s3://{name}/a/b/c" not in flat_top


async def test_pages_are_followed_to_the_end(bucket: tuple[str, str, Any]) -> None:
    url, name, admin = bucket
    keys = [f"k/{i:03d}" for i in range(23)]
    await asyncio.gather(*(admin.put_object(Bucket=name, Key=k, Body=b"") for k in keys))
    async with FaultProxy(url) as proxy:
        store = S3Raw(KEYS, endpoint_url=proxy.url)
        store.list_page_size = 5
        async with store:
            found = await _all(store.list(f"s3://{name}/k/"))
    assert sorted(found) == [f"s3://{name}/{k}" for k in keys] and len(found) == 23
    assert proxy.count("GET") == 5 and not any(_agents(proxy))


async def test_a_missing_bucket_is_bucket_not_found(bucket: tuple[str, str, Any]) -> None:
    url, name, _ = bucket
    async with S3Raw(KEYS, endpoint_url=url, retry=ONCE) as store:
        with pytest.raises(BucketNotFound, match=f"{name}-missing"):
            await _all(store.list(f"s3://{name}-missing/"))
        with pytest.raises(InvalidURI):
            await _all(store.list("s3://"))


async def test_a_fast_store_behind_a_proxy_lists_through_botocore(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    page = _page("<Contents><Key>k</Key></Contents>")
    answer = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(page), page)
    async with Scripted(_answering(answer)) as proxy:
        for name in ("NO_PROXY", "no_proxy", "HTTPS_PROXY", "https_proxy", "http_proxy"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("HTTP_PROXY", f"http://{proxy.authority}")
        endpoint = "http://s3.unreachable.invalid:9000"  # only the proxy can reach it
        async with S3Raw(KEYS, endpoint_url=endpoint, retry=ONCE) as store:
            assert await _all(store.list("s3://bucket/")) == ["s3://bucket/k"]
    assert len(proxy.requests) == 1
    assert proxy.requests[0].startswith(b"GET http://s3.unreachable.invalid:9000/bucket?")
    assert b"botocore" in proxy.requests[0].lower()


# -- the signature and the parser, offline -------------------------------------------------------


def test_a_listing_signature_matches_botocores() -> None:
    query = canonical_query(
        {"list-type": "2", "prefix": "a b/ü+&=", "max-keys": "1000", "encoding-type": "url",
         "continuation-token": "tok/+=", "delimiter": "/"}
    )  # fmt: skip
    for path_style in (True, False):
        where = bucket_target("https://s3.eu-west-1.amazonaws.com", "my-bucket", query,
                              path_style=path_style)  # fmt: skip
        request = AWSRequest(method="GET", url=where.url, headers={})
        S3SigV4Auth(Credentials("AKID", "secret"), "s3", "eu-west-1").add_auth(request)
        theirs = dict(request.headers.items())
        now = time.mktime(time.strptime(theirs["X-Amz-Date"], "%Y%m%dT%H%M%SZ")) - time.timezone
        ours = Signer("eu-west-1").sign(
            "GET", where, {}, access_key="AKID", secret_key="secret",
            payload_hash=theirs["X-Amz-Content-SHA256"], now=now,
        )  # fmt: skip
        assert ours["Authorization"] == theirs["Authorization"]


def _page(contents: str, extra: str = "") -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<ListBucketResult xmlns="http://s3.amazonaws.com'
        f'/doc/2006-03-01/"><Name>b</Name><Prefix>p&amp;</Prefix><IsTruncated>false</IsTruncated>'
        f"{extra}{contents}</ListBucketResult>"
    ).encode()


def test_escapes_and_url_encoding_are_undone() -> None:
    body = _page(
        "<Contents><Key>a%20b+c%2B%26</Key><Size>1</Size></Contents>"
        "<Contents><Key>x&amp;y&lt;&#x2F;&#47;</Key></Contents>"
        "<CommonPrefixes><Prefix>dir%2F/</Prefix></CommonPrefixes>",
        "<EncodingType>url</EncodingType>",
    )
    page = parse_page(body)
    assert page.keys == ["a b c+&", "x&y<//"] and page.prefixes == ["dir//"]
    assert page.token is None
    plain = parse_page(_page("<Contents><Key>a%20b+c</Key></Contents>"))
    assert plain.keys == ["a%20b+c"]  # no EncodingType: the keys are as written


def test_the_token_is_kept_only_while_truncated() -> None:
    body = _page("", "<NextContinuationToken>t&amp;1</NextContinuationToken>")
    assert parse_page(body).token is None
    assert parse_page(body.replace(b">false<", b">true<")).token == "t&1"


@pytest.mark.parametrize(
    "body",
    [
        b"<Error><Code>x</Code></Error>",
        b"\xff\xfe<ListBucketResult>",
        _page("<Contents><Key>a<b/>c</Key></Contents>"),
        _page("<Contents><Key>a &bogus; b</Key></Contents>"),
        _page("<Contents><Key>a & b</Key></Contents>"),
        _page("<Contents><Key>&#0;</Key></Contents>"),
        _page("<Contents><Key><![CDATA[k]]></Key></Contents>"),
        _page("").replace(b"<IsTruncated>false</IsTruncated>", b""),
        _page("<Contents><Key>k</Key></Contents>")[:-5],
    ],
    ids=[
        "error",
        "not-utf8",
        "markup",
        "entity",
        "bare-amp",
        "nul",
        "cdata",
        "no-truncated",
        "cut",
    ],
)
def test_a_page_that_cannot_be_read_with_certainty_is_refused(body: bytes) -> None:
    with pytest.raises(Exception, match="InvalidListPage"):
        parse_page(body)


# -- against a hostile server --------------------------------------------------------------------


def _answering(body_or_head: bytes, flood: int = 0) -> Any:
    async def handler(server: Scripted, reader: Any, writer: Any, n: int) -> None:
        while await server.head(reader):
            writer.write(body_or_head)
            sent = 0
            while sent < flood:
                writer.write(b"<Contents><Key>k</Key></Contents>" * 2000)
                await writer.drain()
                sent += 66000
            await writer.drain()

    return handler


async def test_an_oversized_page_is_refused_unread() -> None:
    head = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % (MAX_LIST_PAGE + 1)
    async with Scripted(_answering(head)) as server:
        store = S3Raw(KEYS, endpoint_url=f"http://{server.authority}", retry=ONCE)
        async with store:
            with pytest.raises(StoreNotAvailable, match=r"listing page holds .* lower"):
                await _all(store.list("s3://bucket/"))


async def test_a_malformed_page_is_a_clear_error() -> None:
    page = b"<ListBucketResult><IsTruncated>false</IsTruncated><Contents><Key>a<x/></Key>"
    answer = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(page), page)
    async with Scripted(_answering(answer)) as server:
        store = S3Raw(KEYS, endpoint_url=f"http://{server.authority}", retry=ONCE)
        async with store:
            with pytest.raises(StoreNotAvailable, match="listing page cannot be read"):
                await _all(store.list("s3://bucket/"))
