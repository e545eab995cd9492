"""Content-addressed stores: keys are hex digests of the blob's bytes.

- [`HashStore`][asyncbitstore.hashing.HashStore] maps a key to ``prefix + key`` in a raw store;
  with ``verify=True`` it
  checks every blob's digest on ``get`` and ``put``.
- [`HashCache`][asyncbitstore.hashing.HashCache] is a ``HashStore`` whose ``put`` never raises (it
  logs and counts), which is
  what a cache in a chain wants.
- [`HashAPISource`][asyncbitstore.hashing.HashAPISource] turns an ``api_get(key)`` method into a
  store: a coroutine, or a plain
  (blocking) function run on a bounded pool of worker threads.
- ``Sha1Store``, ``Sha1Cache`` and ``Sha1APISource`` are the same with ``algorithm="sha1"``.

Keys are accepted as ``<hex>`` or ``<algorithm>://<hex>``, in any case, and used lower-cased.
"""

from __future__ import annotations

import abc
import contextlib
import inspect
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from typing import Any, TypeVar, cast

from ._core.bulk_api import Bulk
from ._core.data import PutData, check_put_data
from ._core.keys import DigestKeyed, HashKeys
from ._core.pinning import LocalFile
from ._core.put_attrs import PLAIN, PutAttrs
from ._core.redact import redact
from ._core.worker_pool import WorkerPool
from ._core.write_source import WriteData, keyed_source
from .compression.codecs import MAGIC_BYTE
from .compression.store_io import (
    DecodedHasher,
    decode,
    put_options,
    stored_flag,
    stored_option,
    verified_stored,
)
from .errors import InvalidDataFound, InvalidURI, NotFoundInStore
from .meta import ObjectMeta
from .store import CacheWrites, Fetched, Store, UriSource

__all__ = [
    "HashAPISource",
    "HashCache",
    "HashKeys",
    "HashStore",
    "Sha1APISource",
    "Sha1Cache",
    "Sha1Store",
]

logger = logging.getLogger("asyncbitstore.hashing")

T = TypeVar("T")

#: Worker threads per API source for a plain (blocking) ``api_get``/``api_exists``.
DEFAULT_API_WORKERS = 16


def _backing(raw: Store | None, base_store: Store | None, prefix: str | None) -> tuple[Store, str]:
    """The backing store given as ``raw`` or as its alias ``base_store``, and the prefix."""
    if raw is not None and base_store is not None:
        raise TypeError(
            "give the backing store as raw or as base_store (its epic-bitstore name), not both"
        )
    store = raw if raw is not None else base_store
    if store is None:
        raise TypeError("missing the backing store: pass raw (or its alias base_store)")
    if prefix is None:
        raise TypeError("missing the prefix: pass prefix, e.g. 's3://bucket/blobs/'")
    return store, prefix


# Store declares uri_hint and key_algorithm as plain attributes; DigestKeyed's read-only ones
# replace them (a descriptor overriding an attribute needs the ignore).
class _Keyed(DigestKeyed, Store):  # type: ignore[misc]
    """Shared parts of the keyed stores: key checking and verification."""

    #: `write` calls that uploaded nothing because the key was stored already (an instance
    #: attribute from the first one on).
    writes_skipped: int = 0

    def __init__(self, algorithm: str, verify: bool) -> None:
        self.keys = HashKeys(algorithm)
        self.verify = bool(verify)

    @property
    def verifies_keys(self) -> bool:
        """Whether ``verify`` is set."""
        return self.verify

    def is_valid(self, uri: str) -> bool:
        """Whether ``uri`` is a key of this store's algorithm."""
        return self.keys.match(uri) is not None

    def key_of(self, uri: object) -> str:
        """The normalized key, or ``TypeError``/``InvalidURI``."""
        return self.keys.require(self, uri)

    @abc.abstractmethod
    async def get_key(self, key: str) -> bytes:
        """``get`` for a key already normalized: lower-case hex of the right length."""

    def _check_digest(self, key: str, actual: str) -> None:
        self.keys.check(self, key, actual)

    def _verified(self, key: str, data: bytes) -> bytes:
        if self.verify:
            self._check_digest(key, self.keys.digest(data))
        return data

    async def write(
        self, data: WriteData, *, compress: str | None = None, level: int | None = None
    ) -> str:
        """Store ``data`` under its digest and return that key.

        The key is the digest of ``data`` as given; with ``compress``, the blob is stored
        compressed under that same key (see [`Store.put`][asyncbitstore.store.Store.put]).

        ``data`` may be bytes-like, a path object (``pathlib.Path`` or another
        ``os.PathLike``), a binary file object or an async iterable of bytes. A ``str`` is
        refused rather than read as a file name, so text from a request can never upload a
        local file. Anything but bytes is hashed while streaming, in bounded
        memory (an async iterable or unseekable file is spooled to a temporary file first, as
        the key must be known before the put), and the blob appears under its key only once
        complete: a put is atomic, and data whose digest changed on the way stores nothing.

        Raises:
            TypeError: ``data`` is none of those kinds (a ``str`` included: encode text, or
                wrap a file name in ``pathlib.Path``).
            InvalidDataFound: a file changed between hashing and storing it.
            OSError: a path could not be read.

        A blob already stored under the key is not uploaded again (a digest names one
        content): `write` returns the key and ``writes_skipped`` counts the call.
        """
        async with keyed_source(data, self.keys) as (key, source):
            if await self._holds(key):
                self.writes_skipped += 1
                return key
            if not isinstance(source, (bytes, bytearray, memoryview)) and not self.verify:
                source = self.keys.verified(self, key, source)  # (with verify, put does)
            await self.put(key, source, **put_options(compress, level, False))
        return key

    async def _holds(self, key: str) -> bool:
        """Whether the blob of ``key`` is stored already (then `write` uploads nothing); a
        check that fails counts as no, and the write goes ahead."""
        if not self.exists_is_cheap:
            return False
        try:
            return await self.exists(key)
        except Exception:
            return False


