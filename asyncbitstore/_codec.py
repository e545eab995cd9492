"""The compression codecs and the frame that marks a stored blob as compressed.

A compressed blob is stored as an 8-byte header followed by the codec's own format::

    MAGIC (6 bytes) | format version (1 byte) | codec id (1 byte) | payload

The payload is a plain gzip member, brotli stream or zstd frame, so ``get(uri, raw=True)``
minus the first :data:`HEADER_SIZE` bytes decodes with ``gzip``, ``brotli`` or ``zstd`` tools.
A blob stored without compression is kept verbatim, unless its first bytes happen to be
:data:`MAGIC`: then it gets an "identity" header, so that reading is never ambiguous.

The frame travels with the bytes, the same on every backend: a blob copied byte for byte
between tiers (cache fills, transfers, tools like ``aws s3 cp``) stays decodable, and no
backend metadata (S3 ``Content-Encoding``, GCS transcoding) has to be set, read or translated.

This module owns the codecs and the frame; :mod:`asyncbitstore._codec_io` applies them to the
data that stores put and get.
"""

from __future__ import annotations

import importlib
import zlib
from collections.abc import Iterator
from typing import Any, Protocol

__all__ = [
    "CODEC_NAMES",
    "HEADER_SIZE",
    "IDENTITY_HEADER",
    "MAGIC",
    "MAGIC_BYTE",
    "Codec",
    "codec_by_id",
    "codec_named",
]

#: The first bytes of every framed blob (a non-ASCII byte, then CR LF to expose text-mode damage).
MAGIC = b"\x93BSZ\r\n"
#: ``MAGIC[0]``: stores test ``data[0] != MAGIC_BYTE`` on their hot read path, which costs a
#: quarter of a ``startswith`` (:func:`~asyncbitstore._codec_io.decode` checks the rest).
MAGIC_BYTE = MAGIC[0]
FORMAT_VERSION = 1
HEADER_SIZE = len(MAGIC) + 2
IDENTITY_HEADER = MAGIC + bytes([FORMAT_VERSION, 0])

#: zstandard's push decoder has no output limit, so streams are decoded by its pull reader
#: (whose reads are bounded), fed from a buffer that always holds more than one whole block
#: (128 KiB at most) until the payload ends, so the reader never mistakes a pause for the end.
_ZSTD_READ = 16 << 10
_ZSTD_RESERVE = 256 << 10
_EXTRA = "pip install 'asyncbitstore[compression]'"


class CorruptFrame(Exception):
    """The payload of a framed blob cannot be decoded (turned into our error by the caller)."""


class Compressor(Protocol):
    """An incremental compressor."""

    def compress(self, data: bytes) -> bytes:
        """Compressed output for ``data`` so far (may be empty)."""

    def flush(self) -> bytes:
        """The rest of the compressed output; the compressor is done."""


class Decompressor(Protocol):
    """An incremental decompressor whose output per call is bounded."""

    def feed(self, data: bytes, limit: int) -> Iterator[bytes]:
        """Decoded output for ``data``, in pieces of about ``limit`` bytes at most."""

    def finish(self) -> Iterator[bytes]:
        """The rest of the output, in pieces as :meth:`feed` gives them; raises
        :class:`CorruptFrame` if the payload ended before its codec's end mark."""


class Codec:
    """One compression format: its name, frame id, levels and (de)compressors."""

    name: str
    ident: int
    default_level: int
    levels: range

    @property
    def header(self) -> bytes:
        """The frame header of a blob compressed with this codec."""
        return MAGIC + bytes([FORMAT_VERSION, self.ident])

    def check_level(self, level: object) -> int:
        """``level``, or the default for None; ``ValueError`` outside :attr:`levels`."""
        if level is None:
            return self.default_level
        if isinstance(level, bool) or not isinstance(level, int) or level not in self.levels:
            raise ValueError(
                f"{self.name} level must be an int from {self.levels.start} to "
                f"{self.levels.stop - 1}, not {level!r}"
            )
        return level

    def compress(self, data: bytes | bytearray | memoryview, level: int) -> bytes:
        """The whole payload for ``data``."""
        compressor = self.compressor(level)
        return compressor.compress(bytes(data)) + compressor.flush()

    def compressor(self, level: int) -> Compressor:
        """A fresh incremental compressor."""
        raise NotImplementedError

    def decompressor(self) -> Decompressor:
        """A fresh incremental decompressor."""
        raise NotImplementedError

    def decompress(self, payload: bytes | memoryview) -> bytes:
        """The whole decoded payload (raises :class:`CorruptFrame`)."""
        decoder = self.decompressor()
        try:
            parts = list(decoder.feed(bytes(payload), 1 << 30))
            parts += decoder.finish()
        except CorruptFrame:
            raise
        except Exception as exc:
            raise CorruptFrame(f"{type(exc).__name__}: {exc}") from exc
        return b"".join(parts)


