"""The per-loop client behind ``GSRaw``: one aiohttp session, gcloud-aio-storage on it, and auth.

gcloud-aio-storage does the token work (service-account JWTs, refresh) and the plain JSON calls
(metadata, simple upload, delete, listing). Downloads and chunked resumable uploads are requests
on the same session, because they need response headers, ranges and bodies that are streamed
rather than held whole; gcloud-aio-storage's own resumable upload wants a seekable file.
"""

from __future__ import annotations

import asyncio
import base64
import io
import json
import os
import re
from collections.abc import Mapping
from typing import Any, Union
from urllib.parse import quote

import aiohttp
from gcloud.aio.auth import Token
from gcloud.aio.storage import Storage
from tenacity import stop_after_attempt

from ..._core.put_attrs import PLAIN, PutAttrs
from ..._core.redact import scrub
from ...retry import is_transient
from .._net.aiohttp import new_session
from .._net.buffers import BodyBuffer
from .._net.responses import read_chunk, unexpected
from ._key_file import read_key_file

__all__ = [
    "AuthError",
    "Credentials",
    "GSClient",
    "HTTPStatusError",
    "create_client",
    "md5_mismatch",
    "read_whole",
]

#: A credentials JSON file path, its parsed dict, or None for Application Default Credentials.
Credentials = Union[str, "os.PathLike[str]", Mapping[str, Any], None]

PUBLIC_API_ROOT = "https://www.googleapis.com"
SCOPES = ["https://www.googleapis.com/auth/devstorage.read_write"]
_METADATA_LIMIT = 1 << 20


class HTTPStatusError(Exception):
    """An error status for a request made on the session directly (``status`` like aiohttp's)."""

    def __init__(self, status: int, detail: str = "") -> None:
        super().__init__(f"HTTP {status}: {detail}" if detail else f"HTTP {status}")
        self.status = status
        self.detail = detail


class AuthError(Exception):
    """No access token could be had. The message never contains credential material."""


class _OneTryToken(Token):
    """A Token that tries once per call and raises `AuthError` for lasting failures.

    gcloud-aio-auth retries token requests five times with its own backoff; the store's
    ``Retry`` already retries transient failures, and the two would multiply.
    """

    async def acquire_access_token(self, timeout: int = 10) -> None:  # type: ignore[override]
        once = Token.acquire_access_token.retry_with(stop=stop_after_attempt(1))
        await once(self, timeout)

    async def get(self) -> str | None:
        try:
            return await super().get()
        except Exception as exc:
            if is_transient(exc):
                raise
            error = AuthError(_auth_reason(exc))
        # Raised outside the handler, so the failure is neither its cause nor its context: it may
        # quote credential material (a key that fails to parse), and tools that pickle whole
        # exception chains (tblib, which Dask installs) would carry it, or fail on its headers.
        raise error


def _auth_reason(exc: BaseException) -> str:
    if isinstance(exc, aiohttp.ClientResponseError):
        return f"the token endpoint answered HTTP {exc.status} ({short(exc.message)})"
    return f"{type(exc).__name__} while getting an access token; check the credentials"


def short(text: str, limit: int = 200) -> str:
    """``text`` on one line and cut to ``limit``; a Google JSON error becomes its message.

    Credentials a server quoted back are masked first, so no cut leaves part of one behind.
    """
    text = scrub(text).strip()
    start = text.find("{")
    if start >= 0:
        try:
            error = json.loads(text[start:]).get("error")
            text = str(error.get("message") or error) if isinstance(error, dict) else str(error)
        except (ValueError, AttributeError):
            pass
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


