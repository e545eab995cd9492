"""The index of a bounded cache folder: sizes and recency of its blobs, shared by processes.

It is a small SQLite database beside the blobs (``<folder>/.abs-index.sqlite``, in WAL mode),
so a process opening the folder knows its usage at once, without reading or even listing the
blobs. Every change runs in one ``BEGIN IMMEDIATE`` transaction, which serializes the processes
sharing the folder: a write records its blob, and evicts least-recently used ones until the
folder is back under its bound, atomically with respect to the other processes.

A blob is never evicted while a stream is reading it: readers hold a shared ``flock`` on the
open file, and the evictor only unlinks a file whose exclusive lock it gets without waiting
(skipping it otherwise). Whole-blob reads take no lock: they complete in one call, and an
unlinked file stays readable through a descriptor opened before.

Everything here blocks; the cache runs it on worker threads. Hosts must share one kernel (not
NFS), as SQLite's WAL mode and ``flock`` require.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Callable
from typing import TypeVar

from . import _ops as ops
from ._layout import blob_path, scan, try_unlink

__all__ = ["INDEX_NAME", "CacheIndex", "NoRoom", "UseLog"]

T = TypeVar("T")

INDEX_NAME = ".abs-index.sqlite"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS blobs (name TEXT PRIMARY KEY, size INTEGER NOT NULL,
                                  used REAL NOT NULL) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS blobs_by_use ON blobs (used);
CREATE TABLE IF NOT EXISTS usage (id INTEGER PRIMARY KEY CHECK (id = 0),
                                  bytes INTEGER NOT NULL, blobs INTEGER NOT NULL);
"""


class NoRoom(Exception):
    """The blob does not fit and the cache was told not to evict."""


class UseLog:
    """Uses of blobs, collected in memory until they are written to the index in one go.

    A blob used within ``resolution`` seconds of its last use known to this process is not
    logged again, so a hot set of blobs costs no index writes.
    """

    def __init__(self, resolution: float, flush_every: int, flush_interval: float) -> None:
        self.resolution = resolution
        self.flush_every = flush_every
        self.flush_interval = flush_interval
        self.pending: dict[str, float] = {}
        self._known: dict[str, float] = {}
        self._last_take = 0.0

    def add(self, name: str) -> float | None:
        """Log a use; returns the time when the pending uses are due to be written."""
        now = time.time()
        if now - self._known.get(name, 0.0) < self.resolution:
            return None
        self.remember(name, now)
        self.pending[name] = now
        due = len(self.pending) >= self.flush_every or now - self._last_take > self.flush_interval
        return now if due else None

    def remember(self, name: str, when: float) -> None:
        """Note that the index knows a use of ``name`` at ``when`` (or soon will)."""
        if len(self._known) >= 1 << 20:  # bounds the memory; forgetting only costs writes
            self._known = {}
        self._known[name] = when

    def take(self, now: float | None = None) -> list[tuple[float, str]]:
        """The pending ``(time, name)`` uses, which are no longer pending."""
        uses = [(when, name) for name, when in self.pending.items()]
        self.pending = {}
        self._last_take = time.time() if now is None else now
        return uses


