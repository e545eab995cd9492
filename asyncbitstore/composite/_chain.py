"""``Composite``: the read, stream and write paths put together, with ``from_config``, the
chain's lifecycle (``flush``, ``aclose``), its figures (``stats``) and ``local_path``."""

from __future__ import annotations

import contextlib
import copy
from pathlib import Path
from typing import Any

from typing_extensions import Self

from ..stats import ChainStats, TierStats
from ._list import ListPath
from ._local import chain_local_path
from ._read import ReadPath
from ._stream import StreamPath
from ._tier import Tier
from ._write import WritePath

__all__ = ["Composite"]


class Composite(ListPath, ReadPath, StreamPath, WritePath):
    """An ordered chain of tiers that acts as one store.

    Args:
        max_pending_fills: the most background writes pending at once; fills beyond it are
            dropped (and counted), replication of ``put`` waits for a free slot instead.
        negative_ttl: seconds during which a key that no tier had (every tier answered "not
            there") is answered as missing without asking the tiers again; outages are never
            remembered. ``put`` of the key forgets it at once.
        max_negative_entries: the most keys remembered as missing (oldest forgotten first).
        circuit_threshold: failures in a row after which a tier is skipped for
            ``circuit_cooldown`` seconds, then probed with one call (None: never skip).
        circuit_cooldown: seconds a tripped tier is skipped.
        name: the chain's name in messages and stats (default ``"Composite"``).
        fill_ranges_below: after a ``get_range`` answered below the caches, the whole blob is
            fetched in the background to fill them when it is at most this many bytes
            (default 64 MiB; 0: never).
        operation_timeout: seconds a read (``get``, ``get_range``, ``size``, ``head``,
            ``exists``, opening a ``stream``) may take over all the tiers it asks, retries
            included; beyond it the read raises `StoreTimeout` (None: no limit beyond each
            tier's own ``timeout``).
    """

    @classmethod
    def from_config(cls, source: Any = None) -> Self:
        """The chain a TOML file (path) or mapping describes; see ``asyncbitstore.config``."""
        from ..config import build_chain  # the one import from above the chain: see config

        return build_chain(source, cls=cls)

    def local_path(self, uri: str) -> contextlib.AbstractAsyncContextManager[Path]:
        """The blob as a local file: its file in the first local file tier that has it.

        When no local file tier has it, the blob is read through the chain (filling the caches)
        and pinned in the first local cache; a temporary copy serves when that is not possible
        (no local cache, the blob stored compressed, or evicted again at once).

        Raises:
            NotFoundInStore: no tier has the blob.
        """
        return chain_local_path(self, uri)

    async def flush(self) -> None:
        """Wait for every pending background fill and replication."""
        await self._background.flush()

    async def aclose(self) -> None:
        """Flush pending work, then close every tier's store."""
        await self.flush()
        closed: set[int] = set()
        for tier in self._tiers:
            if id(tier.store) not in closed:
                closed.add(id(tier.store))
                await tier.store.aclose()

    @property
    def stats(self) -> ChainStats:
        """A snapshot of the per-tier figures and background-work counts."""
        counters = self._background.counters
        return ChainStats(
            tiers=[_tier_snapshot(tier) for tier in self._tiers],
            fills_done=counters.done,
            fills_failed=counters.failed,
            fills_dropped=counters.dropped,
            fills_declined=counters.declined,
            fills_pending=self._background.pending,
            single_flight_joins=self._flight.joined,
            negative_hits=self.negative_hits,
            writes_skipped=self.writes_skipped,
        )

    @property
    def chain_stats(self) -> ChainStats:
        """The same as ``stats``."""
        return self.stats

    @property
    def verifies_keys(self) -> bool:
        """Whether any tier checks that each blob's digest is its key."""
        return any(tier.store.verifies_keys for tier in self._tiers)

    def reset_stats(self) -> None:
        """Zero every figure."""
        for tier in self._tiers:
            tier.stats = TierStats(tier.name)
        self._background.counters = type(self._background.counters)()
        self._flight.joined = 0
        self.negative_hits = 0
        self.writes_skipped = 0


def _tier_snapshot(tier: Tier) -> TierStats:
    snapshot = copy.deepcopy(tier.stats)
    if tier.breaker is not None:
        snapshot.circuit = tier.breaker.state
    return snapshot
