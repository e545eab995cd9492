"""``Composite.list``: the keys of the chain's sources, merged in sorted order, each once.

Caches are left out: they hold copies of some keys, not the authority on which keys exist.
Each source that can list is read as a stream, and the streams are merged (a k-way merge on a
heap), so memory holds one pending key per source, not the listing.

The merge needs each source's listing sorted. The stores of this package list in sorted order,
except Redis (``SCAN`` order); so do the named and keyed stores over them, which only cut a
common prefix off. A source whose innermost store is a Redis store or a store from elsewhere (a
user's ``api`` store, a wrapper with stores of its own) is read whole first and sorted, up to
`MAX_UNSORTED` keys. A source that was taken for sorted but lists a key before a smaller one
fails the listing rather than giving a wrong merge.

A source that cannot list (``NotImplementedError``) or does not list ``prefix`` (``InvalidURI``,
as a file source asked for ``s3://`` URIs) is left out. Any other failure of a source, at any
point, raises `StoreNotAvailable`: a listing that stops early never looks complete.
"""

from __future__ import annotations

import builtins
import contextlib
import heapq
from collections.abc import AsyncIterator, Iterator
from typing import Any

from ..errors import InvalidURI, StoreNotAvailable
from ..store import Store
from ._base import ChainBase
from ._names import _backing
from ._tier import Tier

__all__ = ["MAX_UNSORTED", "ListPath"]

#: The most keys read into memory from a source that does not list in sorted order.
MAX_UNSORTED = 1_000_000

#: Raw store classes of this package whose listings are not sorted.
_UNSORTED_RAW = frozenset({"RedisRaw"})


def lists_sorted(store: Store) -> bool:
    """Whether ``store`` lists in sorted order: its innermost store is one of this package's
    raw stores that sort (wrappers and key layouts over it keep the order)."""
    inner = store
    while (backing := _backing(inner)) is not None:
        inner = backing
    cls = type(inner)
    return cls.__module__.startswith("asyncbitstore.raw.") and cls.__name__ not in _UNSORTED_RAW


class _Listing:
    """One source's listing, read a key at a time within the tier's time limit."""

    def __init__(self, chain: ChainBase, tier: Tier, prefix: str, flat: bool) -> None:
        self.chain = chain
        self.tier = tier
        self.prefix = prefix
        self.flat = flat
        self.keys: AsyncIterator[str] | None = None
        self.sorted = lists_sorted(tier.store)
        self.last: str | None = None
        self._buffered: Iterator[str] | None = None

    def _failure(self, exc: BaseException) -> StoreNotAvailable:
        return StoreNotAvailable(
            self.chain,
            f"tier {self.tier.name} failed while listing {self.prefix!r} ({exc}); "
            "the listing is incomplete",
        )

    async def _read(self, first: bool = False) -> str | None:
        try:
            if self.keys is None:
                self.keys = self.tier.store.list(self.prefix, self.flat)
            key: str | None = await self.tier.call(anext, self.keys, None)
        except (NotImplementedError, InvalidURI) as exc:
            if first:
                raise
            raise self._failure(exc) from exc
        except Exception as exc:
            raise self._failure(exc) from exc
        return key

    async def first(self) -> str | None:
        """The first key; ``NotImplementedError`` or ``InvalidURI`` when the source does not
        list ``prefix`` (raised as they are, so that the chain can leave it out)."""
        key = await self._read(first=True)
        if self.sorted or key is None:
            return self._checked(key)
        everything = {key}
        while (key := await self._read()) is not None:
            everything.add(key)
            if len(everything) > MAX_UNSORTED:
                raise StoreNotAvailable(
                    self.chain,
                    f"tier {self.tier.name} lists in no order and has more than "
                    f"{MAX_UNSORTED} keys under {self.prefix!r}; list a narrower prefix",
                )
        self._buffered = iter(sorted(everything))
        return next(self._buffered)

    async def next(self) -> str | None:
        """The next key in sorted order, or None at the end."""
        if self._buffered is not None:
            return next(self._buffered, None)
        return self._checked(await self._read())

    def _checked(self, key: str | None) -> str | None:
        if key is not None and self.last is not None and key < self.last:
            raise StoreNotAvailable(
                self.chain,
                f"tier {self.tier.name} listed {key!r} after {self.last!r}, out of order; "
                "the listing cannot be merged",
            )
        self.last = key
        return key

    async def aclose(self) -> None:
        closer: Any = getattr(self.keys, "aclose", None)
        if closer is not None:
            with contextlib.suppress(Exception):
                await closer()


class ListPath(ChainBase):
    """The chain's ``list``: its sources' keys, merged."""

    async def list(self, prefix: str = "", flat: bool = False) -> AsyncIterator[str]:
        """The keys under ``prefix`` in the chain's sources, sorted, each once, streamed.

        Caches are not listed (they are not authoritative). Sources that cannot list, or that
        hold no URIs under ``prefix`` (a plain chain's sources of other schemes), are left out.
        In a keyed chain the keys are the digests.

        Args:
            prefix: the keys listed start with it.
            flat: one level instead: keys with no further ``/`` after ``prefix``, and the
                sub-prefixes one level down (ending in ``/``).

        Raises:
            StoreNotAvailable: a source failed (the keys yielded so far are not all of them).
            NotImplementedError: no source can list.
            InvalidURI: no source lists ``prefix``.
        """
        if not isinstance(prefix, str):
            raise TypeError(f"prefix must be a str, not {type(prefix).__name__}")
        opened: builtins.list[_Listing] = []
        try:
            heap = await self._open_listings(prefix, flat, opened)
            last: str | None = None
            while heap:
                key, index = heap[0]
                if key != last:
                    yield key
                    last = key
                following = await opened[index].next()
                if following is None:
                    heapq.heappop(heap)
                else:
                    heapq.heapreplace(heap, (following, index))
        finally:
            for listing in opened:
                await listing.aclose()

    async def _open_listings(
        self, prefix: str, flat: bool, opened: builtins.list[_Listing]
    ) -> builtins.list[tuple[str, int]]:
        """Start every source's listing (added to ``opened``); the heap of their first keys."""
        heap: builtins.list[tuple[str, int]] = []
        refused: builtins.list[Exception] = []
        listed = False
        for tier in self._tiers:
            if tier.is_cache:
                continue
            listing = _Listing(self, tier, prefix, flat)
            opened.append(listing)
            try:
                key = await listing.first()
            except (NotImplementedError, InvalidURI) as exc:
                refused.append(exc)
                continue
            listed = True
            if key is not None:
                heap.append((key, len(opened) - 1))
        if not listed:
            if any(isinstance(exc, InvalidURI) for exc in refused):
                raise InvalidURI(self, prefix, "a prefix that one of the chain's sources lists")
            raise NotImplementedError(f"{self.name}: none of its sources can list")
        heapq.heapify(heap)
        return heap
