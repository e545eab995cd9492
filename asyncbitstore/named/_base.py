"""`NamedStore`: the shared body of the stores over named keys; subclasses say what a key is."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Iterator

from .._core.data import PutData, check_put_data
from .._core.pinning import LocalFile
from .._core.put_attrs import PLAIN, PutAttrs, attrs_keywords
from .._core.redact import redact
from ..compression.store_io import put_options, stored_flag, stored_option
from ..errors import InvalidDataFound, InvalidURI, NotFoundInStore
from ..listing import cut_level
from ..meta import ObjectMeta
from ..store import CacheWrites, Store
from ._layout import Layout

__all__ = ["NamedCache", "NamedStore"]

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
        if not isinstance(uri, str):
            raise TypeError(f"{self.name}: a key must be a str, not {type(uri).__name__}")
        key, _ = self._key(uri)
        if key is None:
            return None
        raw_uri = self._layout.raw_uri(key)
        return raw_uri if raw_uri is not None and self.raw.is_valid(raw_uri) else None

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
            if isinstance(exc, InvalidDataFound):
                raise
            raise NotFoundInStore(self, uri) from exc

    # -- reads ------------------------------------------------------------------------------

    async def get(self, uri: str, *, stored: bool = False, raw: bool | None = None) -> bytes:
        """The blob named ``uri`` (its stored form with ``stored``; ``raw`` is deprecated)."""
        stored = stored_flag(stored, raw)
        raw_uri = self._raw_uri(uri)
        with self._ours(uri):
            return await self.raw.get(raw_uri, **stored_option(stored))

    async def get_range(self, uri: str, start: int, end: int) -> bytes:
        """Bytes ``[start, end)`` of the blob (`CompressedRange` if it is stored compressed)."""
        raw_uri = self._raw_uri(uri)
        with self._ours(uri):
            return await self.raw.get_range(raw_uri, start, end)

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

    async def head(self, uri: str) -> ObjectMeta:
        """The raw store's `head` of the blob (with the attributes it keeps)."""
        raw_uri = self._raw_uri(uri)
        with self._ours(uri):
            return await self.raw.head(raw_uri)

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
                if key is not None and key.startswith(prefix):
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
        options = put_options(compress, level, stored) | attrs_keywords(attrs)
        await self.raw.put(raw_uri, data, **options)

    async def delete(self, uri: str) -> None:
        """Remove the blob (nothing happens if it is missing)."""
        await self.raw.delete(self._raw_uri(uri))

    # -- lifecycle --------------------------------------------------------------------------

    async def flush(self) -> None:
        """Wait for the raw store's background work."""
        await self.raw.flush()

    async def aclose(self) -> None:
        """Close the raw store."""
        await self.raw.aclose()


class NamedCache(CacheWrites, NamedStore):
    """What makes a store a cache: `put` logs and counts failures instead of raising."""

    _put_failure_log = (logger, logging.DEBUG)
    #: The bound on the cache's stored bytes, if any.
    max_bytes: int | None = None

    def declines(self, uri: str, size: int) -> bool:
        """Whether this cache would refuse ``size`` bytes for ``uri`` (also: a name it cannot
        hold, so that a chain skips it quietly)."""
        raw_uri = self._locate(uri)
        if raw_uri is None or (self.max_bytes is not None and size > self.max_bytes):
            return True
        return self.raw.declines(raw_uri, size)
