"""S3Raw's fast path (requests signed by the store, sent on aiohttp) against its slow path.

Both paths must return the same bytes and raise the same errors. SeaweedFS checks SigV4
signatures, so every key that round-trips there was signed right; moto is the second server.
The signer itself is compared with botocore's on the same request.
"""

from __future__ import annotations

import datetime
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiobotocore.credentials import AioRefreshableCredentials
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from asyncbitstore import (
    BucketNotFound,
    InvalidRange,
    NotFoundInStore,
    Retry,
    S3Raw,
    StoreNotAvailable,
)
from asyncbitstore.raw.s3._fast import FastConnection, error_response
from asyncbitstore.raw.s3._sign import Signer, quote_key, target
from tests.contract.targets_s3 import fresh_bucket
from tests.faults import STATUS, FaultProxy

FAST = Retry(attempts=3, base=0.01, cap=0.05)
GOOD = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
KEYS = [
    "with space", "plus+sign", "percent%41not-an-escape", "tilde~x", "eq=1&amp=2", "semi;colon,",
    "star*(paren)!'", "hash#frag?query", "ünïcødé/日本語/😀", "a/b/c/d/e/f/g/h/i/j/deep.bin",
    "dollar$at@colon:", "back\\slash", "brackets[]{}^|`", "x" * 200,
]  # fmt: skip


@pytest.fixture(params=["moto", "seaweed"])
async def bucket(request: pytest.FixtureRequest) -> AsyncIterator[tuple[str, str, Any]]:
    """(endpoint, fresh bucket, admin client) on each S3 server in turn."""
    url = str(request.getfixturevalue(f"{request.param}_server").url)
    async with fresh_bucket(url) as (name, admin):
        yield url, name, admin


@pytest.fixture
async def proxied(seaweed_server: Any) -> AsyncIterator[tuple[FaultProxy, str, Any]]:
    """A FaultProxy in front of SeaweedFS: (proxy, bucket, admin client)."""
    async with (
        fresh_bucket(seaweed_server.url) as (name, admin),
        FaultProxy(seaweed_server.url) as proxy,
    ):
        yield proxy, name, admin


def _stores(url: str, **options: Any) -> tuple[S3Raw, S3Raw]:
    return S3Raw(endpoint_url=url, **options), S3Raw(endpoint_url=url, fast_path=False, **options)


# -- the signer and the URL builder, offline ----------------------------------------------------


def _botocore_authorization(url: str, headers: dict[str, str], token: str | None) -> dict[str, str]:
    request = AWSRequest(method="GET", url=url, headers=headers)
    S3SigV4Auth(Credentials("AKIDEXAMPLE", "secret/+key", token), "s3", "eu-west-1").add_auth(
        request
    )
    return dict(request.headers.items())


@pytest.mark.parametrize("key", [*KEYS, "plain"])
@pytest.mark.parametrize("path_style", [True, False])
def test_the_signature_matches_botocores_for_awkward_keys(key: str, path_style: bool) -> None:
    where = target("https://s3.eu-west-1.amazonaws.com", "my-bucket", key, path_style=path_style)
    token = "session/token+value=="
    theirs = _botocore_authorization(where.url, {"Range": "bytes=0-9"}, token)
    now = time.mktime(time.strptime(theirs["X-Amz-Date"], "%Y%m%dT%H%M%SZ")) - time.timezone
    ours = Signer("eu-west-1").sign(
        "GET", where, {"Range": "bytes=0-9"}, access_key="AKIDEXAMPLE", secret_key="secret/+key",
        token=token, payload_hash=theirs["X-Amz-Content-SHA256"], now=now,
    )  # fmt: skip
    assert ours["X-Amz-Date"] == theirs["X-Amz-Date"]
    assert ours["Authorization"] == theirs["Authorization"]
    assert ours["X-Amz-Security-Token"] == token


