"""``S3Raw(verify_etag=True)`` checks an MD5 ETag whatever its letter case.

A scripted S3 peer serves bytes whose ETag is the MD5 of other bytes, written in upper case:
``get`` and ``stream`` must raise ``InvalidDataFound`` on both paths. The right MD5 in upper
case passes, and a multipart ETag (``-N`` suffix) is still not taken for an MD5.
"""

from __future__ import annotations

import hashlib
from contextlib import aclosing

import pytest

from asyncbitstore import InvalidDataFound, S3Raw
from tests.reliability.hostile_http import Request, answer, peer, store_for

BODY = b"the stored bytes"
S3_KINDS = ("s3-fast", "s3-botocore")


def md5(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def serving(etag: str) -> object:
    def reply(request: Request) -> bytes:
        return answer(200, BODY, ETag=f'"{etag}"')

    return reply


async def _read(store: S3Raw, uri: str, how: str) -> bytes:
    if how == "get":
        return await store.get(uri)
    async with aclosing(store.stream(uri, 4)) as chunks:
        return b"".join([chunk async for chunk in chunks])


@pytest.mark.parametrize("how", ["get", "stream"])
@pytest.mark.parametrize("kind", S3_KINDS)
async def test_an_upper_case_etag_of_other_bytes_is_a_mismatch(kind: str, how: str) -> None:
    async with peer(serving(md5(b"other bytes").upper())) as server:  # type: ignore[arg-type]
        store, uri = store_for(kind, server, verify_etag=True)
        async with store:
            with pytest.raises(InvalidDataFound, match="does not match"):
                await _read(store, uri, how)  # type: ignore[arg-type]


@pytest.mark.parametrize("etag", [md5(BODY).upper(), md5(b"x").upper() + "-2"])
@pytest.mark.parametrize("how", ["get", "stream"])
@pytest.mark.parametrize("kind", S3_KINDS)
async def test_a_matching_upper_case_etag_and_a_multipart_one_pass(
    kind: str, how: str, etag: str
) -> None:
    async with peer(serving(etag)) as server:  # type: ignore[arg-type]
        store, uri = store_for(kind, server, verify_etag=True)
        async with store:
            assert await _read(store, uri, how) == BODY  # type: ignore[arg-type]
