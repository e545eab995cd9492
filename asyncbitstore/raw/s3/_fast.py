"""The S3 hot path: GET, ranged GET, HEAD, PUT, UploadPart and listing pages signed here.

Botocore's request pipeline (model handling, event hooks, response parsing) costs about three
times what the request itself does. `FastConnection` replaces it for the four hot
operations: it builds the URL, signs with `Signer` using the credentials
botocore resolved (read again for every request, so refreshable temporary credentials keep
working across expiry), and sends the request itself. GETs go on `Pool`, a small
HTTP/1.1 keep-alive client (aiohttp's per-request machinery costs more than the rest of a small
GET together); HEAD and PUT go on a plain aiohttp session. Both have as many connections as the
client's pool and botocore's TLS verification. A ``ListObjectsV2`` page is fetched the same way
(on the GET client) and read by `._list`, which takes only the keys, common prefixes and
continuation token. The parts of a multipart upload are PUTs too (``UploadPart``): their bytes
are sent from the caller's buffer as they are, a memoryview slice written in pieces of
`PIECE` bytes, so neither aiohttp (which joins a body to the request head) nor the transport
(which copies what the socket does not take at once) holds a copy of a whole part. Everything
else (deletes, starting, completing and aborting multipart uploads, streaming) goes through
the aiobotocore client it extends. No redirect is followed:
S3's region answers are signed again for the region they name, on the same endpoint.

Failures take the same shape as botocore's: an error status becomes a ``ClientError`` carrying
the parsed S3 XML error body (or, without a body, the status as the code), and aiohttp's own
errors and `._h1`'s (``ConnectionError`` subclasses) propagate; `translate`
then maps all of them alike. A connection lost during an aiohttp request becomes a
`BrokenResponse` naming the request's path and query (as botocore names the URL), so that the
final error says which part of an upload failed.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import http.client
import re
import ssl
import xml.etree.ElementTree as ElementTree
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AsyncExitStack
from typing import Any

import aiohttp
from botocore.exceptions import ClientError, CredentialRetrievalError, NoCredentialsError
from yarl import URL

from ..._core.put_attrs import PLAIN, PutAttrs
from ...meta import ObjectMeta
from .._net.checksums import THREAD_FROM
from . import _meta as s3meta
from ._client import (
    Connection,
    Object,
    Oversized,
    Read,
    Upload,
    check_status,
    content_md5,
    encrypted_etag,
    redirect_refused,
    refused,
    too_large,
)
from ._put_headers import attr_headers
from ._sign import (
    EMPTY_SHA256,
    UNSIGNED_PAYLOAD,
    Signer,
    Target,
    bucket_target,
    canonical_query,
    target,
)

try:
    from .._net.h1 import BodyTooLarge, BrokenResponse, Pool
except ImportError:  # pragma: no cover - httptools missing: GETs go through aiohttp as well
    Pool = None  # type: ignore[assignment,misc]

    class BrokenResponse(ConnectionError):  # type: ignore[no-redef]
        """A body that does not match its framing."""

    class BodyTooLarge(Exception):  # type: ignore[no-redef]
        """A body larger than allowed."""

        def __init__(self, size: int | None) -> None:
            super().__init__(size)
            self.size = size


__all__ = ["MAX_LIST_PAGE", "PIECE", "FastConnection", "UnsendableCredential", "error_response"]

#: Statuses (and error codes) meaning "this bucket lives in another region", or elsewhere.
_REDIRECTS = frozenset({301, 302, 307, 308})
_WRONG_REGION_CODES = frozenset({"AuthorizationHeaderMalformed", "PermanentRedirect"})
#: A region name S3 may give (a DNS label, as botocore requires): nothing else is believed.
_REGION = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
#: What an HTTP header may carry of a credential: printable ASCII.
_UNSENDABLE = re.compile(r"[^\x20-\x7e]")
_MAX_REGIONS = 1024  # buckets whose region is remembered
_MAX_PUT_ANSWER = 1 << 20  # bytes read of a PUT's or HEAD's answer body
#: The largest listing page read: 1,000 keys of 1,024 bytes, percent-encoded, with their
#: details, take under 16 MiB.
MAX_LIST_PAGE = 32 << 20
#: A request body longer than this is handed to aiohttp in pieces of this size (see the module's
#: notes): what is copied on the way is at most about one piece per connection.
PIECE = 256 << 10

Body = bytes | memoryview


class UnsendableCredential(CredentialRetrievalError):  # type: ignore[misc]
    """A credential holds characters no HTTP header may carry (its value is never shown)."""

    def __init__(self) -> None:
        super().__init__(
            provider="the configured credentials",
            error_msg="the access key id or session token holds control or non-ASCII "
            "characters, which cannot be sent in a header: check it for stray line breaks "
            "or damage from copying",
        )


class FastConnection(Connection):
    """A `Connection` whose GET, HEAD, single-part PUT and UploadPart skip botocore.

    A redirect is never followed: S3's region answers (``x-amz-bucket-region``, or the
    ``Region`` of an error body) make the request signed again for that region and sent once
    more to the same endpoint (the region is remembered for the bucket); any other redirect is
    an error naming its ``Location``.

    Args:
        client: the aiobotocore client (for credentials, region, endpoint and everything else).
        stack: closes the client; the aiohttp session and the GET pool are added to it.
        slots: the connection bound (the aiohttp and GET pools get as many connections).
        max_object_bytes: the largest body a GET reads (larger ones are refused unread).
        anonymous: send unsigned requests.
        path_style: always ``endpoint/bucket/key`` (else virtual-host where the name allows).
        context: TLS verification for https endpoints (botocore's, so its CA bundle holds).
    """

    def __init__(
        self,
        client: Any,
        stack: AsyncExitStack,
        slots: int,
        max_object_bytes: int,
        *,
        anonymous: bool,
        path_style: bool,
        context: ssl.SSLContext | None = None,
    ) -> None:
        super().__init__(client, stack, slots, max_object_bytes)
        connector = aiohttp.TCPConnector(
            limit=slots, limit_per_host=slots, ttl_dns_cache=300,
            ssl=context if context is not None else True,
        )  # fmt: skip
        self._session = aiohttp.ClientSession(
            connector=connector,
            timeout=aiohttp.ClientTimeout(total=None),  # the store's deadline covers it all
            auto_decompress=False,  # bytes as stored, as botocore returns them
            skip_auto_headers=("Content-Type",),
        )
        stack.push_async_callback(self._session.close)
        self._endpoint = str(client.meta.endpoint_url)
        self._https = self._endpoint.startswith("https:")
        self._scheme = "https" if self._https else "http"
        self._h1: Pool | None = None
        if Pool is not None:  # GETs on the leaner HTTP/1.1 client when httptools is there
            self._h1 = Pool(slots, context, max_body=max_object_bytes)
            stack.push_async_callback(self._h1.close)
        self._region = str(client.meta.region_name or "us-east-1")
        self._signers = {self._region: Signer(self._region)}
        self._regions: dict[str, str] = {}  # bucket -> the region S3 said it lives in
        self._anonymous = anonymous
        self._path_style = path_style
        self._checked: tuple[str, str | None] | None = None  # the last credentials checked

    #: Both clients refuse a body over their bound from its announced length, unread.
    plain_first = True

    async def get(self, read: Read) -> Object:
        """GET the object (or a ``Range``) as ``read`` says, reading the whole body.

        With `Read.into`, a 206 body of exactly its length is received into it on the
        HTTP/1.1 client: the answer is then ``placed`` (its ``body`` empty). With
        `Read.below`, a body of that many bytes or more raises `Oversized` (the connection
        is dropped; a body that announces its length is not read at all).
        """
        headers = {"Range": read.byte_range} if read.byte_range else {}
        if read.if_match is not None:
            headers["If-Match"] = read.if_match
        into, below = read.into, read.below
        where = _Into(into) if into is not None and self._h1 is not None else None
        limit = self.max_object_bytes if below is None else min(below - 1, self.max_object_bytes)
        request = _Request(
            "GET", "GetObject", read.bucket, read.key, headers, into=where, limit=limit
        )
        try:
            found, body = await self._send(request)
        except BodyTooLarge as exc:
            known = exc.size if exc.size is not None else limit + 1  # at least that many
            if known > self.max_object_bytes:
                raise too_large(exc.size, self.max_object_bytes) from None
            raise Oversized(exc.size) from None
        placed = where is not None and where.placed
        answer = _object(found, body, whole=not placed)
        return dataclasses.replace(answer, placed=True) if placed else answer

    async def head(self, bucket: str, key: str) -> Object:
        """HEAD the object."""
        found, _ = await self._send(_Request("HEAD", "HeadObject", bucket, key))
        return _object(found, b"", whole=False)

    async def put(
        self, bucket: str, key: str, data: bytes, *, md5: bool = False, attrs: PutAttrs = PLAIN
    ) -> None:
        """PUT the object in one request; with ``md5`` the server checks a Content-MD5;
        ``attrs`` go as headers (see `_put_headers.attr_headers`)."""
        headers = {"Content-MD5": content_md5(data)} if md5 else {}
        headers |= attr_headers(attrs)
        await self._send(_Request("PUT", "PutObject", bucket, key, headers, data))

    async def upload_part(
        self, upload: Upload, number: int, data: bytes | memoryview, *, md5: bool = False
    ) -> str:
        """Send part ``number`` of ``upload`` from ``data`` as it is (no copy); its ETag.
        With ``md5`` the server checks a Content-MD5."""
        headers = {"Content-MD5": await _hashed(content_md5, data)} if md5 else {}
        query = canonical_query({"partNumber": str(number), "uploadId": upload.upload_id})
        request = _Request("PUT", "UploadPart", upload.bucket, upload.key, headers, data, query)
        found, _ = await self._send(request)
        etag = found.get("ETag")
        if not etag:
            message = f"the answer to part {number} of the upload names no ETag"
            raise refused("MissingETag", message, "UploadPart")
        return etag

    async def head_meta(self, bucket: str, key: str) -> tuple[Object, ObjectMeta]:
        """HEAD the object, with everything its answer's headers say about it."""
        found, _ = await self._send(_Request("HEAD", "HeadObject", bucket, key))
        answer = _object(found, b"", whole=False)
        return answer, s3meta.from_headers(found, answer.size)

    async def get_meta(
        self, bucket: str, key: str, if_none_match: str | None = None
    ) -> tuple[Object, ObjectMeta] | None:
        """GET the whole object with its meta; with ``if_none_match`` (an ETag), None when
        the object still has it (S3 answers 304, with no body)."""
        headers = s3meta.if_none_match("If-None-Match", if_none_match)
        try:
            found, body = await self._send(_Request("GET", "GetObject", bucket, key, headers))
        except BodyTooLarge as exc:
            raise too_large(exc.size, self.max_object_bytes) from None
        except ClientError as exc:
            if s3meta.not_modified(exc):
                return None
            raise
        answer = _object(found, body, whole=True)
        return answer, s3meta.from_headers(found, len(body))

    async def list_objects(self, bucket: str, query: str) -> bytes:
        """The XML body of a ``ListObjectsV2`` answer; ``query`` from `canonical_query`.

        Raises:
            ClientError: the page is larger than `MAX_LIST_PAGE` (code ``ListPageTooLarge``),
                or the answer is an error.
        """
        try:
            page = _Request("GET", "ListObjectsV2", bucket, "", query=query, listing=True)
            _, body = await self._send(page)
        except BodyTooLarge as exc:
            size = f"{exc.size} bytes" if exc.size is not None else "more"
            message = (
                f"a listing page holds {size}, more than the {MAX_LIST_PAGE} read: lower "
                "list_page_size, or list with fast_path=False"
            )
            raise refused("ListPageTooLarge", message, "ListObjectsV2") from None
        return body

    async def _send(self, request: _Request) -> tuple[Mapping[str, str], bytes]:
        """Sign and send ``request``; the response headers and body of a 2xx answer."""
        bucket, method = request.bucket, request.method
        region = self._regions.get(bucket, self._region)
        where = self._target(request)
        status, found, body = await self._exchange(request, where, region)
        if status < 300:
            return _answer(method, request.headers, status, found, body)
        parsed = error_response(status, found, body)
        moved = _region_of(status, found, parsed)
        if moved is not None and moved != region:  # S3's answer for a bucket in another region
            self._learn(bucket, moved)
            status, found, body = await self._exchange(request, where, moved)
            if status < 300:
                return _answer(method, request.headers, status, found, body)
            parsed = error_response(status, found, body)
        if status in _REDIRECTS:
            parsed["Error"]["Message"] = redirect_refused(status, found.get("Location"))
        raise ClientError(parsed, request.operation)

    def _learn(self, bucket: str, region: str) -> None:
        if len(self._regions) >= _MAX_REGIONS:
            self._regions.clear()
        self._regions[bucket] = region

    def _target(self, request: _Request) -> Target:
        style = self._path_style
        if request.listing:
            return bucket_target(self._endpoint, request.bucket, request.query, path_style=style)
        where = target(self._endpoint, request.bucket, request.key, path_style=style)
        if request.query:
            query = request.query
            where = Target(f"{where.url}?{query}", where.host, where.path, query)
        return where

    async def _exchange(
        self, request: _Request, where: Target, region: str
    ) -> tuple[int, Mapping[str, str], bytes]:
        """``request`` signed for ``region`` and sent to ``where``: (status, headers, body).

        `_Into.placed` says whether a GET's body was placed in its view.
        """
        method, data, into = request.method, request.data, request.into
        headers = dict(request.headers)
        if self._anonymous:
            headers["Host"] = where.host
        else:
            await self._sign(method, where, headers, data, region)
        limit = request.limit
        if limit is None:
            limit = MAX_LIST_PAGE if request.listing else self.max_object_bytes
        if method == "GET" and self._h1 is not None:
            view = into.view if into is not None else None
            answer = await self._h1.get(
                self._scheme, where.host, where.request_path, headers, max_body=limit, into=view
            )
            if into is not None:
                into.placed = answer.placed
            return answer.status, answer.headers, answer.body
        sent: Body | AsyncIterator[memoryview] | None = data
        if data is not None and len(data) > PIECE:
            headers["Content-Length"] = str(len(data))  # else aiohttp would send it chunked
            sent = _pieces(data)
        try:
            async with self._session.request(
                method, URL(where.url, encoded=True), headers=headers, data=sent,
                allow_redirects=False,
            ) as response:  # fmt: skip
                if method == "HEAD":
                    return response.status, response.headers, b""
                capped = limit if method == "GET" else _MAX_PUT_ANSWER
                return response.status, response.headers, await _read_capped(response, capped)
        except aiohttp.ClientConnectionError as exc:
            if isinstance(exc, asyncio.TimeoutError):
                raise
            what = f"{type(exc).__name__}: {exc} ({method} {where.request_path})"
            raise BrokenResponse(what) from exc

    async def _sign(
        self,
        method: str,
        where: Target,
        headers: dict[str, str],
        data: Body | None,
        region: str,
    ) -> None:
        credentials = self.client._request_signer._credentials
        if credentials is None:
            raise NoCredentialsError()
        frozen = await credentials.get_frozen_credentials()
        if (frozen.access_key, frozen.token) != self._checked:
            _check_sendable(frozen.access_key, frozen.token)
            self._checked = (frozen.access_key, frozen.token)
        if data is None:
            payload = EMPTY_SHA256
        else:  # as botocore: the body's hash over plain HTTP, none needed over TLS
            payload = UNSIGNED_PAYLOAD if self._https else await _hashed(_sha256, data)
        signer = self._signers.get(region)
        if signer is None:
            if len(self._signers) > 16:
                self._signers = {self._region: self._signers[self._region]}
            signer = self._signers[region] = Signer(region)
        signer.sign(
            method, where, headers, access_key=frozen.access_key, secret_key=frozen.secret_key,
            token=frozen.token, payload_hash=payload,
        )  # fmt: skip


async def _pieces(data: Body) -> AsyncIterator[memoryview]:
    view = memoryview(data)
    for offset in range(0, len(view), PIECE):
        yield view[offset : offset + PIECE]


def _sha256(data: Body) -> str:
    return hashlib.sha256(data).hexdigest()


async def _hashed(digest: Callable[[Body], str], data: Body) -> str:
    """``digest(data)``, in a worker thread for a large body (hashlib releases the GIL), so
    that the parts of an upload are hashed side by side and the event loop goes on."""
    if len(data) >= THREAD_FROM:
        return await asyncio.to_thread(digest, data)
    return digest(data)


@dataclasses.dataclass
class _Into:
    """Where a GET's body may be received, and whether the last answer's was."""

    view: memoryview
    placed: bool = False


@dataclasses.dataclass(frozen=True)
class _Request:
    """One request for `FastConnection._send` to sign and send.

    Attributes:
        method: the HTTP method.
        operation: the S3 operation (``GetObject``, ...), as a failure names it.
        bucket: the bucket.
        key: the object's key (empty for a listing page).
        headers: the headers besides the signature's.
        data: the body, if any.
        query: the query string (from `canonical_query`): of the object's path, or with
            ``listing``, of the request on the bucket.
        listing: the request is on the bucket, not on an object.
        into: where a GET's 206 body may be received (see `FastConnection.get`).
        limit: the bound on a GET's body instead of ``max_object_bytes`` (`BodyTooLarge`
            above it).
    """

    method: str
    operation: str
    bucket: str
    key: str
    headers: Mapping[str, str] = dataclasses.field(default_factory=dict)
    data: Body | None = None
    query: str = ""
    listing: bool = False
    into: _Into | None = None
    limit: int | None = None


async def _read_capped(response: aiohttp.ClientResponse, limit: int) -> bytes:
    """The whole body, refused once it is known to exceed ``limit`` bytes."""
    if response.content_length is not None:
        if response.content_length > limit:
            raise BodyTooLarge(response.content_length)
        return await response.read()
    parts: list[bytes] = []
    size = 0
    while part := await response.content.read(1 << 16):
        size += len(part)
        if size > limit:
            raise BodyTooLarge(None)
        parts.append(part)
    return b"".join(parts)


def _check_sendable(access_key: str, token: str | None) -> None:
    if _UNSENDABLE.search(access_key) or (token and _UNSENDABLE.search(token)):
        raise UnsendableCredential()


def _region_of(status: int, headers: Mapping[str, str], parsed: dict[str, Any]) -> str | None:
    """The region a wrong-region answer names, if it is one and names a plausible region."""
    code = parsed["Error"].get("Code", "")
    if status not in _REDIRECTS and not (status == 400 and code in _WRONG_REGION_CODES):
        return None
    region = headers.get("x-amz-bucket-region") or parsed["Error"].get("Region")
    return region if region and _REGION.fullmatch(region) else None


def _answer(
    method: str, headers: Mapping[str, str], status: int, found: Mapping[str, str], body: bytes
) -> tuple[Mapping[str, str], bytes]:
    """A 2xx answer, once its status is one that answers ``method`` (any 2xx for a PUT)."""
    if method != "PUT":
        check_status(status, method, ranged="Range" in headers,
                     content_range=found.get("Content-Range"))  # fmt: skip
    return found, body


def _object(headers: Mapping[str, str], body: bytes, *, whole: bool) -> Object:
    """The object of an answer; a GET's body must have the length its header announced."""
    length = headers.get("Content-Length")
    if whole and length is not None and length.isdigit() and int(length) != len(body):
        raise BrokenResponse(f"the body has {len(body)} bytes, not the {length} announced")
    encryption = headers.get("x-amz-server-side-encryption")
    customer = headers.get("x-amz-server-side-encryption-customer-algorithm")
    return Object(
        body=body,
        size=int(length) if length is not None else len(body),
        etag=headers.get("ETag", ""),
        content_range=headers.get("Content-Range"),
        encrypted=encrypted_etag(encryption, customer),
        encoding=headers.get("Content-Encoding"),
        metadata=s3meta.user_metadata(headers),
    )


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def error_response(status: int, headers: Mapping[str, str], body: bytes) -> dict[str, Any]:
    """An S3 error answer in the shape botocore gives ``ClientError.response``.

    ``<Error><Code>…</Code><Message>…</Message>…</Error>`` (or the same inside
    ``<ErrorResponse>``) gives its fields; an empty or unreadable body (HEAD has none) gives
    the status as the code and its reason phrase as the message, as botocore does.
    """
    error: dict[str, str] | None = None
    if body:
        try:
            root = ElementTree.fromstring(body)
        except ElementTree.ParseError:
            root = None
        if root is not None and _local(root.tag) == "ErrorResponse":
            root = next((c for c in root if _local(c.tag) == "Error"), None)
        if root is not None and _local(root.tag) == "Error":
            error = {_local(child.tag): child.text or "" for child in root}
            error.pop("RequestId", None)
            error.pop("HostId", None)
    if error is None:
        error = {"Code": str(status), "Message": http.client.responses.get(status, "")}
    metadata = {
        "RequestId": headers.get("x-amz-request-id", ""),
        "HostId": headers.get("x-amz-id-2", ""),
        "HTTPStatusCode": status,
        "HTTPHeaders": {name.lower(): value for name, value in headers.items()},
    }
    return {"Error": error, "ResponseMetadata": metadata}
