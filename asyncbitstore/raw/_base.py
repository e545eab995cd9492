"""`RawStore`: the base of every backend, and the one place compression meets what it stores.

A backend implements access to blobs in their stored form (the bytes as they sit in the
backend, compressed frame and all); `RawStore` builds the `Store` methods on top of it:

- `get` reads the stored form and decodes it when it starts with the frame's magic byte;
- `stream` decodes the stored stream step by step (its hook `_stream`);
- `put` encodes the data (compressing it or framing it) before handing it on (its hook `_put`);
- `get_range` reads ranges of the stored form through `read_range`, which refuses a compressed
  blob with `CompressedRange`; a backend whose ranged reads say more about the object (its
  frame mark in metadata, a version) derives from `SpannedRaw` and implements `_stored_span`,
  and its ranges go through `read_marked_range` instead;
- a backend that can pin a ranged read to one version of an object sets `_pinned_ranges` and
  implements `_pinned_range`: its whole-object reads then start with a ranged request whose
  answer (a `Span` with ``version`` and ``total``) `_assemble` and `_stream_ranges` complete,
  in parallel ranges for an object of at least ``parallel_threshold`` bytes; `_assemble`
  writes each range through `_pinned_range_into`, which a backend able to receive a body
  straight into a given buffer overrides (by default it copies `_pinned_range`'s bytes);
- a backend with object metadata sets `_frame_marks`: `put` then adds the metadata recording
  the frame (`frame_metadata`) to the ``attrs.metadata`` it hands `_put_stored`, over any user
  key of the same name.

`stored=True` skips the decoding and encoding. `raw=` is accepted as its deprecated old name.
"""

from __future__ import annotations

import abc
import contextlib
import dataclasses
import functools
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any, ClassVar

from .._core.checks import positive_int
from .._core.data import PutData, check_put_data, check_range
from .._core.put_attrs import PLAIN, PutAttrs
from ..compression.codecs import MAGIC_BYTE
from ..compression.store_io import (
    FrameVerdicts,
    Span,
    decode,
    decode_stream,
    encode,
    frame_metadata,
    read_marked_range,
    read_range,
    stored_flag,
    with_frame_mark,
)
from ..errors import InvalidURI, StoreNotAvailable
from ..store import Store
from . import _parallel

__all__ = [
    "DEFAULT_MAX_CONCURRENCY",
    "DEFAULT_PARALLEL_THRESHOLD",
    "PrefixedRaw",
    "RawStore",
    "SpannedRaw",
    "check_str",
]

#: Requests one object's transfer keeps in flight (its parts up, its ranges down).
DEFAULT_MAX_CONCURRENCY = 8
#: The smallest object a `get` reads as parallel ranges.
DEFAULT_PARALLEL_THRESHOLD = 32 << 20
#: The largest object a parallel read assembles in memory (S3 makes it an option).
ASSEMBLY_LIMIT = 5 << 30


def check_str(uri: object) -> None:
    """Raise `TypeError` unless ``uri`` is a str (the check `is_valid` starts with)."""
    if not isinstance(uri, str):
        raise TypeError(f"a URI must be a str, not {type(uri).__name__}")


