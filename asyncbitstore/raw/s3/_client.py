"""The aiobotocore side of [`S3Raw`][asyncbitstore.raw.s3.S3Raw]: the client and the request path.

A `Connection` is what one event loop in one process uses: one long-lived aiobotocore
client, and a semaphore with as many slots as the client's connection pool. Every request takes a
slot *before* botocore signs it and gives it back once the response body has been read, so
requests beyond the pool wait here (unsigned, with no deadline running) instead of inside
aiohttp's pool, where they could time out or outlive their signature.

The request path of the hot operations (`Connection.get`, `Connection.open`,
`Connection.head`, `Connection.put`, `Connection.upload_part`) is kept in this one class so
that a faster transport can replace it without touching the store: with ``Options.fast_path``,
`open_connection` (in `_connect`) returns a `FastConnection` (hand-signed requests for
GET, HEAD, single-part PUT and UploadPart: GETs on its own HTTP/1.1 client, the others on
aiohttp).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import re
import weakref
from collections.abc import Mapping
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from typing import Any, TypeAlias, TypeVar, Union
from urllib.parse import urlsplit

from botocore.exceptions import ClientError

from ..._core.checks import positive_int, positive_number
from ..._core.put_attrs import PLAIN, PutAttrs
from ...meta import ObjectMeta
from ...retry import TransientError
from .._net.responses import read_chunk, unexpected
from . import _meta as s3meta
from ._put_headers import attr_kwargs, condition_kwargs

__all__ = [
    "ANONYMOUS", "DEFAULT_MAX_OBJECT_BYTES", "Connection", "Credential", "Object", "Options",
    "Oversized", "Read", "Upload", "check_status", "content_md5", "encrypted_etag",
    "object_info", "read_chunk", "redirect_refused", "too_large",
]  # fmt: skip

R = TypeVar("R")

#: A credentials entry meaning "send unsigned requests" (public buckets).
ANONYMOUS = "anonymous"
Credential: TypeAlias = Union[Mapping[str, str], str, None]  # noqa: UP007 - runtime alias on 3.10
_MD5_ETAG = re.compile(r'"?([0-9a-f]{32})"?', re.IGNORECASE)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
#: The default bound on one whole-object read: S3's largest single PUT.
DEFAULT_MAX_OBJECT_BYTES = 5 << 30


@dataclass(frozen=True)
class Options:
    """How to build a client (everything but the credentials), checked on construction."""

    endpoint_url: str | None
    region: str | None
    max_connections: int
    timeout: float | None
    fast_path: bool = False
    max_object_bytes: int = DEFAULT_MAX_OBJECT_BYTES

    def __post_init__(self) -> None:
        _check_endpoint(self.endpoint_url)
        if self.region is not None and not isinstance(self.region, str):
            raise TypeError(f"region must be a str, not {type(self.region).__name__}")
        positive_int("max_connections", self.max_connections)
        positive_number("request_timeout", self.timeout, allow_none=True)
        positive_int("max_object_bytes", self.max_object_bytes)


def _check_endpoint(url: str | None) -> None:
    """Refuse an endpoint that is no http(s) URL or that would corrupt a request's head."""
    if url is None:
        return
    if not re.match(r"https?://[^/]", str(url)):
        raise ValueError("endpoint_url must be an http:// or https:// URL")
    if _CONTROL.search(url) or re.search(r"\s", urlsplit(url).netloc):
        raise ValueError(
            "endpoint_url holds a control character, or white space in its host: "
            "percent-encode it or remove it"
        )


@dataclass(frozen=True)
class Read:
    """One GET of an object, as `Connection.get` sends it.

    Attributes:
        bucket: the bucket.
        key: the object's key.
        byte_range: a ``Range`` header (``bytes=first-last``); None for the whole object.
        if_match: an ETag: only that version is served (another gives a 412).
        into: where the fast path may receive a 206 body of exactly this view's length (the
            answer is then ``placed``); it may hold part of a body if the GET fails.
        below: an answer announcing this many bytes or more raises `Oversized`, unread.
    """

    bucket: str
    key: str
    byte_range: str | None = None
    if_match: str | None = None
    into: memoryview | None = None
    below: int | None = None


@dataclass(frozen=True)
class Upload:
    """A multipart upload under way: where its object goes, and the id S3 gave it."""

    bucket: str
    key: str
    upload_id: str


