"""A hostile S3 endpoint answering with redirects to a second server it controls.

Neither path (the fast one nor botocore's) may send credentials or a body to the host a
``Location`` names: such a redirect is an error naming the ``Location``, and one forged answer
does not move the bucket off the fast path for later requests.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from asyncbitstore import NotFoundInStore, Retry, S3Raw, StoreNotAvailable
from tests.hostile import Scripted, ok

ONCE = Retry(attempts=1)
CREDENTIALS = {
    "aws_access_key_id": "AKIDREDIRECT",
    "aws_secret_access_key": "redirect-secret",
    "aws_session_token": "redirect-session-token",
}


async def _catch_all(server: Scripted, reader: Any, writer: Any, n: int) -> None:
    """The second server: records whatever reaches it (head and body) and answers 200."""
    while head := await server.head(reader):
        if b"100-continue" in head.lower():
            writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":", 1)[1])
        if length:
            server.requests[-1] += await reader.readexactly(length)
        writer.write(ok(b"bytes from elsewhere"))


def _redirecting(status: int, location: str) -> Any:
    """An endpoint that redirects every request to ``location`` (no region information)."""

    async def handler(server: Scripted, reader: Any, writer: Any, n: int) -> None:
        while head := await server.head(reader):
            answer = f"HTTP/1.1 {status} Moved\r\nLocation: {location}\r\nContent-Length: 0\r\n"
            if b"100-continue" in head.lower():  # the body waits for a 100 that never comes
                writer.write(f"{answer}Connection: close\r\n\r\n".encode())
                return
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    await reader.readexactly(int(line.split(b":", 1)[1]))
            writer.write(f"{answer}\r\n".encode())

    return handler


@pytest.mark.parametrize("fast_path", [True, False])
@pytest.mark.parametrize("status", [301, 307])
async def test_a_redirect_elsewhere_is_an_error_and_nothing_reaches_the_other_host(
    status: int, fast_path: bool
) -> None:
    async with Scripted(_catch_all) as elsewhere:
        location = f"http://{elsewhere.authority}/stolen"
        async with Scripted(_redirecting(status, location)) as endpoint:
            store = S3Raw(
                CREDENTIALS, endpoint_url=f"http://{endpoint.authority}", region="us-east-1",
                retry=ONCE, request_timeout=5, fast_path=fast_path,
            )  # fmt: skip
            async with store:
                with pytest.raises(StoreNotAvailable, match="redirect") as caught:
                    await store.get("s3://bucket/key")
                assert not isinstance(caught.value, NotFoundInStore)
                assert location in str(caught.value)
                assert "redirect-secret" not in str(caught.value)
                with pytest.raises(StoreNotAvailable, match="redirect"):
                    await store.put("s3://bucket/key", b"the blob")
                with pytest.raises(StoreNotAvailable, match="redirect"):
                    await store.exists("s3://bucket/key")
                seen = len(endpoint.requests)
                with pytest.raises(StoreNotAvailable):
                    await store.get("s3://bucket/key")
                later = endpoint.requests[seen:]
        await asyncio.sleep(0)
    assert elsewhere.requests == [] and elsewhere.connections == 0
    assert later, "the endpoint was asked again"
    agents = [b"botocore" in head.lower() for head in later]
    assert agents[0] is (not fast_path)  # a forged redirect does not move the bucket for good


def _regional(region: str) -> Any:
    """S3's region redirect: 301 with ``x-amz-bucket-region`` until signed for ``region``."""

    async def handler(server: Scripted, reader: Any, writer: Any, n: int) -> None:
        while head := await server.head(reader):
            if f"/{region}/s3/aws4_request".encode() in head:
                writer.write(ok(b"regional bytes"))
            else:
                writer.write(
                    b"HTTP/1.1 301 Moved Permanently\r\nx-amz-bucket-region: "
                    + region.encode()
                    + b"\r\nLocation: http://evil.invalid/\r\nContent-Length: 0\r\n\r\n"
                )

    return handler


@pytest.mark.parametrize("fast_path", [True, False])
async def test_a_region_redirect_is_signed_again_for_that_region_on_the_same_endpoint(
    fast_path: bool,
) -> None:
    async with Scripted(_regional("eu-central-1")) as endpoint:
        store = S3Raw(
            CREDENTIALS, endpoint_url=f"http://{endpoint.authority}", region="us-east-1",
            retry=ONCE, request_timeout=5, fast_path=fast_path,
        )  # fmt: skip
        async with store:
            assert await store.get("s3://bucket/key") == b"regional bytes"
            assert await store.get("s3://bucket/key") == b"regional bytes"
    assert all((b"botocore" in head.lower()) is not fast_path for head in endpoint.requests)
    assert len(endpoint.requests) == 3  # the bucket's region is remembered
