"""One ranged media GET of a GCS object: `SpanRead`, for ``get_range`` and pinned parallel reads."""

from __future__ import annotations

from dataclasses import dataclass

from ...compression.content_encoding import refuse_range
from ...compression.store_io import Span
from ...errors import InvalidRange, ObjectChanged
from .._net import responses
from . import _meta as gs_meta
from ._client import GSClient

__all__ = ["GENERATION", "STORED_ENCODING", "SpanRead"]

#: The answer header naming the object's generation.
GENERATION = "X-Goog-Generation"
#: The answer header naming the ``Content-Encoding`` the object is stored with.
STORED_ENCODING = "X-Goog-Stored-Content-Encoding"
_OPEN_RANGE_FROM = 1 << 53  # a range end this large is asked as "to the end" (bytes=N-)


@dataclass(frozen=True)
class SpanRead:
    """A GET of bytes ``[start, end)`` of one object, for `GSRaw._do` to run with its client.

    Attributes:
        store: the store reading, named in errors.
        uri: the object's URI, named in errors.
        bucket: the object's bucket.
        name: the object's name.
        start: the first byte asked.
        end: one past the last byte asked; from `_OPEN_RANGE_FROM` on, the object's end.
        asked: the range the caller asked for, which `CompressedRange` names.
        generation: the only generation read, when given (another raises `ObjectChanged`).
    """

    store: object
    uri: str
    bucket: str
    name: str
    start: int
    end: int
    asked: tuple[int, int]
    generation: str | None = None

    async def __call__(self, client: GSClient) -> Span:
        """Bytes ``[start, end)`` of a 206 naming exactly them, or sliced from a whole 200,
        with the object's frame mark (``x-goog-meta-*``), generation and whole length;
        `CompressedRange` for an object stored with a ``Content-Encoding``."""
        start, end, generation = self.start, self.end, self.generation
        span = f"bytes={start}-{'' if end >= _OPEN_RANGE_FROM else end - 1}"
        response = await client.get_media(self.bucket, self.name, span, generation)
        async with response:
            headers = response.headers
            answered = headers.get(GENERATION)
            if generation is not None and answered not in (None, generation):
                raise ObjectChanged(self.store, self.uri, generation)
            encoding, stored = headers.get("Content-Encoding"), headers.get(STORED_ENCODING)
            refuse_range(self.store, self.uri, encoding, *self.asked, stored=stored)
            if response.status == 200:  # the server ignored the Range header
                data, size = await responses.slice_body(response, start, end)
                if start > size:
                    reason = f"the blob has {size} bytes"
                    raise InvalidRange(self.store, self.uri, start, end, reason)
                total = size if size < end else response.content_length
            else:
                header = headers.get("Content-Range")
                data = await responses.read_span(
                    response.content, responses.span_length(header, start, end)
                )
                total = responses.content_range(response)[1]
            return Span.of(data, gs_meta.user_metadata(headers), answered, total)
