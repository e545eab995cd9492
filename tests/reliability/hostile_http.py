"""Scripted HTTP peers for the attack tests on the S3, GCS and HTTP stores.

A :class:`Peer` is a :class:`~tests.hostile.Scripted` server whose every answer comes from a
``reply`` function given the parsed request; ``store`` builds the store of one backend kind
pointed at it, with the URI of one blob (``bucket/key`` on every backend).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from asyncbitstore import GSRaw, HTTPRaw, Retry, S3Raw, Store
from tests.hostile import Scripted

__all__ = ["KINDS", "Request", "answer", "peer", "store_for"]

#: Every backend kind and path a scripted peer can stand in for.
KINDS = ("s3-fast", "s3-botocore", "gcs", "http")
QUICK = Retry(attempts=3, base=0.01, cap=0.02)
KEYS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


@dataclass
class Request:
    """One request head: method, target (path and query) and headers (names lower-cased)."""

    method: str
    target: str
    headers: dict[str, str]

    @property
    def range(self) -> tuple[int, int | None] | None:
        """``(first, last)`` of a ``Range: bytes=first-last`` header (last None if open)."""
        spec = self.headers.get("range")
        if spec is None:
            return None
        first, _, last = spec.removeprefix("bytes=").partition("-")
        return int(first), int(last) if last else None

    @property
    def metadata(self) -> bool:
        """A GCS metadata request (JSON API, no ``alt=media``)."""
        return "/storage/v1/" in self.target and "alt=media" not in self.target


def parse(head: bytes) -> Request:
    lines = head.decode("latin-1").split("\r\n")
    method, target, _ = lines[0].split(" ", 2)
    headers = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    return Request(method, target, headers)


def answer(status: int, body: bytes = b"", *, length: int | None = None, **headers: str) -> bytes:
    """An answer with ``Content-Length`` (``length``, else the body's) and ``headers``
    (``Content_Range`` becomes ``Content-Range``)."""
    lines = [
        f"HTTP/1.1 {status} Scripted",
        f"Content-Length: {len(body) if length is None else length}",
    ]
    lines += [f"{name.replace('_', '-')}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


Reply = Callable[[Request], bytes]


@contextlib.asynccontextmanager
async def peer(reply: Reply) -> AsyncIterator[Scripted]:
    """A scripted server answering each request with ``reply(request)`` (no body on HEAD)."""

    async def handler(server: Scripted, reader: Any, writer: Any, n: int) -> None:
        while head := await server.head(reader):
            request = parse(head)
            data = reply(request)
            if request.method == "HEAD":
                data = data[: data.index(b"\r\n\r\n") + 4]
            writer.write(data)
            await writer.drain()

    async with Scripted(handler) as server:
        yield server


def store_for(
    kind: str, server: Scripted, *, limit: float | None = None, **options: Any
) -> tuple[Store, str]:
    """A store of ``kind`` talking to ``server``, and the URI of blob ``bucket/key`` there;
    ``limit`` is the backend's time limit (S3's request_timeout, GCS's and HTTP's read_timeout)."""
    options.setdefault("retry", QUICK)
    if limit is not None:
        options["request_timeout" if kind.startswith("s3") else "read_timeout"] = limit
    url = f"http://{server.authority}"
    if kind in ("s3-fast", "s3-botocore"):
        fast = kind == "s3-fast"
        return S3Raw(KEYS, endpoint_url=url, fast_path=fast, **options), "s3://bucket/key"
    if kind == "gcs":
        return GSRaw(api_root=url, **options), "gs://bucket/key"
    if kind == "http":
        return HTTPRaw(listing=False, **options), f"{url}/bucket/key"
    raise ValueError(kind)