class CacheIndex:
    """Sizes and last use of the blobs in one folder, with LRU eviction down to ``max_bytes``.

    One SQLite connection per process (re-opened after a fork), used by one thread at a time.
    """

    def __init__(self, folder: str, max_bytes: int) -> None:
        self.folder = folder
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._lock_pid = os.getpid()
        self._db: sqlite3.Connection | None = None
        self._pid = 0

    def _locked(self) -> threading.Lock:
        if self._lock_pid != os.getpid():  # forked: the parent's lock may have been held
            self._lock, self._lock_pid = threading.Lock(), os.getpid()
        return self._lock

    def _connect(self) -> sqlite3.Connection:
        if self._db is not None and self._pid == os.getpid():
            return self._db
        os.makedirs(self.folder, exist_ok=True)
        db = sqlite3.connect(
            f"{self.folder}/{INDEX_NAME}", timeout=60, isolation_level=None, check_same_thread=False
        )
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")  # the index can be rebuilt; no fsync per write
        db.executescript(_SCHEMA)
        db.execute("BEGIN IMMEDIATE")
        try:
            if db.execute("SELECT 1 FROM usage").fetchone() is None:
                self._rebuild(db)
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            db.close()
            raise
        self._db, self._pid = db, os.getpid()
        return db

    def _rebuild(self, db: sqlite3.Connection) -> None:
        """Index the blobs already in the folder (a new index over an old folder)."""
        found = scan(self.folder)
        db.execute("DELETE FROM blobs")
        db.executemany("INSERT OR REPLACE INTO blobs VALUES (?, ?, ?)", found)
        total = sum(size for _, size, _ in found)
        db.execute("INSERT OR REPLACE INTO usage VALUES (0, ?, ?)", (total, len(found)))

    def _transaction(self, work: Callable[[sqlite3.Connection], T]) -> T:
        with self._locked():
            db = self._connect()
            db.execute("BEGIN IMMEDIATE")
            try:
                result = work(db)
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
            return result

    def usage(self) -> tuple[int, int]:
        """``(bytes, blobs)`` in the folder now."""
        with self._locked():
            row = self._connect().execute("SELECT bytes, blobs FROM usage").fetchone()
        return int(row[0]), int(row[1])

    def touch(self, uses: list[tuple[float, str]]) -> None:
        """Record the ``(time, name)`` uses collected since the last call."""
        self._transaction(lambda db: _touch(db, uses))

    def record(
        self, name: str, size: int, now: float, uses: list[tuple[float, str]], evict: bool
    ) -> tuple[int, int]:
        """Add (or replace) a blob just written; evict to fit. Returns ``(evicted, bytes)``.

        Raises:
            NoRoom: it does not fit and ``evict`` is false (the caller removes the file).
        """
        room = True

        def work(db: sqlite3.Connection) -> tuple[int, int]:
            nonlocal room
            _touch(db, uses)
            total, count = db.execute("SELECT bytes, blobs FROM usage").fetchone()
            row = db.execute("SELECT size FROM blobs WHERE name = ?", (name,)).fetchone()
            if row is not None:
                total, count = total - row[0], count - 1
                db.execute("DELETE FROM blobs WHERE name = ?", (name,))
            room = evict or total + size <= self.max_bytes
            # Another process may have evicted or deleted it since it was written: count only
            # what is there, so the index never drifts from the folder.
            if room and os.path.isfile(blob_path(self.folder, name)):
                db.execute("INSERT INTO blobs VALUES (?, ?, ?)", (name, size, now))
                total, count = total + size, count + 1
            evicted, total = self._evict(db, total, name) if total > self.max_bytes else (0, total)
            db.execute("UPDATE usage SET bytes = ?, blobs = ?", (total, count - evicted))
            return evicted, total

        outcome = self._transaction(work)
        if not room:
            raise NoRoom(f"{outcome[1]} of {self.max_bytes} bytes in use")
        return outcome

    def _evict(self, db: sqlite3.Connection, total: int, keep: str) -> tuple[int, int]:
        """Remove least-recently used blobs (not ``keep``) until ``total`` fits."""
        evicted = skipped = 0
        while total > self.max_bytes:
            rows = db.execute(
                "SELECT name, size FROM blobs WHERE name != ? ORDER BY used LIMIT 64 OFFSET ?",
                (keep, skipped),
            ).fetchall()
            if not rows:
                break  # everything else is being read: the bound is restored by a later write
            for name, size in rows:
                if total <= self.max_bytes:
                    break
                if not try_unlink(blob_path(self.folder, name)):
                    skipped += 1
                    continue
                db.execute("DELETE FROM blobs WHERE name = ?", (name,))
                total -= size
                evicted += 1
        return evicted, total

    def remove(self, name: str) -> None:
        """Delete a blob and its entry."""

        def work(db: sqlite3.Connection) -> None:
            ops.unlink(blob_path(self.folder, name))
            row = db.execute("SELECT size FROM blobs WHERE name = ?", (name,)).fetchone()
            if row is not None:
                db.execute("DELETE FROM blobs WHERE name = ?", (name,))
                db.execute("UPDATE usage SET bytes = bytes - ?, blobs = blobs - 1", (row[0],))

        self._transaction(work)

    def close(self) -> None:
        """Close this process's connection."""
        with self._locked():
            if self._db is not None and self._pid == os.getpid():
                self._db.close()
            self._db = None


def _touch(db: sqlite3.Connection, uses: list[tuple[float, str]]) -> None:
    if uses:
        db.executemany("UPDATE blobs SET used = max(used, ?) WHERE name = ?", uses)