class HashStore(_Keyed):
    """Blobs in a raw store at ``prefix + key``, the key being the digest of the blob.

    Args:
        raw: the store that holds the bytes (``FileRaw()``, ``S3Raw()``, ...).
        prefix: prepended to each key to form the raw URI, e.g. ``"s3://bucket/blobs/"``.
        verify: check each blob's digest on ``get`` and ``put``
            ([`InvalidDataFound`][asyncbitstore.hashing.InvalidDataFound]).
        algorithm: any fixed-size hashlib algorithm (``"sha1"``, ``"sha256"``, ``"blake2b"``).
        base_store: another name for ``raw`` (epic-bitstore's), by keyword only.

    Raises:
        TypeError: both ``raw`` and ``base_store`` given, or neither; ``prefix`` missing.
    """

    def __init__(
        self,
        raw: Store | None = None,
        prefix: str | None = None,
        verify: bool = False,
        *,
        algorithm: str = "sha256",
        base_store: Store | None = None,
    ) -> None:
        raw, prefix = _backing(raw, base_store, prefix)
        super().__init__(algorithm, verify)
        if not isinstance(raw, Store):
            raise TypeError(f"raw must be a Store, not {type(raw).__name__}")
        if not isinstance(prefix, str):
            raise TypeError(f"prefix must be a str, not {type(prefix).__name__}")
        if not raw.is_valid(prefix + "0" * self.keys.hex_length):
            raise InvalidURI(
                raw, prefix, f"a prefix that forms URIs {raw.name} accepts ({raw.uri_hint})"
            )
        self.raw = raw
        self.prefix = prefix

    @property
    def name(self) -> str:
        return f"{type(self).__name__}({self.raw.name}, {redact(self.prefix)!r})"

    def _raw_uri(self, uri: str) -> tuple[str, str]:
        key = self.key_of(uri)
        return key, self.prefix + key

    @contextlib.contextmanager
    def _missing_as_key(self, key: str, *, keep_invalid: bool = False) -> Iterator[None]:
        """Report the raw store's missing blob as ``key`` missing from this store.

        With ``keep_invalid``, an `InvalidDataFound` passes through as it is.
        """
        try:
            yield
        except NotFoundInStore as exc:
            if keep_invalid and isinstance(exc, InvalidDataFound):
                raise
            raise NotFoundInStore(self, key) from exc

    def local_file(self, uri: str) -> LocalFile | None:
        """The raw store's local file for the key, if it keeps one."""
        return self.raw.local_file(self.prefix + self.key_of(uri))

    async def get(self, uri: str, *, stored: bool = False, raw: bool | None = None) -> bytes:
        """The blob stored under key ``uri``, verified when ``verify`` is set.

        With ``stored``, the stored form (verified by the digest of what it decodes to).
        """
        stored = stored_flag(stored, raw)
        if not stored:
            return await self.get_key(self.key_of(uri))
        key, raw_uri = self._raw_uri(uri)
        with self._missing_as_key(key, keep_invalid=True):
            data = await self.raw.get(raw_uri, stored=True)
        if self.verify:
            self._check_digest(key, self.keys.digest(await decode(self, key, data)))
        return data

    async def get_key(self, key: str) -> bytes:
        """``get`` for a key already normalized (lower-case hex of the right length)."""
        with self._missing_as_key(key, keep_invalid=True):
            data = await self.raw.get(self.prefix + key)
        return self._verified(key, data)

    async def get_range(self, uri: str, start: int, end: int) -> bytes:
        """Bytes ``[start, end)`` of the blob (not verified: a range cannot be; a compressed
        blob raises [`CompressedRange`][asyncbitstore.errors.CompressedRange])."""
        key, raw_uri = self._raw_uri(uri)
        with self._missing_as_key(key):
            return await self.raw.get_range(raw_uri, start, end)

    async def get_ranges(self, uri: str, ranges: Sequence[tuple[int, int]]) -> list[bytes]:
        """Bytes of each range of the blob, by the raw store's ``get_ranges`` (not verified,
        as `get_range`)."""
        key, raw_uri = self._raw_uri(uri)
        with self._missing_as_key(key):
            return await self.raw.get_ranges(raw_uri, ranges)

    async def _stream(self, uri: str, chunk_size: int, stored: bool) -> AsyncIterator[bytes]:
        """The blob in chunks (the stored form with ``stored``); with ``verify``, a mismatch
        raises after the last chunk."""
        key, raw_uri = self._raw_uri(uri)
        chunks = self.raw.stream(raw_uri, chunk_size, **stored_option(stored))
        with self._missing_as_key(key):
            first = await anext(chunks, None)
        hasher = self.keys.new() if self.verify else None
        if hasher is not None and stored:
            hasher = DecodedHasher(hasher, self, key)
        try:
            if first is not None:
                if hasher is not None:
                    hasher.update(first)
                yield first
                async for chunk in chunks:
                    if hasher is not None:
                        hasher.update(chunk)
                    yield chunk
        finally:
            await chunks.aclose()  # type: ignore[attr-defined]
        if hasher is not None:
            self._check_digest(key, hasher.hexdigest())

    async def _put(
        self,
        uri: str,
        data: PutData,
        compress: str | None,
        level: int | None,
        stored: bool,
        *,
        attrs: PutAttrs = PLAIN,
    ) -> None:
        """Store ``data`` under key ``uri`` (compressed with ``compress``, see `Store.put`);
        with ``verify``, data whose digest is not the key stores nothing.

        The key is always the digest of the uncompressed data, also for stored forms.
        """
        key, raw_uri = self._raw_uri(uri)
        check_put_data(data)
        if self.verify:
            if stored:
                data = await verified_stored(self.keys, self, key, data)
            elif isinstance(data, (bytes, bytearray, memoryview)):
                self._check_digest(key, self.keys.digest(data))
            else:
                data = self.keys.verified(self, key, data)
        options = put_options(compress, level, stored, attrs)
        await self.raw.put(raw_uri, data, **options)

    async def exists(self, uri: str) -> bool:
        """Whether the raw store holds the key (not verified)."""
        _, raw_uri = self._raw_uri(uri)
        return await self.raw.exists(raw_uri)

    async def size(self, uri: str) -> int:
        """The blob's size in bytes."""
        key, raw_uri = self._raw_uri(uri)
        with self._missing_as_key(key):
            return await self.raw.size(raw_uri)

    async def head(self, uri: str) -> ObjectMeta:
        """The raw store's meta of the blob (its ``size`` is the stored size, as `size`)."""
        key, raw_uri = self._raw_uri(uri)
        with self._missing_as_key(key):
            return await self.raw.head(raw_uri)

    async def delete(self, uri: str) -> None:
        """Remove the blob (nothing happens if it is missing)."""
        _, raw_uri = self._raw_uri(uri)
        await self.raw.delete(raw_uri)

    async def sign(self, uri: str, *, method: str = "GET", expires_in: int = 3600) -> str:
        """A presigned URL of the blob under key ``uri``, signed by the raw store (see
        `Store.sign`).

        Raises:
            NotImplementedError: the raw store cannot sign URLs.
        """
        return await self.raw.sign(self._raw_uri(uri)[1], method=method, expires_in=expires_in)

    async def list(self, prefix: str = "", flat: bool = False) -> AsyncIterator[str]:
        """The keys that start with ``prefix`` (a partial hex digest).

        Keys cannot nest (a digest has no ``/``), so ``flat`` lists the same keys.
        """
        if not isinstance(prefix, str):
            raise TypeError(f"prefix must be a str, not {type(prefix).__name__}")
        start = len(self.prefix)
        async for raw_uri in self.raw.list(self.prefix + prefix.lower()):
            key = raw_uri[start:]
            if self.keys.match(key) == key:
                yield key

    async def aclose(self) -> None:
        """Close the raw store."""
        await self.raw.aclose()