class _Identity(Codec):
    name, ident, default_level, levels = "identity", 0, 0, range(1)

    def decompressor(self) -> Decompressor:
        return _IdentityDecoder()


class _IdentityDecoder:
    def feed(self, data: bytes, limit: int) -> Iterator[bytes]:
        if data:
            yield data

    def finish(self) -> Iterator[bytes]:
        return iter(())


class _Gzip(Codec):
    name, ident, default_level, levels = "gzip", 1, 6, range(10)

    def compressor(self, level: int) -> Compressor:
        return zlib.compressobj(level, zlib.DEFLATED, 31)  # 31: a gzip member, mtime 0

    def decompressor(self) -> Decompressor:
        return _GzipDecoder()


class _GzipDecoder:
    def __init__(self) -> None:
        self._inflate = zlib.decompressobj(31)

    def feed(self, data: bytes, limit: int) -> Iterator[bytes]:
        inflate = self._inflate
        while not inflate.eof:
            try:
                out = inflate.decompress(data, limit)
            except zlib.error as exc:
                raise CorruptFrame(f"gzip: {exc}") from exc
            data = inflate.unconsumed_tail
            if out:
                yield out
            if not data and len(out) < limit:
                break
        if inflate.eof and (data or inflate.unused_data):
            raise CorruptFrame("gzip: data after the end of the stream")

    def finish(self) -> Iterator[bytes]:
        if not self._inflate.eof:
            raise CorruptFrame("gzip: the stream is truncated")
        return iter(())


class _Brotli(Codec):
    name, ident, default_level, levels = "br", 2, 5, range(12)

    def compressor(self, level: int) -> Compressor:
        return _BrotliEncoder(_optional("brotli", self.name).Compressor(quality=level))

    def decompressor(self) -> Decompressor:
        return _BrotliDecoder(_optional("brotli", self.name))


class _BrotliEncoder:
    def __init__(self, compressor: Any) -> None:
        self._compressor = compressor

    def compress(self, data: bytes) -> bytes:
        return self._compressor.process(data)  # type: ignore[no-any-return]

    def flush(self) -> bytes:
        return self._compressor.finish()  # type: ignore[no-any-return]


class _BrotliDecoder:
    def __init__(self, brotli: Any) -> None:
        self._error = brotli.error
        self._decoder = brotli.Decompressor()

    def feed(self, data: bytes, limit: int) -> Iterator[bytes]:
        decoder = self._decoder
        try:
            out = decoder.process(data, output_buffer_limit=limit)
            while True:
                if out:
                    yield out
                if decoder.can_accept_more_data():
                    return
                out = decoder.process(b"", output_buffer_limit=limit)
        except self._error as exc:
            raise CorruptFrame(f"br: {exc}") from exc

    def finish(self) -> Iterator[bytes]:
        decoder = self._decoder
        try:
            while not decoder.is_finished() and (
                out := decoder.process(b"", output_buffer_limit=1 << 20)
            ):
                yield out
        except self._error as exc:
            raise CorruptFrame(f"br: {exc}") from exc
        if not decoder.is_finished():
            raise CorruptFrame("br: the stream is truncated")


class _Zstd(Codec):
    name, ident, default_level, levels = "zstd", 3, 3, range(-7, 23)

    def compressor(self, level: int) -> Compressor:
        zstd = _optional("zstandard", self.name)
        return zstd.ZstdCompressor(level=level).compressobj()  # type: ignore[no-any-return]

    def compress(self, data: bytes | bytearray | memoryview, level: int) -> bytes:
        zstd = _optional("zstandard", self.name)
        return zstd.ZstdCompressor(level=level).compress(data)  # type: ignore[no-any-return]

    def decompress(self, payload: bytes | memoryview) -> bytes:
        zstd = _optional("zstandard", self.name)
        decoder = zstd.ZstdDecompressor().decompressobj()
        try:
            data: bytes = decoder.decompress(payload)
        except zstd.ZstdError as exc:
            raise CorruptFrame(f"zstd: {exc}") from exc
        if not decoder.eof:
            raise CorruptFrame("zstd: the frame is truncated")
        if decoder.unused_data:
            raise CorruptFrame("zstd: data after the end of the frame")
        return data

    def decompressor(self) -> Decompressor:
        return _ZstdDecoder(_optional("zstandard", self.name))


