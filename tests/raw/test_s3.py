"""S3Raw beyond the contract suite: errors, credentials, retries, pooling, multipart, fork.

Servers: moto and SeaweedFS (with signature checking), each test in a fresh bucket; faults come
from :class:`tests.faultproxy.FaultProxy` in front of the server.
"""

from __future__ import annotations

import asyncio
import gc
import hashlib
import multiprocessing
import pickle
import threading
import traceback
import tracemalloc
import warnings
from collections.abc import AsyncIterator
from contextlib import aclosing
from pathlib import Path
from typing import Any

import pytest

from asyncbitstore import (
    BucketNotFound,
    FileRaw,
    InvalidDataFound,
    InvalidRange,
    InvalidURI,
    Retry,
    S3Raw,
    Sha1Cache,
    Sha1Composite,
    Sha1Store,
    StoreNotAvailable,
    StoreTimeout,
)
from tests.contract.targets_s3 import fresh_bucket
from tests.faultproxy import FaultProxy

MiB = 1 << 20
FAST = Retry(attempts=4, base=0.01, cap=0.05)
GOOD = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


class Boom(Exception):
    pass


@pytest.fixture(params=["moto", "seaweed"])
def endpoint(request: pytest.FixtureRequest) -> str:
    """Each S3 server in turn."""
    return str(request.getfixturevalue(f"{request.param}_server").url)


@pytest.fixture
async def bucket(endpoint: str) -> AsyncIterator[tuple[str, Any]]:
    async with fresh_bucket(endpoint) as made:
        yield made


@pytest.fixture
async def weed(seaweed_server: Any) -> AsyncIterator[tuple[str, str, Any]]:
    """SeaweedFS: (endpoint, fresh bucket, admin client)."""
    async with fresh_bucket(seaweed_server.url) as (name, admin):
        yield seaweed_server.url, name, admin


@pytest.fixture
async def proxied(weed: tuple[str, str, Any]) -> AsyncIterator[tuple[FaultProxy, str, Any]]:
    """A FaultProxy in front of SeaweedFS: (proxy, bucket, admin client)."""
    url, name, admin = weed
    async with FaultProxy(url) as proxy:
        yield proxy, name, admin


# -- errors -------------------------------------------------------------------------------------


async def test_a_missing_bucket_is_bucket_not_found_naming_the_bucket(endpoint: str) -> None:
    uri = "s3://no-such-bucket-here/key"
    async with S3Raw(endpoint_url=endpoint, retry=FAST) as store:
        for read in (store.get(uri), store.get_range(uri, 0, 4), _drain(store.stream(uri))):
            with pytest.raises(BucketNotFound, match="bucket 'no-such-bucket-here'"):
                await read
        with pytest.raises(BucketNotFound, match="bucket 'no-such-bucket-here'"):
            [u async for u in store.list("s3://no-such-bucket-here/")]
        with pytest.raises(BucketNotFound):  # not False: the bucket is missing, not the key
            await store.exists(uri)
        with pytest.raises(BucketNotFound):
            await store.delete(uri)


async def test_a_put_into_a_missing_bucket_is_bucket_not_found_naming_it(
    moto_server: Any,
) -> None:
    # Only on moto: SeaweedFS creates a missing bucket on the first write of an admin.
    async with S3Raw(endpoint_url=moto_server.url, retry=FAST) as store:
        with pytest.raises(BucketNotFound, match="bucket 'no-such-bucket-here'"):
            await store.put("s3://no-such-bucket-here/key", b"data")