class RawStore(Store):
    """A backend: blobs kept in their stored form, with the compression frame applied here.

    Subclasses implement `_get_stored`, `_stream_stored` and `_stored_range`, and
    `_put_stored` if they can write; `_locate` checks a URI and turns it into what those need.
    A backend whose objects may carry an encoding beside their bytes (an HTTP
    ``Content-Encoding``) also implements `_get_content` and `_stream_content`, which undo it;
    the frame is then decoded from what they return.
    """

    #: Whether `put` adds the frame's mark to the metadata `_put_stored` stores (backends
    #: that store ``attrs.metadata`` with the object).
    _frame_marks: ClassVar[bool] = False
    #: Whether `_stored_span` is implemented (ranges then go through `read_marked_range`).
    _range_spans: ClassVar[bool] = False
    #: Whether `_pinned_range` is implemented: one object can then be read as several ranges
    #: all of one version.
    _pinned_ranges: ClassVar[bool] = False
    #: Requests one object's transfer keeps in flight (see `_set_parallel`).
    max_concurrency: int = DEFAULT_MAX_CONCURRENCY
    #: The smallest object read as parallel ranges; None: never (see `_set_parallel`).
    parallel_threshold: int | None = DEFAULT_PARALLEL_THRESHOLD

    # -- what a backend implements --------------------------------------------------------------

    def _locate(self, uri: object) -> Any:
        """Check ``uri`` (``TypeError``, ``InvalidURI``) and return where its blob is.

        The result is handed to `_put_stored` and `_stored_range`; the default is the URI.
        """
        return self.check_uri(uri)

    def _shown(self, uri: str) -> str:
        """``uri`` as messages name it; a backend whose URIs may hold secrets redacts them."""
        return uri

    @abc.abstractmethod
    async def _get_stored(self, uri: str) -> bytes:
        """The whole stored form of the blob (checks ``uri`` itself).

        Raises:
            NotFoundInStore: no blob at ``uri``.
        """

    @abc.abstractmethod
    def _stream_stored(self, uri: str, chunk_size: int) -> AsyncIterator[bytes]:
        """The stored form in chunks of at most ``chunk_size`` bytes (checks both arguments)."""

    @abc.abstractmethod
    async def _stored_range(
        self, uri: str, where: Any, start: int, end: int, first: int, last: int, /
    ) -> bytes:
        """Bytes ``[first, last)`` of the stored form, for a ``get_range(uri, start, end)``.

        ``start`` and ``end`` are the range asked for, which ``InvalidRange`` names.
        """

    async def _stored_span(
        self, uri: str, where: Any, start: int, end: int, first: int, last: int, /
    ) -> Span:
        """`_stored_range`, with the object's frame mark and version when the answer has them
        (for a backend that sets `_range_spans`)."""
        return Span(await self._stored_range(uri, where, start, end, first, last))

    def _set_parallel(self, max_concurrency: object, parallel_threshold: object) -> None:
        """Check and keep the options of a backend that moves one object as several requests."""
        self.max_concurrency = positive_int("max_concurrency", max_concurrency, type_error=True)
        self.parallel_threshold = positive_int(
            "parallel_threshold", parallel_threshold, allow_none=True, type_error=True
        )

    @property
    def _range_part(self) -> int:
        """Bytes per request when one object is read as parallel ranges."""
        return DEFAULT_PARALLEL_THRESHOLD // 4

    async def _pinned_range(
        self, uri: str, where: Any, first: int, last: int, version: str, /
    ) -> bytes:
        """Bytes ``[first, last)`` of the stored form, read only from the version ``version``
        of the object (a `Span.version` an earlier answer named), for a backend that sets
        `_pinned_ranges`.

        Raises:
            ObjectChanged: the store no longer holds that version at ``uri``.
        """
        raise NotImplementedError(f"{self.name} implements no _pinned_range")

    async def _pinned_range_into(
        self, uri: str, where: Any, first: int, last: int, version: str, out: memoryview, /
    ) -> None:
        """`_pinned_range`, its bytes written into ``out`` (``last - first`` bytes long).

        ``out`` may hold anything once this raises; the default copies the bytes that
        `_pinned_range` returns, checked with `_fill`.

        Raises:
            ObjectChanged: the store no longer holds that version at ``uri``.
            StoreNotAvailable: the answer holds another number of bytes than asked.
        """
        data = await self._pinned_range(uri, where, first, last, version)
        self._fill(uri, first, last, data, out)

    def _fill(self, uri: str, first: int, last: int, data: bytes, out: memoryview) -> None:
        """Write ``data``, the bytes read for ``[first, last)``, into ``out``, once checked to
        be that many."""
        out[:] = _parallel.checked(self, self._shown(uri), first, last, data)

    @property
    def _assembly_limit(self) -> int:
        """The largest object `_assemble` builds in memory: a first answer naming a larger
        total is refused before anything is allocated."""
        return ASSEMBLY_LIMIT

    @property
    def _range_concurrency(self) -> int:
        return self.max_concurrency

    @property
    def _ranged_reads(self) -> bool:
        """Whether whole-object reads start with a ranged request (`_first_part` bytes) and
        read the rest with `_pinned_range`."""
        return self._pinned_ranges and self.parallel_threshold is not None

    @property
    def _first_part(self) -> int:
        """Bytes asked by the first request of a whole-object read that goes by ranges: an
        object no longer comes whole in that one answer."""
        return self._range_part

    def _rest_plan(self, total: int, have: int) -> tuple[int, int]:
        """Bytes per request and requests in flight for the rest of an object of ``total``
        bytes once its first ``have`` are read: parallel ranges from `parallel_threshold`
        on, else one more request."""
        threshold = self.parallel_threshold
        if threshold is not None and total >= threshold:
            return self._range_part, self.max_concurrency
        return max(total - have, 1), 1

    def _pinned_version(self, uri: str, first: Span) -> str:
        """The version ``first`` named, which the rest of the object is read from."""
        if first.version is None:
            raise StoreNotAvailable(
                self,
                "the answer named no version (ETag) to read the rest of the object from; "
                "set parallel_threshold=None to read it in one request",
                uri=self._shown(uri),
            )
        return first.version

    def _pinned_fetch(self, uri: str, where: Any, first: Span) -> _parallel.Fetch:
        """Reads of ranges of the version ``first`` named."""
        version = self._pinned_version(uri, first)
        return lambda start, end: self._pinned_range(uri, where, start, end, version)

    def _pinned_fetch_into(self, uri: str, where: Any, first: Span) -> _parallel.FetchInto:
        """Reads of ranges of the version ``first`` named, each into the view it is given."""
        version = self._pinned_version(uri, first)
        return lambda start, end, out: self._pinned_range_into(uri, where, start, end, version, out)

    async def _assemble(self, uri: str, where: Any, first: Span) -> bytes:
        """The whole stored form, given the answer to a ranged request for its first bytes
        (with the object's ``total`` length and ``version``): the rest is read with
        `_pinned_range_into`, in parallel ranges for a large object, each written at its place
        in one buffer.

        Raises:
            ObjectChanged: the object was replaced during the read.
        """
        if first.total is None or first.total <= len(first.data):
            return first.data
        limit = self._assembly_limit
        if first.total > limit:
            raise StoreNotAvailable(
                self,
                f"the object has {first.total} bytes, more than a get holds in memory "
                f"({limit}); read it with stream() or local_path()",
                uri=self._shown(uri),
            )
        fetch_into = self._pinned_fetch_into(uri, where, first)
        part, concurrency = self._rest_plan(first.total, len(first.data))
        return await _parallel.assemble(
            self, self._shown(uri), first.data, first.total,
            part=part, concurrency=concurrency, fetch_into=fetch_into,
        )  # fmt: skip

    async def _stream_ranges(
        self, uri: str, where: Any, first: Span, chunk_size: int
    ) -> AsyncGenerator[bytes, None]:
        """`_assemble` as a stream in chunks of at most ``chunk_size`` bytes: the ranges
        after the first are read ahead (at most `max_concurrency` of them) and yielded in
        order."""
        for offset in range(0, len(first.data), chunk_size):
            yield first.data[offset : offset + chunk_size]
        if first.total is None or first.total <= len(first.data):
            return
        fetch = self._pinned_fetch(uri, where, first)
        part, concurrency = self._rest_plan(first.total, len(first.data))
        rest = _parallel.read_ahead(
            self, self._shown(uri), len(first.data), first.total,
            part=part, concurrency=concurrency, fetch=fetch,
        )  # fmt: skip
        async with contextlib.aclosing(_parallel.in_chunks(rest, chunk_size)) as chunks:
            async for chunk in chunks:
                yield chunk

    async def _get_content(self, uri: str) -> bytes:
        """The blob's bytes with any encoding the backend records beside them (an HTTP
        ``Content-Encoding``) undone: what `get` decodes the frame of. Default: the stored form."""
        return await self._get_stored(uri)

    def _stream_content(self, uri: str, chunk_size: int) -> AsyncIterator[bytes]:
        """`_get_content` as a stream, in chunks of at most ``chunk_size`` bytes."""
        return self._stream_stored(uri, chunk_size)

    async def _put_stored(
        self, uri: str, where: Any, data: PutData, attrs: PutAttrs, *options: Any
    ) -> None:
        """Write ``data``, a stored form (bytes-like or an async iterable of bytes), with the
        mode and attributes of ``attrs``: ``attrs.create`` raises `AlreadyExists` when a blob
        is at ``uri`` (atomically where the backend can)."""
        raise NotImplementedError(f"{self.name} implements no _put_stored")

    def _reach(self) -> object:
        """What decides which blobs this store reaches (a root, a server, an endpoint with its
        credentials): another store of the same class with an equal reach holds the same
        blobs. None, the default: only this very store does."""
        return None

    def _same_blobs(self, other: Store) -> bool:
        """This store itself, or another of the same class with the same `_reach`."""
        if other is self:
            return True
        reach = self._reach()
        return (
            reach is not None
            and type(other) is type(self)
            and isinstance(other, RawStore)
            and other._reach() == reach
        )

    # -- the Store methods, built on them -------------------------------------------------------

    async def get(self, uri: str, *, stored: bool = False, raw: bool | None = None) -> bytes:
        """The blob at ``uri``, decoded unless ``stored`` (see `Store.get`)."""
        if raw is not None:
            stored = stored_flag(stored, raw)
        data = await (self._get_stored(uri) if stored else self._get_content(uri))
        if stored or not data or data[0] != MAGIC_BYTE:
            return data
        return await decode(self, self._shown(uri), data)

    async def _decoded(self, uri: str, data: bytes) -> bytes:
        """``data``, a stored form read from ``uri``, decoded as `get` decodes it (for the
        reads that also return an `ObjectMeta`)."""
        if not data or data[0] != MAGIC_BYTE:
            return data
        return await decode(self, self._shown(uri), data)

    def _stream(self, uri: str, chunk_size: int, stored: bool) -> AsyncIterator[bytes]:
        """The blob in chunks, decoded as they stream unless ``stored`` (see `Store.stream`)."""
        if stored:
            return self._stream_stored(uri, chunk_size)
        chunks = self._stream_content(uri, chunk_size)
        shown = self._shown(uri) if isinstance(uri, str) else uri
        return decode_stream(self, shown, chunks, chunk_size)

    async def _put(
        self,
        uri: str,
        data: PutData,
        compress: str | None,
        level: int | None,
        stored: bool,
        *options: Any,
        attrs: PutAttrs = PLAIN,
    ) -> None:
        """Check ``uri`` and ``data``, encode ``data``, and write it with `_put_stored`
        (``options``: what a backend's own keywords of ``put`` hand on to it)."""
        where = self._locate(uri)
        check_put_data(data)
        encoded = await encode(data, compress, level, stored)
        if self._frame_marks:
            mark, encoded = await frame_metadata(encoded)
            attrs = dataclasses.replace(attrs, metadata=with_frame_mark(attrs.metadata, mark))
        await self._put_stored(uri, where, encoded, attrs, *options)

    async def get_range(self, uri: str, start: int, end: int) -> bytes:
        """Bytes ``[start, end)`` of the blob (`CompressedRange` if it is stored compressed)."""
        where = self._locate(uri)
        shown = self._shown(uri)
        check_range(self, shown, start, end)
        if not self._range_spans:
            read = functools.partial(self._stored_range, uri, where, start, end)
            return await read_range(self, shown, start, end, read)
        spans = functools.partial(self._stored_span, uri, where, start, end)
        verdicts = self._frame_verdicts()
        marks = self._frame_marks
        return await read_marked_range(self, shown, start, end, spans, verdicts, marks=marks)

    def _frame_verdicts(self) -> FrameVerdicts:
        """The frames this store learnt of unmarked objects (kept out of pickles)."""
        verdicts: FrameVerdicts | None = self.__dict__.get("_verdicts")
        if verdicts is None:
            verdicts = self.__dict__["_verdicts"] = FrameVerdicts()
        return verdicts

    def __getstate__(self) -> dict[str, Any]:
        state = super().__getstate__()
        state.pop("_verdicts", None)
        return state


