"""`NamedStore`: the shared body of the stores over named keys; subclasses say what a key is."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from typing import ClassVar, NoReturn

from typing_extensions import TypedDict, Unpack

from .._core.data import PutData, check_put_data
from .._core.forward import Forwarded
from .._core.pinning import LocalFile
from .._core.put_attrs import PLAIN, PutAttrs, PutOptions
from .._core.redact import redact
from ..compression.store_io import put_options, stored_flag, stored_option
from ..errors import InvalidDataFound, InvalidURI, NotFoundInStore
from ..freshness import FRESH, Action, CopyRecord, CopyState, decide
from ..listing import cut_level
from ..meta import ObjectMeta
from ..store import CacheWrites, Store
from ._bound import bounded
from ._layout import Layout
from ._records import KNOWN_RECORDS, FreshnessOptions, record_key

__all__ = ["LOCATED_NAMES", "CacheOptions", "NamedCache", "NamedStore"]

#: The most names whose raw URI a store remembers.
LOCATED_NAMES = 65_536

logger = logging.getLogger("asyncbitstore.named")


class NamedStore(Store):
    """Blobs of a raw store, addressed by names that a layout turns into raw URIs.

    Subclasses implement `_key` (a name to its relative key) and may override `_public` (a
    relative key back to the name) and `_key_prefix` (what to list for a name prefix).
    """

    #: Whether names are the relative keys themselves (so a raw listing maps one to one).
    _names_are_keys = True

    def __init__(self, raw: Store, prefix: str, layout: Layout) -> None:
        if not isinstance(raw, Store):
            raise TypeError(f"raw must be a Store, not {type(raw).__name__}")
        if not isinstance(prefix, str):
            raise TypeError(f"prefix must be a str, not {type(prefix).__name__}")
        self.raw = raw
        self.prefix = prefix
        self._layout = layout
        self._init_runtime()

    _runtime_attrs: ClassVar[tuple[str, ...]] = ("_located",)

    def _init_runtime(self) -> None:
        # name -> raw URI (None: not one of ours), for the names seen last; a chain checks a
        # name several times per read, and the checks are pure.
        self._located: dict[str, str | None] = {}

    @property
    def name(self) -> str:
        return f"{type(self).__name__}({self.raw.name}, {redact(self.prefix)!r})"

    # -- names ------------------------------------------------------------------------------

    def _key(self, uri: str) -> tuple[str | None, str]:
        """The relative key for name ``uri``, or None and the rule it breaks."""
        raise NotImplementedError

    def _public(self, key: str) -> str | None:
        """The name whose relative key is ``key`` (None: no name of this store)."""
        return key

    def _key_prefix(self, prefix: str) -> str:
        """A key prefix under which every name starting with ``prefix`` is kept."""
        return prefix

    def _locate(self, uri: object) -> str | None:
        """The raw URI of name ``uri``, or None; raises ``TypeError`` for a non-str."""
        located = self._located
        try:
            return located[uri]  # type: ignore[index]
        except KeyError:
            pass
        except TypeError:  # unhashable: not a str either
            pass
        if not isinstance(uri, str):
            raise TypeError(f"{self.name}: a key must be a str, not {type(uri).__name__}")
        key, _ = self._key(uri)
        raw_uri = None if key is None else self._layout.raw_uri(key)
        if raw_uri is not None and not self.raw.is_valid(raw_uri):
            raw_uri = None
        if len(located) >= LOCATED_NAMES:
            del located[next(iter(located))]  # the oldest
        located[uri] = raw_uri
        return raw_uri

    def is_valid(self, uri: str) -> bool:
        """Whether ``uri`` is one of this store's names (and the raw store takes its URI)."""
        return self._locate(uri) is not None

    def _raw_uri(self, uri: object) -> str:
        """The raw URI of ``uri``, or ``TypeError``/`InvalidURI` saying what is wrong."""
        raw_uri = self._locate(uri)
        if raw_uri is not None:
            return raw_uri
        assert isinstance(uri, str)
        key, problem = self._key(uri)
        if key is not None:
            problem = (
                f"its stored name would not fit in {self.raw.name}"
                if self._layout.raw_uri(key) is None
                else f"{self.raw.name} refuses the URI it forms ({self.raw.uri_hint})"
            )
        raise InvalidURI(self, uri, f"{self.uri_hint}; {problem}")

    @contextlib.contextmanager
    def _ours(self, uri: str) -> Iterator[None]:
        """Report a missing blob under this store's name for it."""
        try:
            yield
        except NotFoundInStore as exc:
            self._reraise(uri, exc)

    def _reraise(self, uri: str, exc: NotFoundInStore) -> NoReturn:
        """Raise a raw store's miss under this store's name (a corrupt blob as it is)."""
        if isinstance(exc, InvalidDataFound):
            raise exc
        raise NotFoundInStore(self, uri) from exc

    # -- reads ------------------------------------------------------------------------------

    async def get(self, uri: str, *, stored: bool = False, raw: bool | None = None) -> bytes:
        """The blob named ``uri`` (its stored form with ``stored``; ``raw`` is deprecated)."""
        stored = stored_flag(stored, raw)
        raw_uri = self._raw_uri(uri)
        try:  # not `_ours`: a generator context costs more than the rest of a memory hit
            return await self.raw.get(raw_uri, **stored_option(stored))
        except NotFoundInStore as exc:
            self._reraise(uri, exc)

    async def get_range(self, uri: str, start: int, end: int) -> bytes:
        """Bytes ``[start, end)`` of the blob (`CompressedRange` if it is stored compressed)."""
        raw_uri = self._raw_uri(uri)
        with self._ours(uri):
            return await self.raw.get_range(raw_uri, start, end)

    async def get_ranges(self, uri: str, ranges: Sequence[tuple[int, int]]) -> list[bytes]:
        """Bytes of each range of the blob, by the raw store's ``get_ranges``."""
        raw_uri = self._raw_uri(uri)
        with self._ours(uri):
            return await self.raw.get_ranges(raw_uri, ranges)

    async def head(self, uri: str) -> ObjectMeta:
        """The raw store's meta of the blob (its validators and the attributes it keeps)."""
        raw_uri = self._raw_uri(uri)
        with self._ours(uri):
            return await self.raw.head(raw_uri)

    async def get_with_meta(self, uri: str) -> tuple[bytes, ObjectMeta]:
        """The blob and its meta, as the raw store reads them (one request where it can)."""
        raw_uri = self._raw_uri(uri)
        with self._ours(uri):
            return await self.raw.get_with_meta(raw_uri)

    async def get_if_changed(self, uri: str, known: ObjectMeta) -> tuple[bytes, ObjectMeta] | None:
        """The blob and its meta unless it still matches ``known`` (then None, and the raw
        store sends no body where it can ask conditionally)."""
        raw_uri = self._raw_uri(uri)
        with self._ours(uri):
            return await self.raw.get_if_changed(raw_uri, known)

    async def _stream(self, uri: str, chunk_size: int, stored: bool) -> AsyncIterator[bytes]:
        chunks = self.raw.stream(self._raw_uri(uri), chunk_size, **stored_option(stored))
        try:
            with self._ours(uri):
                first = await anext(chunks, None)
            if first is None:
                return
            yield first
            async for chunk in chunks:
                yield chunk
        finally:
            await chunks.aclose()  # type: ignore[attr-defined]

    async def exists(self, uri: str) -> bool:
        """Whether the blob is there."""
        return await self.raw.exists(self._raw_uri(uri))

    async def size(self, uri: str) -> int:
        """The blob's stored size in bytes."""
        raw_uri = self._raw_uri(uri)
        with self._ours(uri):
            return await self.raw.size(raw_uri)

    def local_file(self, uri: str) -> LocalFile | None:
        """The raw store's own file for the blob, if it keeps files."""
        return self.raw.local_file(self._raw_uri(uri))

    def declines(self, uri: str, size: int) -> bool:
        """Whether the raw store would refuse ``size`` bytes for ``uri``."""
        return self.raw.declines(self._raw_uri(uri), size)

    async def list(self, prefix: str = "", flat: bool = False) -> AsyncIterator[str]:
        """The names starting with ``prefix``, sorted where the raw store sorts; with ``flat``,
        one level of them (names, and sub-prefixes ending in ``/``)."""
        if not isinstance(prefix, str):
            raise TypeError(f"prefix must be a str, not {type(prefix).__name__}")
        raw_prefix = self._layout.list_prefix(self._key_prefix(prefix))
        if self._names_are_keys and self._layout.nests:
            async for raw_uri in self.raw.list(raw_prefix, flat=flat):
                key = self._layout.key(raw_uri)
                if key is not None and key.startswith(prefix) and self._public(key) is not None:
                    yield key
            return
        names = []
        async for raw_uri in self.raw.list(raw_prefix):
            key = self._layout.key(raw_uri)
            name = None if key is None else self._public(key)
            if name is not None and name.startswith(prefix):
                names.append(name)
        for name in cut_level(names, prefix) if flat else sorted(names):
            yield name

    # -- writes -----------------------------------------------------------------------------

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
        raw_uri = self._raw_uri(uri)
        check_put_data(data)
        options = put_options(compress, level, stored, attrs)
        await self.raw.put(raw_uri, data, **options)

    async def delete(self, uri: str) -> None:
        """Remove the blob (nothing happens if it is missing)."""
        await self.raw.delete(self._raw_uri(uri))

    async def sign(self, uri: str, *, method: str = "GET", expires_in: int = 3600) -> str:
        """A presigned URL of the blob named ``uri``, signed by the raw store (see `Store.sign`).

        Raises:
            NotImplementedError: the raw store cannot sign URLs.
        """
        return await self.raw.sign(self._raw_uri(uri), method=method, expires_in=expires_in)

    # -- lifecycle --------------------------------------------------------------------------

    async def flush(self) -> None:
        """Wait for the raw store's background work."""
        await self.raw.flush()

    async def aclose(self) -> None:
        """Close the raw store."""
        await self.raw.aclose()


