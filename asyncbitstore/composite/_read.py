"""The read path: ``get`` (one fetch per key at a time, caches above the hit filled), and the
reads that fill nothing: ``get(stored=True)``, ``get_range``, ``get_ranges``, ``size`` and
``exists``."""

from __future__ import annotations

import functools
from collections.abc import Sequence

from .._core.data import check_range, slice_range
from .._core.ranges import check_ranges
from ..compression.store_io import stored_flag
from ..errors import NotFoundInStore
from ..meta import ObjectMeta
from ._ask import first_answer
from ._base import ChainBase
from ._fresh import Found
from ._generations import Since
from ._tier import Tier

__all__ = ["ReadPath"]


async def _get_stored(tier: Tier, key: str) -> bytes:
    return await tier.ask(key, functools.partial(tier.store.get, stored=True), key)


async def _size(tier: Tier, key: str) -> int:
    return await tier.ask(key, tier.store.size, key)


async def _head(tier: Tier, key: str) -> ObjectMeta:
    return await tier.ask(key, tier.store.head, key)


async def _exists(tier: Tier, key: str) -> bool:
    if await tier.ask(key, tier.store.exists, key):
        return True
    raise NotFoundInStore(tier.store, key)  # a "no", asked of the next tier like a miss


def _data(data: bytes, meta: ObjectMeta) -> bytes:
    return data


def _meta(data: bytes, meta: ObjectMeta) -> ObjectMeta:
    return meta


def _meta_size(data: bytes, meta: ObjectMeta) -> int:
    return meta.size


def _there(data: bytes, meta: ObjectMeta) -> bool:
    return True


class ReadPath(ChainBase):
    """``get``, ``get_range``, ``size`` and ``exists`` of a chain."""

    async def get(self, uri: str, *, stored: bool = False, raw: bool | None = None) -> bytes:
        """The blob from the first tier that has it (see the package docstring).

        With ``stored``, the first tier's stored form (no single flight, no fills).
        """
        stored = stored_flag(stored, raw)
        key = self._key(uri)
        if stored:
            return (await first_answer(self, key, self._readers(key), _get_stored))[1]
        if self.tracer is not None:
            return await self.tracer.get(self, key, self._get_key)
        if self._missing:
            self._check_negative(key)
        return await self._flight.run(key, self._fetch)

    async def _get_key(self, key: str) -> bytes:
        if self._missing:
            self._check_negative(key)
        return await self._flight.run(key, self._fetch)

    async def _fetch(self, key: str) -> bytes:
        since = self._writes.now()
        if self._records:
            return await self._fetch_recorded(key, since)
        tracer = self.tracer
        ask = Tier.get if tracer is None else tracer.tier_get
        tier, data = await first_answer(self, key, self._readers(key), ask, True)
        self._fill_from(tier, key, data, since)
        return data

    async def _fetch_recorded(self, key: str, since: Since) -> bytes:
        """``_fetch`` in a chain whose caches keep records: sources are read with their meta
        (one request where the backend can), which goes with the fills."""
        tracer = self.tracer
        found = Found()

        async def ask(tier: Tier, key: str) -> bytes:
            if tier.is_cache:
                return await (tier.get(key) if tracer is None else tracer.tier_get(tier, key))
            data, found.meta = await tier.get_with_meta(key)
            return data

        tier, data = await first_answer(self, key, self._readers(key), ask, True, _data, found)
        if not found.filled:
            self._fill_from(tier, key, data, since, meta=found.meta, also=found.stale)
        return data

    async def get_range(self, uri: str, start: int, end: int) -> bytes:
        """Bytes ``[start, end)`` from the first tier that has the blob.

        Counted as a hit (and its bytes) or a miss of each tier asked. When the answer came
        from a tier below the caches it fills, and the whole blob is at most
        ``fill_ranges_below`` bytes (asked of that tier's ``size``), the whole blob is fetched
        from it in the background and the caches filled, so later ranges are read from a cache.
        """
        key = self._key(uri)
        check_range(self, key, start, end)
        since = self._writes.now()

        async def ask(tier: Tier, key: str) -> bytes:
            try:
                data = await tier.ask(key, tier.store.get_range, key, start, end)
            except NotFoundInStore:
                tier.stats.misses += 1
                raise
            tier.stats.hits += 1
            tier.stats.bytes += len(data)
            return data

        def part(data: bytes, meta: ObjectMeta) -> bytes:
            return slice_range(self, key, data, start, end)

        tier, data = await first_answer(self, key, self._readers(key), ask, False, part)
        self._fill_after_range(tier, key, since)
        return data

    async def get_ranges(self, uri: str, ranges: Sequence[tuple[int, int]]) -> list[bytes]:
        """Bytes of each range of ``ranges``, all from the first tier that has the blob (read
        by that tier's `get_ranges`, which merges nearby ranges), counted and followed by a
        fill as `get_range` is."""
        key = self._key(uri)
        pairs = check_ranges(self, key, ranges)
        since = self._writes.now()

        async def ask(tier: Tier, key: str) -> list[bytes]:
            try:
                parts = await tier.ask(key, tier.store.get_ranges, key, pairs)
            except NotFoundInStore:
                tier.stats.misses += 1
                raise
            tier.stats.hits += 1
            tier.stats.bytes += sum(map(len, parts))
            return parts

        def cut(data: bytes, meta: ObjectMeta) -> list[bytes]:
            return [slice_range(self, key, data, start, end) for start, end in pairs]

        tier, parts = await first_answer(self, key, self._readers(key), ask, False, cut)
        self._fill_after_range(tier, key, since)
        return parts

    async def size(self, uri: str) -> int:
        """The blob's size from the first tier that has it."""
        key = self._key(uri)
        return (await first_answer(self, key, self._readers(key), _size, False, _meta_size))[1]

    async def head(self, uri: str) -> ObjectMeta:
        """The blob's meta from the first tier that has it (a tier that fails is skipped, and
        an outage is never reported as a missing blob, as for ``size``)."""
        key = self._key(uri)
        return (await first_answer(self, key, self._readers(key), _head, False, _meta))[1]

    async def sign(self, uri: str, *, method: str = "GET", expires_in: int = 3600) -> str:
        """A presigned URL of the copy a read would find: the first tier that has the blob
        (asked as for ``head``) signs it.

        Only reads (``GET``, ``HEAD``) are signed: a write has no one copy to point at.

        Raises:
            NotImplementedError: that tier cannot sign URLs (a local cache, an API source), or
                ``method`` is not a read.
            NotFoundInStore: no tier has the blob.
        """
        if not isinstance(method, str) or method.upper() not in ("GET", "HEAD"):
            raise NotImplementedError(f"{self.name} signs reads only (GET, HEAD), not {method!r}")
        key = self._key(uri)
        tier, _ = await first_answer(self, key, self._readers(key), _head, False, _meta)
        return await tier.store.sign(key, method=method, expires_in=expires_in)

    async def exists(self, uri: str) -> bool:
        """Whether any tier has the blob; API sources are asked only through ``api_exists``.

        Raises:
            StoreNotAvailable: no tier said yes and at least one failed.
        """
        key = self._key(uri)
        cheap = [tier for tier in self._readers(key) if tier.store.exists_is_cheap]
        try:
            await first_answer(self, key, cheap, _exists, False, _there)
        except NotFoundInStore:
            return False
        return True
