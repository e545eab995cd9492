"""Where a named cache keeps what it knows of each copy's source: a sidecar record.

Beside the copy of key ``k``, the cache keeps a small JSON record (a
[CopyRecord][asyncbitstore.freshness.CopyRecord]: the source's meta and the fetch time) under the
relative key ``~records/k``, in the same raw store and through the same layout as the copies.
So records work on every raw store a cache accepts (a folder, a bounded folder, memory, Redis,
SQLite, ...), survive a restart wherever the copies do, and count in the same ``max_bytes``.

No copy can take a record's place: a `MirrorCache` key always starts with a URI scheme, which
``~records`` is not; a `PrefixCache` refuses keys whose first segment is ``~records`` (its
`PrefixStore` source does not). Layouts map distinct keys to distinct raw URIs.

The record is written after the copy and removed after it, so a crash between the two leaves a
copy without a record (treated as stale when a ``ttl`` is set, trusted when not) or a record
without a copy (ignored). A copy put directly, with no source meta, has its old record removed.
A bounded store may evict a record before its copy: the copy then counts as unrecorded.

A cache object remembers the records it last read or wrote (at most `KNOWN_RECORDS`), so that a
hit costs no second read. Another process sharing the store is seen through that memory only
in the safe direction for what it renews or refills (the copy looks older, and is checked or
fetched again); a copy it puts directly keeps, here, the record it replaced until this process
writes the key or restarts, so it is trusted for at most the rest of that record's ``ttl``.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from .._core.checks import non_negative_number

__all__ = ["KNOWN_RECORDS", "RECORDS", "FreshnessOptions", "is_record_key", "record_key"]

#: The first segment of every record's key.
RECORDS = "~records"

#: The most records a cache object remembers in memory.
KNOWN_RECORDS = 65_536


def record_key(key: str) -> str:
    """The relative key of the record kept for the copy at relative key ``key``."""
    return f"{RECORDS}/{key}"


def is_record_key(key: str) -> bool:
    """Whether relative key ``key`` is a record's (or the folder of records)."""
    return key == RECORDS or key.startswith(RECORDS + "/")


class FreshnessOptions:
    """A named cache's freshness options, checked.

    Args:
        ttl: seconds a copy stays fresh after it was fetched; None: until the chain writes or
            deletes the key.
        revalidate: a stale copy is checked at the source (no body moved when unchanged)
            rather than fetched again.
        serve_stale: a stale copy is served while every source that could answer is down.
        clock: the wall-clock time in seconds since the epoch (``time.time`` by default).

    Raises:
        ValueError: ``ttl`` is negative or not a number.
        TypeError: ``revalidate`` or ``serve_stale`` is not a bool, or ``clock`` not callable.
    """

    __slots__ = ("clock", "revalidate", "serve_stale", "ttl")

    def __init__(
        self,
        ttl: float | None,
        revalidate: bool,
        serve_stale: bool,
        clock: Callable[[], float] | None,
    ) -> None:
        self.ttl = non_negative_number("ttl", ttl, allow_none=True)
        for name, value in (("revalidate", revalidate), ("serve_stale", serve_stale)):
            if not isinstance(value, bool):
                raise TypeError(f"{name} must be True or False, not {value!r}")
        if clock is not None and not callable(clock):
            raise TypeError(f"clock must be a function giving the time, not {clock!r}")
        self.revalidate = revalidate
        self.serve_stale = serve_stale
        self.clock = clock or time.time
