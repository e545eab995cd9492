"""The compression frame applied to what stores write and read (codecs: `._codec`).

Every store routes its data through these helpers, so the rules live in one place:

- `encode`: the stored form of ``put`` data (compressed and framed, identity-framed when
  plain data starts with the magic, or untouched);
- `decode`: a whole stored blob back to the data (the caller checks ``MAGIC`` first, so
  a plain blob costs one ``startswith``);
- `decode_stream`: the same for a stream, in bounded memory;
- `range_of_stored` and `read_range`: byte ranges, refused with
  [`CompressedRange`][asyncbitstore.errors.CompressedRange] for a compressed blob;
- `verified_stored`: digest checks of data given in its stored form (``put(stored=True)``);
- `frame_metadata`, `with_frame_mark` and `read_marked_range`: the frame recorded in object
  metadata.

Frame marks. A backend with object metadata (S3, GCS) records the frame of every blob it
writes under the user-metadata key `FRAME_KEY`: ``none`` (the bytes are the data),
``identity`` (the data behind an identity header) or the codec's name (``gzip``, ``br``,
``zstd``). Its ranged reads return the object's metadata with the bytes (S3 sends
``x-amz-meta-*`` and GCS ``x-goog-meta-*`` on a ranged GET), so `read_marked_range`
answers a range of a marked blob from that one request: the bytes of a ``none`` blob, a
``CompressedRange`` for a compressed one, a second read shifted past the header for an
``identity`` one. A blob with no mark (or a mark this version does not know) was written
before marks existed, or by another tool: only then are its first bytes read to learn its
frame, and the verdict is remembered for the object's version (its ETag, or GCS generation),
so later ranges of the same version cost one request too. A backend with no metadata (HTTP)
has only that remembered verdict to go on.
"""

from __future__ import annotations

import asyncio
import warnings
from collections import OrderedDict
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .._core.data import PutData, chunks_of, slice_range
from .._core.put_attrs import METADATA_LIMIT, PLAIN, PutAttrs, PutOptions
from ..errors import CompressedRange, InvalidDataFound, InvalidRange
from .codecs import HEADER_SIZE, IDENTITY_HEADER, MAGIC, codec_by_id, codec_named
from .frame import Codec, Compressor, CorruptFrame

if TYPE_CHECKING:
    from .._core.keys import HashKeys

__all__ = [
    "FRAME_KEY",
    "DecodedHasher",
    "FrameReader",
    "FrameVerdicts",
    "Span",
    "check_options",
    "decode",
    "decode_stream",
    "encode",
    "frame_metadata",
    "frame_of",
    "put_options",
    "range_of_stored",
    "read_marked_range",
    "read_range",
    "stored_flag",
    "stored_option",
    "verified_stored",
    "with_frame_mark",
]

#: Payloads bigger than this are (de)compressed on a worker thread, off the event loop (zlib,
#: brotli and zstandard release the GIL while they work).
OFFLOAD_BYTES = 256 << 10


async def _run(fn: Callable[..., bytes], *args: Any, size: int) -> bytes:
    if size > OFFLOAD_BYTES:
        return await asyncio.to_thread(fn, *args)
    return fn(*args)


def _starts_with_magic(data: bytes | bytearray | memoryview) -> bool:
    return bytes(memoryview(data)[: len(MAGIC)]) == MAGIC


def stored_flag(stored: bool, raw: bool | None) -> bool:
    """The ``stored=`` flag of a call that may use ``raw=``, its deprecated old name.

    ``raw`` is None when the caller did not pass it; otherwise a ``DeprecationWarning`` naming
    ``stored=`` is emitted (pointing at the caller of the store method).

    Raises:
        TypeError: both ``stored=True`` and ``raw=`` were passed.
    """
    if raw is None:
        return stored
    if stored:
        raise TypeError("pass stored= only: raw= is its deprecated old name")
    warnings.warn(
        "the raw= keyword is deprecated: pass stored= instead", DeprecationWarning, stacklevel=3
    )
    return bool(raw)


