"""Whole-object reads check the server's checksum by default (``verify_checksums=True``).

Scripted S3 and GCS peers serve a body whose MD5 is not the one they announce (an MD5 ETag,
or ``x-goog-hash``). ``get`` retries under the store's policy, then raises ``InvalidDataFound``;
a chain in front keeps nothing; ``stream`` ends with the error instead of a clean end; with
``verify_checksums=False`` the bytes come back. Checksums that are no MD5 of the body
(multipart ETags, SSE-KMS and SSE-C objects, crc32c only) are not checked.
"""

from __future__ import annotations

import base64
import hashlib
from contextlib import aclosing
from typing import Any

import pytest

from asyncbitstore import InvalidDataFound, MemoryRaw, Sha1Cache, Sha1Composite, Sha1Store, Store
from asyncbitstore.config import build_chain
from tests.reliability.hostile_http import Request, answer, peer, store_for

BODY = b"the bytes the server sends, " * 200
OTHER = b"the bytes the server says it sends"
KINDS = ("s3-fast", "s3-botocore", "gcs")


def md5(data: bytes) -> bytes:
    return hashlib.md5(data, usedforsecurity=False).digest()


def announcing(kind: str, digest: bytes, **extra: str) -> dict[str, str]:
    """The headers of a GET answer announcing ``digest`` as the body's MD5."""
    if kind == "gcs":
        return {"X_Goog_Hash": f"crc32c=AAAAAA==,md5={base64.b64encode(digest).decode()}", **extra}
    return {"ETag": f'"{digest.hex()}"', **extra}


class Server:
    """Answers GETs with ``BODY``; the first ``bad`` of them announce the MD5 of ``OTHER``."""

    def __init__(self, kind: str, bad: int, **extra: str) -> None:
        self.kind = kind
        self.bad = bad
        self.extra = extra
        self.gets = 0

    def __call__(self, request: Request) -> bytes:
        if request.method != "GET":
            return answer(404)
        self.gets += 1
        digest = md5(OTHER) if self.gets <= self.bad else md5(BODY)
        return answer(200, BODY, **announcing(self.kind, digest, **self.extra))


async def _stream(store: Store, uri: str) -> bytes:
    async with aclosing(store.stream(uri, 1024)) as chunks:
        return b"".join([chunk async for chunk in chunks])


@pytest.mark.parametrize("kind", KINDS)
async def test_a_persistent_mismatch_is_retried_then_raises(kind: str) -> None:
    server = Server(kind, bad=1000)
    async with peer(server) as scripted:
        store, uri = store_for(kind, scripted)
        async with store:
            with pytest.raises(InvalidDataFound, match=r"(?i)md5") as caught:
                await store.get(uri)
    assert server.gets == 3  # every attempt of the policy (tests' QUICK: 3)
    assert BODY.decode()[:20] not in str(caught.value)


@pytest.mark.parametrize("kind", KINDS)
async def test_a_passing_mismatch_is_retried_and_the_good_bytes_come_back(kind: str) -> None:
    server = Server(kind, bad=1)
    async with peer(server) as scripted:
        store, uri = store_for(kind, scripted)
        async with store:
            assert await store.get(uri) == BODY
    assert server.gets == 2


@pytest.mark.parametrize("kind", KINDS)
async def test_verify_checksums_false_gives_the_bytes(kind: str) -> None:
    server = Server(kind, bad=1000)
    async with peer(server) as scripted:
        store, uri = store_for(kind, scripted, verify_checksums=False)
        async with store:
            assert store.verify_checksums is False  # type: ignore[attr-defined]
            assert await store.get(uri) == BODY
            assert await _stream(store, uri) == BODY
    assert server.gets == 2


