"""`Sink`: a body of known length received straight into the `bytes` object returned.

The buffer is that of an `io.BytesIO` whose size is set exactly; its ``getvalue`` then hands the
buffer over without copying it, so a large body costs about one body's worth of memory rather
than pieces plus their join (or a bytearray plus its conversion). Used by the HTTP/1.1 pool
(`h1`) and by Azure's whole-blob reads.
"""

from __future__ import annotations

import io

__all__ = ["GROWTH", "Overflow", "Sink"]

#: How much the buffer grows at a time as bytes arrive.
GROWTH = 8 << 20


class Overflow(ConnectionError):
    """More bytes arrived than the body's announced length (a broken answer: retried)."""


class Sink:
    """A body of ``size`` bytes, written in order (`write`, or `rest` then `received`).

    The buffer grows by `GROWTH` bytes at a time as bytes arrive rather than taking the
    announced length at once: an answer announcing more than it sends commits little, and no
    growth (which zero-fills the new part) stalls reading for long.
    """

    __slots__ = ("_capacity", "_file", "_filled", "_view", "size")

    def __init__(self, size: int) -> None:
        self.size = size
        self._file = io.BytesIO()
        self._view: memoryview | None = None
        self._capacity = self._filled = 0
        if size > 0:
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
        """Where the next bytes go: at most ``count`` of them (``count`` > 0)."""
        if self._filled == self._capacity:
            self._grow(min(self.size, self._capacity + GROWTH))
        assert self._view is not None
        return self._view[self._filled : min(self._capacity, self._filled + count)]

    def received(self, count: int) -> None:
        """Count ``count`` more bytes written into `rest`."""
        self._filled += count

    def write(self, data: bytes | memoryview) -> int:
        """Append ``data`` and return its length.

        Raises:
            Overflow: ``data`` goes past the announced size (nothing of it is kept).
        """
        count = len(data)
        end = self._filled + count
        if end > self.size:
            raise Overflow(f"the body goes past its announced {self.size} bytes")
        if end > self._capacity:
            self._grow(min(self.size, max(end, self._capacity + GROWTH)))
        assert self._view is not None
        self._view[self._filled : end] = data
        self._filled = end
        return count

    def value(self) -> bytes:
        """The body; given away without a copy once no view of the buffer is left."""
        if self._view is not None:
            self._view.release()
        return self._file.getvalue()
