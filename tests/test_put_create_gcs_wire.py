"""What ``GSRaw.put(mode="create")`` sends, and how it reads GCS's 412, at the HTTP level.

fake-gcs-server ignores ``ifGenerationMatch`` on uploads (it overwrites), so the contract suite
cannot confirm a create there; a scripted server plays GCS's part instead: it records each
request and answers an upload that carries ``ifGenerationMatch=0`` with 412, as GCS does when
the name is taken.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from asyncbitstore import AlreadyExists, GSRaw
from tests.hostile import Scripted

_PRECONDITION = json.dumps({"error": {"code": 412, "message": "conditionNotMet"}}).encode()


def _answer(status: str, body: bytes, extra: str = "") -> bytes:
    return (
        f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n{extra}\r\n"
    ).encode() + body


class Recorder:
    """Requests as (method, path, query, headers, body); answers as GCS with the name taken."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str, dict[str, list[str]], dict[str, str], bytes]] = []

    async def __call__(self, server: Scripted, reader: Any, writer: Any, n: int) -> None:
        while head := await server.head(reader):
            lines = head.decode("latin-1").split("\r\n")
            method, target, _ = lines[0].split(" ", 2)
            headers = {}
            for line in lines[1:]:
                if ":" in line:
                    name, _, value = line.partition(":")
                    headers[name.strip().lower()] = value.strip()
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            parts = urlsplit(target)
            query = parse_qs(parts.query)
            self.seen.append((method, parts.path, query, headers, body))
            if method == "POST" and query.get("uploadType") == ["resumable"]:
                location = f"http://{server.authority}/session/1"
                writer.write(_answer("200 OK", b"{}", f"Location: {location}\r\n"))
            elif method == "POST" and query.get("ifGenerationMatch") != ["0"]:
                writer.write(_answer("200 OK", b'{"name": "k", "size": "1"}'))
            else:  # the create's upload, or the resumable session's last chunk
                writer.write(_answer("412 Precondition Failed", _PRECONDITION))
            await writer.drain()


async def _chunks(size: int) -> AsyncIterator[bytes]:
    yield b"x" * size


@pytest.mark.parametrize("streamed", [False, True])
async def test_a_create_sends_if_generation_match_0_and_412_is_already_exists(
    streamed: bool,
) -> None:
    recorder = Recorder()
    async with Scripted(recorder) as server, GSRaw(api_root=f"http://{server.authority}") as store:
        data = _chunks(10) if streamed else b"0123456789"
        with pytest.raises(AlreadyExists) as caught:
            await asyncio.wait_for(
                store.put(
                    "gs://bkt/k",
                    data,
                    mode="create",
                    content_type="text/plain",
                    cache_control="no-store",
                    metadata={"origin": "test"},
                ),
                30,
            )
    assert "gs://bkt/k" in str(caught.value)
    method, path, query, _, body = recorder.seen[0]
    assert method == "POST" and path == "/upload/storage/v1/b/bkt/o"
    assert query["ifGenerationMatch"] == ["0"]
    # the attributes travel in the object resource of the multipart upload
    assert b'"contentType": "text/plain"' in body
    assert b'"cacheControl": "no-store"' in body
    assert b'"origin": "test"' in body


async def test_a_resumable_create_names_the_condition_when_the_session_starts() -> None:
    recorder = Recorder()
    async with (
        Scripted(recorder) as server,
        GSRaw(api_root=f"http://{server.authority}", chunk_size=256 << 10) as store,
    ):
        with pytest.raises(AlreadyExists):
            await asyncio.wait_for(
                store.put("gs://bkt/k", _chunks(600 << 10), mode="create", metadata={"a": "b"}),
                30,
            )
    method, _, query, _, body = recorder.seen[0]
    assert method == "POST" and query["uploadType"] == ["resumable"]
    assert query["ifGenerationMatch"] == ["0"]
    # the frame mark (plain data: "none") goes with the user's metadata
    assert json.loads(body) == {"name": "k", "metadata": {"a": "b", "bitstore-frame": "none"}}


async def test_an_overwrite_sends_no_condition() -> None:
    recorder = Recorder()
    async with Scripted(recorder) as server, GSRaw(api_root=f"http://{server.authority}") as store:
        await asyncio.wait_for(store.put("gs://bkt/k", b"0123456789"), 30)
    _, _, query, _, _ = recorder.seen[0]
    assert "ifGenerationMatch" not in query