@dataclass
class Object:
    """The parts of a GET or HEAD response the store uses."""

    body: bytes
    size: int
    etag: str
    content_range: str | None
    encrypted: bool
    #: The object's ``Content-Encoding`` (what another tool compressed it with), if any.
    encoding: str | None = None
    #: The object's user metadata (``x-amz-meta-*``, names without the prefix, lower case).
    metadata: Mapping[str, str] = field(default_factory=dict)
    #: The body was received into the caller's ``into`` view (``body`` is then empty).
    placed: bool = False

    def md5(self) -> str | None:
        """The MD5 the ETag gives, when it is one (single-part and not KMS or SSE-C encrypted)."""
        match = _MD5_ETAG.fullmatch(self.etag)
        return match[1].lower() if match is not None and not self.encrypted else None


def redirect_refused(status: int, location: str | None) -> str:
    """The message for a redirect that is not followed."""
    where = repr(location[:512]) if location else "nowhere (no Location header)"
    return (
        f"the server answered {status}, a redirect to {where}; redirects to other hosts are "
        "not followed (credentials and data stay with the configured endpoint): check "
        "endpoint_url and region"
    )


def too_large(size: int | None, limit: int) -> ClientError:
    """The error for an object larger than a whole-object read may be."""
    what = f"{size} bytes" if size is not None else "more bytes"
    message = (
        f"the object has {what}, more than max_object_bytes={limit}: read it with stream() "
        "or raise max_object_bytes"
    )
    return refused("ObjectTooLarge", message, "GetObject")


class Oversized(Exception):
    """A plain GET's answer announces at least the `Read.below` bytes its caller would take
    in one piece; its body was not read (``size``: the announced length, if there was one)."""

    def __init__(self, size: int | None) -> None:
        super().__init__(f"the object has {size if size is not None else 'more'} bytes")
        self.size = size


def refused(code: str, message: str, operation: str) -> ClientError:
    """A `ClientError` for an answer this client refuses to read although S3 sent it with
    status 200 (too large, not parseable), in the shape botocore gives its own errors."""
    response: Any = {
        "Error": {"Code": code, "Message": message},
        "ResponseMetadata": {"HTTPStatusCode": 200},
    }
    return ClientError(response, operation)


class Connection:
    """One aiobotocore client and its request slots, for one event loop in one process.

    Attributes:
        client: the aiobotocore S3 client (for the operations without a method here).
        slots: taken around every request, body included; as many as the pool's connections.
        max_object_bytes: the largest object ``get`` reads whole.
        plain_first: whether a whole-object read should start with a plain GET bounded by
            `Read.below` (see `get`) rather than a GET of its first range. Here it is not:
            botocore's path keeps the ranged first request.
    """

    plain_first = False

    def __init__(
        self,
        client: Any,
        stack: AsyncExitStack,
        slots: int,
        max_object_bytes: int = DEFAULT_MAX_OBJECT_BYTES,
    ) -> None:
        self.client = client
        self.slots = asyncio.Semaphore(slots)
        self.max_object_bytes = max_object_bytes
        self._stack = stack
        _LIVE.add(self)

    async def close(self) -> None:
        """Close the client and its connection pool."""
        _LIVE.discard(self)
        await self._stack.aclose()

    async def get(self, read: Read) -> Object:
        """GET the object (or a ``Range``) as ``read`` says, reading the whole body.

        ``read.into`` is never used here (the answer is not ``placed``). An answer over
        ``max_object_bytes`` raises as usual, before ``read.below`` is looked at.
        """
        kwargs = {"Range": read.byte_range} if read.byte_range else {}
        if read.if_match is not None:
            kwargs["IfMatch"] = read.if_match
        response = await self.client.get_object(Bucket=read.bucket, Key=read.key, **kwargs)
        async with response["Body"] as body:
            size = response.get("ContentLength")
            if isinstance(size, int) and size > self.max_object_bytes:
                raise too_large(size, self.max_object_bytes)
            if isinstance(size, int) and read.below is not None and size >= read.below:
                raise Oversized(size)
            _check_response(response, "GET", ranged=bool(read.byte_range))
            data = await body.read()
        return object_info(response, data)

    async def open(self, bucket: str, key: str) -> Any:
        """GET the object and return the response with its body unread (the caller closes it)."""
        response = await self.client.get_object(Bucket=bucket, Key=key)
        try:
            _check_response(response, "GET", ranged=False)
        except TransientError:
            await response["Body"].aclose()
            raise
        return response

    async def head(self, bucket: str, key: str) -> Object:
        """HEAD the object."""
        response = await self.client.head_object(Bucket=bucket, Key=key)
        _check_response(response, "HEAD", ranged=False)
        return object_info(response, b"")

    async def put(
        self, bucket: str, key: str, data: bytes, *, md5: bool = False, attrs: PutAttrs = PLAIN
    ) -> None:
        """PUT the object in one request; with ``md5`` the server checks a Content-MD5;
        ``attrs`` as `_put_headers.attr_kwargs` and `condition_kwargs` send them."""
        kwargs: dict[str, Any] = {"ContentMD5": content_md5(data)} if md5 else {}
        kwargs |= attr_kwargs(attrs) | condition_kwargs(attrs)
        await self.client.put_object(Bucket=bucket, Key=key, Body=data, **kwargs)

    async def upload_part(
        self, upload: Upload, number: int, data: bytes | memoryview, *, md5: bool = False
    ) -> str:
        """Send part ``number`` of ``upload``; its ETag.

        With ``md5`` the server checks a Content-MD5. Botocore takes no memoryview, so a slice
        is copied here, only once its request is under way.
        """
        body = data if isinstance(data, bytes) else bytes(data)
        del data
        kwargs = {"ContentMD5": content_md5(body)} if md5 else {}
        response = await self.client.upload_part(
            Bucket=upload.bucket, Key=upload.key, UploadId=upload.upload_id, PartNumber=number,
            Body=body, **kwargs,
        )  # fmt: skip
        etag: str = response["ETag"]
        return etag

    async def head_meta(self, bucket: str, key: str) -> tuple[Object, ObjectMeta]:
        """HEAD the object, with everything its answer says about it."""
        response = await self.client.head_object(Bucket=bucket, Key=key)
        _check_response(response, "HEAD", ranged=False)
        found = object_info(response, b"")
        return found, s3meta.from_response(response, found.size)

    async def get_meta(
        self, bucket: str, key: str, if_none_match: str | None = None
    ) -> tuple[Object, ObjectMeta] | None:
        """GET the whole object with its meta; with ``if_none_match`` (an ETag), None when
        the object still has it (a 304: no body sent)."""
        kwargs = s3meta.if_none_match("IfNoneMatch", if_none_match)
        try:
            response = await self.client.get_object(Bucket=bucket, Key=key, **kwargs)
        except ClientError as exc:
            if s3meta.not_modified(exc):
                return None
            raise
        async with response["Body"] as body:
            size = response.get("ContentLength")
            if isinstance(size, int) and size > self.max_object_bytes:
                raise too_large(size, self.max_object_bytes)
            _check_response(response, "GET", ranged=False)
            data = await body.read()
        found = object_info(response, data)
        return found, s3meta.from_response(response, len(data))