class GSClient:
    """What one event loop of one process uses to talk to GCS."""

    def __init__(
        self, session: Any, storage: Storage, token: Token | None, api_root: str, timeout: Any
    ) -> None:
        self.session = session
        self.storage = storage
        self.token = token
        self.timeout = timeout
        self.read_root = f"{api_root}/storage/v1/b"
        self.write_root = f"{api_root}/upload/storage/v1/b"

    def object_url(self, bucket: str, name: str) -> str:
        """The JSON API URL of one object."""
        return f"{self.read_root}/{bucket}/o/{quote(name, safe='')}"

    async def headers(self) -> dict[str, str]:
        """Authorization headers for a direct request (none for emulators and public reads)."""
        if self.token is None:
            return {}
        return {"Authorization": f"Bearer {await self.token.get()}"}

    async def get_media(
        self, bucket: str, name: str, byte_range: str | None = None, generation: str | None = None
    ) -> Any:
        """An open ``alt=media`` response (status checked); the caller reads and releases it."""
        headers = await self.headers()
        # The bytes as stored: GCS serves an object stored gzip-encoded as it is (not
        # "transcoded", decompressed on its side) to a client that accepts gzip, and nothing
        # here decodes on the way; `GSRaw` decodes, bounded, and checks the md5 first.
        headers["Accept-Encoding"] = "gzip"
        if byte_range is not None:
            headers["Range"] = byte_range
        url = self.object_url(bucket, name) + "?alt=media"
        if generation is not None:
            url += f"&generation={generation}"
        response = await self.session.get(
            url, headers=headers, timeout=self.timeout, auto_decompress=False
        )
        await check(response, *((200, 206) if byte_range is not None else (200,)))
        return response

    async def metadata(self, bucket: str, name: str) -> dict[str, Any]:
        """The object's JSON resource (size, md5Hash, generation...), from a 200 answer only."""
        headers = await self.headers()
        url = self.object_url(bucket, name) + "?alt=json"
        async with self.session.get(url, headers=headers, timeout=self.timeout) as response:
            await check(response, 200)
            body = await read_chunk(response.content, _METADATA_LIMIT + 1, None)
        if len(body) > _METADATA_LIMIT:
            raise ValueError("object metadata over 1 MiB")
        meta = json.loads(body)
        if not isinstance(meta, dict):
            raise ValueError("object metadata that is not a JSON object")
        return meta

    async def bucket_exists(self, bucket: str) -> bool:
        """False only when GCS says so; a bucket we may not inspect counts as existing."""
        try:
            await self.storage.get_bucket_metadata(bucket, timeout=self.timeout)
        except Exception as exc:
            return getattr(exc, "status", None) != 404
        return True

    async def list_page(self, bucket: str, params: dict[str, str]) -> dict[str, Any]:
        """One page of an object listing."""
        page: dict[str, Any] = await self.storage.list_objects(
            bucket, params=params, timeout=self.timeout
        )
        return page

    async def delete(self, bucket: str, name: str) -> None:
        """Delete one object (404 when it is missing)."""
        await self.storage.delete(bucket, name, timeout=self.timeout)

    async def upload(self, bucket: str, name: str, data: bytes, attrs: PutAttrs = PLAIN) -> None:
        """Write a small object in one request, which is atomic (with its attributes, and
        for a create ``ifGenerationMatch=0``: GCS answers 412 if the name is taken)."""
        await self.storage.upload(
            bucket, name, data, content_type=attrs.content_type or _OCTETS,
            parameters=_condition(attrs), metadata=_dashed(_resource(attrs)) or None,
            force_resumable_upload=False, timeout=self.timeout,
        )  # fmt: skip

    async def start_upload(self, bucket: str, name: str, attrs: PutAttrs = PLAIN) -> str:
        """Open a resumable upload session and return its URI (nothing is visible yet); the
        attributes and a create's condition are given here and apply when it completes."""
        headers = await self.headers()
        headers["X-Upload-Content-Type"] = attrs.content_type or _OCTETS
        url = f"{self.write_root}/{bucket}/o?uploadType=resumable&name={quote(name, safe='')}"
        if attrs.create:
            url += "&ifGenerationMatch=0"
        body = {"name": name} | _resource(attrs)
        async with self.session.post(
            url, json=body, headers=headers, timeout=self.timeout
        ) as response:
            await check(response)
            return str(response.headers["Location"])

    async def send_chunk(self, session_uri: str, chunk: bytes, offset: int, last: bool) -> None:
        """Send bytes ``[offset, offset + len(chunk))``; ``last`` completes the object."""
        end = offset + len(chunk)
        total = str(end) if last else "*"
        span = f"{offset}-{end - 1}" if chunk else "*"
        headers = await self.headers()
        headers["Content-Range"] = f"bytes {span}/{total}"
        # BytesIO: aiohttp writes it in slices, yielding to the loop; raw bytes it would not.
        body = io.BytesIO(chunk)
        async with self.session.put(
            session_uri, data=body, headers=headers, timeout=self.timeout
        ) as response:
            if response.status == 308 and not last:
                return
            await check(response)
            if response.status == 308:
                raise HTTPStatusError(502, "the upload was not completed by its last chunk")

    async def cancel_upload(self, session_uri: str) -> None:
        """Abandon a resumable upload (GCS answers 499); best effort, errors are ignored."""
        try:
            headers = await self.headers()
            async with self.session.delete(session_uri, headers=headers, timeout=self.timeout):
                pass
        except (aiohttp.ClientError, asyncio.TimeoutError, AuthError):
            pass

    async def aclose(self) -> None:
        """Stop a pending token refresh and close the session (Storage.close leaves it open)."""
        refresh = getattr(self.token, "acquiring", None)
        if refresh is not None and not refresh.done():
            refresh.cancel()
            await asyncio.gather(refresh, return_exceptions=True)
        await self.storage.close()
        await self.session.close()


async def check(response: Any, *ok: int) -> None:
    """Raise `HTTPStatusError` (releasing the response) for an error status, and
    ``TransientError`` for any other status not in ``ok`` (when given)."""
    if response.status < 400:
        if not ok or response.status in ok:
            return
        response.release()
        raise unexpected(response.status, response.method)
    try:
        detail = (await response.content.read(4096)).decode("utf-8", "replace")
    except (aiohttp.ClientError, asyncio.TimeoutError):
        detail = ""
    finally:
        response.release()
    raise HTTPStatusError(response.status, short(detail))


