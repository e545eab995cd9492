"""The S3 hot path: GET, ranged GET, HEAD and single-part PUT signed here and sent directly.

Botocore's request pipeline (model handling, event hooks, response parsing) costs about three
times what the request itself does. :class:`FastConnection` replaces it for the four hot
operations: it builds the URL, signs with :class:`~._s3sign.Signer` using the credentials
botocore resolved (read again for every request, so refreshable temporary credentials keep
working across expiry), and sends the request itself. GETs go on :class:`~._h1.Pool`, a small
HTTP/1.1 keep-alive client (aiohttp's per-request machinery costs more than the rest of a small
GET together); HEAD and PUT go on a plain aiohttp session. Both have as many connections as the
client's pool. Everything else (listing, deletes, multipart uploads, streaming) goes through the
aiobotocore client it extends, as does any bucket that answers with a redirect (another
region): botocore knows how to follow those.

Failures take the same shape as botocore's: an error status becomes a ``ClientError`` carrying
the parsed S3 XML error body (or, without a body, the status as the code), and aiohttp's own
errors and :mod:`._h1`'s (``ConnectionError`` subclasses) propagate; :func:`~._s3errors.translate`
then maps all of them alike.
"""

from __future__ import annotations

import hashlib
import http.client
import xml.etree.ElementTree as ElementTree
from collections.abc import Mapping
from contextlib import AsyncExitStack
from typing import Any

import aiohttp
from botocore.exceptions import ClientError, NoCredentialsError
from yarl import URL

from ._s3client import Connection, Object, check_status, content_md5
from ._s3sign import EMPTY_SHA256, UNSIGNED_PAYLOAD, Signer, Target, target

try:
    from ._h1 import Pool
except ImportError:  # pragma: no cover - httptools missing: GETs go through aiohttp as well
    Pool = None  # type: ignore[assignment,misc]

__all__ = ["FastConnection", "error_response"]

#: Statuses (and error codes) meaning "this bucket lives elsewhere": left to botocore.
_REDIRECTS = frozenset({301, 302, 307, 308})
_WRONG_REGION_CODES = frozenset({"AuthorizationHeaderMalformed", "PermanentRedirect"})


class _Elsewhere(Exception):
    """The bucket answered with a redirect or a region mismatch."""


class FastConnection(Connection):
    """A :class:`Connection` whose GET, HEAD and single-part PUT skip botocore.

    Args:
        client: the aiobotocore client (for credentials, region, endpoint and everything else).
        stack: closes the client; the aiohttp session and the GET pool are added to it.
        slots: the connection bound (the aiohttp and GET pools get as many connections).
        anonymous: send unsigned requests.
        path_style: always ``endpoint/bucket/key`` (else virtual-host where the name allows).
    """

    def __init__(
        self, client: Any, stack: AsyncExitStack, slots: int, *, anonymous: bool, path_style: bool
    ) -> None:
        super().__init__(client, stack, slots)
        connector = aiohttp.TCPConnector(limit=slots, limit_per_host=slots, ttl_dns_cache=300)
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
            self._h1 = Pool(slots)
            stack.push_async_callback(self._h1.close)
        self._signer = Signer(str(client.meta.region_name or "us-east-1"))
        self._anonymous = anonymous
        self._path_style = path_style
        self._elsewhere: set[str] = set()  # buckets served through botocore

    async def get(self, bucket: str, key: str, byte_range: str | None = None) -> Object:
        """GET the object (or a ``Range``), reading the whole body."""
        if bucket in self._elsewhere:
            return await super().get(bucket, key, byte_range)
        headers = {"Range": byte_range} if byte_range else {}
        try:
            found, body = await self._send("GET", bucket, key, "GetObject", headers)
        except _Elsewhere:
            return await super().get(bucket, key, byte_range)
        return _object(found, body)

    async def head(self, bucket: str, key: str) -> Object:
        """HEAD the object."""
        if bucket in self._elsewhere:
            return await super().head(bucket, key)
        try:
            found, _ = await self._send("HEAD", bucket, key, "HeadObject", {})
        except _Elsewhere:
            return await super().head(bucket, key)
        return _object(found, b"")

    async def put(self, bucket: str, key: str, data: bytes, *, md5: bool = False) -> None:
        """PUT the object in one request; with ``md5`` the server checks a Content-MD5."""
        if bucket in self._elsewhere:
            return await super().put(bucket, key, data, md5=md5)
        headers = {"Content-MD5": content_md5(data)} if md5 else {}
        try:
            await self._send("PUT", bucket, key, "PutObject", headers, data)
        except _Elsewhere:
            await super().put(bucket, key, data, md5=md5)

    async def _send(
        self,
        method: str,
        bucket: str,
        key: str,
        operation: str,
        headers: dict[str, str],
        data: bytes | None = None,
    ) -> tuple[Mapping[str, str], bytes]:
        """Sign and send one request; the response headers and body of a 2xx answer."""
        where = target(self._endpoint, bucket, key, path_style=self._path_style)
        if self._anonymous:
            headers["Host"] = where.host
        else:
            await self._sign(method, where, headers, data)
        found: Mapping[str, str]
        if method == "GET" and self._h1 is not None:
            answer = await self._h1.get(self._scheme, where.host, where.path, headers)
            status, found, body = answer.status, answer.headers, answer.body
        else:
            async with self._session.request(
                method, URL(where.url, encoded=True), headers=headers, data=data,
                allow_redirects=False,
            ) as response:  # fmt: skip
                body = await response.read()
                status, found = response.status, response.headers
        if status < 300:
            if method != "PUT":
                check_status(status, method, ranged="Range" in headers,
                             content_range=found.get("Content-Range"))  # fmt: skip
            return found, body
        parsed = error_response(status, found, body)
        code = parsed["Error"].get("Code", "")
        if status in _REDIRECTS or (status == 400 and code in _WRONG_REGION_CODES):
            self._elsewhere.add(bucket)
            raise _Elsewhere(bucket)
        raise ClientError(parsed, operation)

    async def _sign(
        self, method: str, where: Target, headers: dict[str, str], data: bytes | None
    ) -> None:
        credentials = self.client._request_signer._credentials
        if credentials is None:
            raise NoCredentialsError()
        frozen = await credentials.get_frozen_credentials()
        if data is None:
            payload = EMPTY_SHA256
        else:  # as botocore: the body's hash over plain HTTP, none needed over TLS
            payload = UNSIGNED_PAYLOAD if self._https else hashlib.sha256(data).hexdigest()
        self._signer.sign(
            method, where, headers, access_key=frozen.access_key, secret_key=frozen.secret_key,
            token=frozen.token, payload_hash=payload,
        )  # fmt: skip


def _object(headers: Mapping[str, str], body: bytes) -> Object:
    encryption = headers.get("x-amz-server-side-encryption")
    customer = headers.get("x-amz-server-side-encryption-customer-algorithm")
    length = headers.get("Content-Length")
    return Object(
        body=body,
        size=int(length) if length is not None else len(body),
        etag=headers.get("ETag", ""),
        content_range=headers.get("Content-Range"),
        encrypted=encryption == "aws:kms" or bool(customer),
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
