"""A body of known length received into the `bytes` object that will hold it: `BodyBuffer`.

Shared by the HTTP/1.1 client (which reads the socket straight into it), the GCS reads
(which copy aiohttp's pieces into it as they arrive) and Azure's (the SDK's ``readinto``
writes into it), so that a whole-object read holds about
one body's worth of memory, not the pieces and then their join.
"""

from __future__ import annotations

import io

__all__ = ["GROWTH", "BodyBuffer", "Overflow"]

GROWTH = 8 << 20  # how much the buffer grows at a time


class Overflow(ConnectionError, ValueError):
    """More bytes arrived than the body's announced length: a broken answer, read again."""


class BodyBuffer:
    """A body of ``size`` bytes, filled in order and handed over as `bytes` without a copy.

    The buffer is the one of an `io.BytesIO` (whose ``getvalue`` gives it away uncopied when
    it is exactly full). It grows by `GROWTH` bytes at a time as bytes arrive rather than
    taking the announced length at once: an answer announcing more than it sends commits
    little, and no growth (which zero-fills the new part) stalls reading for long.

    Args:
        size: the body's length, as announced.
    """

    __slots__ = ("_capacity", "_file", "_filled", "_view", "size")

    def __init__(self, size: int) -> None:
        self.size = size
        self._file = io.BytesIO()
        self._view: memoryview | None = None
        self._capacity = self._filled = 0
        if size:
            self._grow(min(size, GROWTH))

    def _grow(self, capacity: int) -> None:
        if self._view is not None:
            self._view.release()  # a BytesIO with a view of its buffer cannot resize it
        self._file.seek(capacity - 1)
        self._file.write(b"\0")  # the buffer now has `capacity` bytes, exactly
        self._view = self._file.getbuffer()
        self._capacity = capacity

    @property
    def missing(self) -> int:
        """How many bytes of the body are still to come."""
        return self.size - self._filled

    def rest(self, count: int) -> memoryview:
        """Where the next bytes go: at most ``count`` of them (``0 < count <= missing``)."""
        if self._filled == self._capacity:
            self._grow(min(self.size, self._capacity + GROWTH))
        assert self._view is not None
        return self._view[self._filled : min(self._capacity, self._filled + count)]

    def received(self, count: int) -> None:
        """Count ``count`` more bytes written into `rest`."""
        self._filled += count

    def write(self, data: bytes | memoryview) -> int:
        """Append ``data``; its length (a writable file's answer, for ``readinto``).

        Raises:
            Overflow: ``data`` holds more than the rest of the body (none of it is kept).
        """
        count = len(data)
        end = self._filled + count
        if end > self.size:
            raise Overflow(f"{end - self.size} bytes more than the {self.size} announced")
        if end > self._capacity:
            self._grow(min(self.size, max(end, self._capacity + GROWTH)))
        assert self._view is not None or not data
        if data:
            assert self._view is not None
            self._view[self._filled : end] = data
        self._filled = end
        return count

    def value(self) -> bytes:
        """The body (all of it must have arrived); given away without a copy."""
        if self._view is not None:
            self._view.release()
            self._view = None
        return self._file.getvalue()
