"""S3Raw.size_many answers folders holding many asked keys from listings, not HEADs.

The answers must be those of one `size` per URI (present, missing, stored size, errors), with
far fewer requests for a crowded folder; a listing that fails or cannot be read leaves its keys
to HEADs, and a page with a bad ``<Size>`` is never believed.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from asyncbitstore import BucketNotFound, InvalidURI, Retry, S3Raw, Store
from asyncbitstore._core.bulk_api import Bulk
from asyncbitstore.raw.s3._list import parse_page
from tests.contract.targets_s3 import fresh_bucket
from tests.faults import STATUS, FaultProxy
from tests.hostile import Scripted

ONCE = Retry(attempts=1)
KEYS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


@pytest.fixture(params=["moto", "seaweed"])
async def buckets(request: pytest.FixtureRequest) -> AsyncIterator[tuple[str, str, str, Any]]:
    url = str(request.getfixturevalue(f"{request.param}_server").url)
    async with fresh_bucket(url) as (one, admin), fresh_bucket(url) as (two, _):
        yield url, one, two, admin


async def _put(admin: Any, bucket: str, objects: dict[str, int]) -> None:
    gate = asyncio.Semaphore(32)

    async def one(key: str, size: int) -> None:
        async with gate:
            await admin.put_object(Bucket=bucket, Key=key, Body=b"x" * size)

    await asyncio.gather(*(one(key, size) for key, size in objects.items()))


async def _one_by_one(store: S3Raw, uris: list[str]) -> dict[str, Any]:
    """What `Store.size_many` answers: one `size` per URI."""
    return await Store._size_many(store, uris, Bulk(concurrency=16, return_exceptions=True))


def _object_heads(proxy: FaultProxy) -> int:
    """HEADs of objects (``/bucket/key``), not the ``HeadBucket`` after a first 404."""
    return sum(1 for r in proxy.requests if r.method == "HEAD" and r.path.count("/") >= 2)


def _same(ours: dict[str, Any], theirs: dict[str, Any]) -> None:
    assert set(ours) == set(theirs)
    for uri, answer in theirs.items():
        if isinstance(answer, BaseException):
            assert type(ours[uri]) is type(answer) and str(ours[uri]) == str(answer), uri
        else:
            assert ours[uri] == answer, uri


@pytest.mark.parametrize("fast_path", [True, False])
async def test_sizes_equal_one_size_per_uri(
    buckets: tuple[str, str, str, Any], fast_path: bool
) -> None:
    url, one, two, admin = buckets
    crowded = {f"big/k{i:04d}": i % 7 for i in range(0, 240, 2)}
    crowded |= {f"big/sub/k{i:04d}": 3 for i in range(0, 60)}  # one level down: not listed
    top = {f"t{i:03d}": i % 5 for i in range(70)}  # the bucket's root is a folder too
    small = {f"small/s{i}": i for i in range(5)}
    other = {f"o/{i:03d}": i for i in range(60)}
    await _put(admin, one, crowded | top | small)
    await _put(admin, two, other)
    asked = [f"s3://{one}/big/k{i:04d}" for i in range(260)]  # odd ones are missing
    asked += [f"s3://{one}/big/a-before", f"s3://{one}/big/z-after"]
    asked += [f"s3://{one}/big/sub/k{i:04d}" for i in range(0, 60, 7)]
    asked += [f"s3://{one}/t{i:03d}" for i in range(75)] + [
        f"s3://{one}/small/s{i}" for i in range(7)
    ]
    asked += [f"s3://{two}/o/{i:03d}" for i in range(65)] + [f"s3://{one}/big/k0002"]
    async with (
        FaultProxy(url) as proxy,
        S3Raw(KEYS, endpoint_url=proxy.url, fast_path=fast_path) as store,
    ):
        await store.put(f"s3://{one}/big/k0004", b"y" * 5000, compress="zstd")
        stored = await store.size(f"s3://{one}/big/k0004")
        proxy.requests.clear()
        ours = await store.size_many(asked, concurrency=8)
        heads, lists = _object_heads(proxy), proxy.count("GET")
        theirs = await _one_by_one(store, asked)
    _same(ours, theirs)
    assert ours[f"s3://{one}/big/k0004"] == stored < 5000  # the stored size
    assert ours[f"s3://{one}/big/k0001"] is None and ours[f"s3://{one}/big/z-after"] is None
    assert ours[f"s3://{two}/o/064"] is None and ours[f"s3://{two}/o/010"] == 10
    assert list(ours) == list(dict.fromkeys(asked))
    # big/, the root and o/ are listed; big/sub/ (9 keys) and small/ (7) are HEADed.
    assert heads == 9 + 7 and 3 <= lists <= 6


async def test_a_crowded_folder_costs_a_few_pages_not_a_head_each(moto_server: Any) -> None:
    url = str(moto_server.url)
    objects = {f"data/{i:05d}.bin": i % 11 for i in range(2000)}
    async with fresh_bucket(url) as (name, admin):
        await _put(admin, name, objects | {"data/sub/x": 1, "data/zzz": 4, "dat": 2})
        asked = [f"s3://{name}/{key}" for key in objects]
        asked += [f"s3://{name}/data/{i:05d}.bin" for i in range(2000, 2100)]  # missing
        async with FaultProxy(url) as proxy, S3Raw(KEYS, endpoint_url=proxy.url) as store:
            sizes = await store.size_many(asked)
    assert sizes == {uri: (objects.get(uri.split("/", 3)[3])) for uri in asked}
    assert proxy.count("HEAD") == 0
    assert 2 <= proxy.count("GET") <= 3  # 1,000 keys a page


async def test_a_sparse_folder_stops_listing_after_a_thin_page(moto_server: Any) -> None:
    url = str(moto_server.url)
    objects = {f"f/{i:04d}": i % 9 for i in range(300)}
    async with fresh_bucket(url) as (name, admin):
        await _put(admin, name, objects)
        sparse = [f"s3://{name}/f/{i:04d}" for i in range(0, 400, 5)]  # 80 keys, 20 missing
        dense = [f"s3://{name}/f/{i:04d}" for i in range(320)]
        async with FaultProxy(url) as proxy, S3Raw(KEYS, endpoint_url=proxy.url) as store:
            store.list_page_size = 100
            sizes = await store.size_many(sparse)
            sparse_lists, sparse_heads = proxy.count("GET"), _object_heads(proxy)
            proxy.requests.clear()
            assert await store.size_many(dense) == {
                u: objects.get(u[len(name) + 6 :]) for u in dense
            }
            dense_lists, dense_heads = proxy.count("GET"), _object_heads(proxy)
    assert sizes == {uri: objects.get(uri.split("/", 3)[3]) for uri in sparse}
    # The first page (f/0000 to f/0099) settled 20 asked keys, fewer than a page is worth:
    # the listing stops there and the asked keys after it are HEADed.
    assert (sparse_lists, sparse_heads) == (1, len(range(100, 400, 5)))
    # Every page of the dense ask settles 100 keys: listed to the end, no HEAD.
    assert (dense_lists, dense_heads) == (3, 0)


@pytest.mark.parametrize("status", [403, 503])
async def test_a_failing_listing_falls_back_to_heads(moto_server: Any, status: int) -> None:
    url = str(moto_server.url)
    objects = {f"p/{i:03d}": i for i in range(60)}
    async with fresh_bucket(url) as (name, admin):
        await _put(admin, name, objects)
        asked = [f"s3://{name}/p/{i:03d}" for i in range(70)]
        async with (
            FaultProxy(url) as proxy,
            S3Raw(KEYS, endpoint_url=proxy.url, retry=ONCE) as store,
        ):
            proxy.inject(STATUS, status=status, methods=["GET"])
            sizes = await store.size_many(asked)
    assert sizes == {uri: objects.get(uri.split("/", 3)[3]) for uri in asked}
    assert proxy.count("GET") == 1 and _object_heads(proxy) == 70


async def test_a_missing_bucket_is_bucket_not_found_for_each_uri(moto_server: Any) -> None:
    url = str(moto_server.url)
    async with fresh_bucket(url) as (name, _):
        gone = f"{name}-missing"
        asked = [f"s3://{gone}/d/{i}" for i in range(70)]
        async with S3Raw(KEYS, endpoint_url=url, retry=ONCE) as store:
            with pytest.raises(BucketNotFound, match=gone):
                await store.size_many(asked)
            theirs = await _one_by_one(store, asked[:3])
            ours = await store.size_many(asked, return_exceptions=True)
    assert all(isinstance(ours[uri], BucketNotFound) for uri in asked)
    _same({uri: ours[uri] for uri in theirs}, theirs)


async def test_return_exceptions_keeps_each_failure_in_its_place(moto_server: Any) -> None:
    url = str(moto_server.url)
    objects = {f"r/{i:03d}": 1 for i in range(65)}
    async with fresh_bucket(url) as (name, admin):
        await _put(admin, name, objects)
        bad = f"s3://{name}/r/../x"
        asked = [f"s3://{name}/r/{i:03d}" for i in range(70)] + [bad]
        asked += [f"s3://{name}-missing/r/{i:03d}" for i in range(70)]
        async with S3Raw(KEYS, endpoint_url=url, retry=ONCE) as store:
            ours = await store.size_many(asked, return_exceptions=True)
            theirs = await _one_by_one(store, asked)
            with pytest.raises(InvalidURI):
                await store.size_many([*asked[:70], bad])
    _same(ours, theirs)
    assert isinstance(ours[bad], InvalidURI) and ours[f"s3://{name}/r/069"] is None


# -- a hostile server ----------------------------------------------------------------------------


def _page(contents: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<ListBucketResult><Name>b</Name>'
        f"<IsTruncated>false</IsTruncated>{contents}</ListBucketResult>"
    ).encode()


BAD_SIZES = ["-1", "x", "1e3", "99999999999999999999", "", "1</Size><Size>2"]


@pytest.mark.parametrize("size", BAD_SIZES)
def test_a_page_with_a_bad_size_is_refused(size: str) -> None:
    body = _page(f"<Contents><Key>k</Key><Size>{size}</Size></Contents>")
    with pytest.raises(Exception, match="InvalidListPage"):
        parse_page(body, sizes=True)
    assert parse_page(_page("<Contents><Key>k</Key></Contents>")).sizes == []
    with pytest.raises(Exception, match="no readable size"):
        parse_page(_page("<Contents><Key>k</Key></Contents>"), sizes=True)


def test_sizes_are_read_for_their_own_keys() -> None:
    page = parse_page(
        _page(
            "<Contents><Key>a</Key><Size> 12 </Size></Contents>"
            "<Contents><Size>0</Size><Key>b&amp;</Key></Contents>"
            "<CommonPrefixes><Prefix>c/</Prefix></CommonPrefixes>"
        ),
        sizes=True,
    )
    assert (page.keys, page.sizes, page.prefixes) == (["a", "b&"], [12, 0], ["c/"])


@pytest.mark.parametrize("size", ["-1", "1e3"])
async def test_a_listing_with_a_bad_size_leaves_the_keys_to_heads(size: str) -> None:
    contents = "".join(
        f"<Contents><Key>d/{i:02d}</Key><Size>{size}</Size></Contents>" for i in range(70)
    )
    page = _page(contents)

    async def handler(server: Scripted, reader: Any, writer: Any, n: int) -> None:
        while head := await server.head(reader):
            if head.startswith(b"GET"):
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(page), page))
            else:
                writer.write(b'HTTP/1.1 200 OK\r\nContent-Length: 7\r\nETag: "e"\r\n\r\n')
            await writer.drain()

    async with Scripted(handler) as server:
        store = S3Raw(KEYS, endpoint_url=f"http://{server.authority}", retry=ONCE)
        async with store:
            sizes = await store.size_many([f"s3://b/d/{i:02d}" for i in range(70)])
    assert set(sizes.values()) == {7} and len(sizes) == 70
    methods = [head.split(b" ")[0] for head in server.requests]
    assert methods.count(b"GET") == 1 and methods.count(b"HEAD") == 70
