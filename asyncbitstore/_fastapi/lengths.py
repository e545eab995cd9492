"""The length of a blob's data, which for a blob stored compressed is not its stored size.

`Store.size` and `ObjectMeta.size` give the stored size. Those are the data's length only
for a blob stored as it is: one stored in the package's compressed frame (or behind its
identity header), or kept by another tool with a ``Content-Encoding``, holds other bytes.
"""

from __future__ import annotations

from ..compression.codecs import HEADER_SIZE
from ..compression.store_io import frame_of
from ..errors import InvalidRange
from ..meta import ObjectMeta
from ..store import Store

__all__ = ["counted_length", "plain_length", "stored_plainly", "streamed_length"]


async def plain_length(store: Store, key: str, meta: ObjectMeta) -> int | None:
    """``meta.size`` when the blob is stored as it is (so that is its data's length); None
    when it is not, and its length is unknown without decoding it.

    Asks for the last stored byte as a range: a plain blob answers it, a compressed one
    refuses (`CompressedRange`), and a blob behind a frame header is shorter than its
    stored size, so the range is past its end.
    """
    if meta.size == 0:
        return 0
    try:
        last = await store.get_range(key, meta.size - 1, meta.size)
    except InvalidRange:
        return None
    return meta.size if len(last) == 1 else None


async def counted_length(store: Store, key: str, chunk_size: int) -> int:
    """The data's length, counted by decoding the whole blob (memory stays at a chunk)."""
    length = 0
    chunks = store.stream(key, chunk_size)
    try:
        async for chunk in chunks:
            length += len(chunk)
    finally:
        await chunks.aclose()  # type: ignore[attr-defined]
    return length


async def _stored_head(store: Store, key: str) -> bytes:
    """The first `HEADER_SIZE` bytes of the blob's stored form (all of a shorter one). A
    chain reads them from the first tier that has the blob, filling nothing."""
    chunks = store.stream(key, HEADER_SIZE, stored=True)
    head = b""
    try:
        async for chunk in chunks:
            head += chunk
            if len(head) >= HEADER_SIZE:
                break
    finally:
        await chunks.aclose()  # type: ignore[attr-defined]
    return head[:HEADER_SIZE]


async def streamed_length(store: Store, key: str, meta: ObjectMeta, first: bytes) -> int | None:
    """The data's length for a whole read whose first decoded chunk is ``first``, told by the
    stored form's first bytes (a plain read, not a range, so that a chain counts no hit and
    fills nothing); None when it is unknown.

    Stored bytes without a frame are the data only if they start as the data does: an
    object kept with a ``Content-Encoding`` holds other bytes.
    """
    head = await _stored_head(store, key)
    frame = frame_of(head)
    if frame == "identity":
        return meta.size - HEADER_SIZE
    if frame != "none":
        return None
    common = min(len(head), len(first))
    if common == 0:
        return 0 if meta.size == 0 else None
    return meta.size if head[:common] == first[:common] else None


async def stored_plainly(store: Store, key: str) -> bool:
    """Whether the stored bytes of the blob carry no frame of this package: what a presigned
    URL hands out is then the blob (or, for an object kept with a ``Content-Encoding``, its
    encoded form with that header, which HTTP clients decode)."""
    return frame_of(await _stored_head(store, key)) == "none"
