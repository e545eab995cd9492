"""``MemoryRaw``: blobs in a dict, optionally bounded in bytes with least-recently-used eviction."""

from __future__ import annotations

import hashlib
import re
import time
from collections import OrderedDict
from collections.abc import AsyncIterator
from datetime import datetime, timezone
from typing import Any

from .._core.checks import non_negative_int
from .._core.data import Capped, PutData, as_bytes, check_chunk_size
from .._core.put_attrs import PLAIN, PutAttrs
from ..compression.codecs import MAGIC_BYTE
from ..compression.store_io import decode
from ..errors import AlreadyExists, InvalidRange, NotFoundInStore, StoreFull
from ..listing import cut_level
from ..meta import ObjectMeta
from ._base import RawStore

__all__ = ["MemoryRaw"]

_MEM_URI = re.compile(r"mem://[^/]+/.+", re.DOTALL)


class MemoryRaw(RawStore):
    """An in-process store for ``mem://name/path`` URIs.

    Args:
        max_bytes: when set, the total size of the blobs is kept at or under it by evicting the
            least-recently used ones (a read counts as a use). A single blob bigger than the
            bound is refused with [`StoreFull`][asyncbitstore.errors.StoreFull].

    The blobs are plain data: they are kept when the store is pickled.
    """

    uri_hint = "mem://<name>/<path>"

    def __init__(self, *, max_bytes: int | None = None) -> None:
        self.max_bytes = non_negative_int("max_bytes", max_bytes, allow_none=True)
        self._blobs: OrderedDict[str, bytes] = OrderedDict()
        self.used_bytes = 0
        self.evictions = 0
        # uri -> (put time, ETag once computed): what `head` reports besides the size
        self._stamps: dict[str, tuple[float, str | None]] = {}
        # uri -> the attributes stored with the blob, for blobs that have any
        self._attrs: dict[str, PutAttrs] = {}

    @property
    def name(self) -> str:
        return "MemoryRaw" if self.max_bytes is None else f"MemoryRaw(max_bytes={self.max_bytes})"

    def is_valid(self, uri: str) -> bool:
        """Whether ``uri`` has the form ``mem://<name>/<path>``."""
        if not isinstance(uri, str):
            raise TypeError(f"a URI must be a str, not {type(uri).__name__}")
        return _MEM_URI.fullmatch(uri) is not None

    def __len__(self) -> int:
        return len(self._blobs)

    async def get(self, uri: str, *, stored: bool = False, raw: bool | None = None) -> bytes:
        """The blob at ``uri``, decoded unless ``stored``: a hit is one dict lookup, with no
        await in between (the chain's memory caches sit on this path)."""
        data = self._blobs.get(uri)
        if data is None or raw is not None:
            return await super().get(uri, stored=stored, raw=raw)
        if self.max_bytes is not None:
            self._blobs.move_to_end(uri)
        if stored or not data or data[0] != MAGIC_BYTE:
            return data
        return await decode(self, uri, data)

    async def _get_stored(self, uri: str) -> bytes:
        data = self._blobs.get(uri)
        if data is None:
            self.check_uri(uri)
            raise NotFoundInStore(self, uri)
        if self.max_bytes is not None:
            self._blobs.move_to_end(uri)
        return data

    async def _stream_stored(self, uri: str, chunk_size: int) -> AsyncIterator[bytes]:
        self.check_uri(uri)
        check_chunk_size(chunk_size)
        view = memoryview(await self._get_stored(uri))
        for offset in range(0, len(view), chunk_size):
            yield bytes(view[offset : offset + chunk_size])

    async def _stored_range(
        self, uri: str, where: Any, start: int, end: int, first: int, last: int
    ) -> bytes:
        data = await self._get_stored(uri)
        if first > len(data):  # first - start: the header, when read past an identity frame
            size = len(data) - (first - start)
            raise InvalidRange(self, uri, start, end, f"the blob has only {size} bytes")
        return data[first:last]

    async def _put_stored(self, uri: str, where: Any, data: PutData, attrs: PutAttrs) -> None:
        """Keep the stored form and its attributes, evicting old blobs if a bound is set;
        ``max_bytes`` counts stored (compressed) bytes. ``mode="create"`` checks and sets
        with no await in between, so of concurrent creates exactly one wins."""
        if attrs.create and uri in self._blobs:  # fail early: do not read a stream for nothing
            raise AlreadyExists(self, uri)
        if not isinstance(data, (bytes, bytearray, memoryview)):  # stop at the bound
            data = Capped(data, self.max_bytes, lambda size: self._too_big(uri, size))
        blob = await as_bytes(data)
        if self.max_bytes is not None and len(blob) > self.max_bytes:
            raise self._too_big(uri, len(blob))
        if attrs.create and uri in self._blobs:
            raise AlreadyExists(self, uri)
        if attrs.described:
            self._attrs[uri] = attrs
        else:
            self._attrs.pop(uri, None)
        old = self._blobs.pop(uri, None)
        if old is not None:
            self.used_bytes -= len(old)
        self._blobs[uri] = blob
        self._stamps[uri] = (time.time(), None)
        self.used_bytes += len(blob)
        if self.max_bytes is not None:
            while self.used_bytes > self.max_bytes:
                gone, evicted = self._blobs.popitem(last=False)
                self._stamps.pop(gone, None)
                self._attrs.pop(gone, None)
                self.used_bytes -= len(evicted)
                self.evictions += 1

    async def head(self, uri: str) -> ObjectMeta:
        """The blob's stored size, put time and an ETag (a short hash of the stored bytes,
        computed on the first `head` after a put)."""
        self.check_uri(uri)
        data = self._blobs.get(uri)
        if data is None:
            raise NotFoundInStore(self, uri)
        return self._meta(uri, data)

    def _meta(self, uri: str, data: bytes) -> ObjectMeta:
        put_at, etag = self._stamps.get(uri, (None, None))
        if etag is None:
            etag = '"' + hashlib.blake2b(data, digest_size=12).hexdigest() + '"'
            if put_at is not None:
                self._stamps[uri] = (put_at, etag)
        when = None if put_at is None else datetime.fromtimestamp(put_at, timezone.utc)
        attrs = self._attrs.get(uri, PLAIN)
        return ObjectMeta(
            size=len(data),
            etag=etag,
            last_modified=when,
            content_type=attrs.content_type,
            metadata=attrs.metadata,
        )

    async def get_with_meta(self, uri: str) -> tuple[bytes, ObjectMeta]:
        """The blob and its meta, read together (no await between them)."""
        data = await self._get_stored(uri)
        meta = self._meta(uri, data)
        return await self._decoded(uri, data), meta

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        self.__dict__.setdefault("_stamps", {})  # pickled before put times were kept
        self.__dict__.setdefault("_attrs", {})

    def _too_big(self, uri: str, size: int) -> StoreFull:
        return StoreFull(self, uri, f"{size} bytes exceed max_bytes={self.max_bytes}")

    async def exists(self, uri: str) -> bool:
        """Whether a blob is at ``uri``."""
        self.check_uri(uri)
        return uri in self._blobs

    async def size(self, uri: str) -> int:
        """The blob's size."""
        self.check_uri(uri)
        data = self._blobs.get(uri)
        if data is None:
            raise NotFoundInStore(self, uri)
        return len(data)

    async def delete(self, uri: str) -> None:
        """Remove the blob at ``uri`` if there is one."""
        self.check_uri(uri)
        old = self._blobs.pop(uri, None)
        self._stamps.pop(uri, None)
        self._attrs.pop(uri, None)
        if old is not None:
            self.used_bytes -= len(old)

    async def _copy(self, src_uri: str, dst_uri: str) -> None:
        """Share the source's stored bytes (immutable) under the destination URI."""
        data = await self._get_stored(src_uri)
        await self._put_stored(dst_uri, dst_uri, data, self._attrs.get(src_uri, PLAIN))

    async def list(self, prefix: str = "mem://", flat: bool = False) -> AsyncIterator[str]:
        """The URIs starting with ``prefix``, sorted; one level of them with ``flat``."""
        if not isinstance(prefix, str):
            raise TypeError(f"prefix must be a str, not {type(prefix).__name__}")
        found = [u for u in self._blobs if u.startswith(prefix)]
        for uri in cut_level(found, prefix) if flat else sorted(found):
            yield uri