def test_the_signing_key_is_derived_once_per_day_and_secret() -> None:
    signer = Signer("us-east-1")
    where = target("http://127.0.0.1:9000", "b", "k", path_style=True)
    day = datetime.datetime(2030, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc).timestamp()
    first = signer.sign("GET", where, {}, access_key="a", secret_key="s1", now=day)
    key = signer._cached
    signer.sign("GET", where, {}, access_key="a", secret_key="s1", now=day + 60)
    assert signer._cached is key  # the same day: reused
    other = signer.sign("GET", where, {}, access_key="a", secret_key="s2", now=day)
    assert other["Authorization"] != first["Authorization"] and signer._cached is not key
    assert "s1" not in repr(signer) and "s2" not in repr(signer)


def test_keys_are_encoded_once_with_unreserved_characters_kept() -> None:
    assert quote_key("a b+c%d~e=f&g/h_i.j-k") == "a%20b%2Bc%25d~e%3Df%26g/h_i.j-k"
    assert quote_key("ü/😀") == "%C3%BC/%F0%9F%98%80"
    assert quote_key("%2F") == "%252F"  # a literal percent sign, not an escape


def test_path_style_and_virtual_host_urls() -> None:
    path = target("http://127.0.0.1:8333", "bkt", "a b/c", path_style=True)
    assert (path.url, path.host, path.path) == (
        "http://127.0.0.1:8333/bkt/a%20b/c", "127.0.0.1:8333", "/bkt/a%20b/c",
    )  # fmt: skip
    virtual = target("https://s3.eu-west-1.amazonaws.com", "my-bucket", "k+1", path_style=False)
    assert virtual.url == "https://my-bucket.s3.eu-west-1.amazonaws.com/k%2B1"
    assert (virtual.host, virtual.path) == ("my-bucket.s3.eu-west-1.amazonaws.com", "/k%2B1")
    # Names that are no DNS label stay path-style; default ports are left out of Host.
    for name in ("My_Bucket", "dotted.name"):
        odd = target("https://s3.amazonaws.com:443", name, "k", path_style=False)
        assert (odd.url, odd.host) == (f"https://s3.amazonaws.com/{name}/k", "s3.amazonaws.com")
    prefixed = target("http://[::1]:9000/base/", "bkt", "k", path_style=True)
    assert (prefixed.url, prefixed.host) == ("http://[::1]:9000/base/bkt/k", "[::1]:9000")


