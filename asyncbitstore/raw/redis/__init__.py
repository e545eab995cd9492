"""``RedisRaw``: blobs as Redis string values, shared by a fleet of workers.

URIs name the server and database, then the key: a store built with
``RedisRaw("redis://:secret@cache.internal:6379/2")`` answers for
``redis://cache.internal:6379/2/<key>`` (port and database always written out, never a
password). ``<key>`` is any non-empty string; keys starting with ``.abstmp-`` are reserved for
in-progress streaming writes and are refused. ``rediss://`` (TLS) works the same way.

As the shared cache of a fleet, in front of a bucket:

    redis = RedisRaw("redis://:secret@cache.internal:6379/0", ttl=7 * 86400)
    store.append_cache(Sha1Cache(redis, redis.uri("blobs/")))
"""

from __future__ import annotations

import asyncio
import functools
import logging
import re
import secrets
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Mapping
from types import EllipsisType
from typing import Any, TypeVar

from redis import exceptions as rx
from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.retry import Retry as RedisRetry
from redis.backoff import NoBackoff

from ..._core.checks import positive_int
from ..._core.data import PutData, bytes_chunk, check_chunk_size
from ..._core.put_attrs import PutAttrs, attrs_hook, put_attrs
from ..._core.redact import scrub
from ..._core.renamed import NOT_GIVEN, renamed
from ..._core.resources import LoopLocal
from ...compression.store_io import stored_flag
from ...errors import AlreadyExists, InvalidRange, NotFoundInStore, StoreFull, StoreNotAvailable
from ...listing import listed
from ...retry import Retry, is_transient
from ...store import DEFAULT_CONCURRENCY
from .._base import PrefixedRaw, check_str
from . import _commands as _ops
from . import _copy
from ._commands import TEMP_PREFIX

__all__ = ["RedisRaw"]

logger = logging.getLogger("asyncbitstore.redis")

R = TypeVar("R")

_SPILL = 1 << 20  # streaming puts are buffered up to this before going to a temporary key
_GLOB = re.compile(r"([*?\[\]\\])")
#: How a server refuses a value over its size limit: a ``SET`` whose bulk argument is longer
#: than ``proto-max-bulk-len`` ("Protocol error: invalid bulk length", after which the server
#: closes the connection), or a ``SETRANGE`` that would grow the value past it.
_TOO_BIG = ("invalid bulk length", "exceeds maximum allowed size")


def _transient(exc: BaseException) -> bool:
    if isinstance(exc, (rx.AuthenticationError, rx.AuthorizationError)):
        return False
    return isinstance(exc, (rx.ConnectionError, rx.TimeoutError)) or is_transient(exc)


