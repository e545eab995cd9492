"""SqliteRaw quirks: URIs, WAL and locks, batching, snapshots, spooled puts, LRU, processes."""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import os
import pickle
import sqlite3
import time
import warnings
from collections.abc import AsyncIterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest

from asyncbitstore import InvalidURI, NotFoundInStore, StoreFull, StoreNotAvailable
from asyncbitstore.raw.sqlite import SqliteRaw
from asyncbitstore.raw.sqlite._db import Database, Reader, page_sql, prefix_end

MIB = 1 << 20


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteRaw]:
    async with SqliteRaw(tmp_path / "blobs.db") as raw:
        yield raw


def _plain(path: str) -> sqlite3.Connection:
    """A connection of our own, to look behind the store's back."""
    return sqlite3.connect(path, isolation_level=None, timeout=5)


def _open_fds(path: str) -> int:
    """How many of this process's descriptors point at the database or its WAL files."""
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):
            count += os.readlink(f"/proc/self/fd/{fd}").startswith(path)
    return count


async def _chunks(*parts: bytes, pause: asyncio.Event | None = None) -> AsyncIterator[bytes]:
    for index, part in enumerate(parts):
        if pause is not None and index == len(parts) - 1:
            await pause.wait()
        yield part


# -- URIs and options -----------------------------------------------------------------------------


def test_uri_is_scheme_then_absolute_database_path_then_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    store = SqliteRaw("relative.db")
    assert store.path == f"{tmp_path}/relative.db"
    assert store.base == f"sqlite://{tmp_path}/relative.db/"
    assert store.uri("a/b c") == store.base + "a/b c"
    assert store.is_valid(store.uri("a/b c")) and store.is_valid(store.uri("ключ"))
    assert not store.is_valid(store.base)
    assert not store.is_valid(f"sqlite://{tmp_path}/other.db/a")
    assert repr(store) == f"<SqliteRaw('{tmp_path}/relative.db')>"


@pytest.mark.parametrize(
    "options",
    [{"path": ":memory:"}, {"path": ""}, {"path": "file:x.db?mode=ro"}, {"max_bytes": -1},
     {"max_bytes": True}, {"threads": 0}, {"mmap_size": -1}],
)  # fmt: skip
def test_bad_options_are_refused(tmp_path: Path, options: dict[str, object]) -> None:
    arguments: dict[str, object] = {"path": tmp_path / "x.db"} | options
    with pytest.raises(ValueError):
        SqliteRaw(**arguments)  # type: ignore[arg-type]


def test_prefix_end_bounds_every_string_with_the_prefix() -> None:
    assert prefix_end("") is None
    assert prefix_end("ab") == "ac"
    assert prefix_end("a\U0010ffff") == "b"
    assert prefix_end("a\ud7ff") == "a\ue000"  # surrogates skipped
    for key in ("ab", "ab\U0010ffff\U0010ffff", "ab/x"):
        assert "ab" <= key < prefix_end("ab")  # type: ignore[operator]


def test_listing_queries_seek_the_key_index_from_one_lower_bound(tmp_path: Path) -> None:
    conn = _plain(str(tmp_path / "x.db"))
    conn.execute("CREATE TABLE blobs (key TEXT PRIMARY KEY NOT NULL, data BLOB, atime INTEGER)")
    for bounded in (False, True):
        for resumed in (False, True):
            sql = page_sql(bounded, resumed)
            plan = conn.execute("EXPLAIN QUERY PLAN " + sql, ["a", *(["b"] * bounded), 10])
            detail = plan.fetchone()[3]
            assert "USING COVERING INDEX" in detail and sql.count("key >") == 1
            assert detail.endswith("(key>? AND key<?)" if bounded else "(key>?)")
    conn.close()


# -- the file: WAL, locks, errors -----------------------------------------------------------------


