"""The S3 fast path's wire against a hostile endpoint: framing, bounds and request heads.

A body without framing is refused (a cut could not be told from the end); the head, each
header, the number of headers and the body are bounded, and the client stops reading once a
bound is passed; nothing unchecked reaches a request line.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from asyncbitstore import Retry, S3Raw, StoreNotAvailable
from asyncbitstore.raw._net.h1 import BodyTooLarge, BrokenResponse, Pool
from tests.hostile import Scripted, ok

ONCE = Retry(attempts=1)
KEYS = {"aws_access_key_id": "AKIDWIRE", "aws_secret_access_key": "wire-secret-value"}
MiB = 1 << 20
FLOOD = 64 * MiB  # what a flooding server would send if nobody stopped it


@pytest.fixture
async def pool() -> AsyncIterator[Pool]:
    pool = Pool(2, max_body=MiB)
    yield pool
    await pool.close()


async def _get(pool: Pool, server: Scripted) -> bytes:
    answer = await pool.get("http", server.authority, "/k", {"Host": server.authority})
    return answer.body


def _flooding(start: bytes, unit: bytes, sent: list[int]) -> Any:
    """A server answering with ``start`` then ``unit`` over and over, counting bytes sent."""

    async def handler(server: Scripted, reader: Any, writer: Any, n: int) -> None:
        await server.head(reader)
        writer.write(start)
        sent.append(len(start))
        block = unit * max(1, (64 << 10) // len(unit))
        while sent[-1] < FLOOD:
            writer.write(block)
            await writer.drain()
            sent[-1] += len(block)

    return handler


# -- 6: framing -----------------------------------------------------------------------------------


async def test_a_body_without_framing_cut_by_the_close_is_an_error(pool: Pool) -> None:
    async def unframed(server: Scripted, reader: Any, writer: Any, n: int) -> None:
        await server.head(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nETag: x\r\n\r\nthe first half of")

    async with Scripted(unframed) as server:
        with pytest.raises(BrokenResponse, match="neither Content-Length nor chunk"):
            await _get(pool, server)
        store = S3Raw(
            KEYS,
            endpoint_url=f"http://{server.authority}", retry=ONCE, request_timeout=5,
        )  # fmt: skip
        async with store:
            with pytest.raises(StoreNotAvailable, match="neither Content-Length"):
                await store.get("s3://bucket/key")


# -- 9: bounds ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("unit", "reason"),
    [(b"X-Amz-Meta-A: b\r\n", "more than 128 headers|head exceeds"), (b"a", "exceeds")],
    ids=["endless-headers", "one-endless-header"],
)
async def test_an_endless_head_is_cut_off_early(pool: Pool, unit: bytes, reason: str) -> None:
    sent: list[int] = []
    start = b"HTTP/1.1 200 OK\r\n" + (b"X-Big: " if unit == b"a" else b"")
    async with Scripted(_flooding(start, unit, sent)) as server:
        with pytest.raises(BrokenResponse, match=reason):
            await _get(pool, server)
        await asyncio.sleep(0.2)
    assert sent[0] < 16 * MiB  # the connection was dropped long before the flood ended


async def test_a_chunked_body_beyond_the_bound_is_cut_off(pool: Pool) -> None:
    sent: list[int] = []
    start = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    unit = b"10000\r\n" + b"x" * 0x10000 + b"\r\n"
    async with Scripted(_flooding(start, unit, sent)) as server:
        with pytest.raises(BodyTooLarge):
            await _get(pool, server)
        await asyncio.sleep(0.2)
    assert sent[0] < 16 * MiB


async def test_bytes_beyond_the_announced_length_are_not_part_of_the_body(pool: Pool) -> None:
    sent: list[int] = []
    async with Scripted(_flooding(ok(b"0123456789"), b"y", sent)) as server:
        assert await _get(pool, server) == b"0123456789"
        await asyncio.sleep(0.2)
    assert sent[0] < 16 * MiB


@pytest.mark.parametrize("fast_path", [True, False])
async def test_an_object_larger_than_max_object_bytes_is_refused_unread(fast_path: bool) -> None:
    sent: list[int] = []
    start = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % (1 << 40)
    async with Scripted(_flooding(start, b"z", sent)) as server:
        store = S3Raw(
            KEYS,
            endpoint_url=f"http://{server.authority}", retry=ONCE, request_timeout=10,
            max_object_bytes=MiB, fast_path=fast_path,
        )  # fmt: skip
        async with store:
            with pytest.raises(StoreNotAvailable, match="max_object_bytes=1048576"):
                await store.get("s3://bucket/key")
        await asyncio.sleep(0.2)
    assert sent[0] < 16 * MiB


def test_max_object_bytes_is_checked_and_kept() -> None:
    import pickle

    with pytest.raises(ValueError, match="max_object_bytes"):
        S3Raw(max_object_bytes=0)
    clone = pickle.loads(pickle.dumps(S3Raw(max_object_bytes=12345)))
    assert clone.max_object_bytes == 12345 and clone._options.max_object_bytes == 12345


# -- 10: request heads ---------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["a\x00b", "a\x1bb", "a\x7fb", "€uro"])
async def test_control_and_non_latin1_characters_in_headers_are_refused(
    pool: Pool, value: str
) -> None:
    with pytest.raises(ValueError, match=r"control character|outside Latin-1"):
        await pool.get("http", "127.0.0.1:1", "/", {"Host": "h", "X-Amz-Security-Token": value})


@pytest.mark.parametrize("token", ["Sesame\x00", "Sesame\nX-Evil: 1", "Sesame-€", "Sesämé"])
async def test_an_unsendable_session_token_is_a_clear_error_without_the_token(token: str) -> None:
    async with Scripted(lambda *a: asyncio.sleep(0)) as server:
        credentials = {
            "aws_access_key_id": "a", "aws_secret_access_key": "b", "aws_session_token": token,
        }  # fmt: skip
        store = S3Raw(credentials, endpoint_url=f"http://{server.authority}", retry=ONCE)
        async with store:
            with pytest.raises(StoreNotAvailable, match="no usable credentials") as caught:
                await store.get("s3://bucket/key")
        assert "Ses" not in str(caught.value) and "secret-key-value" not in str(caught.value)
    assert server.requests == []


async def test_an_endpoint_path_is_percent_encoded_in_the_request_line() -> None:
    async def answer(server: Scripted, reader: Any, writer: Any, n: int) -> None:
        while await server.head(reader):
            writer.write(ok(b"found"))

    async with Scripted(answer) as server:
        store = S3Raw(
            KEYS,
            endpoint_url=f"http://{server.authority}/base path", retry=ONCE,
        )  # fmt: skip
        async with store:
            assert await store.get("s3://bucket/a key") == b"found"
    assert server.requests[0].startswith(b"GET /base%20path/bucket/a%20key HTTP/1.1\r\n")


@pytest.mark.parametrize("url", ["http://127.0.0.1:9000/a\x00b", "http://exa mple.com"])
def test_an_endpoint_that_would_corrupt_a_request_is_refused(url: str) -> None:
    with pytest.raises(ValueError, match=r"control character|white space"):
        S3Raw(endpoint_url=url)