class HashCache(CacheWrites, HashStore):  # type: ignore[misc]  # as _Keyed
    """A [`HashStore`][asyncbitstore.hashing.HashStore] for use as a cache: ``put`` logs and counts
    failures, never raises.

    ``put_failures`` counts them. A chain filling this cache calls
    [`put_or_raise`][asyncbitstore.hashing.HashCache.put_or_raise] instead,
    so the chain's own figures see the failures too.

    With ``max_bytes``, ``raw`` must be a ``FileRaw`` and ``prefix`` a folder ending in ``/``:
    the folder is kept under ``max_bytes`` by evicting least-recently used blobs, and may be
    shared by processes (see [`BoundedFileRaw`][asyncbitstore.bounded_cache.BoundedFileRaw], which
    then
    becomes ``self.raw``).

    ``base_store=`` is accepted for ``raw``, as in [`HashStore`][asyncbitstore.hashing.HashStore].
    """

    _put_failure_log = (logger, logging.WARNING)

    def __init__(
        self,
        raw: Store | None = None,
        prefix: str | None = None,
        verify: bool = False,
        *,
        algorithm: str = "sha256",
        max_bytes: int | None = None,
        base_store: Store | None = None,
    ) -> None:
        raw, prefix = _backing(raw, base_store, prefix)
        if max_bytes is not None:
            from .raw.file.bounded import BoundedFileRaw

            raw = BoundedFileRaw(raw, prefix, max_bytes)  # type: ignore[arg-type]  # checked there
        super().__init__(raw, prefix, verify, algorithm=algorithm)
        self._bounded = max_bytes is not None
        self._init_runtime()

    async def _get_many(self, uris: UriSource, bulk: Bulk) -> list[Fetched]:
        """Many blobs, order kept; a bounded folder reads a list of keys in batches."""
        if self._bounded and not self.verify and isinstance(uris, (list, tuple)):
            try:
                raw_uris = [self.prefix + self.key_of(uri) for uri in uris]
            except (TypeError, InvalidURI):
                if not bulk.return_exceptions:
                    raise
                # one key at a time below, so a bad key fails alone
            else:
                return await self.raw._get_many(raw_uris, bulk)
        return await super()._get_many(uris, bulk)

    def declines(self, uri: str, size: int) -> bool:
        """Whether the raw store says it would refuse ``size`` bytes for key ``uri``."""
        return self.raw.declines(self.prefix + self.key_of(uri), size)