async def test_database_is_in_wal_mode_and_readers_pass_a_held_write_lock(
    tmp_path: Path,
) -> None:
    path = str(tmp_path / "wal.db")
    async with SqliteRaw(path, lock_timeout=0.2) as store:
        await store.put(store.uri("k"), b"v")
        writer = _plain(path)
        assert writer.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        writer.execute("BEGIN IMMEDIATE")
        try:
            assert await store.get(store.uri("k")) == b"v"  # WAL: readers never wait
            started = time.monotonic()
            with pytest.raises(StoreNotAvailable, match=r"locked.*waited 0\.2 s"):
                await store.put(store.uri("k"), b"blocked")
            assert time.monotonic() - started >= 0.15  # it waited for the busy timeout
        finally:
            writer.execute("ROLLBACK")
            writer.close()
        await store.put(store.uri("k"), b"free again")
        assert await store.get(store.uri("k")) == b"free again"


async def test_a_file_that_is_not_a_database_or_a_missing_folder_is_unavailable(
    tmp_path: Path,
) -> None:
    (tmp_path / "junk.db").write_bytes(b"not a database" * 100)
    for path in (tmp_path / "junk.db", tmp_path / "missing" / "x.db"):
        async with SqliteRaw(path) as store:
            with pytest.raises(StoreNotAvailable) as caught:
                await store.get(store.uri("k"))
            assert not isinstance(caught.value, NotFoundInStore)


async def test_list_pages_through_many_keys_in_order_and_keeps_to_the_prefix(
    store: SqliteRaw,
) -> None:
    keys = [f"p/{i:05d}" for i in range(2500)] + ["p", "p0", "q/1", "o/1", "p/\U0010ffff"]
    await store.put_many((store.uri(k), b"x") for k in keys)
    listed = [u async for u in store.list(store.uri("p/"))]
    expected = sorted(store.uri(k) for k in keys if k.startswith("p/"))
    assert listed == expected and len(listed) == 2501
    assert len([u async for u in store.list("")]) == len(keys)
    assert [u async for u in store.list(store.uri("zzz"))] == []
    for bad in ("s3://b/", store.uri("a\x00")):
        with pytest.raises(InvalidURI):
            [u async for u in store.list(bad)]


# -- thread hops and connections ------------------------------------------------------------------


async def test_concurrent_gets_share_thread_hops_and_one_connection_per_thread(
    tmp_path: Path,
) -> None:
    async with SqliteRaw(tmp_path / "hops.db", threads=2) as store:
        uris = [store.uri(f"k{i}") for i in range(1000)]
        await store.put_many((u, u.encode()) for u in uris)
        hops = store._hops.batcher.hops
        assert await store.get_many(uris, concurrency=200) == [u.encode() for u in uris]
        assert 1 <= store._hops.batcher.hops - hops < len(uris) / 8
        assert 1 <= len(store._db._live) <= 2


async def test_aclose_closes_every_connection_and_the_store_reopens(tmp_path: Path) -> None:
    path = str(tmp_path / "close.db")
    store = SqliteRaw(path, threads=3)
    await store.put(store.uri("k"), b"v")
    await asyncio.gather(*(store.get(store.uri("k")) for _ in range(300)))
    conns = [held.conn for held in store._db._live]
    assert conns and _open_fds(path) > 0
    await store.aclose()
    await store.aclose()
    assert store._db._live == [] and _open_fds(path) == 0
    with pytest.raises(sqlite3.ProgrammingError):
        conns[0].execute("SELECT 1")
    assert await store.get(store.uri("k")) == b"v"
    await store.aclose()


async def test_store_pickles_without_connections(store: SqliteRaw) -> None:
    await store.put(store.uri("p"), b"pickled")
    clone = pickle.loads(pickle.dumps(store))
    assert clone._db is not store._db and clone._db._live == []
    assert await clone.get(store.uri("p")) == b"pickled"
    await clone.aclose()


def test_store_works_from_successive_event_loops(tmp_path: Path) -> None:
    store = SqliteRaw(tmp_path / "loops.db")
    for round_ in range(2):
        asyncio.run(store.put(store.uri(f"r{round_}"), b"%d" % round_))
        assert asyncio.run(store.get_many([store.uri("r0"), store.uri(f"r{round_}")])) == [
            b"0",
            b"%d" % round_,
        ]
    asyncio.run(store.aclose())


