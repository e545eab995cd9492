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

A write is counted before its file is renamed into place: one transaction adds the blob (and
evicts others to make room) and notes the rename to come in the ``pending`` table, with the
temporary file's name and the writer's process id; the writer's next transaction clears the
note once the file is in place (so a write still costs one transaction). A writer killed in
between leaves its note, and the next process to open the index settles every note of a
process that is gone, from what is on disk: the temporary file is removed and the blob is
counted at its real size, or not at all if it is not there. So a kill at any point leaves the
folder and the index agreeing, without a scan of the folder.

Everything here blocks; the cache runs it on worker threads. Hosts must share one kernel (not
NFS), as SQLite's WAL mode and ``flock`` require.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import stat
import threading
import time
from collections.abc import Callable
from typing import TypeVar

from . import _ops as ops
from ._layout import blob_path, scan, try_unlink

__all__ = ["INDEX_NAME", "CacheIndex", "NoRoom", "UseLog"]

T = TypeVar("T")

INDEX_NAME = ".abs-index.sqlite"
_PLACED_BATCH = 256  # placed blobs whose notes are cleared in one transaction at the latest
_SCHEMA = """
CREATE TABLE IF NOT EXISTS blobs (name TEXT PRIMARY KEY, size INTEGER NOT NULL,
                                  used REAL NOT NULL) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS blobs_by_use ON blobs (used);
CREATE TABLE IF NOT EXISTS usage (id INTEGER PRIMARY KEY CHECK (id = 0),
                                  bytes INTEGER NOT NULL, blobs INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS pending (name TEXT PRIMARY KEY, temp TEXT NOT NULL,
                                    pid INTEGER NOT NULL) WITHOUT ROWID;
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
    File calls go through ``fs`` (by default confined to ``folder``), so no symlink planted in
    the folder leads them outside.
    """

    def __init__(self, folder: str, max_bytes: int, fs: ops.Folder | None = None) -> None:
        self.folder = folder
        self.max_bytes = max_bytes
        self.fs = ops.Folder(folder) if fs is None else fs
        self._lock = threading.Lock()
        self._lock_pid = os.getpid()
        self._db: sqlite3.Connection | None = None
        self._pid = 0
        self._placed: list[str] = []  # blobs renamed into place whose notes are not cleared
        self._settled = 0

    def _locked(self) -> threading.Lock:
        if self._lock_pid != os.getpid():  # forked: the parent's lock may have been held
            self._lock, self._lock_pid = threading.Lock(), os.getpid()
        return self._lock

    def _connect(self) -> sqlite3.Connection:
        if self._db is not None and self._pid == os.getpid():
            return self._db
        os.close(self.fs.open_dir(self.folder, make=True))
        for suffix in ("", "-wal", "-shm", "-journal"):  # SQLite would follow a planted link
            with contextlib.suppress(FileNotFoundError):
                self.fs.status(f"{self.folder}/{INDEX_NAME}{suffix}")
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
            else:
                self._settle_orphans(db)
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            db.close()
            raise
        self._db, self._pid = db, os.getpid()
        return db

    def _rebuild(self, db: sqlite3.Connection) -> None:
        """Index the blobs already in the folder (a new index over an old folder)."""
        found = scan(self.folder, fs=self.fs)
        db.execute("DELETE FROM pending")  # what they were writing is on disk or not: scanned
        db.execute("DELETE FROM blobs")
        db.executemany("INSERT OR REPLACE INTO blobs VALUES (?, ?, ?)", found)
        total = sum(size for _, size, _ in found)
        db.execute("INSERT OR REPLACE INTO usage VALUES (0, ?, ?)", (total, len(found)))

    def _transaction(self, work: Callable[[sqlite3.Connection], T]) -> T:
        with self._locked():
            db = self._connect()
            db.execute("BEGIN IMMEDIATE")
            try:
                self._settle_placed(db)
                result = work(db)
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
            del self._placed[: self._settled]
            return result

    def usage(self) -> tuple[int, int]:
        """``(bytes, blobs)`` in the folder now."""
        with self._locked():
            row = self._connect().execute("SELECT bytes, blobs FROM usage").fetchone()
        return int(row[0]), int(row[1])

    def touch(self, uses: list[tuple[float, str]]) -> None:
        """Record the ``(time, name)`` uses collected since the last call."""
        self._transaction(lambda db: _touch(db, uses))

    def intend(
        self,
        name: str,
        size: int,
        now: float,
        uses: list[tuple[float, str]],
        evict: bool,
        *,
        temp: str,
    ) -> tuple[int, int]:
        """Count a blob about to be renamed into place from ``temp`` (replacing any older
        one), evicting others to fit, and note the rename. Returns ``(evicted, bytes)``.

        Raises:
            NoRoom: it does not fit and ``evict`` is false (nothing is changed; the caller
                removes the temporary file).
        """

        def work(db: sqlite3.Connection) -> tuple[int, int]:
            _touch(db, uses)
            total, count = db.execute("SELECT bytes, blobs FROM usage").fetchone()
            row = db.execute("SELECT size FROM blobs WHERE name = ?", (name,)).fetchone()
            if row is not None:
                total, count = total - row[0], count - 1
            if not evict and total + size > self.max_bytes:
                return -1, total  # refused: nothing changed but the recorded uses
            db.execute("INSERT OR REPLACE INTO blobs VALUES (?, ?, ?)", (name, size, now))
            db.execute("INSERT OR REPLACE INTO pending VALUES (?, ?, ?)", (name, temp, os.getpid()))
            return self._fit(db, total + size, count + 1, name)

        evicted, total = self._transaction(work)
        if evicted < 0:
            raise NoRoom(f"{total} of {self.max_bytes} bytes in use")
        return evicted, total

    def settle(self, name: str) -> None:
        """Note that the blob of an ``intend`` is now in place; the note in the index is cleared
        with the next transaction (a kill before that leaves it to the next process opening)."""
        with self._locked():
            self._placed.append(name)
        if len(self._placed) >= _PLACED_BATCH:
            self._transaction(lambda db: None)

    def _settle_placed(self, db: sqlite3.Connection) -> None:
        """Clear the notes of the blobs placed since the last transaction.

        Another process may have settled a note or evicted the blob meanwhile (before the
        rename, so without its file): then the file in place is counted again here.
        """
        for name in self._placed:
            db.execute("DELETE FROM pending WHERE name = ?", (name,))
            if db.execute("SELECT 1 FROM blobs WHERE name = ?", (name,)).fetchone() is None:
                size = self._size_on_disk(name)
                if size is not None:
                    db.execute("INSERT INTO blobs VALUES (?, ?, ?)", (name, size, time.time()))
                    db.execute("UPDATE usage SET bytes = bytes + ?, blobs = blobs + 1", (size,))
        self._settled = len(self._placed)

    def withdraw(self, name: str) -> None:
        """Forget a rename that failed: count the blob as it is on disk."""
        self._transaction(lambda db: self._settle_one(db, name, None))

    def _fit(self, db: sqlite3.Connection, total: int, count: int, keep: str) -> tuple[int, int]:
        """Evict down to the bound (never ``keep``) and store the usage."""
        evicted, total = self._evict(db, total, keep) if total > self.max_bytes else (0, total)
        db.execute("UPDATE usage SET bytes = ?, blobs = ?", (total, count - evicted))
        return evicted, total

    def _size_on_disk(self, name: str) -> int | None:
        try:
            found = self.fs.status(blob_path(self.folder, name))
        except (FileNotFoundError, NotADirectoryError, ops.Escape):
            return None
        return found.st_size if stat.S_ISREG(found.st_mode) else None

    def _settle_orphans(self, db: sqlite3.Connection) -> None:
        """Settle the notes of writers that are gone (killed between their two steps)."""
        for name, temp, pid in db.execute("SELECT name, temp, pid FROM pending").fetchall():
            if not _alive(pid):
                self._settle_one(db, name, temp)

    def _settle_one(self, db: sqlite3.Connection, name: str, temp: str | None) -> None:
        """Count blob ``name`` at its size on disk (or drop it) and remove its temporary file."""
        if temp is not None and temp.startswith(ops.TEMP_PREFIX) and "/" not in temp:
            self.fs.unlink(os.path.join(os.path.dirname(blob_path(self.folder, name)), temp))
        db.execute("DELETE FROM pending WHERE name = ?", (name,))
        row = db.execute("SELECT size FROM blobs WHERE name = ?", (name,)).fetchone()
        size = self._size_on_disk(name)
        if row is not None:
            db.execute("DELETE FROM blobs WHERE name = ?", (name,))
            db.execute("UPDATE usage SET bytes = bytes - ?, blobs = blobs - 1", (row[0],))
        if size is not None:
            db.execute("INSERT INTO blobs VALUES (?, ?, ?)", (name, size, time.time()))
            db.execute("UPDATE usage SET bytes = bytes + ?, blobs = blobs + 1", (size,))

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
                if not try_unlink(blob_path(self.folder, name), self.fs):
                    skipped += 1
                    continue
                db.execute("DELETE FROM blobs WHERE name = ?", (name,))
                total -= size
                evicted += 1
        return evicted, total

    def remove(self, name: str) -> None:
        """Delete a blob and its entry."""

        def work(db: sqlite3.Connection) -> None:
            self.fs.unlink(blob_path(self.folder, name))
            row = db.execute("SELECT size FROM blobs WHERE name = ?", (name,)).fetchone()
            if row is not None:
                db.execute("DELETE FROM blobs WHERE name = ?", (name,))
                db.execute("UPDATE usage SET bytes = bytes - ?, blobs = blobs - 1", (row[0],))

        self._transaction(work)

    def close(self) -> None:
        """Clear the notes of placed blobs and close this process's connection."""
        if self._placed:
            self._transaction(lambda db: None)
        with self._locked():
            if self._db is not None and self._pid == os.getpid():
                self._db.close()
            self._db = None


def _touch(db: sqlite3.Connection, uses: list[tuple[float, str]]) -> None:
    if uses:
        db.executemany("UPDATE blobs SET used = max(used, ?) WHERE name = ?", uses)


def _alive(pid: int) -> bool:
    """Whether process ``pid`` exists (on this machine, which the folder's users share)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # someone else's process
        return True
    return True
