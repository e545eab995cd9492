"""The parts every codec shares: the `Codec` base, the (de)compressor protocols, and
`CorruptFrame` (see `asyncbitstore._codec` for the codecs and the frame)."""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from typing import Any, Protocol

__all__ = [
    "FORMAT_VERSION",
    "MAGIC",
    "Codec",
    "Compressor",
    "CorruptFrame",
    "Decompressor",
    "optional_module",
]

#: The first bytes of every framed blob (a non-ASCII byte, then CR LF to expose text-mode damage).
MAGIC = b"\x93BSZ\r\n"
FORMAT_VERSION = 1

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
        """The rest of the output, in pieces as `feed` gives them; raises
        `CorruptFrame` if the payload ended before its codec's end mark."""


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
        """``level``, or the default for None; ``ValueError`` outside `levels`."""
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
        """The whole decoded payload (raises `CorruptFrame`)."""
        decoder = self.decompressor()
        try:
            parts = list(decoder.feed(bytes(payload), 1 << 30))
            parts += decoder.finish()
        except CorruptFrame:
            raise
        except Exception as exc:
            raise CorruptFrame(f"{type(exc).__name__}: {exc}") from exc
        return b"".join(parts)


def optional_module(module: str, codec: str) -> Any:
    """The module a codec needs, or an ImportError naming the extra that installs it."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ImportError(
            f"the {codec!r} codec needs the {module} package: {_EXTRA}", name=module
        ) from exc