class CacheOptions(TypedDict, total=False):
    """The keywords of a named cache besides its raw store and where it keeps the copies (see
    [PrefixCache][asyncbitstore.PrefixCache] for what each does, and the defaults)."""

    max_bytes: int | None
    ttl: float | None
    revalidate: bool
    serve_stale: bool
    clock: Callable[[], float] | None


class NamedCache(CacheWrites, NamedStore):
    """What makes a store a cache: `put` logs and counts failures instead of raising, and each
    copy keeps a record of its source (see ``_records``) that says when it goes stale.

    Args:
        raw: the store that keeps the copies.
        prefix: where in ``raw`` they are kept.
        **options: the bound and the freshness options (`CacheOptions`).
    """

    _put_failure_log = (logger, logging.DEBUG)
    #: The bound on the cache's stored bytes, if any.
    max_bytes: int | None = None
    keeps_records = True
    _fresh: FreshnessOptions

    def __init__(self, raw: Store, prefix: str, **options: Unpack[CacheOptions]) -> None:
        unknown = options.keys() - CacheOptions.__annotations__.keys()
        if unknown:
            name = min(unknown)
            raise TypeError(f"{type(self).__name__}() got an unexpected keyword argument {name!r}")
        max_bytes = options.get("max_bytes")
        self._fresh = FreshnessOptions(
            options.get("ttl"),
            options.get("revalidate", False),
            options.get("serve_stale", True),
            options.get("clock"),
        )
        store, layout = bounded(raw, prefix, max_bytes)
        NamedStore.__init__(self, store, prefix, layout)
        self.max_bytes = max_bytes
        self.copies_expire = self._fresh.ttl is not None

    ttl = Forwarded[float | None]("_fresh.ttl")
    """Seconds a copy stays fresh after it was fetched; None: until the chain changes it."""
    revalidate = Forwarded[bool]("_fresh.revalidate")
    """Whether a stale copy is checked at its source rather than fetched again."""
    serve_stale = Forwarded[bool]("_fresh.serve_stale")
    """Whether a stale copy is served while every source is down."""

    _runtime_attrs: ClassVar[tuple[str, ...]] = ("_located", "_known")

    def _init_runtime(self) -> None:
        super()._init_runtime()
        self._known: dict[str, CopyRecord] = {}  # name -> its record, as last read or written
        self._record_writes = 0  # a read started before a write must not remember its answer

    def _record_uri(self, uri: str) -> str | None:
        """The raw URI of the record kept beside the copy of ``uri``; None if it has none."""
        key, _ = self._key(uri)
        if key is None:
            return None
        raw_uri = self._layout.raw_uri(record_key(key))
        return raw_uri if raw_uri is not None and self.raw.is_valid(raw_uri) else None

    async def copy_record(self, uri: str) -> CopyRecord | None:
        """The record kept with the copy of ``uri`` (None: none, or one that cannot be read)."""
        known = self._known.get(uri)
        if known is not None:
            return known
        record_uri = self._record_uri(uri)
        if record_uri is None:
            return None
        writes = self._record_writes
        try:
            record = CopyRecord.from_bytes(await self.raw.get(record_uri))
        except NotFoundInStore:
            return None
        if record is not None and writes == self._record_writes:
            self._remember(uri, record)
        return record

    def _remember(self, uri: str, record: CopyRecord | None) -> None:
        known = self._known
        known.pop(uri, None)
        if record is not None:
            known[uri] = record
            if len(known) > KNOWN_RECORDS:
                del known[next(iter(known))]  # the oldest

    def known_fresh(self, uri: str) -> bool:
        """Whether the record this object last read or wrote for ``uri`` says it is fresh."""
        options = self._fresh
        if options.ttl is None:
            return True
        record = self._known.get(uri)
        # `decide` says SERVE exactly when this holds (inlined: it runs on every hit)
        return record is not None and 0 <= options.clock() - record.fetched_at < options.ttl

    async def copy_state(self, uri: str) -> CopyState:
        """Fresh, a miss or to revalidate, from the copy's record and the cache's options."""
        options = self._fresh
        if options.ttl is None:
            return FRESH
        record = self._known.get(uri)  # a hit's usual case: no call, no read
        if record is None:
            record = await self.copy_record(uri)
        action = decide(record, options.ttl, options.revalidate, options.clock())
        if action is Action.SERVE:
            return FRESH
        return CopyState(action, record, options.serve_stale)

    async def _write_record(self, uri: str, meta: ObjectMeta | None, when: float | None) -> None:
        record_uri = self._record_uri(uri)
        if record_uri is not None:
            record = CopyRecord(meta, self._fresh.clock() if when is None else when)
            self._record_writes += 1
            self._remember(uri, None)
            await self.raw.put(record_uri, record.to_bytes())
            self._remember(uri, record)

    async def put_copy(
        self, uri: str, data: PutData, meta: ObjectMeta | None, fetched_at: float | None = None
    ) -> None:
        """Keep ``data`` as the copy of ``uri``, then its record (raises on failure)."""
        await NamedStore._put(self, uri, data, None, None, False)
        await self._write_record(uri, meta, fetched_at)

    async def renew_copy(self, uri: str, meta: ObjectMeta) -> None:
        """Record that the source confirmed the copy of ``uri`` as current just now."""
        await self._write_record(uri, meta, None)

    async def _put_or_raise(self, uri: str, data: PutData, options: PutOptions) -> None:
        await super()._put_or_raise(uri, data, options)  # the store's own write
        await self._drop_record(uri)  # its source is unknown: an old record would lie

    async def _drop_record(self, uri: str) -> None:
        record_uri = self._record_uri(uri)
        if record_uri is not None:
            self._record_writes += 1
            self._remember(uri, None)
            await self.raw.delete(record_uri)

    async def delete(self, uri: str) -> None:
        """Remove the copy, then its record (nothing happens if they are missing)."""
        await super().delete(uri)
        await self._drop_record(uri)

    def declines(self, uri: str, size: int) -> bool:
        """Whether this cache would refuse ``size`` bytes for ``uri`` (also: a name it cannot
        hold, so that a chain skips it quietly)."""
        raw_uri = self._locate(uri)
        if raw_uri is None or (self.max_bytes is not None and size > self.max_bytes):
            return True
        return self.raw.declines(raw_uri, size)
