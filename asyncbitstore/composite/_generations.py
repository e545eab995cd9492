"""Write generations: whether a chain wrote or deleted a key since a read of it began.

A read that fills caches captures ``since = generations.now()`` before it asks any tier; a fill
it starts later asks ``current(key, since)`` before it writes and again after, and gives up (and
removes its copy) when the answer is no. A write of the key marks it as being written while it
runs and records the sequence number at its end, so any read that began before a write
returned is outdated, whatever it read.

Memory stays bounded: an entry is kept only while the key has a read or fill in flight (the
chain's ``busy(key)``); entries of keys that became idle are swept whenever the table has doubled
since the last sweep, and it never holds more than ``max_entries`` keys. When an entry must go
while its key is still busy, every read that began before that write is treated as outdated
(``floor``), which at worst skips a fill.
"""

from __future__ import annotations

import inspect
import weakref
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["Since", "WriteGenerations"]


@dataclass
class _Written:
    writing: int = 0  # writes of the key under way
    ended: int = 0  # the sequence number when the last one ended


@dataclass(frozen=True)
class Since:
    """The moment a read began, to ask later whether the chain wrote a key after it."""

    writes: WriteGenerations
    seq: int

    def current(self, key: str) -> bool:
        """Whether no write of ``key`` is under way or has ended since this moment."""
        return self.writes.current(key, self.seq)


class WriteGenerations:
    """Per-key write sequence numbers, kept only while they can matter.

    Args:
        busy: tells whether a read or fill of a key is in flight (its entry must stay); a
            bound method is held weakly, so background work holding this table does not keep
            its chain alive.
        max_entries: the most keys remembered at once.
    """

    def __init__(self, busy: Callable[[str], bool], max_entries: int = 10_000) -> None:
        self._busy: Callable[[], Callable[[str], bool] | None]
        if inspect.ismethod(busy):
            self._busy = weakref.WeakMethod(busy)
        else:
            self._busy = lambda: busy
        self.max_entries = max_entries
        self._swept_at = 0  # the table's size after the last sweep
        self._seq = 0
        self._floor = 0  # reads that began before this are outdated for every key
        self._keys: dict[str, _Written] = {}  # oldest write end first

    def __len__(self) -> int:
        return len(self._keys)

    def now(self) -> Since:
        """What a read captures when it begins."""
        return Since(self, self._seq)

    def busy(self, key: str) -> bool:
        """Whether a read or fill of ``key`` is in flight (False once the chain is gone)."""
        busy = self._busy()
        return busy is not None and busy(key)

    def begin(self, key: str) -> None:
        """A put or delete of ``key`` starts."""
        self._seq += 1
        entry = self._keys.get(key)
        if entry is None:
            entry = self._keys[key] = _Written()
        entry.writing += 1

    def end(self, key: str) -> None:
        """The put or delete of ``key`` started by `begin` has returned (or failed)."""
        self._seq += 1
        entry = self._keys.pop(key)
        entry.writing -= 1
        entry.ended = self._seq
        if entry.writing == 0 and not self.busy(key):
            return  # nothing in flight can have begun before this write: forget the key
        self._keys[key] = entry  # moved to the end: the table stays ordered by `ended`
        self._trim()

    def current(self, key: str, since: int) -> bool:
        """Whether no write of ``key`` is under way or has ended since ``since`` was taken."""
        if since < self._floor:
            return False
        entry = self._keys.get(key)
        return entry is None or (entry.writing == 0 and entry.ended <= since)

    def _trim(self) -> None:
        if len(self._keys) > max(64, 2 * self._swept_at):
            for key in [k for k, e in self._keys.items() if e.writing == 0 and not self.busy(k)]:
                del self._keys[key]
            self._swept_at = len(self._keys)
        if len(self._keys) > self.max_entries:  # busy keys beyond the bound: the oldest go
            for key, entry in list(self._keys.items()):
                if len(self._keys) <= self.max_entries // 2:
                    break
                if entry.writing == 0:
                    del self._keys[key]
                    self._floor = max(self._floor, entry.ended)
            self._swept_at = len(self._keys)