@pytest.mark.parametrize("kind", KINDS)
async def test_a_stream_ends_with_the_error_not_a_clean_end(kind: str) -> None:
    server = Server(kind, bad=1000)
    async with peer(server) as scripted:
        store, uri = store_for(kind, scripted)
        async with store:
            received = []
            with pytest.raises(InvalidDataFound, match=r"(?i)md5"):
                async with aclosing(store.stream(uri, 1024)) as chunks:
                    async for chunk in chunks:
                        received.append(chunk)  # noqa: PERF401 - kept up to the error
    assert b"".join(received) == BODY  # the error came at the end, after every byte


@pytest.mark.parametrize("how", ["get", "stream"])
@pytest.mark.parametrize("kind", KINDS)
async def test_a_chain_in_front_keeps_nothing(kind: str, how: str) -> None:
    # The bytes are the blob's (its SHA-1 is the key): only the server's checksum is wrong.
    key = hashlib.sha1(BODY).hexdigest()
    server = Server(kind, bad=1000)
    async with peer(server) as scripted:
        raw, uri = store_for(kind, scripted)
        cache = Sha1Cache(MemoryRaw(), "mem://cache/")
        chain = Sha1Composite()
        chain.append_cache(cache)
        chain.append_source(Sha1Store(raw, uri.rsplit("/", 1)[0] + "/"), cache_result=True)
        async with chain:
            with pytest.raises(InvalidDataFound):
                if how == "get":
                    await chain.get(key)
                else:
                    await _stream(chain, key)
            await chain.flush()
            assert [u async for u in cache.raw.list("mem://cache/")] == []
    assert server.gets == (3 if how == "get" else 1)


@pytest.mark.parametrize(
    "extra",
    [
        {"x_amz_server_side_encryption": "aws:kms"},
        {"x_amz_server_side_encryption": "aws:kms:dsse"},
        {"x_amz_server_side_encryption_customer_algorithm": "AES256"},
    ],
)
@pytest.mark.parametrize("kind", ["s3-fast", "s3-botocore"])
async def test_an_encrypted_objects_etag_is_not_taken_for_an_md5(
    kind: str, extra: dict[str, str]
) -> None:
    server = Server(kind, bad=1000, **extra)
    async with peer(server) as scripted:
        store, uri = store_for(kind, scripted)
        async with store:
            assert await store.get(uri) == BODY
            assert await _stream(store, uri) == BODY


@pytest.mark.parametrize("kind", ["s3-fast", "s3-botocore"])
async def test_a_multipart_etag_is_not_checked(kind: str) -> None:
    def reply(request: Request) -> bytes:
        return answer(200, BODY, ETag=f'"{md5(OTHER).hex()}-3"')

    async with peer(reply) as scripted:
        store, uri = store_for(kind, scripted)
        async with store:
            assert await store.get(uri) == BODY


@pytest.mark.parametrize(
    "headers",
    [
        {"X_Goog_Hash": "crc32c=AAAAAA=="},  # no md5 (a composite object): nothing to check
        {"X_Goog_Stored_Content_Encoding": "gzip"},  # decompressed on the way
    ],
)
async def test_gcs_answers_without_a_usable_md5_pass(headers: dict[str, str]) -> None:
    wrong = base64.b64encode(md5(OTHER)).decode()

    def reply(request: Request) -> bytes:
        given = {"X_Goog_Hash": f"md5={wrong}", **headers}
        return answer(200, BODY, **given)

    async with peer(reply) as scripted:
        store, uri = store_for("gcs", scripted)
        async with store:
            assert await store.get(uri) == BODY


def _source_options(scheme: str, **options: Any) -> Any:
    config = {"tier": [{"role": "source", "uri": f"{scheme}://bucket/files/", **options}]}
    return build_chain(config).tiers[0].store.raw  # type: ignore[attr-defined]


@pytest.mark.parametrize("scheme", ["s3", "gs"])
def test_the_config_key_reaches_the_store(scheme: str) -> None:
    endpoint = {"endpoint": "http://127.0.0.1:9"}
    assert _source_options(scheme, **endpoint).verify_checksums is True
    off = _source_options(scheme, verify_checksums=False, **endpoint)
    assert off.verify_checksums is False