class SpannedRaw(RawStore):
    """A `RawStore` whose ranged reads answer with a `Span` (the object's frame mark, its
    version): it implements `_stored_span`, and a plain `_stored_range` is the span's data."""

    _range_spans = True

    async def _stored_range(
        self, uri: str, where: Any, start: int, end: int, first: int, last: int, /
    ) -> bytes:
        return (await self._stored_span(uri, where, start, end, first, last)).data

    @abc.abstractmethod
    async def _stored_span(
        self, uri: str, where: Any, start: int, end: int, first: int, last: int, /
    ) -> Span:
        """Bytes ``[first, last)`` of the stored form with what the answer says of the object
        (for a ``get_range(uri, start, end)``)."""


class PrefixedRaw(RawStore):
    """A backend whose URIs are one fixed prefix followed by a key.

    Subclasses name the attribute holding the prefix (`_prefix_attr`), what follows it
    (`_key_word`) and any rule on it (`_key_note`); `uri_hint`, `uri` and the checks of a
    `list` prefix are built from them.
    """

    #: The name of the instance attribute holding the URI prefix.
    _prefix_attr: ClassVar[str] = "base"
    #: How messages name what follows the prefix.
    _key_word: ClassVar[str] = "<key>"
    #: What `uri_hint` adds after `_key_word` (a rule on the key, in brackets), if anything.
    _key_note: ClassVar[str] = ""

    @property
    def _prefix(self) -> str:
        prefix: str = getattr(self, self._prefix_attr)
        return prefix

    @property
    def uri_hint(self) -> str:  # type: ignore[override]
        """The URI shape this store accepts, as messages show it."""
        return self._prefix + self._key_word + self._key_note

    def uri(self, key: str) -> str:
        """The URI of ``key`` under this store's prefix."""
        return self._prefix + key

    def _list_prefix(self, prefix: object) -> str:
        """``prefix`` for `list`, widened to the store's prefix when it is a prefix of it.

        Raises:
            TypeError: ``prefix`` is not a str.
            InvalidURI: ``prefix`` and the store's prefix do not overlap.
        """
        if not isinstance(prefix, str):
            raise TypeError(f"prefix must be a str, not {type(prefix).__name__}")
        base = self._prefix
        if prefix.startswith(base):
            return prefix
        if not base.startswith(prefix):
            raise InvalidURI(self, prefix, f"a prefix of {base}{self._key_word}")
        return base
