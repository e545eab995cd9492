"""Several byte ranges of one blob in few requests: `read_ranges` (what `get_ranges` runs).

The ranges asked are checked one by one (an error names the pair at fault), then merged where
they overlap, touch or lie at most `RANGE_GAP` bytes apart: reading a small gap costs less than
another request (obstore's coalescing does the same, with the same 1 MiB). The merged ranges
are read in parallel and each range asked is cut from the one that holds it.
"""

from __future__ import annotations

import bisect
from collections.abc import Awaitable, Callable, Iterable

from ..errors import InvalidRange
from .bulk import map_list
from .data import check_range

__all__ = ["DEFAULT_RANGES_CONCURRENCY", "RANGE_GAP", "check_ranges", "coalesce", "read_ranges"]

#: Ranges further apart than this are read with separate requests.
RANGE_GAP = 1 << 20
#: Requests one `get_ranges` call keeps in flight on a store without a setting of its own.
DEFAULT_RANGES_CONCURRENCY = 8

#: Reads bytes ``[start, end)`` of the blob, as `get_range` does.
Read = Callable[[int, int], Awaitable[bytes]]


def check_ranges(store: object, uri: str, ranges: object) -> list[tuple[int, int]]:
    """``ranges`` as a list of ``(start, end)`` pairs, each checked as `get_range` checks it.

    Raises:
        TypeError: ``ranges`` is not an iterable of pairs (a str or bytes is refused).
        InvalidRange: a pair that is not two ints with ``0 <= start <= end``, named by its
            position.
    """
    if isinstance(ranges, (str, bytes, bytearray)) or not isinstance(ranges, Iterable):
        raise TypeError(
            f"ranges must be a sequence of (start, end) pairs, not {type(ranges).__name__}"
        )
    pairs: list[tuple[int, int]] = []
    for index, pair in enumerate(ranges):
        label = f"ranges[{index}]: "
        if (
            isinstance(pair, (str, bytes))
            or not isinstance(pair, Iterable)
            or len(items := tuple(pair)) != 2
        ):
            raise InvalidRange(store, uri, -1, -1, f"{label}{pair!r} is no (start, end) pair")
        check_range(store, uri, items[0], items[1], label=label)
        pairs.append((items[0], items[1]))
    return pairs


def coalesce(pairs: Iterable[tuple[int, int]], gap: int = RANGE_GAP) -> list[tuple[int, int]]:
    """The fewest ranges, in order, covering ``pairs``: ranges overlapping, touching or at most
    ``gap`` bytes apart become one."""
    merged: list[tuple[int, int]] = []
    for start, end in sorted(set(pairs)):
        if merged and start <= merged[-1][1] + gap:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


async def read_ranges(
    store: object,
    uri: str,
    ranges: object,
    read: Read,
    *,
    concurrency: int,
    gap: int = RANGE_GAP,
) -> list[bytes]:
    """The bytes of each range of ``ranges``, in order, read with ``read`` over the merged
    ranges, ``concurrency`` at a time.

    Each result is what `get_range` gives for it: shorter where the blob ends sooner, and
    `InvalidRange` for one that starts past the end.
    """
    pairs = check_ranges(store, uri, ranges)
    merged = coalesce(pairs, gap)
    found = await map_list(lambda span: read(*span), merged, concurrency=concurrency)
    starts = [start for start, _ in merged]
    results: list[bytes] = []
    for start, end in pairs:
        at = bisect.bisect_right(starts, start) - 1
        base, data = merged[at][0], found[at]
        if merged[at] == (start, end):
            results.append(data)
            continue
        if start - base > len(data):
            size = base + len(data)
            raise InvalidRange(store, uri, start, end, f"the blob has only {size} bytes")
        results.append(data[start - base : end - base])
    return results