@pytest.mark.parametrize(
    ("key_id", "code"),
    [("testing", "SignatureDoesNotMatch"), ("nobody", "InvalidAccessKeyId")],
)
async def test_refused_credentials_raise_store_not_available_without_the_secret(
    weed: tuple[str, str, Any], caplog: pytest.LogCaptureFixture, key_id: str, code: str
) -> None:
    url, name, admin = weed
    await admin.put_object(Bucket=name, Key="k", Body=b"x")
    secret = "wrong-Secret-9f8e7d6c"
    caplog.set_level("DEBUG")
    creds = {"aws_access_key_id": key_id, "aws_secret_access_key": secret}
    async with S3Raw(creds, endpoint_url=url, retry=FAST) as store:
        with pytest.raises(StoreNotAvailable, match=code) as caught:
            await store.get(f"s3://{name}/k")
        with pytest.raises(StoreNotAvailable, match="access denied"):
            await store.exists(f"s3://{name}/k")  # refused is an error, not False (HEAD: no code)
    shown = [str(caught.value), repr(caught.value), repr(store), store.name, caplog.text]
    shown.append("".join(traceback.format_exception(caught.value)))
    assert all(secret not in text for text in shown)
    assert pickle.loads(pickle.dumps(caught.value)).message == caught.value.message


async def test_get_range_of_an_empty_object_and_past_the_end(bucket: tuple[str, Any]) -> None:
    name, admin = bucket
    await admin.put_object(Bucket=name, Key="empty", Body=b"")
    await admin.put_object(Bucket=name, Key="ten", Body=b"0123456789")
    async with S3Raw(endpoint_url=admin.meta.endpoint_url) as store:
        assert await store.get_range(f"s3://{name}/empty", 0, 5) == b""
        assert await store.get_range(f"s3://{name}/ten", 8, 100) == b"89"
        assert await store.get_range(f"s3://{name}/ten", 10, 12) == b""
        with pytest.raises(InvalidRange, match="only 10 bytes"):
            await store.get_range(f"s3://{name}/ten", 11, 12)
        with pytest.raises(InvalidRange, match="only 0 bytes"):
            await store.get_range(f"s3://{name}/empty", 1, 2)


@pytest.mark.parametrize(
    "options",
    [{"max_connections": 0}, {"part_size": 4 * MiB}, {"request_timeout": 0}, {"retry": 3},
     {"endpoint_url": "127.0.0.1:9000"}, {"credentials": {"secret": "x"}},
     {"credentials": []}, {"credentials": 42}],
)  # fmt: skip
def test_the_constructor_refuses_bad_options(options: dict[str, Any]) -> None:
    with pytest.raises((TypeError, ValueError)):
        S3Raw(**options)


