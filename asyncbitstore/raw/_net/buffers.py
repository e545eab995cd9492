"""A body of known length received into the memory that will hold it: `BodyBuffer`, `ViewSink`.

`BodyBuffer` is shared by the HTTP/1.1 client (which reads the socket straight into it), the
GCS reads (which copy aiohttp's pieces into it as they arrive) and Azure's (the SDK's
``readinto`` writes into it), so that a whole-object read holds about one body's worth of
memory, not the pieces and then their join. `ViewSink` has the same interface over memory the
caller owns (a slice of a larger buffer, such as one range of an object assembled from several).
"""

from __future__ import annotations

import io

__all__ = ["GROWTH", "BodyBuffer", "Overflow", "ViewSink"]

GROWTH = 8 << 20  # how much the buffer grows at a time


class Overflow(ConnectionError, ValueError):
    """More bytes arrived than the body's announced length: a broken answer, read again."""


def _fits(end: int, size: int) -> None:
    if end > size:
        raise Overflow(f"{end - size} bytes more than the {size} announced")


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
        _fits(end, self.size)
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


class ViewSink:
    """A body of exactly ``len(view)`` bytes, written in order into ``view``, which the caller
    owns: nothing is allocated here, and `value` is empty (the bytes are where the caller
    looks for them).

    Args:
        view: a writable, contiguous buffer; the body's length is its length in bytes.

    Raises:
        ValueError: ``view`` is read-only or not contiguous.
    """

    __slots__ = ("_filled", "_view", "size")

    def __init__(self, view: memoryview) -> None:
        if view.readonly or not view.c_contiguous:
            raise ValueError("the destination of a body must be writable and contiguous")
        self._view = view if view.format == "B" and view.ndim == 1 else view.cast("B")
        self.size = len(self._view)
        self._filled = 0

    @property
    def missing(self) -> int:
        """How many bytes of the body are still to come."""
        return self.size - self._filled

    def rest(self, count: int) -> memoryview:
        """Where the next bytes go: at most ``count`` of them (``0 < count <= missing``)."""
        return self._view[self._filled : self._filled + count]

    def received(self, count: int) -> None:
        """Count ``count`` more bytes written into `rest`."""
        self._filled += count

    def write(self, data: bytes | memoryview) -> int:
        """Append ``data``; its length.

        Raises:
            Overflow: ``data`` holds more than the rest of the body (none of it is written).
        """
        end = self._filled + len(data)
        _fits(end, self.size)
        self._view[self._filled : end] = data
        self._filled = end
        return len(data)

    def value(self) -> bytes:
        """Nothing: the body is in the caller's view."""
        return b""
