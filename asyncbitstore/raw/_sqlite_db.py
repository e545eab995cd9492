"""Blocking SQLite work behind ``SqliteRaw``: schema, per-thread connections, statements.

Everything here runs on worker threads. Each worker thread keeps one connection (opened on its
first call); :meth:`Database.close` closes them all, each once no call is using it, and the
threads quietly open new ones if the store is used again. After ``os.fork()`` the parent's
connections are abandoned, never used or closed in the child (SQLite forbids carrying a
connection across a fork).

The byte total that ``max_bytes`` needs is kept in a ``totals`` row by triggers, so no put ever
sums the table. ``recursive_triggers`` makes ``INSERT OR REPLACE`` fire the delete trigger for
the row it replaces.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import IO, Any

__all__ = ["HAS_BLOBOPEN", "Database", "Reader", "page_sql", "prefix_end"]

SCHEMA_VERSION = 1
HAS_BLOBOPEN = sys.version_info >= (3, 11)  # incremental blob I/O
_COPY = 1 << 20  # bytes per write when copying a spooled put into its row
_EVICT_PAGE = 64

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
_PUT = "INSERT OR REPLACE INTO blobs (key, data, atime) VALUES (?, ?, ?)"
_PUT_ZEROS = "INSERT OR REPLACE INTO blobs (key, data, atime) VALUES (?, zeroblob(?), ?)"
_TOUCH = "UPDATE blobs SET atime = ? WHERE key = ? AND atime < ?"

# Connections of a parent process, kept referenced in a forked child so that they are never
# finalized (closed) there.
_ABANDONED: list[Any] = []


def prefix_end(prefix: str) -> str | None:
    """The smallest string above every string starting with ``prefix`` (None: no bound).

    SQLite compares TEXT as UTF-8 bytes, which orders like code points.
    """
    chars = list(prefix)
    while chars:
        code = ord(chars.pop()) + 1
        if code <= 0x10FFFF:
            if 0xD800 <= code <= 0xDFFF:  # surrogates cannot be stored: skip past them
                code = 0xE000
            return "".join(chars) + chr(code)
    return None


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


def page_sql(bounded: bool, resumed: bool) -> str:
    """A listing query: a range scan of the key index (``key >= low [AND key < high]``)."""
    sql = "SELECT key FROM blobs WHERE key >= ?"
    if bounded:
        sql += " AND key < ?"
    if resumed:
        sql += " AND key > ?"
    return sql + " ORDER BY key LIMIT ?"


@contextlib.contextmanager
def _writing(conn: sqlite3.Connection, lock: threading.Lock) -> Iterator[None]:
    """A write transaction, taken at once (``IMMEDIATE``) so the busy timeout covers it.

    ``lock`` serializes this process's writers: SQLite's busy handler sleeps a millisecond or
    more when it finds the lock taken, too long to wait for a sibling thread's 20 µs commit.
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


@dataclass(eq=False)
class _Held:
    conn: sqlite3.Connection
    lock: threading.Lock = field(default_factory=threading.Lock)
    closed: bool = False


class Reader:
    """A blob read in order on its own connection, inside one read transaction (a snapshot)."""

    def __init__(self, conn: sqlite3.Connection, rowid: int, size: int) -> None:
        self.conn = conn
        self.size = size
        self.offset = 0
        self._rowid = rowid
        self._blob: Any = None
        if sys.version_info >= (3, 11):
            self._blob = conn.blobopen("blobs", "data", rowid, readonly=True)

    def read(self, size: int) -> bytes:
        if self._blob is not None:
            data: bytes = self._blob.read(size)
        else:  # Python 3.10: substr inside the same snapshot
            row = self.conn.execute(
                "SELECT substr(data, ?, ?) FROM blobs WHERE rowid = ?",
                (self.offset + 1, size, self._rowid),
            ).fetchone()
            data = bytes(row[0])
        self.offset += len(data)
        return data

    def close(self) -> None:
        if self._blob is not None:
            self._blob.close()
        self.conn.close()