class RedisRaw(PrefixedRaw):
    """A Redis (or Valkey) database as a store, for ``redis://host:port/db/<key>`` URIs.

    Args:
        url: the connection URL, ``redis[s]://[[user]:password@]host[:port][/db]``. The
            password is used to connect and appears nowhere else (not in URIs, names or errors).
        max_connections: size of the connection pool; calls beyond it wait for a free
            connection. Match it to the concurrency of your bulk calls (default 64).
        ttl: seconds after which every blob written expires (``None``: never). ``put`` takes
            a per-call ``ttl=`` too.
        request_timeout: seconds to wait for a connection or an answer before the call fails.
        retry: the policy for connection errors and timeouts (authentication errors fail at
            once).

    Writes are atomic: a streaming ``put`` goes to a temporary key renamed over the key once
    complete. Blobs are read whole by ``get``; ``get_range`` and ``stream`` use ``GETRANGE``.

    A blob larger than the server takes (its ``proto-max-bulk-len``, 512 MiB by default) raises
    [StoreFull][asyncbitstore.errors.StoreFull], so that a
    [Fanout][asyncbitstore.Fanout] passes it to its next store; nothing of it is left behind.
    """

    _runtime_attrs = ("_client", "_max_value")
    _renamed_attrs = (("timeout", "request_timeout"),)

    def __init__(
        self,
        url: str = "redis://127.0.0.1:6379/0",
        *,
        max_connections: int = DEFAULT_CONCURRENCY,
        ttl: float | None = None,
        request_timeout: float = 30.0,
        retry: Retry | None = None,
        timeout: Any = NOT_GIVEN,
    ) -> None:
        timeout = renamed("request_timeout", request_timeout, "timeout", timeout, 30.0)
        self._url = url
        self.base, self._secret = _ops.parse_url(url)
        self.max_connections = positive_int("max_connections", max_connections, type_error=True)
        self.ttl = _ops.check_ttl(ttl)
        self.request_timeout = float(timeout)
        self.retry = retry or Retry()
        self._init_runtime()

    def _init_runtime(self) -> None:
        self._client: LoopLocal[Redis] = LoopLocal(self._connect, _ops.disconnect)
        self._max_value: int | None = None  # the server's limit, asked once it matters

    async def _connect(self) -> Redis:
        pool = BlockingConnectionPool.from_url(
            self._url,
            max_connections=self.max_connections,
            timeout=self.request_timeout,
            socket_timeout=self.request_timeout,
            socket_connect_timeout=self.request_timeout,
            retry=RedisRetry(NoBackoff(), 0),  # our Retry is the only one
        )
        return Redis(connection_pool=pool)

    @property
    def name(self) -> str:
        return f"RedisRaw({self.base!r})"

    # -- URIs and errors ------------------------------------------------------------------------

    def is_valid(self, uri: str) -> bool:
        """Whether ``uri`` is ``<base><key>`` for this server and database."""
        check_str(uri)
        base = self.base
        return (
            len(uri) > len(base)
            and uri.startswith(base)
            and not uri.startswith(TEMP_PREFIX, len(base))
        )

    def _key(self, uri: object) -> str:
        return self.check_uri(uri)[len(self.base) :]

    _locate = _key

    def _error(self, exc: BaseException, uri: str) -> BaseException:
        """Our exception for a failure of the client (the one place SDK errors are mapped)."""
        text = scrub(str(exc), (self._secret,) if self._secret else ())
        if isinstance(exc, rx.ResponseError) and any(sign in text for sign in _TOO_BIG):
            # Not the server's text: a pipeline's error quotes the command, bytes included.
            return self._too_big(uri, None)
        if isinstance(exc, rx.ResponseError) and text.startswith("WRONGTYPE"):
            text = "the key holds a value that is not a string"
        return StoreNotAvailable(self, f"{type(exc).__name__}: {text}", uri=uri)

    def _too_big(self, uri: str, size: int | None) -> StoreFull:
        what = "the blob is" if size is None else f"{size} bytes are"
        limit = "" if self._max_value is None else f"={self._max_value}"
        return StoreFull(
            self, uri, f"{what} more than the server takes (proto-max-bulk-len{limit})"
        )

    async def _check_fits(self, uri: str, size: int) -> None:
        """Raise `StoreFull` before sending a value longer than the server takes: it would
        close the connection while the value is still being sent, and the refusal be lost."""
        if size <= _ops.ALWAYS_FITS:
            return
        if self._max_value is None:
            self._max_value = await self._call(uri, _ops.max_value)
        if size > self._max_value:
            raise self._too_big(uri, size)

    async def _call(self, uri: str, op: Callable[[Redis], Awaitable[R]]) -> R:
        """``await op(client)``, retrying connection errors; failures become our errors."""
        delays = None
        attempt = 0
        while True:
            attempt += 1
            try:
                return await op(await self._client.get())
            except Exception as exc:
                if delays is None:
                    delays = self.retry.delays()
                transient = _transient(exc)
                delay = next(delays, None) if transient else None
                if transient:
                    self.retry.log_failure(f"{self.name} {uri}", exc, attempt, delay)
                if delay is None:
                    raise self._error(exc, uri) from exc
            await asyncio.sleep(delay)

    # -- reads ----------------------------------------------------------------------------------

    async def _get_stored(self, uri: str) -> bytes:
        key = self._key(uri)
        data = await self._call(uri, lambda c: c.get(key))
        if data is None:
            raise NotFoundInStore(self, uri)
        return data  # type: ignore[return-value]  # bytes: responses are not decoded

    async def _stored_range(
        self, uri: str, key: Any, start: int, end: int, first: int, last: int
    ) -> bytes:
        """``GETRANGE``: one round trip from 0, two concurrent ones from elsewhere (the
        value's first bytes show whether it is compressed)."""
        found = await self._call(uri, functools.partial(_ops.ranged, key, first, last))
        exists, size, *data = found
        if not exists:
            raise NotFoundInStore(self, uri)
        if first > size:
            raise InvalidRange(self, uri, start, end, f"the blob has only {size} bytes")
        return data[0] if data else b""

    async def _stream_stored(self, uri: str, chunk_size: int) -> AsyncIterator[bytes]:
        """The value in chunks of ``GETRANGE``. A blob whose size changes while it is streamed
        raises `StoreNotAvailable`."""
        key = self._key(uri)
        check_chunk_size(chunk_size)
        exists, size, *first = await self._call(
            uri, functools.partial(_ops.ranged, key, 0, chunk_size)
        )
        if not exists:
            raise NotFoundInStore(self, uri)
        offset = 0
        chunk = first[0] if first else b""
        while chunk:
            yield chunk
            offset += len(chunk)
            if offset >= size:
                return
            now, _, *more = await self._call(
                uri, functools.partial(_ops.ranged, key, offset, offset + chunk_size, length=True)
            )
            if now != size:
                raise StoreNotAvailable(self, "the blob changed while it was streamed", uri=uri)
            chunk = more[0] if more else b""
        if offset < size:
            raise StoreNotAvailable(self, "the blob changed while it was streamed", uri=uri)

    async def exists(self, uri: str) -> bool:
        """Whether the key exists."""
        key = self._key(uri)
        return bool(await self._call(uri, lambda c: c.exists(key)))

    async def size(self, uri: str) -> int:
        """The value's length (``STRLEN``)."""
        key = self._key(uri)
        size: int = await self._call(uri, lambda c: c.strlen(key))
        if size == 0 and not await self.exists(uri):  # STRLEN of a missing key is 0 too
            raise NotFoundInStore(self, uri)
        return size

    def list(self, prefix: str = "", flat: bool = False) -> AsyncIterator[str]:
        """Every URI starting with ``prefix`` (``SCAN``, every page; unsorted, no repeats).

        With ``flat``, one level of them (names and sub-prefixes ending in ``/``), sorted: the
        whole scan is read first.
        """
        return listed(self._list_prefix, self._scan, prefix, flat)

    async def _scan(self, prefix: str) -> AsyncIterator[str]:
        pattern = _GLOB.sub(r"\\\1", prefix[len(self.base) :]) + "*"
        seen: set[bytes] = set()
        cursor = 0
        while True:
            cursor, keys = await self._call(
                prefix, functools.partial(_ops.scan, cursor=cursor, match=pattern)
            )
            for key in keys:
                if key not in seen and not key.startswith(TEMP_PREFIX.encode()):
                    seen.add(key)
                    yield self.base + key.decode("utf-8", "surrogateescape")
            if cursor == 0:
                return

    # -- writes ---------------------------------------------------------------------------------

    async def put(
        self,
        uri: str,
        data: PutData,
        *,
        compress: str | None = None,
        level: int | None = None,
        stored: bool = False,
        raw: bool | None = None,
        mode: str = "overwrite",
        content_type: str | None = None,
        cache_control: str | None = None,
        metadata: Mapping[str, str] | None = None,
        ttl: float | EllipsisType | None = ...,
    ) -> None:
        """Store ``data`` at the key, atomically.

        Redis keeps the bytes only: ``content_type``, ``cache_control`` and ``metadata`` are
        checked and dropped (`head` reports none). ``mode="create"`` is atomic: ``SET NX``,
        or for a streamed value spilled to a temporary key, ``RENAMENX`` (in one script with
        the expiry).

        Args:
            uri: where.
            data: bytes-like, or an async iterable of bytes (buffered up to 1 MiB, beyond that
                written to a temporary key that is renamed into place at the end).
            mode: ``"overwrite"`` or ``"create"`` (see `Store.put`).
            content_type: checked, not kept.
            cache_control: checked, not kept.
            metadata: checked, not kept.
            compress: store it compressed with this codec (see `Store.put`).
            level: the codec's level.
            stored: ``data`` is a stored form from ``get(uri, stored=True)``: written verbatim.
            raw: deprecated name of ``stored``.
            ttl: seconds until the blob expires; default: the store's ``ttl``.
        """
        attrs = put_attrs(mode, content_type, cache_control, metadata)
        flag = stored_flag(stored, raw)
        await self._put(uri, data, compress, level, flag, ttl, **attrs_hook(attrs))

    async def _put_stored(
        self,
        uri: str,
        key: Any,
        data: PutData,
        attrs: PutAttrs,
        ttl: float | EllipsisType | None = ...,
    ) -> None:
        px = _ops.milliseconds(self.ttl if ttl is ... else _ops.check_ttl(ttl))
        if isinstance(data, (bytes, bytearray, memoryview)):
            await self._check_fits(uri, memoryview(data).nbytes)
            await self._set(uri, key, data, px, attrs.create)
        else:
            await self._put_stream(uri, key, data, px, attrs.create)

    async def _set(self, uri: str, key: str, data: Any, px: int | None, create: bool) -> None:
        if not create:
            await self._call(uri, lambda c: c.set(key, data, px=px))
        elif not await self._call(uri, functools.partial(_ops.set_new, key, data, px)):
            raise AlreadyExists(self, uri)

    async def _put_stream(
        self, uri: str, key: str, data: AsyncIterable[bytes], px: int | None, create: bool
    ) -> None:
        buffer = bytearray()
        temp: str | None = None
        written = 0
        try:
            async for chunk in data:
                buffer += bytes_chunk(chunk)
                if len(buffer) >= _SPILL:
                    await self._check_fits(uri, written + len(buffer))
                    temp = temp or TEMP_PREFIX + secrets.token_hex(12)
                    part, buffer = bytes(buffer), bytearray()
                    # SETRANGE at an explicit offset, unlike APPEND, is safe to retry.
                    await self._call(uri, functools.partial(_ops.set_part, temp, written, part))
                    written += len(part)
            if temp is None:
                await self._set(uri, key, bytes(buffer), px, create)
                return
            if buffer:  # on its own: in the renaming transaction its failure would not stop it
                await self._check_fits(uri, written + len(buffer))
                tail = bytes(buffer)
                await self._call(uri, functools.partial(_ops.set_part, temp, written, tail))
            if not create:
                await self._call(uri, functools.partial(_ops.commit, temp, key, px))
            elif not await self._call(uri, functools.partial(_ops.commit_new, temp, key, px)):
                raise AlreadyExists(self, uri)  # the temporary key is removed below
            temp = None
        finally:
            if temp is not None:
                await asyncio.shield(self._discard(uri, temp))

    async def _discard(self, uri: str, temp: str) -> None:
        try:
            await self._call(uri, lambda c: c.unlink(temp))
        except StoreNotAvailable as exc:
            logger.warning("%s: could not remove temporary key: %s", self.name, exc)

    async def _copy(self, src_uri: str, dst_uri: str) -> None:
        """``COPY ... REPLACE`` on the server (the store's ``ttl`` applies to the copy); on a
        server older than Redis 6.2, the blob is streamed through instead."""
        src, dst = self._key(src_uri), self._key(dst_uri)
        px = _ops.milliseconds(self.ttl)
        copied = await self._call(src_uri, lambda c: _copy.copy_key(c, src, dst, px))
        if copied is None:
            await super()._copy(src_uri, dst_uri)
        elif not copied:
            raise NotFoundInStore(self, src_uri)

    async def _rename(self, src_uri: str, dst_uri: str) -> None:
        """``RENAME`` on the server: atomic, and the blob keeps its expiry."""
        src, dst = self._key(src_uri), self._key(dst_uri)
        if not await self._call(src_uri, lambda c: _copy.rename_key(c, src, dst)):
            raise NotFoundInStore(self, src_uri)

    def _reach(self) -> object:
        """Another ``RedisRaw`` on the same server and database URL holds the same keys."""
        return (self._url,)

    async def delete(self, uri: str) -> None:
        """Remove the key (``UNLINK``: the memory is freed in the background)."""
        key = self._key(uri)
        await self._call(uri, lambda c: c.unlink(key))

    async def aclose(self) -> None:
        """Close the connection pool (a new one is made on the next call)."""
        await self._client.aclose()
