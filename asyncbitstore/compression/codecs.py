"""The compression codecs and the frame that marks a stored blob as compressed.

A compressed blob is stored as an 8-byte header followed by the codec's own format:

    MAGIC (6 bytes) | format version (1 byte) | codec id (1 byte) | payload

The payload is a plain gzip member, brotli stream or zstd frame, so ``get(uri, stored=True)``
minus the first `HEADER_SIZE` bytes decodes with ``gzip``, ``brotli`` or ``zstd`` tools.
A blob stored without compression is kept verbatim, unless its first bytes happen to be
`MAGIC`: then it gets an "identity" header, so that reading is never ambiguous.

The frame travels with the bytes, the same on every backend: a blob copied byte for byte
between tiers (cache fills, transfers, tools like ``aws s3 cp``) stays decodable, and no
backend metadata (S3 ``Content-Encoding``, GCS transcoding) has to be set, read or translated.

This module owns the codecs and the frame; `asyncbitstore._codec_io` applies them to the
data that stores put and get.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from typing import Any

from .frame import (
    FORMAT_VERSION,
    MAGIC,
    Codec,
    Compressor,
    CorruptFrame,
    Decompressor,
    optional_module,
)
from .zstd import Zstd

__all__ = [
    "CODEC_NAMES",
    "HEADER_SIZE",
    "IDENTITY_HEADER",
    "MAGIC",
    "MAGIC_BYTE",
    "Codec",
    "CorruptFrame",
    "codec_by_id",
    "codec_named",
    "inflater",
]

#: ``MAGIC[0]``: stores test ``data[0] != MAGIC_BYTE`` on their hot read path, which costs a
#: quarter of a ``startswith`` (`decode` checks the rest).
MAGIC_BYTE = MAGIC[0]
HEADER_SIZE = len(MAGIC) + 2
IDENTITY_HEADER = MAGIC + bytes([FORMAT_VERSION, 0])


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
    """Inflates one gzip member (``wbits`` 31), or with other ``wbits`` a zlib (15) or raw
    deflate (-15) stream; ``name`` is what messages call the format."""

    def __init__(self, wbits: int = 31, name: str = "gzip") -> None:
        self._inflate = zlib.decompressobj(wbits)
        self._name = name

    def feed(self, data: bytes, limit: int) -> Iterator[bytes]:
        inflate = self._inflate
        while not inflate.eof:
            try:
                out = inflate.decompress(data, limit)
            except zlib.error as exc:
                raise CorruptFrame(f"{self._name}: {exc}") from exc
            data = inflate.unconsumed_tail
            if out:
                yield out
            if not data and len(out) < limit:
                break
        if inflate.eof and (data or inflate.unused_data):
            raise CorruptFrame(f"{self._name}: data after the end of the stream")

    def finish(self) -> Iterator[bytes]:
        if not self._inflate.eof:
            raise CorruptFrame(f"{self._name}: the stream is truncated")
        return iter(())


class _Brotli(Codec):
    name, ident, default_level, levels = "br", 2, 5, range(12)

    def compressor(self, level: int) -> Compressor:
        return _BrotliEncoder(optional_module("brotli", self.name).Compressor(quality=level))

    def decompressor(self) -> Decompressor:
        return _BrotliDecoder(optional_module("brotli", self.name))


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


_CODECS: dict[str, Codec] = {c.name: c for c in (_Gzip(), _Brotli(), Zstd())}
_BY_ID: dict[int, Codec] = {c.ident: c for c in (_Identity(), *_CODECS.values())}
#: The names ``put(compress=...)`` accepts.
CODEC_NAMES = tuple(sorted(_CODECS))


def inflater(wbits: int, name: str) -> Decompressor:
    """A bounded zlib decompressor for ``wbits`` (31 gzip, 15 zlib, -15 raw deflate)."""
    return _GzipDecoder(wbits, name)


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
