"""Over TLS the fast path sends a part's payload unsigned, as it sends a single PUT's.

A scripted S3 stand-in on a private-CA TLS endpoint (trusted through ``AWS_CA_BUNDLE``) answers
the multipart requests; the parts must come without botocore, with ``UNSIGNED-PAYLOAD`` as the
payload hash (TLS protects the bytes, as botocore decides for https), every byte intact.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from asyncbitstore import Retry, S3Raw
from tests.hostile import Scripted, ok
from tests.tls import self_signed

MiB = 1 << 20
PART = 5 * MiB
KEYS = {"aws_access_key_id": "AKIDTLS", "aws_secret_access_key": "tls-secret-value"}
_CREATED = (
    b"<InitiateMultipartUploadResult><Bucket>bucket</Bucket><Key>key</Key>"
    b"<UploadId>up-1</UploadId></InitiateMultipartUploadResult>"
)
_COMPLETED = (
    b"<CompleteMultipartUploadResult><Bucket>bucket</Bucket><Key>key</Key>"
    b'<ETag>"whole-2"</ETag></CompleteMultipartUploadResult>'
)


def _header(head: bytes, name: bytes) -> bytes | None:
    for line in head.split(b"\r\n")[1:]:
        field, _, value = line.partition(b":")
        if field.strip().lower() == name:
            return value.strip()
    return None


class _MultipartServer:
    """Answers CreateMultipartUpload, UploadPart and CompleteMultipartUpload; keeps the parts."""

    def __init__(self) -> None:
        self.parts: dict[int, bytes] = {}
        self.part_heads: list[bytes] = []
        self.scripted = Scripted(self.serve)

    async def serve(self, server: Scripted, reader: Any, writer: Any, n: int) -> None:
        while head := await server.head(reader):
            if _header(head, b"expect") == b"100-continue":
                writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            body = await reader.readexactly(int(_header(head, b"content-length") or 0))
            line = head.split(b"\r\n", 1)[0].decode()
            if line.startswith("POST") and "uploads" in line:
                writer.write(ok(_CREATED))
            elif line.startswith("PUT") and "partNumber=" in line:
                number = int(line.split("partNumber=")[1].split("&")[0].split(" ")[0])
                self.parts[number] = body
                self.part_heads.append(head)
                writer.write(ok(b"", f'ETag: "part-{number}"\r\n'))
            elif line.startswith("POST"):
                writer.write(ok(_COMPLETED))
            else:
                writer.write(b"HTTP/1.1 204 No Content\r\n\r\n")


@pytest.fixture
async def tls_s3(tmp_path: Path) -> AsyncIterator[tuple[str, Path, _MultipartServer]]:
    context, cert = self_signed(tmp_path)
    fake = _MultipartServer()
    server = await asyncio.start_server(
        lambda r, w: fake.serve(fake.scripted, r, w, 0), "127.0.0.1", 0, ssl=context
    )
    try:
        yield f"https://127.0.0.1:{server.sockets[0].getsockname()[1]}", cert, fake
    finally:
        server.close()
        await server.wait_closed()


async def test_parts_over_tls_go_unsigned_on_the_fast_path(
    tls_s3: tuple[str, Path, _MultipartServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, cert, fake = tls_s3
    monkeypatch.setenv("AWS_CA_BUNDLE", str(cert))
    blob = b"".join(bytes([97 + n]) * PART for n in range(2)) + b"tail"
    store = S3Raw(
        KEYS, endpoint_url=url, part_size=PART, retry=Retry(attempts=1), request_timeout=20
    )
    async with store:
        await store.put("s3://bucket/key", blob)
    assert sorted(fake.parts) == [1, 2, 3]
    assert b"".join(fake.parts[n] for n in (1, 2, 3)) == blob
    for head in fake.part_heads:
        assert b"botocore" not in head.lower()
        assert _header(head, b"x-amz-content-sha256") == b"UNSIGNED-PAYLOAD"
        assert _header(head, b"content-md5") is None
