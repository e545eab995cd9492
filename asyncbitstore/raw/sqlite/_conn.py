"""SQLite connections behind ``SqliteRaw``: schema, WAL, one connection per worker thread.

Each worker thread keeps one connection (opened on its first call); `Connections.close`
closes them all, each once no call is using it, and the threads quietly open new ones if the
store is used again. After ``os.fork()`` the parent's connections are abandoned, never used or
closed in the child (SQLite forbids carrying a connection across a fork).

The byte total that ``max_bytes`` needs is kept in a ``totals`` row by triggers, so no put ever
sums the table. ``recursive_triggers`` makes ``INSERT OR REPLACE`` fire the delete trigger for
the row it replaces.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from typing import Any

__all__ = ["SCHEMA_VERSION", "Connections", "writing"]

SCHEMA_VERSION = 1
_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS blobs ("
    " key TEXT PRIMARY KEY NOT NULL, data BLOB NOT NULL, atime INTEGER NOT NULL)",
    "CREATE INDEX IF NOT EXISTS blobs_by_atime ON blobs (atime)",
    "CREATE TABLE IF NOT EXISTS totals (name TEXT PRIMARY KEY NOT NULL, value INTEGER NOT NULL)",
    "INSERT OR IGNORE INTO totals (name, value)"
    " SELECT 'bytes', COALESCE(SUM(length(data)), 0) FROM blobs",
    "CREATE TRIGGER IF NOT EXISTS blobs_added AFTER INSERT ON blobs BEGIN"
    " UPDATE totals SET value = value + length(NEW.data) WHERE name = 'bytes'; END",
    "CREATE TRIGGER IF NOT EXISTS blobs_removed AFTER DELETE ON blobs BEGIN"
    " UPDATE totals SET value = value - length(OLD.data) WHERE name = 'bytes'; END",
    "CREATE TRIGGER IF NOT EXISTS blobs_changed AFTER UPDATE OF data ON blobs BEGIN"
    " UPDATE totals SET value = value - length(OLD.data) + length(NEW.data)"
    " WHERE name = 'bytes'; END",
    f"PRAGMA user_version = {SCHEMA_VERSION}",
)

# Connections of a parent process, kept referenced in a forked child so that they are never
# finalized (closed) there.
_ABANDONED: list[Any] = []


def _write_lock(path: str) -> threading.Lock:
    """The lock of this process's writers to ``path`` (shared by every store on the file)."""
    with _WRITE_LOCKS_GUARD:
        return _WRITE_LOCKS.setdefault(path, threading.Lock())


def _forget_write_locks() -> None:
    # A forked child starts with fresh locks: another thread may have held one at the fork.
    global _WRITE_LOCKS_GUARD
    _WRITE_LOCKS_GUARD = threading.Lock()
    _WRITE_LOCKS.clear()


_WRITE_LOCKS: dict[str, threading.Lock] = {}
_WRITE_LOCKS_GUARD = threading.Lock()
os.register_at_fork(after_in_child=_forget_write_locks)


@contextlib.contextmanager
def writing(conn: sqlite3.Connection, lock: threading.Lock) -> Iterator[None]:
    """A write transaction, taken at once (``IMMEDIATE``) so the busy timeout covers it.

    ``lock`` serializes this process's writers: SQLite's busy handler sleeps a millisecond or
    more when it finds the lock taken, far longer than a sibling thread's commit takes.
    """
    with lock:
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise


class _Held:
    """A worker thread's connection; ``with held as conn`` holds it for one call.

    `Connections.close` closes it under its lock; the next ``with`` then opens a new one
    (a class rather than a generator context manager: this runs for every call).
    """

    def __init__(self, owner: Connections) -> None:
        self.owner = owner
        self.lock = threading.Lock()
        self.closed = True
        self.conn: sqlite3.Connection

    def __enter__(self) -> sqlite3.Connection:
        self.lock.acquire()
        if self.closed:
            try:
                self.conn = self.owner.connect()
            except BaseException:
                self.lock.release()
                raise
            self.closed = False
            self.owner.register(self)
        return self.conn

    def __exit__(self, *exc_info: object) -> None:
        self.lock.release()

    def close(self) -> None:
        with self.lock:
            if not self.closed:
                self.closed = True
                self.conn.close()


class Connections:
    """The connections to one SQLite file: one per worker thread, plus private ones."""

    def __init__(self, path: str, *, timeout: float, fsync: bool, mmap_size: int) -> None:
        self.path = path
        self.timeout = timeout
        self.synchronous = "FULL" if fsync else "NORMAL"
        self.mmap_size = mmap_size
        self._guard = threading.Lock()
        self._reset()

    def _reset(self) -> None:
        self._pid = os.getpid()
        self._write_lock = _write_lock(self.path)
        self._local = threading.local()
        self._live: list[_Held] = []
        self._schema_ready = False

    # -- connections ----------------------------------------------------------------------------

    def connect(self) -> sqlite3.Connection:
        """A new connection in WAL mode, with the busy timeout; creates the schema if needed."""
        conn = sqlite3.connect(
            self.path, timeout=self.timeout, isolation_level=None, check_same_thread=False
        )
        try:
            conn.execute(f"PRAGMA synchronous = {self.synchronous}")
            conn.execute(f"PRAGMA mmap_size = {int(self.mmap_size)}")
            conn.execute("PRAGMA recursive_triggers = ON")
            if not self._schema_ready:
                self._prepare(conn)
        except BaseException:
            conn.close()
            raise
        return conn

    def _prepare(self, conn: sqlite3.Connection) -> None:
        self._enter_wal(conn)
        if conn.execute("PRAGMA user_version").fetchone()[0] != SCHEMA_VERSION:
            with writing(conn, self._write_lock):
                version = conn.execute("PRAGMA user_version").fetchone()[0]
                if version > SCHEMA_VERSION:
                    raise sqlite3.DatabaseError(
                        f"schema version {version} is newer than this asyncbitstore knows"
                    )
                for statement in _SCHEMA:
                    conn.execute(statement)
        self._schema_ready = True

    def _enter_wal(self, conn: sqlite3.Connection) -> None:
        # Switching a new file to WAL needs an exclusive lock, and SQLite fails at once rather
        # than run the busy handler when several processes open the file together: retry.
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            except sqlite3.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.005)
                continue
            if mode != "wal":
                raise sqlite3.OperationalError(f"cannot use WAL mode here (journal mode {mode})")
            return

    def use(self) -> _Held:
        """This thread's connection: ``with db.use() as conn:`` holds it for the block."""
        if self._pid != os.getpid():
            with self._guard:
                if self._pid != os.getpid():
                    _ABANDONED.extend(self._live)
                    self._reset()
        held: _Held | None = getattr(self._local, "held", None)
        if held is None:
            held = self._local.held = _Held(self)
        return held

    def register(self, held: _Held) -> None:
        with self._guard:
            self._live.append(held)

    def close(self) -> None:
        """Close every thread's connection, each once the call using it is done."""
        with self._guard:
            if self._pid != os.getpid():
                return
            live, self._live = self._live, []
        for held in live:
            held.close()
