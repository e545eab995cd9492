"""The zstd codec, on the ``zstandard`` package (extra ``compression``).

zstandard's push decoder has no output limit, so streams are decoded by its pull reader, whose
reads are bounded; `_ZstdFrameWalk` follows the frame's block headers on the side, to
tell a complete frame from a cut one, which the pull reader cannot.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from .frame import Codec, Compressor, CorruptFrame, Decompressor, optional_module

__all__ = ["Zstd"]

#: The pull reader is fed from a buffer that always holds more than one whole block
#: (128 KiB at most) until the payload ends, so the reader never mistakes a pause for the end:
#: a read asks for at most as many decoded bytes as the buffer holds beyond this reserve, and
#: decoding n bytes takes at most n bytes of payload plus one block and one source read.
_ZSTD_READ = 16 << 10
_ZSTD_RESERVE = 256 << 10


class Zstd(Codec):
    """zstd frames; levels -7 to 22."""

    name, ident, default_level, levels = "zstd", 3, 3, range(-7, 23)

    def compressor(self, level: int) -> Compressor:
        zstd = optional_module("zstandard", self.name)
        return zstd.ZstdCompressor(level=level).compressobj()  # type: ignore[no-any-return]

    def compress(self, data: bytes | bytearray | memoryview, level: int) -> bytes:
        zstd = optional_module("zstandard", self.name)
        return zstd.ZstdCompressor(level=level).compress(data)  # type: ignore[no-any-return]

    def decompress(self, payload: bytes | memoryview) -> bytes:
        zstd = optional_module("zstandard", self.name)
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
        return _ZstdDecoder(optional_module("zstandard", self.name))


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
            out = self._read(min(limit, len(self._pending) - _ZSTD_RESERVE))
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
        if len(self._pending):
            raise CorruptFrame("zstd: the decoder stopped before the end of the frame")


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