class HashAPISource(_Keyed):
    """A store backed by an API: subclass and implement
    [`api_get`][asyncbitstore.hashing.HashAPISource.api_get].

    Optionally implement [`api_exists`][asyncbitstore.hashing.HashAPISource.api_exists]; a chain
    asks an API source ``exists`` only through
    it, since the default would download the blob.

    Each may be an ``async def`` or a plain function, as in epic-bitstore. A plain one may
    block: it runs on a pool of worker threads of this source (at most ``max_workers``, made
    on first use, shut down by ``aclose``), so that many calls run at once without stalling
    the event loop. Which kind each method is gets decided once per class. A plain function
    that returns an awaitable (say, a wrapped coroutine) works too: the awaitable is awaited.
    Either kind signals a missing blob by returning None (or raising ``NotFoundInStore``);
    any other exception is a failure, raised as it is, which a chain counts as an outage.

    Args:
        verify: check each blob's digest on ``get``
            ([`InvalidDataFound`][asyncbitstore.hashing.InvalidDataFound]).
        algorithm: the hashlib algorithm of the keys.
        max_workers: the most threads running plain ``api_get``/``api_exists`` calls at
            once (default 16); further calls wait for a free thread. Unused for coroutines.

    Raises:
        ValueError: ``max_workers`` is not a positive int.
    """

    _runtime_attrs = ("_workers",)
    #: The API methods this class implements as plain functions; set for each subclass.
    _blocking_methods: frozenset[str] = frozenset()

    def __init__(
        self,
        verify: bool = False,
        *,
        algorithm: str = "sha256",
        max_workers: int = DEFAULT_API_WORKERS,
    ) -> None:
        super().__init__(algorithm, verify)
        self.max_workers = max_workers
        self._init_runtime()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._blocking_methods = frozenset(
            name
            for name in ("api_get", "api_exists")
            if getattr(cls, name) is not getattr(HashAPISource, name)
            and not inspect.iscoroutinefunction(getattr(cls, name))
        )

    def _init_runtime(self) -> None:
        self._workers = WorkerPool(self.max_workers, "asyncbitstore-api")

    @abc.abstractmethod
    def api_get(self, key: str) -> bytes | Awaitable[bytes | None] | None:
        """The blob for ``key`` (lower-case hex), or None if the API does not have it.

        Write it as ``async def``, or as a plain function that may block (see the class).
        """

    def api_exists(self, key: str) -> bool | Awaitable[bool]:
        """Whether the API has ``key``. The default fetches the blob; override when cheaper.

        Write it as ``async def``, or as a plain function that may block (see the class).
        """
        return self._exists_by_get(key)

    async def _exists_by_get(self, key: str) -> bool:
        return await self._call_api("api_get", self.api_get, key) is not None

    async def _call_api(self, name: str, method: Callable[[str], T | Awaitable[T]], key: str) -> T:
        """``method(key)``: on a worker thread if it is a plain function, awaited if need be."""
        if name in self._blocking_methods:
            result = await self._workers.run(method, key)
        else:
            result = method(key)
        if inspect.isawaitable(result):
            return cast(T, await result)
        return result

    @property
    def has_api_exists(self) -> bool:
        """Whether a subclass implements
        [`api_exists`][asyncbitstore.hashing.HashAPISource.api_exists]."""
        return type(self).api_exists is not HashAPISource.api_exists

    @property
    def exists_is_cheap(self) -> bool:  # type: ignore[override]
        """Only with an ``api_exists``: the default would download the blob."""
        return self.has_api_exists

    async def get(self, uri: str, *, stored: bool = False, raw: bool | None = None) -> bytes:
        """The blob from [`api_get`][asyncbitstore.hashing.HashAPISource.api_get], verified when
        ``verify`` is set.

        A blob the API returns in asyncbitstore's compressed form is decoded unless ``stored``.
        """
        stored = stored_flag(stored, raw)
        key = self.key_of(uri)
        if not stored:
            return await self.get_key(key)
        data = await self._api_bytes(key)
        if self.verify:
            self._check_digest(key, self.keys.digest(await decode(self, key, data)))
        return data

    async def get_key(self, key: str) -> bytes:
        """``get`` for a key already normalized (lower-case hex of the right length)."""
        data = await self._api_bytes(key)
        if data and data[0] == MAGIC_BYTE:
            data = await decode(self, key, data)
        return self._verified(key, data)

    async def _api_bytes(self, key: str) -> bytes:
        data = await self._call_api("api_get", self.api_get, key)
        if data is None:
            raise NotFoundInStore(self, key)
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f"{self.name}.api_get returned {type(data).__name__}, not bytes")
        return bytes(data)

    async def exists(self, uri: str) -> bool:
        """Whether the API has the key (through
        [`api_exists`][asyncbitstore.hashing.HashAPISource.api_exists])."""
        return bool(await self._call_api("api_exists", self.api_exists, self.key_of(uri)))

    async def aclose(self) -> None:
        """Shut down the worker threads of plain API methods (they finish their current call).

        The source stays usable: a later call starts a new pool.
        """
        self._workers.close()


