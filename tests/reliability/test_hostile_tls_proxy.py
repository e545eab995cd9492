"""The fast path honours botocore's transport settings: its CA bundle and its proxies.

A private-CA endpoint trusted through ``AWS_CA_BUNDLE`` works for the fast path's GETs (its
own HTTP/1.1 pool) and its HEAD and PUT (aiohttp), not only for botocore's requests; with a
proxy configured for the endpoint, requests go through the proxy (botocore's transport).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from asyncbitstore import Retry, S3Raw, StoreNotAvailable
from tests.hostile import Scripted, ok
from tests.tls import self_signed

ONCE = Retry(attempts=1)
KEYS = {"aws_access_key_id": "AKIDTLS", "aws_secret_access_key": "tls-secret-value"}


async def _s3ish(server: Scripted, reader: Any, writer: Any, n: int) -> None:
    """Answer GET with a body, HEAD with its length, PUT (body read) with 200."""
    while head := await server.head(reader):
        if head.startswith(b"PUT"):
            if b"100-continue" in head.lower():
                writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            length = next(
                int(line.split(b":", 1)[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length:")
            )
            await reader.readexactly(length)
            writer.write(ok(b""))
        elif head.startswith(b"HEAD"):
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\n")
        else:
            writer.write(ok(b"private"))


@pytest.fixture
async def private_tls(tmp_path: Path) -> AsyncIterator[tuple[str, Path, Scripted]]:
    """(https endpoint, CA file, the scripted server) of a TLS server only its CA vouches for."""
    context, cert = self_signed(tmp_path)
    scripted = Scripted(_s3ish)
    server = await asyncio.start_server(
        lambda r, w: _s3ish(scripted, r, w, 0), "127.0.0.1", 0, ssl=context
    )
    try:
        yield f"https://127.0.0.1:{server.sockets[0].getsockname()[1]}", cert, scripted
    finally:
        server.close()
        await server.wait_closed()


async def test_aws_ca_bundle_is_trusted_by_the_fast_path(
    private_tls: tuple[str, Path, Scripted], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, cert, scripted = private_tls
    monkeypatch.setenv("AWS_CA_BUNDLE", str(cert))
    async with S3Raw(KEYS, endpoint_url=url, retry=ONCE, request_timeout=10) as store:
        assert await store.get("s3://bucket/key") == b"private"
        assert await store.size("s3://bucket/key") == 7
        await store.put("s3://bucket/key", b"written")
    assert len(scripted.requests) == 3
    assert all(b"botocore" not in head.lower() for head in scripted.requests)  # the fast path


async def test_without_the_ca_bundle_the_private_endpoint_is_refused(
    private_tls: tuple[str, Path, Scripted], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, _, scripted = private_tls
    monkeypatch.delenv("AWS_CA_BUNDLE", raising=False)
    async with S3Raw(KEYS, endpoint_url=url, retry=ONCE, request_timeout=10) as store:
        with pytest.raises(StoreNotAvailable):
            await store.get("s3://bucket/key")
    assert scripted.requests == []


async def test_a_proxy_for_the_endpoint_carries_every_request(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with Scripted(_s3ish) as proxy:
        for name in ("NO_PROXY", "no_proxy", "HTTPS_PROXY", "https_proxy", "http_proxy"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("HTTP_PROXY", f"http://{proxy.authority}")
        endpoint = "http://s3.unreachable.invalid:9000"  # only the proxy can reach it
        async with S3Raw(KEYS, endpoint_url=endpoint, retry=ONCE, request_timeout=10) as store:
            assert await store.get("s3://bucket/key") == b"private"
            assert await store.exists("s3://bucket/key") is True
    assert [head.split(b" ")[1] for head in proxy.requests] == [
        b"http://s3.unreachable.invalid:9000/bucket/key"
    ] * 2
