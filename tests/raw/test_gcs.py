"""GSRaw quirks on fake-gcs-server: errors, retries, big uploads, integrity, fork, secrecy."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import hashlib
import multiprocessing
import os
import pickle
import traceback
import uuid
import warnings
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from asyncbitstore import (
    BucketNotFound,
    Composite,
    FileRaw,
    GSRaw,
    InvalidDataFound,
    NotFoundInStore,
    Retry,
    Sha1Cache,
    Sha1Composite,
    Sha1Store,
    StoreNotAvailable,
)
from tests.faultproxy import FaultProxy
from tests.raw._gcs_faults import cut_midway, refusing_token_endpoint, serving
from tests.servers import FakeGCSServer

pytestmark = pytest.mark.servers

FAST = Retry(attempts=4, base=0.01, cap=0.02)
MiB = 1 << 20


@pytest.fixture
async def bucket(gcs_server: FakeGCSServer) -> str:
    name = f"test-{uuid.uuid4().hex[:12]}"
    await asyncio.to_thread(gcs_server.create_bucket, name)
    return name


@pytest.fixture
async def store(gcs_server: FakeGCSServer) -> AsyncIterator[GSRaw]:
    async with GSRaw(api_root=gcs_server.url, retry=FAST) as store:
        yield store


@pytest.fixture
async def proxy(gcs_server: FakeGCSServer) -> AsyncIterator[FaultProxy]:
    async with FaultProxy(gcs_server.url) as proxy:
        yield proxy


async def _pieces(data: bytes, size: int, fail: bool = False) -> AsyncIterator[bytes]:
    for offset in range(0, len(data), size):
        yield data[offset : offset + size]
    if fail:
        raise RuntimeError("producer failed")


# -- missing things ------------------------------------------------------------------------------


async def test_a_missing_object_is_not_found_without_blaming_the_bucket(
    store: GSRaw, bucket: str
) -> None:
    with pytest.raises(NotFoundInStore) as caught:
        await store.get(f"gs://{bucket}/nothing")
    assert "bucket" not in str(caught.value)
    assert not await store.exists(f"gs://{bucket}/nothing")


async def test_a_missing_bucket_is_bucket_not_found_and_named(store: GSRaw) -> None:
    for call in (store.get, store.size, store.exists, store.delete):
        with pytest.raises(BucketNotFound, match="bucket 'no-such-bucket' does not exist"):
            await call("gs://no-such-bucket/key")
    with pytest.raises(BucketNotFound, match="bucket 'no-such-bucket'"):
        _ = [uri async for uri in store.list("gs://no-such-bucket/")]


# -- listing, ranges, bulk -----------------------------------------------------------------------


async def test_list_follows_every_page_and_honours_the_prefix(store: GSRaw, bucket: str) -> None:
    store._list_page_size = 3
    names = [f"dir/{i:02}" for i in range(10)] + ["dir2/x", "other"]
    await store.put_many((f"gs://{bucket}/{n}", n.encode()) for n in names)
    listed = [uri async for uri in store.list(f"gs://{bucket}/dir/")]
    assert listed == [f"gs://{bucket}/dir/{i:02}" for i in range(10)]
    everything = [uri async for uri in store.list(f"gs://{bucket}")]
    assert everything == sorted(f"gs://{bucket}/{n}" for n in names)


async def test_a_range_to_a_huge_end_is_sent_open_ended(
    proxy: FaultProxy, bucket: str, store: GSRaw
) -> None:
    await store.put(f"gs://{bucket}/r", b"0123456789")
    async with GSRaw(api_root=proxy.url) as proxied:
        assert await proxied.get_range(f"gs://{bucket}/r", 4, 1 << 60) == b"456789"
        assert await proxied.get_range(f"gs://{bucket}/r", 7, 10) == b"789"
    # The object's frame mark comes with each range's answer: no request for its first bytes.
    ranges = [r.headers.get("Range") for r in proxy.requests]
    assert ranges == ["bytes=4-", "bytes=7-9"]


async def test_bulk_get_of_a_thousand_objects_returns_the_right_bytes(
    gcs_server: FakeGCSServer, bucket: str
) -> None:
    uris = [f"gs://{bucket}/bulk/{i}" for i in range(1000)]
    # A pool much smaller than the concurrency: requests wait for a connection, none fails.
    async with GSRaw(api_root=gcs_server.url, max_connections=8) as small_pool:
        await small_pool.put_many((u, hashlib.sha1(u.encode()).digest()) for u in uris)
        got = await small_pool.get_many([*uris, f"gs://{bucket}/absent"], concurrency=256)
    assert got == [hashlib.sha1(u.encode()).digest() for u in uris] + [None]


# -- uploads -------------------------------------------------------------------------------------


async def test_large_bodies_round_trip_through_resumable_uploads(
    proxy: FaultProxy, bucket: str
) -> None:
    data = os.urandom(20 * MiB + 12345)
    # 768 KiB chunks: the proxy (which fake-gcs-server names in upload session URIs) takes
    # request bodies up to 1 MiB.
    async with GSRaw(api_root=proxy.url, chunk_size=768 << 10, verify_md5=True) as store:
        await store.put(f"gs://{bucket}/bytes", data)
        await store.put(f"gs://{bucket}/stream", _pieces(data, 3 * MiB + 7))
        for name in ("bytes", "stream"):
            assert await store.size(f"gs://{bucket}/{name}") == len(data)
            assert await store.get(f"gs://{bucket}/{name}") == data
        streamed = [c async for c in store.stream(f"gs://{bucket}/stream", chunk_size=MiB)]
    assert b"".join(streamed) == data and max(map(len, streamed)) <= MiB
    starts = [r for r in proxy.requests if r.method == "POST" and "uploadType=resumable" in r.path]
    assert len(starts) == 2
    assert sum(r.method == "PUT" for r in proxy.requests) == 2 * 27  # 20 MiB / 768 KiB, rounded up


async def test_a_failing_producer_leaves_no_object_and_keeps_the_old_one(
    gcs_server: FakeGCSServer, bucket: str
) -> None:
    data = os.urandom(3 * MiB)
    async with GSRaw(api_root=gcs_server.url, chunk_size=MiB) as store:
        await store.put(f"gs://{bucket}/kept", b"old")
        for name in ("new", "kept"):
            with pytest.raises(RuntimeError, match="producer failed"):
                await store.put(f"gs://{bucket}/{name}", _pieces(data, 256 << 10, fail=True))
        assert not await store.exists(f"gs://{bucket}/new")
        assert await store.get(f"gs://{bucket}/kept") == b"old"
        assert [u async for u in store.list(f"gs://{bucket}/")] == [f"gs://{bucket}/kept"]


async def test_a_cancelled_upload_leaves_no_object(gcs_server: FakeGCSServer, bucket: str) -> None:
    async def endless() -> AsyncIterator[bytes]:
        while True:
            yield os.urandom(256 << 10)
            await asyncio.sleep(0.001)

    async with GSRaw(api_root=gcs_server.url, chunk_size=256 << 10) as store:
        task = asyncio.create_task(store.put(f"gs://{bucket}/endless", endless()))
        await asyncio.sleep(0.3)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await asyncio.sleep(0.05)  # the shielded session cancellation
        assert not await store.exists(f"gs://{bucket}/endless")


# -- retries and errors --------------------------------------------------------------------------


async def test_transient_errors_are_retried_and_then_reported(
    proxy: FaultProxy, bucket: str, store: GSRaw
) -> None:
    await store.put(f"gs://{bucket}/t", b"payload")
    async with GSRaw(api_root=proxy.url, retry=FAST) as proxied:
        proxy.fail_next(2, status=503)
        assert await proxied.get(f"gs://{bucket}/t") == b"payload"
        proxy.fail_next(1, status=429)
        assert await proxied.size(f"gs://{bucket}/t") == 7
        assert proxy.count() == 5
        proxy.fail_next(100, status=503)
        with pytest.raises(StoreNotAvailable, match="503"):
            await proxied.get(f"gs://{bucket}/t")
    assert proxy.count() == 5 + FAST.attempts


async def test_access_denied_is_not_retried_and_is_not_a_miss(
    proxy: FaultProxy, bucket: str
) -> None:
    async with GSRaw(api_root=proxy.url, retry=FAST) as proxied:
        proxy.deny(403)
        with pytest.raises(StoreNotAvailable, match=r"access denied \(HTTP 403\)"):
            await proxied.get(f"gs://{bucket}/t")
        with pytest.raises(StoreNotAvailable):
            await proxied.exists(f"gs://{bucket}/t")
    assert proxy.count() == 2


async def test_an_unreachable_server_is_not_available() -> None:
    async with GSRaw(api_root="http://127.0.0.1:9", retry=Retry(attempts=2, base=0.01)) as dead:
        with pytest.raises(StoreNotAvailable, match="ClientConnectorError"):
            await dead.get("gs://bucket/key")


async def test_a_stream_cut_midway_resumes_at_the_next_byte_of_the_same_generation() -> None:
    blob = bytes(range(256)) * 256  # 64 KiB
    seen: list[tuple[str | None, str | None]] = []
    handler = cut_midway(blob, "42", seen)
    async with (
        serving("GET", "/storage/v1/b/bkt/o/obj", handler) as url,
        GSRaw(api_root=url, retry=FAST) as store,
    ):
        chunks = [c async for c in store.stream("gs://bkt/obj", chunk_size=4096)]
    assert b"".join(chunks) == blob
    assert seen[0] == (None, None)
    assert seen[1][1] == "42" and seen[1][0] is not None and seen[1][0].startswith("bytes=")


async def test_a_server_that_stops_answering_times_out_and_is_retried(
    proxy: FaultProxy,
) -> None:
    proxy.delay = 0.5
    retry = Retry(attempts=2, base=0.01, cap=0.01)
    async with GSRaw(api_root=proxy.url, read_timeout=0.05, retry=retry) as slow:
        with pytest.raises(StoreNotAvailable, match="Timeout"):
            await slow.get("gs://bucket/key")
    assert proxy.count() == 2


def test_options_are_checked_when_the_store_is_made() -> None:
    with pytest.raises(TypeError, match="credentials"):
        GSRaw(42)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="256 KiB"):
        GSRaw(chunk_size=1000)
    with pytest.raises(ValueError, match="max_connections"):
        GSRaw(max_connections=0)
    with pytest.raises(TypeError, match="no credentials"):
        GSRaw.anonymous(credentials={"type": "service_account"})


# -- integrity -----------------------------------------------------------------------------------


async def test_md5_verification_catches_a_corrupted_download(
    proxy: FaultProxy, bucket: str, store: GSRaw
) -> None:
    await store.put(f"gs://{bucket}/m", b"precious bytes")
    async with GSRaw(api_root=proxy.url, verify_md5=True, retry=FAST) as checked:
        proxy.corrupt_next(FAST.attempts)  # a mismatch is read again: damage every attempt
        with pytest.raises(InvalidDataFound, match="md5"):
            await checked.get(f"gs://{bucket}/m")
        proxy.corrupt_next(1)
        with pytest.raises(InvalidDataFound):
            _ = [c async for c in checked.stream(f"gs://{bucket}/m", chunk_size=4)]
        assert await checked.get(f"gs://{bucket}/m") == b"precious bytes"
        proxy.corrupt_next(1)  # ranges are not checked: there is no digest of a part
        assert await checked.get_range(f"gs://{bucket}/m", 0, 3) == bytes([ord("p") ^ 0xFF]) + b"re"
    async with GSRaw(api_root=proxy.url, verify_checksums=False) as unchecked:
        proxy.corrupt_next(1)
        assert await unchecked.get(f"gs://{bucket}/m") != b"precious bytes"


# -- chains --------------------------------------------------------------------------------------


async def test_a_file_cache_fills_from_a_gcs_source(
    store: GSRaw, bucket: str, tmp_path: Path
) -> None:
    blob = b"cached from GCS"
    key = hashlib.sha1(blob).hexdigest()
    await store.put(f"gs://{bucket}/blobs/{key}", blob)
    async with Sha1Composite() as chain:
        chain.append_cache(Sha1Cache(FileRaw(), f"{tmp_path}/cache/"))
        chain.append_source(Sha1Store(store, f"gs://{bucket}/blobs/"), cache_result=True)
        assert await chain.get(key) == blob
        await chain.flush()
        assert (tmp_path / "cache" / key).read_bytes() == blob
        await store.delete(f"gs://{bucket}/blobs/{key}")
        assert await chain.get(key) == blob  # now from the cache


async def test_a_composite_mixes_gs_and_file_tiers(
    store: GSRaw, bucket: str, tmp_path: Path
) -> None:
    (tmp_path / "local").write_bytes(b"on disk")
    await store.put(f"gs://{bucket}/remote", b"in the bucket")
    async with Composite() as chain:
        chain.append_source(FileRaw(tmp_path))
        chain.append_source(store, write=True)
        assert await chain.get(f"{tmp_path}/local") == b"on disk"
        assert await chain.get(f"gs://{bucket}/remote") == b"in the bucket"
        await chain.put(f"gs://{bucket}/written", b"through the chain")
        assert await store.get(f"gs://{bucket}/written") == b"through the chain"
        with pytest.raises(NotFoundInStore):
            await chain.get(f"gs://{bucket}/absent")


# -- lifecycle -----------------------------------------------------------------------------------


def _child(store: GSRaw, bucket: str) -> None:
    async def main() -> None:
        data = await store.get(f"gs://{bucket}/parent")
        await store.put(f"gs://{bucket}/child", data + b" via child")
        await store.aclose()

    asyncio.run(main())


async def test_a_forked_child_and_an_unpickled_copy_make_their_own_sessions(
    store: GSRaw, bucket: str
) -> None:
    await store.put(f"gs://{bucket}/parent", b"hello")  # the parent's session exists now
    child = multiprocessing.get_context("fork").Process(target=_child, args=(store, bucket))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # 3.12+: fork with threads
        child.start()
    await asyncio.to_thread(child.join, 60)
    assert child.exitcode == 0
    assert await store.get(f"gs://{bucket}/child") == b"hello via child"
    pickled = pickle.dumps(store)
    assert b"ClientSession" not in pickled
    async with pickle.loads(pickled) as clone:
        assert await clone.get(f"gs://{bucket}/parent") == b"hello"


async def test_closing_leaves_nothing_open_and_the_store_reopens(
    gcs_server: FakeGCSServer, bucket: str
) -> None:
    store = GSRaw(api_root=gcs_server.url)
    await store.put(f"gs://{bucket}/c", b"x")
    session = (await store._clients.get()).session
    await store.aclose()
    await store.aclose()
    assert session.closed
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        gc.collect()
    assert [w for w in caught if issubclass(w.category, ResourceWarning)] == []
    assert await store.get(f"gs://{bucket}/c") == b"x"
    await store.aclose()


# -- auth and secrecy ----------------------------------------------------------------------------


async def test_the_emulator_variable_is_honoured_and_no_token_is_sent(
    proxy: FaultProxy, bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", proxy.url.removeprefix("http://"))
    # Credentials are never even looked for: this file does not exist.
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", "/nonexistent/credentials.json")
    async with GSRaw() as store, GSRaw.anonymous() as anonymous:
        await store.put(f"gs://{bucket}/e", b"emulated")
        assert await anonymous.get(f"gs://{bucket}/e") == b"emulated"
        assert store.name == f"GSRaw(api_root={proxy.url!r})"
    assert proxy.count() == 2
    assert all("Authorization" not in r.headers for r in proxy.requests)


UNPARSABLE_KEY = "-----BEGIN PRIVATE KEY-----\nTOP-SECRET-KEY-MATERIAL\n-----END PRIVATE KEY-----\n"


@pytest.fixture
async def token_endpoint() -> AsyncIterator[tuple[str, list[str]]]:
    """A local OAuth token endpoint that refuses every grant; yields its URL and the bodies."""
    calls: list[str] = []
    async with serving("POST", "/token", refusing_token_endpoint(calls)) as url:
        yield f"{url}/token", calls


@contextlib.contextmanager
def tblib_reducers() -> Iterator[None]:
    """tblib's exception pickling, as Dask installs it, for the block only."""
    import copyreg

    from tblib import pickling_support

    saved = dict(copyreg.dispatch_table)
    pickling_support.install()
    try:
        yield
    finally:
        copyreg.dispatch_table.clear()
        copyreg.dispatch_table.update(saved)