async def test_a_forked_child_opens_its_own_connections(store: SqliteRaw) -> None:
    await store.put(store.uri("parent"), b"p")
    assert store._db._live  # the parent holds connections across the fork
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # fork with threads (3.12+)
        pid = os.fork()
    if pid == 0:  # pragma: no cover - the child reports through its exit status
        code = 1
        try:

            async def child() -> None:
                assert await store.get(store.uri("parent")) == b"p"
                await store.put(store.uri("child"), b"c")
                await store.aclose()

            asyncio.run(child())
            code = 0
        finally:
            os._exit(code)
    _, status = await asyncio.to_thread(os.waitpid, pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert await store.get(store.uri("child")) == b"c"
    assert await store.get(store.uri("parent")) == b"p"  # our connections still work


# -- streams and streaming puts -------------------------------------------------------------------


async def test_stream_reads_one_snapshot_while_the_blob_is_replaced(store: SqliteRaw) -> None:
    old, new = b"a" * (3 * MIB), b"b" * (3 * MIB + 5)
    await store.put(store.uri("big"), old)
    chunks = store.stream(store.uri("big"), chunk_size=MIB)
    first = await anext(chunks)
    await store.put(store.uri("big"), new)
    rest = [chunk async for chunk in chunks]
    assert first + b"".join(rest) == old
    assert all(len(c) <= MIB for c in rest)
    assert await store.get(store.uri("big")) == new


async def test_a_stream_closed_early_closes_its_connection(
    store: SqliteRaw, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened: list[Reader] = []
    open_reader = Database.open_reader

    def spy(db: Database, key: str) -> Reader | None:
        opened.append(open_reader(db, key))  # type: ignore[arg-type]
        return opened[-1]

    monkeypatch.setattr(Database, "open_reader", spy)
    await store.put(store.uri("big"), os.urandom(2 * MIB))
    chunks = store.stream(store.uri("big"), chunk_size=64 << 10)
    await anext(chunks)
    assert len(opened) == 1 and opened[0].conn.execute("SELECT 1").fetchone() == (1,)
    await chunks.aclose()  # type: ignore[attr-defined]
    with pytest.raises(sqlite3.ProgrammingError, match="closed"):
        opened[0].conn.execute("SELECT 1")


async def test_streaming_put_beyond_a_mebibyte_is_spooled_and_committed_at_the_end(
    store: SqliteRaw, tmp_path: Path
) -> None:
    parts = [os.urandom(256 << 10) for _ in range(12)]
    await store.put(store.uri("k"), b"old")
    release = asyncio.Event()
    writing = asyncio.create_task(store.put(store.uri("k"), _chunks(*parts, pause=release)))
    await asyncio.sleep(0.05)  # 2.75 MiB are in the spool file, the last part is held back
    assert not writing.done()
    assert await store.get(store.uri("k")) == b"old"  # nothing partial is visible
    assert await store.used_bytes() == 3
    release.set()
    await writing
    assert await store.get(store.uri("k")) == b"".join(parts)
    assert await store.used_bytes() == 3 * MIB
    assert sorted(os.listdir(tmp_path)) == ["blobs.db", "blobs.db-shm", "blobs.db-wal"]


async def test_a_cancelled_streaming_put_leaves_the_old_blob(store: SqliteRaw) -> None:
    await store.put(store.uri("k"), b"old")
    never = asyncio.Event()
    writing = asyncio.create_task(
        store.put(store.uri("k"), _chunks(b"x" * (2 * MIB), b"y", pause=never))
    )
    await asyncio.sleep(0.05)
    writing.cancel()
    with pytest.raises(asyncio.CancelledError):
        await writing
    assert await store.get(store.uri("k")) == b"old"


# -- byte totals and LRU eviction -----------------------------------------------------------------


async def test_byte_total_follows_replace_delete_and_outside_writers(store: SqliteRaw) -> None:
    await store.put(store.uri("a"), b"x" * 100)
    await store.put(store.uri("a"), b"x" * 30)  # INSERT OR REPLACE fires the delete trigger
    await store.put(store.uri("b"), _chunks(b"y" * MIB, b"y" * MIB))
    await store.delete(store.uri("missing"))
    assert await store.used_bytes() == 30 + 2 * MIB
    await store.delete(store.uri("b"))
    conn = _plain(store.path)
    total = conn.execute("SELECT SUM(length(data)) FROM blobs").fetchone()[0]
    conn.close()
    assert await store.used_bytes() == total == 30


async def test_bounded_store_evicts_the_least_recently_read(tmp_path: Path) -> None:
    async with SqliteRaw(tmp_path / "lru.db", max_bytes=300) as store:
        for name in "abc":
            await store.put(store.uri(name), name.encode() * 100)
        await store.get(store.uri("a"))  # a is now more recent than b
        await store.put(store.uri("d"), b"d" * 100)
        assert await store.exists_many([store.uri(n) for n in "abcd"]) == {
            store.uri("a"): True,
            store.uri("b"): False,
            store.uri("c"): True,
            store.uri("d"): True,
        }
        assert store.evictions == 1 and await store.used_bytes() == 300
        with pytest.raises(StoreFull, match="max_bytes=300"):
            await store.put(store.uri("huge"), b"z" * 301)
        with pytest.raises(StoreFull):
            await store.put(store.uri("huge"), _chunks(b"z" * 200, b"z" * 200))
        assert not await store.exists(store.uri("huge"))


async def test_reads_are_recorded_in_batches_not_one_write_each(tmp_path: Path) -> None:
    async with SqliteRaw(tmp_path / "touch.db", max_bytes=1 << 30) as store:
        await store.put_many((store.uri(f"k{i}"), b"v") for i in range(600))
        conn = _plain(store.path)
        before = dict(conn.execute("SELECT key, atime FROM blobs"))
        for i in range(10):
            await store.get(store.uri(f"k{i}"))
        assert dict(conn.execute("SELECT key, atime FROM blobs")) == before  # not yet written
        await store.get_many([store.uri(f"k{i}") for i in range(600)])  # past a batch of 512
        await asyncio.sleep(0.05)
        after = dict(conn.execute("SELECT key, atime FROM blobs"))
        assert sum(after[k] > before[k] for k in before) >= 512
        await store.aclose()  # writes the rest
        final = dict(conn.execute("SELECT key, atime FROM blobs"))
        conn.close()
        assert all(final[k] > before[k] for k in before)


# -- several processes on one file ----------------------------------------------------------------


def _process_work(path: str, worker: int, count: int, max_bytes: int | None) -> int:
    async def work() -> int:
        async with SqliteRaw(path, max_bytes=max_bytes) as store:
            uris = [store.uri(f"w{worker}/{i}") for i in range(count)]
            for uri in uris:
                await store.put(uri, uri.encode() * 50)
                data = await store._get_or_none(uri)  # bounded: others may evict it at once
                assert data in (uri.encode() * 50, None if max_bytes else b"")
            listed = [u async for u in store.list(store.uri(f"w{worker}/"))]
            return len(listed)

    return asyncio.run(work())


@pytest.mark.parametrize("max_bytes", [None, 100_000])
def test_several_processes_write_one_file_safely(tmp_path: Path, max_bytes: int | None) -> None:
    path = str(tmp_path / "shared.db")
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(4, mp_context=context) as pool:
        counts = list(pool.map(_process_work, [path] * 4, range(4), [150] * 4, [max_bytes] * 4))
    conn = _plain(path)
    rows = conn.execute("SELECT key, data FROM blobs").fetchall()
    total = conn.execute("SELECT value FROM totals").fetchone()[0]
    conn.close()
    assert all(data == f"sqlite://{path}/{key}".encode() * 50 for key, data in rows)
    assert total == sum(len(data) for _, data in rows)
    if max_bytes is None:
        assert counts == [150] * 4 and len(rows) == 600
    else:
        assert total <= max_bytes and len(rows) < 600
