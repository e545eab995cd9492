"""Objects that other tools stored with an HTTP ``Content-Encoding`` (gzip, br, zstd, deflate).

S3, GCS and HTTP servers keep such an object's bytes compressed and say so in a header; the
package's own frame (`.codecs`) is not involved. The network backends read the bytes as
sent (no client decodes them on the way: the backend's checksum covers those bytes) and hand
them here with the header's value:

- `decode_content`: a whole body, decoded step by step and refused once it grows past a
  bound (a small body may decode to gigabytes);
- `decode_content_stream`: a streamed body, decoded chunk by chunk in bounded memory;
- `refuse_range`: the rule for byte ranges, which the servers serve of the stored bytes.

Several encodings (``gzip, br``: gzip applied first) are undone in reverse order; ``identity``
is no encoding. An encoding not decodable here (``compress``, anything unknown) raises
`InvalidDataFound` before any byte is handed out: encoded bytes never pass for the data.
An empty body is empty data, whatever its header says (as HTTP clients read it).
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncGenerator, AsyncIterator, Iterator

from ..errors import CompressedRange, InvalidDataFound, StoreNotAvailable
from .codecs import codec_named, inflater
from .frame import CorruptFrame, Decompressor

__all__ = [
    "CONTENT_CODINGS",
    "DEFAULT_MAX_DECODED",
    "codings",
    "decode_content",
    "decode_content_stream",
    "refuse_range",
    "transport_only",
]

#: The ``Content-Encoding`` values decoded here (``x-gzip`` is read as ``gzip``).
CONTENT_CODINGS = ("br", "deflate", "gzip", "zstd")
_ALIASES = {"x-gzip": "gzip"}
#: The default bound on what a whole-object read decodes an encoded object to (5 GiB).
DEFAULT_MAX_DECODED = 5 << 30
_STEP = 1 << 20  # the most bytes one decoding step of `decode_content` produces
_OFFLOAD_BYTES = 256 << 10  # bodies bigger than this are decoded on a worker thread
_SHOWN = 100  # characters of a header value quoted in messages


class UnknownCoding(ValueError):
    """A ``Content-Encoding`` that cannot be decoded here."""


def codings(value: str | None) -> tuple[str, ...]:
    """The encodings a ``Content-Encoding`` value names, in the order they were applied,
    ``identity`` left out (empty: the body is the data).

    Raises:
        UnknownCoding: one of them is not in `CONTENT_CODINGS`.
    """
    if not value:
        return ()
    found = []
    for part in value.split(","):
        name = part.strip().lower()
        name = _ALIASES.get(name, name)
        if name in ("", "identity"):
            continue
        if name not in CONTENT_CODINGS:
            raise UnknownCoding(name)
        found.append(name)
    return tuple(found)


def _shown(value: str) -> str:
    return repr(value if len(value) <= _SHOWN else value[:_SHOWN] + "...")


def _parsed(store: object, uri: str, value: str | None) -> tuple[str, ...]:
    try:
        return codings(value)
    except UnknownCoding:
        supported = ", ".join(CONTENT_CODINGS)
        raise InvalidDataFound(
            store, uri, f"it is stored with Content-Encoding {_shown(value or '')}, which "
            f"cannot be decoded (supported: {supported}); read its stored bytes with "
            "get(..., stored=True) or stream(..., stored=True)",
        ) from None  # fmt: skip


class _Deflate:
    """HTTP's ``deflate``: a zlib stream, or (as some servers send it) raw deflate."""

    def __init__(self) -> None:
        self._head = b""
        self._inner: Decompressor | None = None

    def feed(self, data: bytes, limit: int) -> Iterator[bytes]:
        if self._inner is None:
            self._head += data
            if len(self._head) < 2:
                return
            data, self._head = self._head, b""
            zlib_header = data[0] & 0x0F == 8 and (data[0] << 8 | data[1]) % 31 == 0
            self._inner = inflater(15 if zlib_header else -15, "deflate")
        yield from self._inner.feed(data, limit)

    def finish(self) -> Iterator[bytes]:
        if self._inner is None:
            raise CorruptFrame("deflate: the stream is truncated")
        yield from self._inner.finish()


def _decoder(name: str) -> Decompressor:
    return _Deflate() if name == "deflate" else codec_named(name).decompressor()


class _Pipeline:
    """The decoders of every encoding, last applied first, each feeding the next."""

    def __init__(self, names: tuple[str, ...], limit: int) -> None:
        self._stages = [_decoder(name) for name in reversed(names)]
        self._limit = limit

    def feed(self, data: bytes) -> Iterator[bytes]:
        return self._through(0, data)

    def _through(self, stage: int, data: bytes) -> Iterator[bytes]:
        if stage == len(self._stages):
            if data:
                yield data
            return
        for out in self._stages[stage].feed(data, self._limit):
            yield from self._through(stage + 1, out)

    def finish(self) -> Iterator[bytes]:
        for stage, decoder in enumerate(self._stages):
            for out in decoder.finish():
                yield from self._through(stage + 1, out)