class Sha1Store(HashStore):
    """A [`HashStore`][asyncbitstore.hashing.HashStore] keyed by SHA-1 digests (``base_store=`` is
    accepted for ``raw``)."""

    def __init__(
        self,
        raw: Store | None = None,
        prefix: str | None = None,
        verify: bool = False,
        *,
        base_store: Store | None = None,
    ) -> None:
        super().__init__(raw, prefix, verify, algorithm="sha1", base_store=base_store)


class Sha1Cache(HashCache):
    """A [`HashCache`][asyncbitstore.hashing.HashCache] keyed by SHA-1 digests (``base_store=`` is
    accepted for ``raw``)."""

    def __init__(
        self,
        raw: Store | None = None,
        prefix: str | None = None,
        verify: bool = False,
        max_bytes: int | None = None,
        *,
        base_store: Store | None = None,
    ) -> None:
        super().__init__(
            raw, prefix, verify, algorithm="sha1", max_bytes=max_bytes, base_store=base_store
        )


class Sha1APISource(HashAPISource):
    """A [`HashAPISource`][asyncbitstore.hashing.HashAPISource] keyed by SHA-1 digests: implement
    ``api_get(sha1)``, as a
    coroutine or as a plain function (see
    [`HashAPISource`][asyncbitstore.hashing.HashAPISource])."""

    def __init__(self, verify: bool = False, *, max_workers: int = DEFAULT_API_WORKERS) -> None:
        super().__init__(verify, algorithm="sha1", max_workers=max_workers)