async def _auth_failure(credentials: object, secret: str) -> StoreNotAvailable:
    store = GSRaw(credentials, retry=FAST)  # type: ignore[arg-type]
    with pytest.raises(StoreNotAvailable, match="authentication failed") as caught:
        await store.get("gs://bucket/key")
    await store.aclose()
    shown = "".join(traceback.format_exception(caught.value)) + repr(store) + store.name
    shown += str(pickle.loads(pickle.dumps(caught.value)))
    # tblib (installed by Dask) pickles whole exception chains: nothing in ours may hold back.
    with tblib_reducers():
        shown += repr(pickle.loads(pickle.dumps(caught.value)).__cause__)
    assert secret not in shown and "PRIVATE KEY" not in shown
    return caught.value


async def test_a_refused_token_is_reported_once_without_the_private_key(
    token_endpoint: tuple[str, list[str]],
) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    url, calls = token_endpoint
    info = {
        "type": "service_account",
        "private_key": pem,
        "client_email": "a@b.c",
        "token_uri": url,
    }
    error = await _auth_failure(info, pem.splitlines()[1])
    assert "HTTP 401" in str(error)
    assert len(calls) == 1  # gcloud-aio-auth's own retries are off: the store's policy rules


async def test_unusable_credentials_are_reported_without_the_key(
    token_endpoint: tuple[str, list[str]], tmp_path: Path
) -> None:
    url, calls = token_endpoint
    info = {"type": "service_account", "private_key": UNPARSABLE_KEY, "client_email": "a@b.c",
            "token_uri": url}  # fmt: skip
    (tmp_path / "not-json").write_text("{" + UNPARSABLE_KEY)
    for credentials in (info, tmp_path / "not-json", tmp_path / "missing.json"):
        await _auth_failure(credentials, "TOP-SECRET")
    assert calls == []  # nothing could be signed, so nothing was sent