def _damaged(store: object, uri: str, value: str, exc: Exception) -> InvalidDataFound:
    return InvalidDataFound(
        store, uri, f"its Content-Encoding {_shown(value)} does not decode: {exc}"
    )


class _TooLarge(Exception):
    pass


def _decode_all(names: tuple[str, ...], data: bytes, limit: int) -> bytes:
    pipeline = _Pipeline(names, _STEP)
    parts: list[bytes] = []
    size = 0
    for piece in itertools.chain(pipeline.feed(data), pipeline.finish()):
        size += len(piece)
        if size > limit:
            raise _TooLarge
        parts.append(piece)
    return b"".join(parts)


async def decode_content(
    store: object, uri: str, data: bytes, value: str | None, limit: int, bound: str
) -> bytes:
    """``data``, a whole body sent with ``Content-Encoding: value``, decoded.

    Args:
        store: the store, for errors.
        uri: the blob, as errors name it.
        data: the body as received.
        value: the ``Content-Encoding`` header (None or ``identity``: ``data`` is returned).
        limit: the most bytes the data may have.
        bound: the option that sets ``limit``, for the message.

    Raises:
        InvalidDataFound: an encoding that cannot be decoded, or a damaged body.
        StoreNotAvailable: the data is larger than ``limit`` (decoding stops there).
        ImportError: the codec's package (brotli, zstandard) is not installed.
    """
    names = _parsed(store, uri, value)
    if not names or not data:  # an empty body is empty data, as HTTP clients read it
        return data
    assert value is not None
    try:
        if len(data) > _OFFLOAD_BYTES:
            return await asyncio.to_thread(_decode_all, names, data, limit)
        return _decode_all(names, data, limit)
    except CorruptFrame as exc:
        raise _damaged(store, uri, value, exc) from None
    except _TooLarge:
        reason = (
            f"its Content-Encoding {_shown(value)} decodes to more than {bound}={limit} bytes: "
            f"read it with stream() or raise {bound}"
        )
    raise StoreNotAvailable(store, reason, uri=uri)


def _pieces(data: bytes, size: int) -> Iterator[bytes]:
    view = memoryview(data)
    for offset in range(0, len(view), size):
        yield bytes(view[offset : offset + size])


async def decode_content_stream(
    store: object, uri: str, chunks: AsyncIterator[bytes], value: str | None, chunk_size: int
) -> AsyncGenerator[bytes, None]:
    """``chunks``, a body sent with ``Content-Encoding: value``, decoded as it streams, in
    chunks of at most ``chunk_size`` bytes (memory stays at a stored chunk and a decoded step).

    Raises:
        InvalidDataFound: an encoding that cannot be decoded (before any chunk), or a damaged
            body (possibly after some chunks were yielded).
    """
    try:
        names = _parsed(store, uri, value)
        if not names:
            async for chunk in chunks:
                yield chunk
            return
        assert value is not None
        pipeline = _Pipeline(names, chunk_size)
        empty = True
        try:
            async for chunk in chunks:
                empty = empty and not chunk
                for out in pipeline.feed(chunk):
                    for piece in _pieces(out, chunk_size):
                        yield piece
            for out in () if empty else pipeline.finish():
                for piece in _pieces(out, chunk_size):
                    yield piece
        except CorruptFrame as exc:
            raise _damaged(store, uri, value, exc) from None
    finally:
        await chunks.aclose()  # type: ignore[attr-defined]


def refuse_range(
    store: object, uri: str, value: str | None, start: int, end: int, *, stored: str | None = None
) -> None:
    """Raise `CompressedRange` when a ranged answer comes from an encoded object.

    A server serves ranges of the stored (encoded) bytes, and offsets into them are not
    offsets into the data, so such ranges are refused as for the package's own compressed
    blobs. ``stored`` is a header naming the stored encoding where it may differ from the
    answer's (GCS's ``X-Goog-Stored-Content-Encoding``).
    """
    for header in (value, stored):
        try:
            names = codings(header)
        except UnknownCoding:
            names = (header or "",)
        if names:
            raise CompressedRange(store, uri, start, end, ", ".join(names))


def transport_only(received: str | None, stored: str | None) -> str | None:
    """The ``Content-Encoding`` of an answer when it was added on the way only: the object is
    stored plain (``stored``, a header such as GCS's ``X-Goog-Stored-Content-Encoding``, says
    ``identity``) but was sent compressed. Such an encoding is no part of the stored form."""
    if stored is None:
        return None
    try:
        if codings(received) and not codings(stored):
            return received
    except UnknownCoding:
        return None
    return None