def check_status(status: int, method: str, *, ranged: bool, content_range: str | None) -> None:
    """Raise ``TransientError`` unless ``status`` answers this GET or HEAD.

    Only 200 does, and 206 for a ranged GET when it says which bytes it holds: a 204, a 1xx
    surfacing as final or another 2xx would otherwise pass for an empty or partial object.
    """
    if status == 200 or (status == 206 and ranged and method == "GET" and content_range):
        return
    raise unexpected(status, method)


def _check_response(response: Mapping[str, Any], method: str, *, ranged: bool) -> None:
    status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    if not isinstance(status, int):
        raise TransientError(f"no HTTP status in the answer to {method}")
    check_status(status, method, ranged=ranged, content_range=response.get("ContentRange"))


def content_md5(data: bytes | memoryview) -> str:
    """The ``Content-MD5`` header value for ``data``."""
    return base64.b64encode(hashlib.md5(data, usedforsecurity=False).digest()).decode()


def encrypted_etag(encryption: object, customer_algorithm: object) -> bool:
    """Whether the object's ETag is no MD5 of its body because of its encryption: SSE-KMS
    (``aws:kms``, and ``aws:kms:dsse`` for the dual-layer kind) or SSE-C (a customer key)."""
    return (isinstance(encryption, str) and encryption.startswith("aws:kms")) or bool(
        customer_algorithm
    )


def object_info(response: Mapping[str, Any], body: bytes) -> Object:
    encrypted = encrypted_etag(
        response.get("ServerSideEncryption"), response.get("SSECustomerAlgorithm")
    )
    return Object(
        body=body,
        size=int(response.get("ContentLength", len(body))),
        etag=str(response.get("ETag", "")),
        content_range=response.get("ContentRange"),
        encrypted=encrypted,
        encoding=response.get("ContentEncoding"),
        metadata={str(k).lower(): str(v) for k, v in (response.get("Metadata") or {}).items()},
    )


# A child process must neither use nor close its parent's clients (closing could write to the
# parent's sockets); once the store drops them, their finalizers would warn about unclosed
# sessions. So after a fork the child keeps them referenced, unused, for its whole life.
_LIVE: weakref.WeakSet[Connection] = weakref.WeakSet()
_INHERITED: list[Connection] = []


def _keep_inherited() -> None:
    _INHERITED.extend(_LIVE)
    _LIVE.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_keep_inherited)