class Database:
    """One SQLite file: connection handling and the statements ``SqliteRaw`` runs."""

    def __init__(self, path: str, *, timeout: float, fsync: bool) -> None:
        self.path = path
        self.timeout = timeout
        self.synchronous = "FULL" if fsync else "NORMAL"
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
            with _writing(conn, self._write_lock):
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

    @contextlib.contextmanager
    def use(self) -> Iterator[sqlite3.Connection]:
        """This thread's connection, held for the duration of the block."""
        if self._pid != os.getpid():
            with self._guard:
                if self._pid != os.getpid():
                    _ABANDONED.extend(self._live)
                    self._reset()
        while True:
            held: _Held | None = getattr(self._local, "held", None)
            if held is None or held.closed:
                held = _Held(self.connect())
                with self._guard:
                    self._live.append(held)
                self._local.held = held
            with held.lock:
                if held.closed:  # closed by close() meanwhile: open another
                    continue
                yield held.conn
                return

    def close(self) -> None:
        """Close every thread's connection, each once the call using it is done."""
        with self._guard:
            if self._pid != os.getpid():
                return
            live, self._live = self._live, []
        for held in live:
            with held.lock:
                held.closed = True
                held.conn.close()

    # -- reads ----------------------------------------------------------------------------------

    def get(self, key: str) -> bytes | None:
        with self.use() as conn:
            row = conn.execute("SELECT data FROM blobs WHERE key = ?", (key,)).fetchone()
        return None if row is None else row[0]

    def get_range(self, key: str, start: int, end: int) -> tuple[int, bytes] | None:
        """``(size, data[start:end])``; the slice is cut by SQLite, not loaded whole."""
        with self.use() as conn:
            row = conn.execute(
                "SELECT length(data), substr(data, ?, ?) FROM blobs WHERE key = ?",
                (start + 1, end - start, key),
            ).fetchone()
        return None if row is None else (row[0], bytes(row[1]))

    def size(self, key: str) -> int | None:
        with self.use() as conn:
            row = conn.execute("SELECT length(data) FROM blobs WHERE key = ?", (key,)).fetchone()
        return None if row is None else row[0]

    def exists(self, key: str) -> bool:
        with self.use() as conn:
            return conn.execute("SELECT 1 FROM blobs WHERE key = ?", (key,)).fetchone() is not None

    def peek(self, key: str, limit: int) -> tuple[int, bytes | None] | None:
        """``(size, data if size <= limit else None)``, or None for a missing blob."""
        with self.use() as conn:
            row = conn.execute(
                "SELECT length(data), CASE WHEN length(data) <= ? THEN data END"
                " FROM blobs WHERE key = ?",
                (limit, key),
            ).fetchone()
        return None if row is None else (row[0], row[1])

    def open_reader(self, key: str) -> Reader | None:
        conn = self.connect()
        try:
            conn.execute("BEGIN")
            row = conn.execute(
                "SELECT rowid, length(data) FROM blobs WHERE key = ?", (key,)
            ).fetchone()
            if row is not None:
                return Reader(conn, row[0], row[1])
        except BaseException:
            conn.close()
            raise
        conn.close()
        return None

    def page(self, low: str, high: str | None, after: str | None, limit: int) -> list[str]:
        """Up to ``limit`` keys in ``[low, high)`` and above ``after``, in order."""
        args = [low, *(v for v in (high, after) if v is not None), limit]
        with self.use() as conn:
            rows = conn.execute(page_sql(high is not None, after is not None), args)
            return [row[0] for row in rows]

    def total_bytes(self) -> int:
        with self.use() as conn:
            row = conn.execute("SELECT value FROM totals WHERE name = 'bytes'").fetchone()
        return 0 if row is None else int(row[0])

    # -- writes ---------------------------------------------------------------------------------

    def put(
        self, key: str, data: Any, atime: int, touches: Sequence[tuple[str, int]], bound: int | None
    ) -> int:
        """Insert or replace the row in one transaction; returns how many blobs were evicted."""
        with self.use() as conn, _writing(conn, self._write_lock):
            conn.execute(_PUT, (key, data, atime))
            return self._settle(conn, key, touches, bound)

    def put_file(
        self,
        key: str,
        file: IO[bytes],
        size: int,
        atime: int,
        touches: Sequence[tuple[str, int]],
        bound: int | None,
    ) -> int:
        """``put`` of a spooled blob: a zero-filled row is written in place, then committed."""
        file.seek(0)
        if sys.version_info < (3, 11):
            return self.put(key, file.read(), atime, touches, bound)
        with self.use() as conn, _writing(conn, self._write_lock):
            rowid = conn.execute(_PUT_ZEROS, (key, size, atime)).lastrowid
            with conn.blobopen("blobs", "data", rowid) as blob:  # type: ignore[arg-type,unused-ignore]
                while chunk := file.read(_COPY):
                    blob.write(chunk)
            return self._settle(conn, key, touches, bound)

    def _settle(
        self,
        conn: sqlite3.Connection,
        key: str,
        touches: Sequence[tuple[str, int]],
        bound: int | None,
    ) -> int:
        if touches:
            conn.executemany(_TOUCH, [(t, k, t) for k, t in touches])
        return 0 if bound is None else _evict(conn, bound, key)

    def delete(self, key: str) -> None:
        with self.use() as conn, self._write_lock:
            conn.execute("DELETE FROM blobs WHERE key = ?", (key,))

    def touch(self, touches: Sequence[tuple[str, int]]) -> None:
        """Record reads (key, time) in one transaction; a time never moves backwards."""
        with self.use() as conn, _writing(conn, self._write_lock):
            conn.executemany(_TOUCH, [(t, k, t) for k, t in touches])


def _evict(conn: sqlite3.Connection, bound: int, keep: str) -> int:
    """Delete least-recently used rows (but not ``keep``) until the total is within ``bound``."""
    total = conn.execute("SELECT value FROM totals WHERE name = 'bytes'").fetchone()[0]
    evicted = 0
    while total > bound:
        rows = conn.execute(
            "SELECT key, length(data) FROM blobs WHERE key != ? ORDER BY atime LIMIT ?",
            (keep, _EVICT_PAGE),
        ).fetchall()
        if not rows:
            break
        for key, size in rows:
            if total <= bound:
                break
            conn.execute("DELETE FROM blobs WHERE key = ?", (key,))
            total -= size
            evicted += 1
    return evicted