async def read_whole(response: Any) -> bytes:
    """The whole body of an open aiohttp ``response``.

    With a ``Content-Length`` (what GCS sends for a whole object), the pieces aiohttp receives
    are copied into one buffer of that size as they arrive and dropped, so the read holds about
    one body of memory rather than every piece and then their join. A body cut short raises
    aiohttp's ``ClientPayloadError`` (transient), as ``read`` does.
    """
    size = response.content_length
    if size is None:  # chunked: no size to start from
        return bytes(await response.read())
    buffer = BodyBuffer(size)
    content = response.content
    while piece := await content.readany():
        buffer.write(piece)
    if buffer.missing:  # aiohttp raises for a cut body; this only guards against it not doing so
        raise aiohttp.ClientPayloadError(f"the body ended {buffer.missing} bytes short")
    return buffer.value()


def md5_mismatch(headers: Mapping[str, str], md5: bytes) -> str | None:
    """Why ``md5`` (a digest) does not match the object's md5Hash in ``headers``, or None.

    Objects without an MD5 (composite objects: crc32c only) pass, and so do answers whose
    ``Content-Encoding`` is not the one the object is stored with: GCS decompressed them
    ("transcoding") or compressed them on the way, so the bytes read are not those the hash
    covers.
    """
    sent = headers.get("Content-Encoding", "identity").strip().lower() or "identity"
    kept = headers.get("X-Goog-Stored-Content-Encoding", "").strip().lower() or "identity"
    if sent != kept:
        return None
    for part in headers.get("X-Goog-Hash", "").split(","):
        kind, _, value = part.strip().partition("=")
        if kind == "md5":
            got = base64.b64encode(md5).decode()
            if got == value:
                return None
            return (
                f"md5 {got} differs from the stored md5Hash {short(value, 40)} (damaged on the "
                "way, or stored corrupt; verify_checksums=False reads it unchecked)"
            )
    return None


async def create_client(
    *,
    api_root: str | None,
    anonymous: bool,
    credentials: Any,
    limit: int,
    timeout: float | None,
) -> GSClient:
    """Build the session, the token and the Storage (inside the running loop)."""
    client_timeout = aiohttp.ClientTimeout(total=None, sock_connect=timeout, sock_read=timeout)
    session = new_session(limit=limit)
    try:
        token = None
        if api_root is None and not anonymous:
            token = await asyncio.to_thread(_make_token, credentials, session)
        # api_is_dev: gcloud-aio-storage sends no Authorization header and never asks the
        # token. TLS checks stay on: they belong to our session, not to gcloud's flag.
        storage = Storage(
            session=session,
            api_root=api_root or PUBLIC_API_ROOT,
            api_is_dev=token is None,
            token=token or _NO_TOKEN,
        )
    except BaseException:
        await session.close()
        raise
    return GSClient(session, storage, token, api_root or PUBLIC_API_ROOT, client_timeout)


def _make_token(credentials: Any, session: Any) -> Token:
    """A token for ``credentials`` (runs in a thread: it reads files)."""
    service_file: Any = None
    if isinstance(credentials, Mapping):
        service_file = io.StringIO(json.dumps(dict(credentials)))
    elif credentials is not None:
        path, info = read_key_file(credentials, _unreadable)
        if not isinstance(info, dict) or "type" not in info:
            raise AuthError(f"credentials file {path!r} is not a Google credentials JSON file")
        service_file = io.StringIO(json.dumps(info))
    try:
        return _OneTryToken(service_file=service_file, session=session, scopes=SCOPES)
    except Exception as exc:
        raise AuthError(f"unusable credentials ({type(exc).__name__})") from None


def _unreadable(path: str, reason: str) -> AuthError:
    return AuthError(f"cannot read credentials file {path!r}: {reason}")


class _NoToken:
    """Given to Storage where no token is wanted, so that it does not look for credentials."""

    async def get(self) -> None:
        return None

    async def close(self) -> None:
        return None


_NO_TOKEN: Any = _NoToken()


_OCTETS = "application/octet-stream"


def _resource(attrs: PutAttrs) -> dict[str, Any]:
    """The object resource fields that keep ``attrs``."""
    return attrs.named("contentType", "cacheControl", "metadata")


def _dashed(fields: dict[str, Any]) -> dict[str, Any]:
    """``fields`` with header-style names (``Content-Type``), which gcloud-aio-storage turns
    back into camelCase (it would lower-case a camelCase name: ``contenttype``)."""
    return {re.sub("([A-Z])", r"-\1", k): v for k, v in fields.items()}


def _condition(attrs: PutAttrs) -> dict[str, str]:
    """The query parameters of a create: generation 0 means "no live object"."""
    return {"ifGenerationMatch": "0"} if attrs.create else {}
