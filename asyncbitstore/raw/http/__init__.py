"""``HTTPRaw``: read-only blobs from HTTP(S) servers, on aiohttp.

Status codes map to the library's errors in one place (``_aiohttp.status_error``): 404 and 410
are [`NotFoundInStore`][asyncbitstore.errors.NotFoundInStore], 401 and 403
[`StoreNotAvailable`][asyncbitstore.errors.StoreNotAvailable], 416
[`InvalidRange`][asyncbitstore.errors.InvalidRange];
5xx, 429, timeouts and connection errors are retried with the store's
[`Retry`][asyncbitstore.raw.http.Retry] policy and
then become ``StoreNotAvailable`` (``StoreTimeout`` for a timeout). No aiohttp exception escapes.

Custom headers (auth tokens) are sent with every request and never shown: not in ``repr``,
``name``, log records or error messages. Credentials in a URL (``user:pass@``) are redacted the
same way.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Mapping
from typing import Any, TypeVar
from urllib.parse import urlsplit

import aiohttp

from ..._core.checks import positive_int
from ..._core.data import check_chunk_size
from ..._core.deadline import check_timeout
from ..._core.redact import redact, scrub, stand_in
from ..._core.renamed import NOT_GIVEN, renamed
from ..._core.resources import LoopLocal
from ...compression.content_encoding import (
    DEFAULT_MAX_DECODED,
    decode_content,
    decode_content_stream,
    refuse_range,
)
from ...compression.store_io import Span
from ...errors import (
    BitstoreError,
    InvalidRange,
    InvalidURI,
    NotFoundInStore,
    StoreNotAvailable,
    StoreTimeout,
)
from ...listing import sorted_level
from ...meta import ObjectMeta
from ...retry import Retry, TransientError, is_transient
from ...store import Store
from .._base import SpannedRaw
from .._net import responses
from .._net.aiohttp import new_session, status_error
from . import _meta as http_meta
from . import _proto as proto

__all__ = ["HTTPRaw"]

R = TypeVar("R")


class HTTPRaw(SpannedRaw):
    """Read-only blobs at ``http://`` and ``https://`` URLs.

    Args:
        headers: sent with every request (e.g. ``{"Authorization": "Bearer ..."}``); never
            shown in messages or logs. With an ``Authorization`` header, URLs that carry
            their own credentials (``user:password@``) are refused with ``InvalidURI``.
        retry: the policy for transient failures (default ``Retry()``).
        max_connections: the size of the connection pool.
        read_timeout: seconds allowed to connect and for each read of the body, and for each
            chunk of a ``stream`` (``None``: no limit). A whole download may take longer.
        listing: whether the server publishes JSON directory listings (nginx with
            ``autoindex_format json``). With ``False``,
            [`list`][asyncbitstore.raw.http.HTTPRaw.list] raises
            ``NotImplementedError`` at once.
        max_listing_depth: how many levels of sub-folders
            [`list`][asyncbitstore.raw.http.HTTPRaw.list] enters below the
            prefix's folder (default 64); a deeper listing raises ``StoreNotAvailable``.
        max_listing_bytes: the largest listing body [`list`][asyncbitstore.raw.http.HTTPRaw.list]
            reads for one folder
            (default 16 MiB); a larger one raises ``StoreNotAvailable``, read no further.

    ``get_range`` sends a ``Range`` header and also copes with servers that ignore it (a 200
    reply is sliced while it streams). ``size`` uses ``HEAD``'s ``Content-Length``, falling back
    to a one-byte ranged ``GET``. TLS certificates are always verified.

    A body sent with a ``Content-Encoding`` (``gzip``, ``br``, ``zstd``, ``deflate``: a
    pre-compressed file served as it is, although the store asks for ``identity``) is decoded
    by ``get`` (up to `max_decoded_bytes`) and ``stream``; ``stored=True`` gives it as sent, and
    ``size`` its length as sent. A range of it raises `CompressedRange`, and an encoding not
    decodable here `InvalidDataFound`. ``put`` and ``delete``
    raise [`NotWritable`][asyncbitstore.errors.NotWritable].
    """

    uri_hint = "http://host/path or https://host/path (no trailing '/', no '#fragment')"
    _runtime_attrs = ("_session", "_client_timeout")
    _renamed_attrs = (("timeout", "read_timeout"),)
    # Class-level defaults: a store pickled before these options existed still has them.
    max_listing_depth: int = 64
    max_listing_bytes: int = 16 << 20
    #: The most bytes ``get`` decodes a body sent with a ``Content-Encoding`` to (a larger
    #: one raises `StoreNotAvailable`; ``stream`` has no such bound).
    max_decoded_bytes: int = DEFAULT_MAX_DECODED

    def __init__(
        self,
        *,
        headers: Mapping[str, str] | None = None,
        retry: Retry | None = None,
        max_connections: int = 64,
        read_timeout: float | None = 30.0,
        listing: bool = True,
        max_listing_depth: int = 64,
        max_listing_bytes: int = 16 << 20,
        timeout: Any = NOT_GIVEN,
    ) -> None:
        timeout = renamed("read_timeout", read_timeout, "timeout", timeout, 30.0)
        headers = dict(headers or {})
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in headers.items()):
            raise TypeError("headers must map str to str")
        for option, value in (
            ("max_connections", max_connections),
            ("max_listing_depth", max_listing_depth),
            ("max_listing_bytes", max_listing_bytes),
        ):
            positive_int(option, value, type_error=True)
        self._headers = headers
        # aiohttp cannot send this header and a URL's user:password@ together; such URLs are
        # refused by name (see _refuse_url_credentials) instead of its bare ValueError.
        self.retry = retry if retry is not None else Retry()
        self.max_connections = max_connections
        self.read_timeout = check_timeout(timeout)
        self.listing = bool(listing)
        self.max_listing_depth = max_listing_depth
        self.max_listing_bytes = max_listing_bytes
        self._init_runtime()

    def _init_runtime(self) -> None:
        self._session: LoopLocal[aiohttp.ClientSession] = LoopLocal(
            self._new_session, _close_session
        )
        self._client_timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=self.read_timeout, sock_read=self.read_timeout
        )

    async def _new_session(self) -> aiohttp.ClientSession:
        # Identity encoding: byte ranges and Content-Length must refer to the stored bytes.
        headers = {"Accept-Encoding": "identity", **self._headers}
        session: aiohttp.ClientSession = new_session(limit=self.max_connections, headers=headers)
        return session

    # -- URIs -----------------------------------------------------------------------------------

    def is_valid(self, uri: str) -> bool:
        """Whether ``uri`` is an ``http(s)://host/path`` URL of a file (not a folder)."""
        if not isinstance(uri, str):
            raise TypeError(f"a URI must be a str, not {type(uri).__name__}")
        path = proto.url_path(uri)
        return path is not None and path != "" and not path.endswith("/")

    def _url(self, uri: object) -> str:
        if not isinstance(uri, str):
            raise TypeError(f"{self.name}: a URI must be a str, not {type(uri).__name__}")
        if not self.is_valid(uri):
            raise InvalidURI(self, redact(uri), self.uri_hint)
        self._refuse_url_credentials(uri)
        return uri

    _locate = _url

    def _authorizes(self) -> bool:
        """Whether this store sends an Authorization header of its own."""
        return any(name.lower() == "authorization" for name in self._headers)

    def _refuse_url_credentials(self, url: str) -> None:
        """Raise ``InvalidURI`` for ``user:password@`` in ``url`` when we send Authorization."""
        if self._authorizes() and "@" in urlsplit(url).netloc:
            raise InvalidURI(
                self, redact(url), "a URL without user:password@, since this store sends an "
                "Authorization header (use one or the other)",
            )  # fmt: skip

    # -- requests -------------------------------------------------------------------------------

    async def _call(
        self,
        method: str,
        url: str,
        handle: Callable[[aiohttp.ClientResponse], Awaitable[R]],
        headers: Mapping[str, str] | None = None,
        *,
        as_sent: bool = False,
    ) -> R:
        """Send one request and ``handle`` its response, the whole retried on transient failures
        (``as_sent``: the body as sent, never decoded by aiohttp)."""
        session = await self._session.get()

        async def attempt() -> R:
            async with await self._send(session, method, url, headers, as_sent) as response:
                return await handle(response)

        return await self._retried(attempt, f"{method} {redact(url)}", url)

    async def _send(
        self,
        session: aiohttp.ClientSession,
        method: str,
        url: str,
        headers: Mapping[str, str] | None = None,
        as_sent: bool = False,
    ) -> aiohttp.ClientResponse:
        """The response to one request (redirects followed), its body still to be read (as
        sent, whatever its ``Content-Encoding``, with ``as_sent``).

        aiohttp raises a bare ``ValueError`` for a request it will not send, such as a redirect
        to a ``user:password@`` URL while the store sends an Authorization header.
        """
        try:
            return await session.request(
                method, url, headers=headers, timeout=self._client_timeout,
                auto_decompress=not as_sent,
            )  # fmt: skip
        except ValueError as exc:
            reason = f"the request could not be sent: {scrub(str(exc), self._headers.values())}"
        if self._authorizes():
            reason += " (did a redirect lead to a user:password@ URL? it cannot go with the "
            reason += "Authorization header this store sends)"
        raise StoreNotAvailable(self, reason, uri=redact(url))

    async def _retried(self, attempt: Callable[[], Awaitable[R]], what: str, url: str) -> R:
        try:
            return await self.retry.call(attempt, transient=_transient, what=what)
        except BitstoreError:
            raise
        except (TransientError, aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
            failure = exc
        raise self._failure(failure, url) from self._stand_in(failure)

    def _failure(self, exc: BaseException, url: str) -> StoreNotAvailable:
        """Our error for a failure that survived the retries."""
        uri = redact(url)
        if isinstance(exc, asyncio.TimeoutError):
            return StoreTimeout(self, f"no answer within {self.read_timeout} s", uri=uri)
        attempts = "" if self.retry.attempts == 1 else f" (after {self.retry.attempts} attempts)"
        detail = scrub(str(exc), self._headers.values())
        reason = f"{type(exc).__name__}: {detail}" if detail else type(exc).__name__
        return StoreNotAvailable(self, reason + attempts, uri=uri)

    def _stand_in(self, exc: BaseException) -> BaseException:
        """``exc`` to chain under our error: no aiohttp request info, headers or secrets.

        Raise the error past the ``except`` block, or the original becomes its context.
        """
        return stand_in(exc, self._headers.values())

    def _check(self, response: aiohttp.ClientResponse, url: str, *ok: int) -> None:
        """Raise our error unless the response's status is in ``ok`` (default 200)."""
        if response.status in (ok or (200,)):
            # A folder URL redirected to "folder/" (nginx does this) is not a blob.
            if response.url.path.endswith("/") and not urlsplit(url).path.endswith("/"):
                raise NotFoundInStore(self, redact(url), "it is a folder")
            return
        raise status_error(self, redact(url), response.status)

    async def _open(self, url: str) -> aiohttp.ClientResponse:
        """A 200 response whose body, as sent, is still to be read (the caller releases it)."""
        session = await self._session.get()

        async def attempt() -> aiohttp.ClientResponse:
            response = await self._send(session, "GET", url, as_sent=True)
            try:
                self._check(response, url)
            except BaseException:
                response.release()
                raise
            return response

        return await self._retried(attempt, f"GET {redact(url)}", url)

    # -- reads ----------------------------------------------------------------------------------

    _put = Store._put  # type: ignore[assignment]  # read-only: refused before the data is read

    def _shown(self, uri: str) -> str:
        return redact(uri)

    async def _get_answer(self, uri: str) -> tuple[bytes, str | None]:
        """The whole body of ``GET uri`` as sent, and its ``Content-Encoding``."""
        url = self._url(uri)

        async def read(response: aiohttp.ClientResponse) -> tuple[bytes, str | None]:
            self._check(response, url)
            return await response.read(), response.headers.get("Content-Encoding")

        return await self._call("GET", url, read, as_sent=True)

    async def _get_stored(self, uri: str) -> bytes:
        """The whole body of ``GET uri``, as sent (decoded by `get` if it is a blob stored
        compressed by asyncbitstore)."""
        return (await self._get_answer(uri))[0]

    async def _get_content(self, uri: str) -> bytes:
        """The whole body of ``GET uri``, its ``Content-Encoding`` undone (bounded by
        ``max_decoded_bytes``)."""
        return await self._undo(uri, *await self._get_answer(uri))

    async def _undo(self, uri: str, data: bytes, encoding: str | None) -> bytes:
        bound = self.max_decoded_bytes
        return await decode_content(self, redact(uri), data, encoding, bound, "max_decoded_bytes")

    async def _stored_span(
        self, uri: str, url: Any, asked_start: int, asked_end: int, start: int, end: int
    ) -> Span:
        """A ``Range`` request, with the answer's strong ``ETag`` as the object's version. An
        HTTP object has no frame mark: the first range of a URI not from 0 costs a second,
        concurrent request for its first bytes, and what they show is remembered for the
        ETag, so later ranges of the same version cost one request."""
        if start == end:  # HTTP cannot ask for zero bytes
            if start > await self.size(uri):
                raise InvalidRange(self, redact(url), start, end, "it starts past the end")
            return Span(b"")

        async def read(response: aiohttp.ClientResponse) -> Span:
            if response.status == 416:
                return Span(await self._unsatisfiable(response, url, start, end))
            self._check(response, url, 200, 206)
            encoding = response.headers.get("Content-Encoding")
            refuse_range(self, redact(url), encoding, asked_start, asked_end)
            version = _strong(response.headers.get("ETag"))
            if response.status == 200:  # the server ignored the range
                data, size = await responses.slice_body(response, start, end)
                if start > size:
                    raise InvalidRange(self, redact(url), start, end, f"the blob has {size} bytes")
                return Span(data, version=version)
            header = response.headers.get("Content-Range")
            data = await responses.read_span(
                response.content, responses.span_length(header, start, end)
            )
            return Span(data, version=version)

        span = {"Range": f"bytes={start}-{end - 1}"}
        return await self._call("GET", url, read, span, as_sent=True)

    async def _unsatisfiable(
        self, response: aiohttp.ClientResponse, url: str, start: int, end: int
    ) -> bytes:
        """A 416: an empty slice when ``start`` is exactly the size, else ``InvalidRange``."""
        _, total = responses.content_range(response)
        if total is None:
            total = await self.size(url)
        if start == total:
            return b""
        raise InvalidRange(self, redact(url), start, end, f"the blob has only {total} bytes")

    async def _stream_stored(
        self, uri: str, chunk_size: int, decode: bool = False
    ) -> AsyncIterator[bytes]:
        """The body as it arrives (with ``decode``, its ``Content-Encoding`` undone). Errors
        before the first chunk are retried; a failure mid-body raises ``StoreNotAvailable``
        (nothing is retried once bytes were handed out), and so does a chunk not complete
        within ``read_timeout`` (``StoreTimeout``), however steadily bytes trickle."""
        url = self._url(uri)
        check_chunk_size(chunk_size)
        response = await self._open(url)
        try:
            chunks = self._body(url, response, chunk_size)
            if decode:
                encoding = response.headers.get("Content-Encoding")
                chunks = decode_content_stream(self, redact(url), chunks, encoding, chunk_size)
            async with contextlib.aclosing(chunks):
                async for chunk in chunks:
                    yield chunk
        finally:
            response.release()

    def _stream_content(self, uri: str, chunk_size: int) -> AsyncIterator[bytes]:
        return self._stream_stored(uri, chunk_size, decode=True)

    async def _body(
        self, url: str, response: aiohttp.ClientResponse, chunk_size: int
    ) -> AsyncGenerator[bytes, None]:
        try:
            while chunk := await responses.read_chunk(
                response.content, chunk_size, self.read_timeout
            ):
                yield chunk
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
            failure = exc
        else:
            return
        raise self._failure(failure, url) from self._stand_in(failure)

    async def exists(self, uri: str) -> bool:
        """Whether ``HEAD uri`` answers 200 (a ranged ``GET`` if HEAD is not allowed)."""
        url = self._url(uri)

        async def answer(response: aiohttp.ClientResponse) -> bool | None:
            if response.status == 405:
                return None
            self._check(response, url)
            return True

        try:
            found = await self._call("HEAD", url, answer)
            return found if found is not None else await self._size_from_get(url) >= 0
        except NotFoundInStore:
            return False

    async def size(self, uri: str) -> int:
        """``Content-Length`` of ``HEAD uri``, else the total from a ranged ``GET``."""
        url = self._url(uri)

        async def length(response: aiohttp.ClientResponse) -> int | None:
            if response.status == 405:  # HEAD not allowed: ask with GET
                return None
            self._check(response, url)
            return response.content_length

        found = await self._call("HEAD", url, length)
        return found if found is not None else await self._size_from_get(url)

    async def _size_from_get(self, url: str) -> int:
        async def total(response: aiohttp.ClientResponse) -> int | None:
            if response.status == 416:  # even byte 0 is out of range: the blob is empty
                return 0
            if response.status == 206:
                return responses.content_range(response)[1]  # None for "bytes 0-0/*"
            return await counted(response)

        async def counted(response: aiohttp.ClientResponse) -> int:
            self._check(response, url)
            return await responses.body_length(response)

        found = await self._call("GET", url, total, {"Range": "bytes=0-0"})
        return found if found is not None else await self._call("GET", url, counted)

    async def head(self, uri: str) -> ObjectMeta:
        """``Content-Length``, ``ETag``, ``Last-Modified`` and ``Content-Type`` of ``HEAD uri``
        (the size alone, from a ranged ``GET``, where HEAD is not allowed or has no length)."""
        url = self._url(uri)

        async def answer(response: aiohttp.ClientResponse) -> ObjectMeta | None:
            if response.status == 405:
                return None
            self._check(response, url)
            if response.content_length is None:
                return None
            return http_meta.from_headers(response.headers, response.content_length)

        found = await self._call("HEAD", url, answer)
        return found if found is not None else ObjectMeta(size=await self._size_from_get(url))

    async def get_with_meta(self, uri: str) -> tuple[bytes, ObjectMeta]:
        """The body of ``GET uri`` (decoded as `get` decodes it) and the meta of its headers."""
        answer = await self._get_meta(uri, {})
        assert answer is not None  # only a conditional GET answers "not modified"
        return answer

    async def get_if_changed(self, uri: str, known: ObjectMeta) -> tuple[bytes, ObjectMeta] | None:
        """A conditional ``GET`` (``If-None-Match``, ``If-Modified-Since`` from ``known``):
        None when the server answers 304 (no body sent), or when it ignores the conditions
        but its answer still matches ``known``; else the new bytes and meta."""
        if not isinstance(known, ObjectMeta):
            raise TypeError(f"known must be an ObjectMeta, not {type(known).__name__}")
        answer = await self._get_meta(uri, http_meta.conditions(known))
        if answer is None or answer[1].same_content_as(known):
            return None
        return answer

    async def _get_meta(
        self, uri: str, conditions: dict[str, str]
    ) -> tuple[bytes, ObjectMeta] | None:
        url = self._url(uri)

        async def read(
            response: aiohttp.ClientResponse,
        ) -> tuple[bytes, str | None, ObjectMeta] | None:
            if response.status == 304 and conditions:
                return None
            self._check(response, url)
            data = await response.read()
            length = response.content_length
            meta = http_meta.from_headers(response.headers, len(data) if length is None else length)
            return data, response.headers.get("Content-Encoding"), meta

        answer = await self._call("GET", url, read, conditions or None, as_sent=True)
        if answer is None:
            return None
        data, encoding, meta = answer
        return await self._decoded(uri, await self._undo(uri, data, encoding)), meta

    # -- listing --------------------------------------------------------------------------------

    def list(self, prefix: str = "", flat: bool = False) -> AsyncIterator[str]:
        """Every file URL that starts with ``prefix``, recursively, sorted.

        With ``flat``, one level of them (names and sub-folders ending in ``/``), sorted.

        Reads the server's JSON directory listings (nginx ``autoindex_format json``). A missing
        folder lists nothing.

        Raises:
            NotImplementedError: built with ``listing=False``, or (while iterating) the server
                answered a folder with something other than a JSON listing.
            InvalidURI: ``prefix`` is not an ``http(s)://host/...`` URL.
        """
        if not self.listing:
            raise NotImplementedError(f"{self.name} was built with listing=False")
        if not isinstance(prefix, str):
            raise TypeError(f"prefix must be a str, not {type(prefix).__name__}")
        path = proto.url_path(prefix, allow_empty=True)
        if path is None or "?" in prefix:
            raise InvalidURI(self, redact(prefix), "an http(s)://host/folder/ prefix")
        self._refuse_url_credentials(prefix)
        folder = prefix[: len(prefix) - len(path)] + (path[: path.rfind("/") + 1] or "/")
        found = proto.walk(self._listing, folder, prefix, self.max_listing_depth, self._too_deep)
        return sorted_level(found, prefix) if flat else found

    def _too_deep(self, folder: str) -> StoreNotAvailable:
        return StoreNotAvailable(
            self, f"the listing nests deeper than {self.max_listing_depth} folders; "
            "HTTPRaw(max_listing_depth=...) allows more", uri=redact(folder),
        )  # fmt: skip

    async def _listing(self, folder: str) -> proto.Entries:
        """The entries of ``folder``; none when it does not exist."""

        async def parse(response: aiohttp.ClientResponse) -> proto.Entries:
            if response.status in (404, 410):
                return []
            self._check(response, folder)
            body = await proto.read_listing(response, self.max_listing_bytes)
            if body is None:
                raise StoreNotAvailable(
                    self, f"the listing is larger than {_size(self.max_listing_bytes)}; "
                    "HTTPRaw(max_listing_bytes=...) allows more", uri=redact(folder),
                )  # fmt: skip
            try:
                return proto.parse_listing(body, response.content_type)
            except ValueError as exc:
                raise NotImplementedError(
                    f"{self.name}: {redact(folder)} did not answer with a JSON directory listing "
                    f"({exc}); list() needs a server that publishes them, such as nginx with "
                    "'autoindex on; autoindex_format json;'"
                ) from None

        return await self._call("GET", folder, parse)

    # -- lifecycle ------------------------------------------------------------------------------

    async def aclose(self) -> None:
        """Close the HTTP session (a new one is made if the store is used again)."""
        await self._session.aclose()


async def _close_session(session: aiohttp.ClientSession) -> None:
    await session.close()


def _transient(exc: BaseException) -> bool:
    # A certificate or TLS handshake failure will not fix itself by retrying.
    return not isinstance(exc, aiohttp.ClientSSLError) and is_transient(exc)


def _size(count: int) -> str:
    return f"{count >> 20} MiB" if count % (1 << 20) == 0 else f"{count} bytes"


def _strong(etag: str | None) -> str | None:
    """A strong ``ETag`` (the same bytes whenever it is the same), or None."""
    return etag if etag and not etag.startswith(("W/", "w/")) else None