def check_options(compress: str | None, level: int | None, stored: bool) -> None:
    """Raise ``ValueError`` for put options that cannot go together or are unknown."""
    if stored:
        if compress is not None or level is not None:
            raise ValueError("stored=True stores the data as given: it takes no compress or level")
    elif compress is None:
        if level is not None:
            raise ValueError("level applies to compression: give compress= too")
    else:
        codec_named(compress).check_level(level)


async def encode(
    data: PutData, compress: str | None, level: int | None, stored: bool = False
) -> PutData:
    """The stored form of ``put`` data.

    Raises:
        ValueError: an unknown codec, a bad level, ``level`` without ``compress``, or either
            together with ``stored``.
        ImportError: the codec's package is not installed.
    """
    check_options(compress, level, stored)
    if stored:
        return data
    if compress is None:
        if isinstance(data, (bytes, bytearray, memoryview)):
            return IDENTITY_HEADER + bytes(data) if _starts_with_magic(data) else data
        return _guarded(data)
    codec = codec_named(compress)
    level = codec.check_level(level)
    if isinstance(data, (bytes, bytearray, memoryview)):
        size = memoryview(data).nbytes
        return codec.header + await _run(codec.compress, data, level, size=size)
    return _compressed(codec.header, codec.compressor(level), data)


async def _guarded(chunks: AsyncIterable[bytes]) -> AsyncIterator[bytes]:
    """Plain streamed data, with an identity header in front if it starts with the magic."""
    head = b""
    async for chunk in chunks_of(chunks):
        if len(head) >= HEADER_SIZE:
            yield chunk
            continue
        head += chunk
        if len(head) >= HEADER_SIZE:
            if head.startswith(MAGIC):
                yield IDENTITY_HEADER
            yield head
    if 0 < len(head) < HEADER_SIZE:
        yield IDENTITY_HEADER + head if head.startswith(MAGIC) else head


async def _compressed(
    header: bytes, compressor: Compressor, chunks: AsyncIterable[bytes]
) -> AsyncIterator[bytes]:
    yield header
    async for chunk in chunks_of(chunks):
        out = await _run(compressor.compress, chunk, size=len(chunk))
        if out:
            yield out
    yield compressor.flush()


def _corrupt(store: object, uri: str, exc: CorruptFrame) -> InvalidDataFound:
    return InvalidDataFound(store, uri, f"cannot decode the stored blob: {exc}")


async def decode(store: object, uri: str, data: bytes) -> bytes:
    """The data of a whole stored blob.

    Raises:
        InvalidDataFound: a framed blob whose frame or payload is damaged.
        ImportError: the blob's codec's package is not installed.
    """
    if not data.startswith(MAGIC):
        return data
    try:
        if len(data) < HEADER_SIZE:
            raise CorruptFrame("the frame header is truncated")
        codec = codec_by_id(data[:HEADER_SIZE])
        if codec.ident == 0:
            return data[HEADER_SIZE:]
        payload = memoryview(data)[HEADER_SIZE:]
        return await _run(codec.decompress, payload, size=len(payload))
    except CorruptFrame as exc:
        raise _corrupt(store, uri, exc) from None