class _Pending:
    """The compressed bytes a zstd pull reader has not taken yet."""

    def __init__(self) -> None:
        self.data = b""
        self.taken = 0

    def add(self, data: bytes) -> None:
        self.data = self.data[self.taken :] + data
        self.taken = 0

    def __len__(self) -> int:
        return len(self.data) - self.taken

    def read(self, size: int = -1) -> bytes:
        end = len(self.data) if size < 0 else self.taken + size
        out = self.data[self.taken : end]
        self.taken += len(out)
        return out


class _ZstdDecoder:
    def __init__(self, zstd: Any) -> None:
        self._error = zstd.ZstdError
        self._pending = _Pending()
        self._reader = zstd.ZstdDecompressor().stream_reader(self._pending, read_size=_ZSTD_READ)
        self._frame = _ZstdFrameWalk()

    def feed(self, data: bytes, limit: int) -> Iterator[bytes]:
        self._frame.feed(data)
        self._pending.add(data)
        while len(self._pending) > _ZSTD_RESERVE:
            out = self._read(limit)
            if not out:
                return
            yield out

    def _read(self, limit: int) -> bytes:
        try:
            return self._reader.read(limit)  # type: ignore[no-any-return]
        except self._error as exc:
            raise CorruptFrame(f"zstd: {exc}") from exc

    def finish(self) -> Iterator[bytes]:
        self._frame.finish()
        while out := self._read(1 << 20):
            yield out


class _ZstdFrameWalk:
    """Follows a zstd frame's block headers as the bytes pass, to tell a complete frame from a
    cut one (the pull reader cannot: it sees the end of its input as the end of the data)."""

    def __init__(self) -> None:
        self._head = b""
        self._skip = 0
        self._state = "magic"  # then "blocks", then "done"
        self._checksum = 0

    def feed(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            if self._skip:
                step = min(self._skip, len(view))
                self._skip -= step
                view = view[step:]
                continue
            if self._state == "done":
                raise CorruptFrame("zstd: data after the end of the frame")
            need = 6 if self._state == "magic" else 3
            take = need - len(self._head)
            self._head += bytes(view[:take])
            view = view[take:]
            if len(self._head) == need:
                head, self._head = self._head, b""
                self._parse(head)

    def _parse(self, head: bytes) -> None:
        if self._state == "magic":
            if head[:4] != b"\x28\xb5\x2f\xfd":
                raise CorruptFrame("zstd: not a zstd frame")
            descriptor = head[4]
            single = bool(descriptor & 0x20)
            content_size = (1 if single else 0, 2, 4, 8)[descriptor >> 6]
            self._checksum = 4 if descriptor & 0x04 else 0
            # The 6 bytes read so far hold the descriptor and one more header byte.
            self._skip = (0 if single else 1) + (0, 1, 2, 4)[descriptor & 3] + content_size - 1
            self._state = "blocks"
            return
        value = int.from_bytes(head, "little")
        kind, size = (value >> 1) & 3, value >> 3
        if kind == 3:
            raise CorruptFrame("zstd: a reserved block type")
        self._skip = 1 if kind == 1 else size
        if value & 1:
            self._skip += self._checksum
            self._state = "done"

    def finish(self) -> None:
        if self._state != "done" or self._skip or self._head:
            raise CorruptFrame("zstd: the frame is truncated")


def _optional(module: str, codec: str) -> Any:
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ImportError(
            f"the {codec!r} codec needs the {module} package: {_EXTRA}", name=module
        ) from exc


_CODECS: dict[str, Codec] = {c.name: c for c in (_Gzip(), _Brotli(), _Zstd())}
_BY_ID: dict[int, Codec] = {c.ident: c for c in (_Identity(), *_CODECS.values())}
#: The names ``put(compress=...)`` accepts.
CODEC_NAMES = tuple(sorted(_CODECS))


def codec_named(name: object) -> Codec:
    """The codec called ``name``; ``ValueError`` listing the valid names otherwise."""
    codec = _CODECS.get(name) if isinstance(name, str) else None
    if codec is None:
        choices = ", ".join(repr(n) for n in CODEC_NAMES)
        raise ValueError(f"unknown compression {name!r}; choose one of {choices} (or None)")
    return codec


def codec_by_id(header: bytes) -> Codec:
    """The codec a frame header names (``CorruptFrame`` for an unknown version or id)."""
    version, ident = header[len(MAGIC)], header[len(MAGIC) + 1]
    codec = _BY_ID.get(ident)
    if version != FORMAT_VERSION or codec is None:
        raise CorruptFrame(
            f"unknown frame (version {version}, codec {ident}): written by a newer asyncbitstore?"
        )
    return codec