def test_error_bodies_parse_into_botocores_shape() -> None:
    body = (
        b'<?xml version="1.0"?><Error><Code>NoSuchKey</Code><Message>gone</Message>'
        b"<Key>k</Key><RequestId>r1</RequestId></Error>"
    )
    parsed = error_response(404, {"x-amz-request-id": "r1"}, body)
    assert parsed["Error"] == {"Code": "NoSuchKey", "Message": "gone", "Key": "k"}
    assert parsed["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert parsed["ResponseMetadata"]["RequestId"] == "r1"
    nested = b"<ErrorResponse xmlns='x'><Error><Code>SlowDown</Code></Error></ErrorResponse>"
    assert error_response(503, {}, nested)["Error"] == {"Code": "SlowDown"}
    for empty in (b"", b"not xml <"):  # HEAD has no body; a proxy may send anything
        assert error_response(403, {}, empty)["Error"] == {"Code": "403", "Message": "Forbidden"}


# -- round trips on signature-checking servers --------------------------------------------------


async def test_awkward_keys_round_trip_on_both_paths_and_across_them(
    bucket: tuple[str, str, Any],
) -> None:
    url, name, admin = bucket
    fast, slow = _stores(url)
    async with fast, slow:
        for i, key in enumerate(KEYS):
            uri, data = f"s3://{name}/{key}", f"{i}:{key}".encode()
            writer = slow if i % 2 else fast
            await writer.put(uri, data)
            for store in (fast, slow):
                assert await store.get(uri) == data, (key, store.fast_path)
                assert await store.get_range(uri, 1, 4) == data[1:4]
                assert await store.size(uri) == len(data)
                assert await store.exists(uri) is True
            got = await admin.get_object(Bucket=name, Key=key)  # stored under the exact key
            async with got["Body"] as body:
                assert await body.read() == data
        assert isinstance(await fast._connections.get(), FastConnection)
        assert not isinstance(await slow._connections.get(), FastConnection)


async def test_an_object_written_by_the_slow_path_reads_the_same_on_the_fast_one(
    bucket: tuple[str, str, Any],
) -> None:
    url, name, _ = bucket
    fast, slow = _stores(url, verify_etag=True)
    uris = [f"s3://{name}/many/{i} +~%" for i in range(50)]
    async with fast, slow:
        await slow.put_many([(u, u.encode() * 50) for u in uris])
        await slow.put(f"s3://{name}/empty", b"")
        assert await fast.get_many(uris) == await slow.get_many(uris)
        assert await fast.get(f"s3://{name}/empty") == b""
        assert await fast.get_range(f"s3://{name}/many/0 +~%", 10, 10) == b""


# -- errors: the same on both paths -------------------------------------------------------------


async def _error(call: Any) -> BaseException:
    try:
        await call
    except Exception as exc:
        return exc
    raise AssertionError("no error raised")


async def test_every_error_is_the_same_on_both_paths(bucket: tuple[str, str, Any]) -> None:
    url, name, admin = bucket
    await admin.put_object(Bucket=name, Key="ten", Body=b"0123456789")
    fast, slow = _stores(url, retry=FAST)
    async with fast, slow:
        for uri, kind in ((f"s3://{name}/missing", NotFoundInStore),
                          ("s3://no-such-bucket-here/k", BucketNotFound)):  # fmt: skip
            for op in ("get", "size", "exists"):
                if op == "exists" and kind is NotFoundInStore:
                    assert [await s.exists(uri) for s in (fast, slow)] == [False, False]
                    continue
                errors = [await _error(getattr(s, op)(uri)) for s in (fast, slow)]
                assert [type(e) for e in errors] == [kind] * 2
                assert str(errors[0]) == str(errors[1])
        errors = [await _error(s.get_range(f"s3://{name}/ten", 11, 12)) for s in (fast, slow)]
        assert [type(e) for e in errors] == [InvalidRange] * 2
        assert str(errors[0]) == str(errors[1])
        assert "bucket 'no-such-bucket-here'" in str(
            await _error(fast.get("s3://no-such-bucket-here/k"))
        )


@pytest.mark.parametrize("fast_path", [True, False])
async def test_a_wrong_secret_is_signature_does_not_match_on_both_paths(
    seaweed_server: Any, fast_path: bool
) -> None:
    secret = "wrong-Secret-1a2b3c"
    async with fresh_bucket(seaweed_server.url) as (name, admin):
        await admin.put_object(Bucket=name, Key="k", Body=b"x")
        creds = {"aws_access_key_id": "testing", "aws_secret_access_key": secret}
        async with S3Raw(
            creds, endpoint_url=seaweed_server.url, retry=FAST, fast_path=fast_path
        ) as store:
            with pytest.raises(StoreNotAvailable, match="SignatureDoesNotMatch") as caught:
                await store.get(f"s3://{name}/k")
            with pytest.raises(StoreNotAvailable, match="access denied"):
                await store.put(f"s3://{name}/k2", b"y")
    assert secret not in str(caught.value) and secret not in repr(caught.value)


async def test_a_403_and_retried_503s_behave_alike_on_both_paths(
    proxied: tuple[FaultProxy, str, Any],
) -> None:
    proxy, name, admin = proxied
    await admin.put_object(Bucket=name, Key="k", Body=b"v")
    fast, slow = _stores(proxy.url, retry=FAST)
    async with fast, slow:
        denied = proxy.inject(STATUS, status=403)
        errors = [await _error(s.get(f"s3://{name}/k")) for s in (fast, slow)]
        heads = [await _error(s.exists(f"s3://{name}/k")) for s in (fast, slow)]
        proxy.remove(denied)
        for store in (fast, slow):
            proxy.inject(STATUS, status=503, first=2)
            assert await store.get(f"s3://{name}/k") == b"v"
    assert str(errors[0]) == str(errors[1]) and "AccessDenied" in str(errors[0])
    assert str(heads[0]) == str(heads[1]) and "access denied" in str(heads[0])
    assert [r.status for r in proxy.requests][-6:] == [503, 503, 200, 503, 503, 206]


# -- credentials, addressing, fallback ----------------------------------------------------------


def _agents(proxy: FaultProxy) -> list[bool]:
    return ["Botocore" in r.headers.get("User-Agent", "") for r in proxy.requests]


async def test_session_tokens_are_sent_and_signed(moto_server: Any) -> None:
    token = "FQoGZXIvYXdzEXAMPLE/token+="
    async with fresh_bucket(moto_server.url) as (name, _), FaultProxy(moto_server.url) as proxy:
        store = S3Raw({**GOOD, "aws_session_token": token}, endpoint_url=proxy.url)
        async with store:
            await store.put(f"s3://{name}/k", b"with a token")
            assert await store.get(f"s3://{name}/k") == b"with a token"
            assert await store.size(f"s3://{name}/k") == 12
    assert _agents(proxy) == [False, False, False]  # all three on the fast path
    for seen in proxy.requests:
        assert seen.headers["X-Amz-Security-Token"] == token
        assert "x-amz-security-token" in seen.headers["Authorization"]


async def test_refreshed_credentials_are_read_for_every_request(moto_server: Any) -> None:
    serial = iter(range(1, 100))

    async def refresh() -> dict[str, str]:
        expiry = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(minutes=1)
        n = next(serial)  # expiring within the mandatory window: refreshed on every read
        return {"access_key": f"key{n}", "secret_key": "s", "token": f"token{n}",
                "expiry_time": expiry.isoformat()}  # fmt: skip

    async with (
        fresh_bucket(moto_server.url) as (name, _),
        FaultProxy(moto_server.url) as proxy,
        S3Raw(endpoint_url=proxy.url) as store,
    ):
        connection = await store._connections.get()
        connection.client._request_signer._credentials = (
            AioRefreshableCredentials.create_from_metadata(await refresh(), refresh, "test")
        )
        await store.put(f"s3://{name}/k", b"rotated")
        assert await store.get(f"s3://{name}/k") == b"rotated"
    tokens = [r.headers["X-Amz-Security-Token"] for r in proxy.requests]
    assert [r.access_key for r in proxy.requests] == ["key2", "key3"]
    assert tokens == ["token2", "token3"]


async def test_anonymous_fast_requests_are_unsigned(proxied: tuple[FaultProxy, str, Any]) -> None:
    proxy, name, admin = proxied
    await admin.put_object(Bucket=name, Key="pub lic+", Body=b"for everyone")
    async with S3Raw.anonymous(endpoint_url=proxy.url, retry=FAST) as store:
        assert await store.get(f"s3://{name}/pub lic+") == b"for everyone"
        assert await store.exists(f"s3://{name}/pub lic+") is True
        with pytest.raises(StoreNotAvailable, match="access denied"):
            await store.put(f"s3://{name}/mine", b"no")
    assert _agents(proxy) == [False, False, False]
    assert all("Authorization" not in r.headers for r in proxy.requests)


async def test_a_redirect_without_a_region_is_an_error_and_the_bucket_stays_fast(
    proxied: tuple[FaultProxy, str, Any],
) -> None:
    proxy, name, admin = proxied
    await admin.put_object(Bucket=name, Key="k", Body=b"elsewhere")
    async with S3Raw(endpoint_url=proxy.url, retry=FAST) as store:
        proxy.inject(STATUS, status=301, first=1)
        with pytest.raises(StoreNotAvailable, match="redirect"):
            await store.get(f"s3://{name}/k")
        assert await store.get(f"s3://{name}/k") == b"elsewhere"
        assert await store.size(f"s3://{name}/k") == 9
    assert [r.status for r in proxy.requests] == [301, 200, 200]  # a plain GET, a HEAD
    assert _agents(proxy) == [False, False, False]  # one redirect does not move the bucket


def test_the_fast_path_is_a_constructor_option_kept_by_pickling() -> None:
    import pickle

    assert S3Raw().fast_path is True
    clone = pickle.loads(pickle.dumps(S3Raw(fast_path=False)))
    assert clone.fast_path is False and clone._options.fast_path is False
