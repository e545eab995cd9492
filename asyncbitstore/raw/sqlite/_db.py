"""Blocking SQLite statements behind ``SqliteRaw`` (run on its worker threads).

Connections, schema and write locks are in ``_sqlite_conn``; here are the reads and writes, the
snapshot `Reader` for streams and the least-recently-used eviction.
"""

from __future__ import annotations

import sqlite3
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import IO, Any

from ._conn import Connections, writing

__all__ = ["HAS_BLOBOPEN", "Database", "Reader", "Upkeep", "page_sql", "prefix_end"]

HAS_BLOBOPEN = sys.version_info >= (3, 11)  # incremental blob I/O
_COPY = 1 << 20  # bytes per write when copying a spooled put into its row
_EVICT_PAGE = 64
_PUT = "INSERT OR REPLACE INTO blobs (key, data, atime) VALUES (?, ?, ?)"
_PUT_ZEROS = "INSERT OR REPLACE INTO blobs (key, data, atime) VALUES (?, zeroblob(?), ?)"
# mode="create": a plain INSERT fails on a taken key, inside the write transaction
_CREATE = {_PUT: _PUT.replace(" OR REPLACE", ""), _PUT_ZEROS: _PUT_ZEROS.replace(" OR REPLACE", "")}


class Taken(Exception):
    """A create found a row at the key (not a `sqlite3.Error`: nothing failed)."""


_TOUCH = "UPDATE blobs SET atime = ? WHERE key = ? AND atime < ?"


@dataclass(frozen=True)
class Upkeep:
    """What a write does in its transaction besides storing its row.

    Attributes:
        atime: the new row's access time.
        touches: pending reads ``(key, time)`` to record.
        bound: evict least-recently used rows down to this many bytes; None: no bound.
        create: only insert (`Taken` when the key has a row).
    """

    atime: int
    touches: Sequence[tuple[str, int]]
    bound: int | None
    create: bool


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


def page_sql(bounded: bool, resumed: bool) -> str:
    """A listing query: one range scan of the key index from a single lower bound.

    The first page starts at the prefix (``key >= ?``), later ones after the last key seen
    (``key > ?``); giving both would let SQLite seek on the first and rescan every page.
    """
    sql = "SELECT key FROM blobs WHERE key " + (">" if resumed else ">=") + " ?"
    if bounded:
        sql += " AND key < ?"
    return sql + " ORDER BY key LIMIT ?"


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


class Database(Connections):
    """One SQLite file: the statements ``SqliteRaw`` runs, each on this thread's connection."""

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
        args = [low if after is None else after, *([] if high is None else [high]), limit]
        with self.use() as conn:
            rows = conn.execute(page_sql(high is not None, after is not None), args)
            return [row[0] for row in rows]

    def total_bytes(self) -> int:
        with self.use() as conn:
            row = conn.execute("SELECT value FROM totals WHERE name = 'bytes'").fetchone()
        return 0 if row is None else int(row[0])

    # -- writes ---------------------------------------------------------------------------------

    def put(self, key: str, data: Any, upkeep: Upkeep) -> int:
        """Insert or replace the row in one transaction; returns how many blobs were evicted."""
        with self.use() as conn, writing(conn, self._write_lock):
            _insert(conn, _PUT, (key, data, upkeep.atime), upkeep.create)
            return self._settle(conn, key, upkeep)

    def put_file(self, key: str, file: IO[bytes], size: int, upkeep: Upkeep) -> int:
        """``put`` of a spooled blob: a zero-filled row is written in place, then committed."""
        file.seek(0)
        if sys.version_info < (3, 11):
            return self.put(key, file.read(), upkeep)
        with self.use() as conn, writing(conn, self._write_lock):
            rowid = _insert(conn, _PUT_ZEROS, (key, size, upkeep.atime), upkeep.create).lastrowid
            with conn.blobopen("blobs", "data", rowid) as blob:  # type: ignore[arg-type,unused-ignore]
                while chunk := file.read(_COPY):
                    blob.write(chunk)
            return self._settle(conn, key, upkeep)

    def _settle(self, conn: sqlite3.Connection, key: str, upkeep: Upkeep) -> int:
        if upkeep.touches:
            _touch(conn, upkeep.touches)
        return 0 if upkeep.bound is None else _evict(conn, upkeep.bound, key)

    def delete(self, key: str) -> None:
        with self.use() as conn, self._write_lock:
            conn.execute("DELETE FROM blobs WHERE key = ?", (key,))

    def touch(self, touches: Sequence[tuple[str, int]]) -> None:
        """Record reads (key, time) in one transaction; a time never moves backwards."""
        with self.use() as conn, writing(conn, self._write_lock):
            _touch(conn, touches)


def _touch(conn: sqlite3.Connection, touches: Sequence[tuple[str, int]]) -> None:
    conn.executemany(_TOUCH, [(t, k, t) for k, t in touches])


def _insert(conn: sqlite3.Connection, sql: str, row: tuple[Any, ...], create: bool) -> Any:
    if not create:
        return conn.execute(sql, row)
    try:
        return conn.execute(_CREATE[sql], row)
    except sqlite3.IntegrityError:
        raise Taken(row[0]) from None


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