class FrameReader:
    """Push-style decoding of a stored blob: feed its chunks in order, get the data's.

    Args:
        limit: the most bytes a decoder produces per step (output pieces may be that big).
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._head = b""
        self._decoder: Any = None
        self.plain = False

    def feed(self, chunk: bytes) -> Iterator[bytes]:
        """The data decoded from ``chunk`` (raises `CorruptFrame`)."""
        if self._decoder is not None:
            yield from self._decoder.feed(chunk, self.limit)
            return
        if self.plain:
            yield chunk
            return
        self._head += chunk
        if len(self._head) >= HEADER_SIZE:
            yield from self._decide()

    def _decide(self) -> Iterator[bytes]:
        head, self._head = self._head, b""
        if head.startswith(MAGIC):
            self._decoder = codec_by_id(head).decompressor()
            yield from self._decoder.feed(head[HEADER_SIZE:], self.limit)
        else:
            self.plain = True
            if head:
                yield head

    def finish(self) -> Iterator[bytes]:
        """Whatever is left at the end of the blob (raises `CorruptFrame` if cut short)."""
        if self._decoder is None and not self.plain:
            if self._head.startswith(MAGIC):
                raise CorruptFrame("the frame header is truncated")
            yield from self._decide()
        if self._decoder is not None:
            yield from self._decoder.finish()


class DecodedHasher:
    """A hashlib object fed stored chunks: it hashes the data they decode to.

    Raises [`InvalidDataFound`][asyncbitstore.errors.InvalidDataFound] for a damaged frame (naming
    ``store`` and ``uri``).
    """

    def __init__(self, hasher: Any, store: object, uri: str) -> None:
        self._hasher = hasher
        self._reader = FrameReader(1 << 20)
        self._where = (store, uri)

    def update(self, chunk: bytes) -> None:
        """Hash the data decoded from ``chunk``."""
        try:
            for out in self._reader.feed(chunk):
                self._hasher.update(out)
        except CorruptFrame as exc:
            raise _corrupt(*self._where, exc) from None

    def hexdigest(self) -> str:
        """The digest of all the data (call once, after the last chunk)."""
        try:
            for out in self._reader.finish():
                self._hasher.update(out)
        except CorruptFrame as exc:
            raise _corrupt(*self._where, exc) from None
        return self._hasher.hexdigest()  # type: ignore[no-any-return]


def put_options(
    compress: str | None, level: int | None, stored: bool, attrs: PutAttrs = PLAIN
) -> dict[str, Any]:
    """The keywords to pass a ``put`` on to another store's ``put``: the compression ones only
    when one is set, and those of ``attrs`` only when it is not `PLAIN`, so stores written
    before these keywords existed still take the call."""
    return PutOptions(compress, level, stored, attrs).keywords()


def stored_option(stored: bool) -> dict[str, bool]:
    """The ``stored=`` keyword to pass on to another store's ``get`` or ``stream``: none unless
    set, so stores written before ``stored=`` existed still take the call."""
    return {"stored": True} if stored else {}


def _pieces(data: bytes, size: int) -> Iterator[bytes]:
    if len(data) <= size:
        yield data
        return
    view = memoryview(data)
    for offset in range(0, len(view), size):
        yield bytes(view[offset : offset + size])


async def decode_stream(
    store: object, uri: str, chunks: AsyncIterator[bytes], chunk_size: int
) -> AsyncIterator[bytes]:
    """The data of a streamed stored blob, in chunks of at most ``chunk_size`` bytes.

    Memory stays at about one stored chunk plus one decoded step (``chunk_size`` for gzip and
    brotli; for zstd, what a 16 KiB slice of the payload decodes to).

    Raises:
        InvalidDataFound: a framed blob whose frame or payload is damaged (possibly after
            some chunks were yielded; a chain's caches then keep nothing).
    """
    reader = FrameReader(chunk_size)
    try:
        async for chunk in chunks:
            for out in reader.feed(chunk):
                for piece in _pieces(out, chunk_size):
                    yield piece
            if reader.plain:
                async for rest in chunks:  # the common case: no decoding, no re-chunking
                    yield rest
        for out in reader.finish():
            for piece in _pieces(out, chunk_size):
                yield piece
    except CorruptFrame as exc:
        raise _corrupt(store, uri, exc) from None
    finally:
        await chunks.aclose()  # type: ignore[attr-defined]


async def verified_stored(keys: HashKeys, store: object, key: str, data: PutData) -> PutData:
    """``data`` (in its stored form), checked against ``key`` by the digest of what it decodes to.

    Bytes are checked now; a stream raises
    [`InvalidDataFound`][asyncbitstore.errors.InvalidDataFound] after its last chunk.
    """
    if isinstance(data, (bytes, bytearray, memoryview)):
        keys.check(store, key, keys.digest(await decode(store, key, bytes(data))))
        return data
    hasher = DecodedHasher(keys.new(), store, key)

    async def checked() -> AsyncIterator[bytes]:
        async for chunk in chunks_of(data):
            hasher.update(chunk)
            yield chunk
        keys.check(store, key, hasher.hexdigest())

    return checked()


def _header_codec(store: object, uri: str, head: bytes) -> Codec:
    try:
        if len(head) < HEADER_SIZE:
            raise CorruptFrame("the frame header is truncated")
        return codec_by_id(head[:HEADER_SIZE])
    except CorruptFrame as exc:
        raise _corrupt(store, uri, exc) from None


def range_of_stored(store: object, uri: str, data: bytes, start: int, end: int) -> bytes:
    """Bytes ``[start, end)`` of the data, given the whole stored blob.

    Raises:
        CompressedRange: the blob is compressed.
        InvalidRange: ``start`` is past the end of the data.
    """
    if data.startswith(MAGIC):
        codec = _header_codec(store, uri, data)
        if codec.ident != 0:
            raise CompressedRange(store, uri, start, end, codec.name)
        data = data[HEADER_SIZE:]
    return slice_range(store, uri, data, start, end)


async def read_range(
    store: object, uri: str, start: int, end: int, read: Callable[[int, int], Awaitable[bytes]]
) -> bytes:
    """Bytes ``[start, end)`` of the data, through ``read``, which serves stored-form ranges.

    The header must be looked at: a range from 0 reads at least `HEADER_SIZE` bytes and
    looks at them; any other range reads the header alongside, concurrently (two requests on
    a network store, one round trip of latency). A plain blob that starts with the magic (so
    is stored behind an identity header) costs one more read, shifted past the header.

    Raises:
        CompressedRange: the blob is compressed.
    """
    if start == 0:
        data = await read(0, max(end, HEADER_SIZE))
        if not data.startswith(MAGIC):
            return data[:end]
        head = data
    else:
        head, data = await _head_and_range(read, start, end)
        if not head.startswith(MAGIC):
            return data
    codec = _header_codec(store, uri, head)
    if codec.ident != 0:
        raise CompressedRange(store, uri, start, end, codec.name)
    return await read(start + HEADER_SIZE, end + HEADER_SIZE)


async def _head_and_range(
    read: Callable[[int, int], Awaitable[bytes]], start: int, end: int
) -> tuple[bytes, bytes]:
    head, data = await asyncio.gather(
        read(0, HEADER_SIZE), read(start, end), return_exceptions=True
    )
    if isinstance(head, BaseException):
        raise head
    if head.startswith(MAGIC):
        return head, b""  # a failed range read was judged against the stored form: ignore it
    if isinstance(data, BaseException):
        raise data
    return head, data


# -- frame marks in object metadata (see the module docstring) ------------------------------------

#: The user-metadata key under which a backend with object metadata records a blob's frame.
FRAME_KEY = "bitstore-frame"
#: The mark of a blob stored verbatim, with no frame.
_UNFRAMED = "none"
#: The most object versions whose frame a store remembers (for blobs without a mark).
MAX_VERDICTS = 4096


def frame_of(head: bytes) -> str | None:
    """The mark for a stored form starting with ``head`` (its first `HEADER_SIZE` bytes, or
    all of a shorter blob): ``none``, ``identity`` or a codec's name; None for a frame header
    this version cannot read (such a blob gets no mark, and its reads judge its bytes)."""
    if not head.startswith(MAGIC):
        return _UNFRAMED
    try:
        if len(head) < HEADER_SIZE:
            return None
        return codec_by_id(head[:HEADER_SIZE]).name
    except CorruptFrame:
        return None


async def frame_metadata(data: PutData) -> tuple[dict[str, str], PutData]:
    """The metadata recording the frame of ``data``, a stored form about to be written, and the
    data to write in its place (for a stream, its first bytes are read here to decide and are
    handed on in front of the rest; bytes come back as they are).

    Every write on a backend with object metadata attaches this (after any user metadata, so
    the mark cannot be overridden), compressed or not: an object without the mark is then
    known to come from an older version or another tool.
    """
    if isinstance(data, (bytes, bytearray, memoryview)):
        head = bytes(memoryview(data)[:HEADER_SIZE])
        rest: PutData = data
    else:
        head, rest = await _peek(data, HEADER_SIZE)
    mark = frame_of(head)
    return ({} if mark is None else {FRAME_KEY: mark}), rest


def with_frame_mark(metadata: Mapping[str, str], mark: Mapping[str, str]) -> dict[str, str]:
    """User ``metadata`` with ``mark`` (from `frame_metadata`) in place of any `FRAME_KEY` the
    user gave. The mark is left out when it would take the metadata past S3's 2 KiB: such a
    blob reads right, its ranges just read its first bytes once per version, as for a blob
    written by another tool."""
    merged = {name: value for name, value in metadata.items() if name != FRAME_KEY}
    size = sum(len(name) + len(value) for name, value in merged.items())
    if size + sum(len(name) + len(value) for name, value in mark.items()) <= METADATA_LIMIT:
        merged.update(mark)
    return merged


async def _peek(data: AsyncIterable[bytes], size: int) -> tuple[bytes, AsyncIterator[bytes]]:
    """The first ``size`` bytes of a stream (fewer if it is shorter), and the whole stream."""
    chunks = chunks_of(data)
    taken: list[bytes] = []
    seen = 0
    while seen < size:
        chunk = await anext(chunks, None)
        if chunk is None:
            break
        taken.append(chunk)
        seen += len(chunk)

    async def whole() -> AsyncIterator[bytes]:
        try:
            for chunk in taken:
                yield chunk
            taken.clear()
            async for chunk in chunks:
                yield chunk
        finally:
            await chunks.aclose()

    return b"".join(taken)[:size], whole()


@dataclass(frozen=True)
class Span:
    """What a backend's ranged read of a stored form tells.

    Attributes:
        data: the bytes.
        frame: the object's frame mark (the `FRAME_KEY` metadata), if it has one.
        version: a value that changes whenever the object's bytes do (S3's ETag, GCS's
            generation, a strong HTTP ETag), if the answer has one.
        total: the whole stored form's length (from ``Content-Range``), if the answer has it.
    """

    data: bytes
    frame: str | None = None
    version: str | None = None
    total: int | None = None

    @classmethod
    def of(
        cls,
        data: bytes,
        metadata: Mapping[str, str],
        version: str | None,
        total: int | None = None,
    ) -> Span:
        """A span whose frame mark is read from ``metadata`` (user metadata, any case)."""
        frame = next((v for k, v in metadata.items() if k.lower() == FRAME_KEY), None)
        return cls(data, frame, version, total)


class FrameVerdicts:
    """The frames learnt by reading the first bytes of unmarked objects: one version per URI
    (at most `MAX_VERDICTS` URIs, the least recently used forgotten first)."""

    def __init__(self) -> None:
        self._known: OrderedDict[str, tuple[str, str]] = OrderedDict()

    def knows(self, uri: str) -> bool:
        """Whether a frame was learnt for some version of ``uri``."""
        return uri in self._known

    def get(self, uri: str, version: str | None) -> str | None:
        """The frame learnt for this version of ``uri``, if any."""
        known = self._known.get(uri)
        if known is None or version is None or known[0] != version:
            return None
        self._known.move_to_end(uri)
        return known[1]

    def learn(self, uri: str, version: str | None, frame: str) -> None:
        """Remember ``frame`` for this version of ``uri`` (nothing without a version)."""
        if version is None:
            return
        self._known[uri] = (version, frame)
        self._known.move_to_end(uri)
        while len(self._known) > MAX_VERDICTS:
            self._known.popitem(last=False)


_KNOWN_FRAMES = frozenset({_UNFRAMED, "identity", "gzip", "br", "zstd"})
SpanRead = Callable[[int, int], Awaitable[Span]]


async def read_marked_range(
    store: object,
    uri: str,
    start: int,
    end: int,
    read: SpanRead,
    verdicts: FrameVerdicts,
    *,
    marks: bool,
) -> bytes:
    """Bytes ``[start, end)`` of the data, through ``read``, which serves stored-form ranges
    with what the answer tells of the object (see the module docstring for the costs).

    A range from 0 judges the bytes it reads, as `read_range` does. Any other range trusts
    the object's mark, or the frame remembered for its version; with neither, its first bytes
    are read after the range (``marks``: the backend records marks, so most objects have
    one) or, on first sight of the URI, alongside it (a backend without marks).

    Raises:
        CompressedRange: the blob is compressed.
    """
    if start == 0:
        return await read_range(store, uri, start, end, _bytes_of(read))
    if not marks and not verdicts.knows(uri):
        return await _probed_range(store, uri, start, end, read, verdicts)
    try:
        span = await read(start, end)
    except CompressedRange:
        raise
    except InvalidRange:  # past the stored end, which for a framed blob is not the data's
        found = _frame_in(store, uri, (await read(0, HEADER_SIZE)).data)
        if found == _UNFRAMED:
            raise
        return await _framed_range(store, uri, start, end, read, found)
    frame = span.frame if span.frame in _KNOWN_FRAMES else verdicts.get(uri, span.version)
    if frame is None:
        head = await read(0, HEADER_SIZE)
        if head.version != span.version:  # the object changed between the two reads
            return await read_range(store, uri, start, end, _bytes_of(read))
        frame = _frame_in(store, uri, head.data)
        verdicts.learn(uri, span.version, frame)
    if frame == _UNFRAMED:
        return span.data
    return await _framed_range(store, uri, start, end, read, frame)


async def _probed_range(
    store: object, uri: str, start: int, end: int, read: SpanRead, verdicts: FrameVerdicts
) -> bytes:
    """A range read alongside the blob's first bytes (two requests, one round trip)."""
    head, span = await asyncio.gather(
        read(0, HEADER_SIZE), read(start, end), return_exceptions=True
    )
    if isinstance(head, BaseException):
        raise head
    frame = _frame_in(store, uri, head.data)
    if isinstance(span, BaseException):
        if frame == _UNFRAMED:
            raise span
    elif span.version == head.version:
        verdicts.learn(uri, span.version, frame)
    if frame == _UNFRAMED:
        assert isinstance(span, Span)
        return span.data
    return await _framed_range(store, uri, start, end, read, frame)


async def _framed_range(
    store: object,
    uri: str,
    start: int,
    end: int,
    read: SpanRead,
    frame: str,
) -> bytes:
    if frame != "identity":
        raise CompressedRange(store, uri, start, end, frame)
    return (await read(start + HEADER_SIZE, end + HEADER_SIZE)).data


def _frame_in(store: object, uri: str, head: bytes) -> str:
    """The frame of a blob whose first bytes are ``head`` (raises for a damaged header)."""
    if not head.startswith(MAGIC):
        return _UNFRAMED
    return _header_codec(store, uri, head).name


def _bytes_of(read: SpanRead) -> Callable[[int, int], Awaitable[bytes]]:
    async def data(first: int, last: int) -> bytes:
        return (await read(first, last)).data

    return data