async def test_without_any_credentials_the_store_is_not_available(
    weed: tuple[str, str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, name, _ = weed
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    async with S3Raw(endpoint_url=url, retry=FAST) as store:
        with pytest.raises(StoreNotAvailable, match="no usable credentials"):
            await store.get(f"s3://{name}/k")


def test_a_session_token_echoed_by_the_server_is_scrubbed() -> None:
    from botocore.exceptions import ClientError

    from asyncbitstore.raw.s3._errors import translate

    token = "FwoGZXIvYXdzEXAMPLE-token"
    store = S3Raw({**GOOD, "aws_session_token": token})
    error = ClientError(
        {"Error": {"Code": "InvalidToken", "Message": f"token {token} is malformed"},
         "ResponseMetadata": {"HTTPStatusCode": 400}},
        "GetObject",
    )  # fmt: skip
    mapped = translate(store, error, uri="s3://bkt/k", bucket="bkt", secrets=store._secrets)
    assert isinstance(mapped, StoreNotAvailable) and "InvalidToken" in str(mapped)
    assert token not in str(mapped) and token not in repr(store)


async def test_list_refuses_prefixes_without_a_bucket() -> None:
    store = S3Raw()
    for prefix in ("s3://", "", "mem://bkt/", "s3:/bkt"):
        with pytest.raises(InvalidURI):
            [u async for u in store.list(prefix)]
    with pytest.raises(TypeError):
        [u async for u in store.list(None)]  # type: ignore[arg-type]


# -- the tier chain, bulk reads and the connection pool -----------------------------------------


async def test_a_sha1_composite_fills_its_file_cache_from_s3(
    bucket: tuple[str, Any], tmp_path: Path
) -> None:
    name, admin = bucket
    data = b"blob kept in S3" * 100
    sha1 = hashlib.sha1(data).hexdigest()
    await admin.put_object(Bucket=name, Key=f"blobs/{sha1}", Body=data)
    store = Sha1Composite()
    store.append_cache(Sha1Cache(FileRaw(), f"{tmp_path}/cache/"))
    s3 = S3Raw(endpoint_url=admin.meta.endpoint_url)
    store.append_source(Sha1Store(s3, f"s3://{name}/blobs/"), cache_result=True)
    async with store:
        assert await store.get(sha1) == data
        await store.flush()
        assert (tmp_path / "cache" / sha1).read_bytes() == data
        await admin.delete_object(Bucket=name, Key=f"blobs/{sha1}")
        assert await store.get(sha1.upper()) == data  # now served by the cache


async def test_bulk_get_of_1000_keys_at_concurrency_256(weed: tuple[str, str, Any]) -> None:
    url, name, _ = weed
    uris = [f"s3://{name}/bulk/{i:04d}" for i in range(1000)]
    async with S3Raw(endpoint_url=url) as store:
        assert await store.put_many(((u, u.encode() * 3) for u in uris), concurrency=64) == 1000
        got = await store.get_many([*uris, f"s3://{name}/bulk/absent"], concurrency=256)
    assert got == [u.encode() * 3 for u in uris] + [None]


async def test_requests_beyond_the_pool_are_signed_and_timed_only_once_they_get_a_slot(
    proxied: tuple[FaultProxy, str, Any],
) -> None:
    proxy, name, admin = proxied
    await admin.put_object(Bucket=name, Key="k", Body=b"pooled")
    proxy.delay = 0.05  # 200 requests over 4 connections: about 2.5 s in all
    async with S3Raw(
        endpoint_url=proxy.url, max_connections=4, request_timeout=1.0, retry=FAST
    ) as s:
        got = await s.get_many([f"s3://{name}/k"] * 200, concurrency=256)
    assert got == [b"pooled"] * 200
    gets = [r for r in proxy.requests if r.method == "GET"]
    assert len(gets) == 200  # none timed out and was retried
    assert proxy.max_in_flight <= 4
    dates = sorted(r.headers["X-Amz-Date"] for r in gets)
    assert dates[0] != dates[-1]  # signed as slots freed up, not all at the start


# -- multipart uploads --------------------------------------------------------------------------


async def _chunks(total: int, size: int = MiB) -> AsyncIterator[bytes]:
    for offset in range(0, total, size):
        yield bytes([offset // size % 251]) * min(size, total - offset)


async def test_a_50_mib_async_iterable_round_trips_through_multipart(
    weed: tuple[str, str, Any],
) -> None:
    url, name, admin = weed
    uri = f"s3://{name}/big"
    expected = hashlib.sha256(b"".join([c async for c in _chunks(50 * MiB)])).hexdigest()
    async with S3Raw(endpoint_url=url) as store:
        await store.put(uri, _chunks(50 * MiB))
        head = await admin.head_object(Bucket=name, Key="big")
        assert head["ETag"].strip('"').endswith("-7")  # 7 parts of 8 MiB
        assert hashlib.sha256(await store.get(uri)).hexdigest() == expected
        digest = hashlib.sha256()
        async for chunk in store.stream(uri, chunk_size=4 * MiB):
            assert len(chunk) <= 4 * MiB
            digest.update(chunk)
        assert digest.hexdigest() == expected


async def test_a_failing_producer_leaves_no_object_and_no_pending_upload(
    bucket: tuple[str, Any],
) -> None:
    name, admin = bucket
    pending_seen: list[int] = []

    async def failing() -> AsyncIterator[bytes]:
        yield b"a" * (6 * MiB)
        yield b"b" * (6 * MiB)  # asked for only once part 1 is up
        uploads = await admin.list_multipart_uploads(Bucket=name)
        pending_seen.append(len(uploads.get("Uploads", [])))
        raise Boom("producer failed")

    async with S3Raw(endpoint_url=admin.meta.endpoint_url, part_size=5 * MiB) as store:
        with pytest.raises(Boom):
            await store.put(f"s3://{name}/partial", failing())
        assert await store.exists(f"s3://{name}/partial") is False
    assert pending_seen == [1]  # the multipart upload had started
    assert (await admin.list_multipart_uploads(Bucket=name)).get("Uploads", []) == []


async def test_cancelling_a_multipart_put_aborts_the_upload(weed: tuple[str, str, Any]) -> None:
    url, name, admin = weed
    stalled = asyncio.Event()

    async def stalling() -> AsyncIterator[bytes]:
        yield b"a" * (6 * MiB)
        stalled.set()
        await asyncio.Event().wait()  # never resumes
        yield b""

    async with S3Raw(endpoint_url=url, part_size=5 * MiB) as store:
        put = asyncio.ensure_future(store.put(f"s3://{name}/cancelled", stalling()))
        await asyncio.wait_for(stalled.wait(), 10)
        assert len((await admin.list_multipart_uploads(Bucket=name)).get("Uploads", [])) == 1
        put.cancel()
        with pytest.raises(asyncio.CancelledError):
            await put
    assert (await admin.list_multipart_uploads(Bucket=name)).get("Uploads", []) == []


# -- retries and timeouts -----------------------------------------------------------------------


async def test_transient_503s_are_retried_until_the_request_succeeds(
    proxied: tuple[FaultProxy, str, Any],
) -> None:
    proxy, name, admin = proxied
    await admin.put_object(Bucket=name, Key="k", Body=b"eventually")
    async with S3Raw(endpoint_url=proxy.url, retry=FAST) as store:
        proxy.fail_next(3)
        assert await store.get(f"s3://{name}/k") == b"eventually"
    assert [r.status for r in proxy.requests] == [503, 503, 503, 200]  # one plain GET (fast path)


async def test_503s_outlasting_the_retries_raise_store_not_available(
    proxied: tuple[FaultProxy, str, Any],
) -> None:
    proxy, name, _ = proxied
    async with S3Raw(endpoint_url=proxy.url, retry=Retry(attempts=3, base=0.01)) as store:
        proxy.fail_next(10)
        with pytest.raises(StoreNotAvailable, match=r"SlowDown.*after 3 attempts"):
            await store.get(f"s3://{name}/k")
    assert proxy.count() == 3  # botocore added no retries of its own


async def test_a_permanent_403_is_not_retried(proxied: tuple[FaultProxy, str, Any]) -> None:
    proxy, name, _ = proxied
    async with S3Raw(endpoint_url=proxy.url, retry=FAST) as store:
        proxy.deny(403)
        with pytest.raises(StoreNotAvailable, match="AccessDenied"):
            await store.get(f"s3://{name}/k")
        with pytest.raises(StoreNotAvailable, match="access denied"):
            await store.exists(f"s3://{name}/k")
    assert proxy.count() == 2


async def test_a_slow_server_raises_store_timeout_after_the_retries(
    proxied: tuple[FaultProxy, str, Any],
) -> None:
    proxy, name, _ = proxied
    proxy.delay = 1.0
    retry = Retry(attempts=2, base=0.01, cap=0.01)
    async with S3Raw(endpoint_url=proxy.url, request_timeout=0.2, retry=retry) as store:
        with pytest.raises(StoreTimeout, match="after 2 attempts"):
            await store.get(f"s3://{name}/k")
    assert proxy.count() == 2


# -- credentials --------------------------------------------------------------------------------


async def test_anonymous_requests_are_unsigned_and_may_read_but_not_write(
    proxied: tuple[FaultProxy, str, Any],
) -> None:
    proxy, name, admin = proxied
    await admin.put_object(Bucket=name, Key="public", Body=b"for everyone")
    async with S3Raw.anonymous(endpoint_url=proxy.url, retry=FAST) as store:
        assert "anonymous" in store.name
        assert await store.get(f"s3://{name}/public") == b"for everyone"
        with pytest.raises(StoreNotAvailable, match="access denied"):
            await store.put(f"s3://{name}/mine", b"no")
    assert proxy.requests and all("Authorization" not in r.headers for r in proxy.requests)


async def test_a_list_of_credentials_is_tried_in_order(
    proxied: tuple[FaultProxy, str, Any],
) -> None:
    proxy, name, admin = proxied
    await admin.put_object(Bucket=name, Key="k", Body=b"found")
    nobody = {"aws_access_key_id": "nobody", "aws_secret_access_key": "x"}
    async with S3Raw([nobody, GOOD, nobody], endpoint_url=proxy.url, retry=FAST) as store:
        assert await store.get(f"s3://{name}/k") == b"found"
        assert await store.get(f"s3://{name}/k") == b"found"
    assert [r.access_key for r in proxy.requests] == ["nobody", "testing", "testing", "testing"]
    assert [r.method for r in proxy.requests] == ["GET", "GET", "GET", "GET"]  # probe, probe, get…


async def test_a_missing_profile_is_skipped_for_the_next_credentials(
    proxied: tuple[FaultProxy, str, Any],
) -> None:
    proxy, name, admin = proxied
    await admin.put_object(Bucket=name, Key="k", Body=b"found")
    async with S3Raw([{"profile_name": "missing"}, GOOD], endpoint_url=proxy.url) as store:
        assert await store.get(f"s3://{name}/k") == b"found"
    assert [r.access_key for r in proxy.requests] == ["testing", "testing"]  # probe, get


async def test_when_no_credentials_are_accepted_each_refusal_is_reported(
    proxied: tuple[FaultProxy, str, Any],
) -> None:
    proxy, name, _ = proxied
    bad = [{"aws_access_key_id": "nobody", "aws_secret_access_key": "x"},
           {"aws_access_key_id": "testing", "aws_secret_access_key": "wrong"}]  # fmt: skip
    async with S3Raw(bad, endpoint_url=proxy.url, retry=FAST) as store:
        with pytest.raises(StoreNotAvailable, match="no credentials") as caught:
            await store.get(f"s3://{name}/k")
    assert "#1: " in str(caught.value) and "InvalidAccessKeyId" in str(caught.value)
    assert "#2: " in str(caught.value) and "SignatureDoesNotMatch" in str(caught.value)


async def test_a_single_credentials_entry_is_not_probed(
    proxied: tuple[FaultProxy, str, Any],
) -> None:
    proxy, name, admin = proxied
    await admin.put_object(Bucket=name, Key="k", Body=b"direct")
    async with S3Raw(GOOD, endpoint_url=proxy.url) as store:
        assert await store.get(f"s3://{name}/k") == b"direct"
    assert [r.path for r in proxy.requests] == [f"/{name}/k"]


# -- listing, integrity, streaming --------------------------------------------------------------


async def test_list_follows_every_page(proxied: tuple[FaultProxy, str, Any]) -> None:
    proxy, name, admin = proxied
    for i in range(10):
        await admin.put_object(Bucket=name, Key=f"in/{i}", Body=b"x")
    await admin.put_object(Bucket=name, Key="out/0", Body=b"x")
    async with S3Raw(endpoint_url=proxy.url) as store:
        store.list_page_size = 4
        listed = [u async for u in store.list(f"s3://{name}/in/")]
        everything = [u async for u in store.list(f"s3://{name}")]
    assert listed == [f"s3://{name}/in/{i}" for i in range(10)]
    assert set(everything) == {*listed, f"s3://{name}/out/0"}
    assert proxy.count("GET") == 3 + 3


async def test_verify_etag_detects_a_corrupted_body(proxied: tuple[FaultProxy, str, Any]) -> None:
    proxy, name, admin = proxied
    await admin.put_object(Bucket=name, Key="k", Body=b"checked bytes" * 1000)
    async with S3Raw(endpoint_url=proxy.url, verify_etag=True, retry=FAST) as store:
        assert await store.get(f"s3://{name}/k") == b"checked bytes" * 1000
        await store.put(f"s3://{name}/k2", b"sent with Content-MD5")
        proxy.corrupt_next(FAST.attempts)  # a mismatch is read again: damage every attempt
        with pytest.raises(InvalidDataFound, match="ETag"):
            await store.get(f"s3://{name}/k")
        proxy.corrupt_next(1)
        with pytest.raises(InvalidDataFound, match="ETag"):
            await _drain(store.stream(f"s3://{name}/k", chunk_size=4096))
    assert any("Content-MD5" in r.headers for r in proxy.requests if r.method == "PUT")


async def test_streaming_a_large_object_keeps_memory_bounded(weed: tuple[str, str, Any]) -> None:
    url, name, admin = weed
    await admin.put_object(Bucket=name, Key="large", Body=b"z" * (24 * MiB))
    async with S3Raw(endpoint_url=url) as store:
        await store.size(f"s3://{name}/large")  # create the client before measuring
        tracemalloc.start()
        try:
            total = 0
            async for chunk in store.stream(f"s3://{name}/large", chunk_size=MiB):
                total += len(chunk)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    assert total == 24 * MiB
    assert peak < 6 * MiB


async def test_an_abandoned_stream_gives_its_connection_back(weed: tuple[str, str, Any]) -> None:
    url, name, admin = weed
    await admin.put_object(Bucket=name, Key="s", Body=b"s" * (4 * MiB))
    async with S3Raw(endpoint_url=url, max_connections=1) as store:
        async with aclosing(store.stream(f"s3://{name}/s", chunk_size=1024)) as chunks:
            async for _ in chunks:
                break
        assert await asyncio.wait_for(store.size(f"s3://{name}/s"), 5) == 4 * MiB


# -- lifecycle: pickling, fork, warnings --------------------------------------------------------


def _child(store: S3Raw, pickled: bytes, uri: str, conn: Any) -> None:
    """In a forked child: read with the inherited and the unpickled store, report back."""
    results: list[Any] = []

    def run() -> None:
        async def main() -> list[bytes]:
            clone = pickle.loads(pickled)
            try:
                return [await store.get(uri), await clone.get(uri)]
            finally:
                await store.aclose()
                await clone.aclose()

        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            results.append(asyncio.run(main()))
            gc.collect()
        results.append([str(w.message) for w in caught])

    try:
        # A fresh thread: the forked main thread still believes the parent's loop is running.
        thread = threading.Thread(target=run)
        thread.start()
        thread.join()
        conn.send(results)
    except BaseException as exc:  # report anything rather than hang the parent
        conn.send([repr(exc)])
    finally:
        conn.close()


@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
async def test_the_store_pickles_and_works_in_a_forked_child(weed: tuple[str, str, Any]) -> None:
    url, name, _ = weed
    uri = f"s3://{name}/forked"
    async with S3Raw(endpoint_url=url) as store:
        await store.put(uri, b"from the parent")  # the parent's client now exists
        context = multiprocessing.get_context("fork")
        receive, send = context.Pipe(duplex=False)
        child = context.Process(target=_child, args=(store, pickle.dumps(store), uri, send))
        child.start()
        send.close()
        ready = await asyncio.get_running_loop().run_in_executor(None, receive.poll, 60)
        results = receive.recv() if ready else ["no answer"]
        await asyncio.get_running_loop().run_in_executor(None, child.join, 10)
        assert await store.get(uri) == b"from the parent"  # the parent's client still works
    assert results == [[b"from the parent", b"from the parent"], []]
    assert child.exitcode == 0


async def test_a_closed_store_leaves_nothing_to_warn_about(weed: tuple[str, str, Any]) -> None:
    url, name, _ = weed
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        store = S3Raw(endpoint_url=url)
        await store.put(f"s3://{name}/w", b"w")
        await store.aclose()
        await store.aclose()
        assert await store.get(f"s3://{name}/w") == b"w"  # usable again after aclose
        await store.aclose()
        del store
        gc.collect()
    assert [str(w.message) for w in caught] == []


async def _drain(chunks: AsyncIterator[bytes]) -> bytes:
    return b"".join([c async for c in chunks])
