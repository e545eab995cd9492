"""``return_exceptions=True`` on the bulk methods: one bad key no longer sinks the whole batch.

With the flag, a failed item's exception stands in its place and the other items carry on;
without it, the first failure still raises and cancels the rest, as before.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import itertools
import json
import os
import socket
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from asyncbitstore import HashCache, HashComposite, HashStore, HTTPRaw, MemoryRaw, Retry, Store
from asyncbitstore._core import bulk
from asyncbitstore._core.data import PutData
from asyncbitstore.compression.codecs import MAGIC
from asyncbitstore.errors import (
    BitstoreError,
    InvalidDataFound,
    InvalidURI,
    NotFoundInStore,
    StoreNotAvailable,
)
from asyncbitstore.raw.file import FileRaw

ROOT = Path(__file__).resolve().parent.parent


class Flaky(Store):
    """Blobs in a dict; URIs in ``down`` raise `StoreNotAvailable`, URIs in ``hang`` never answer.

    ``started`` counts calls, ``cancelled`` the hanging calls that were cancelled, ``now`` the
    calls running, ``peak`` the most at once.
    """

    def __init__(self, down: set[str] = frozenset(), hang: Callable[[str], bool] | None = None):  # type: ignore[assignment]
        self.blobs: dict[str, bytes] = {}
        self.down = set(down)
        self.hang = hang or (lambda uri: False)
        self.started = self.cancelled = self.now = self.peak = 0

    def is_valid(self, uri: str) -> bool:
        if not isinstance(uri, str):
            raise TypeError("a URI must be a str")
        return True

    async def _call(self, uri: str) -> None:
        self.started += 1
        self.now += 1
        self.peak = max(self.peak, self.now)
        try:
            await asyncio.sleep(0.001)
            if uri in self.down:
                raise StoreNotAvailable(self, "test outage", uri=uri)
            if self.hang(uri):
                try:
                    await asyncio.sleep(60)
                except asyncio.CancelledError:
                    self.cancelled += 1
                    raise
        finally:
            self.now -= 1

    async def get(self, uri: str, *, stored: bool = False, raw: bool | None = None) -> bytes:
        await self._call(uri)
        try:
            return self.blobs[uri]
        except KeyError:
            raise NotFoundInStore(self, uri) from None

    async def exists(self, uri: str) -> bool:
        await self._call(uri)
        return uri in self.blobs

    async def _put(
        self, uri: str, data: PutData, compress: str | None, level: int | None, stored: bool
    ) -> None:
        await self._call(uri)
        assert isinstance(data, bytes)
        self.blobs[uri] = data

    async def delete(self, uri: str) -> None:
        await self._call(uri)
        self.blobs.pop(uri, None)


KEYS = [f"k{i}" for i in range(20)]
DOWN = {"k3", "k11", "k12"}


def _flaky() -> Flaky:
    store = Flaky(DOWN)
    store.blobs = {key: key.encode() for key in KEYS if key != "k5"}  # k5 is missing
    return store


def _leftover_tasks(before: set[asyncio.Task[Any]]) -> set[asyncio.Task[Any]]:
    return asyncio.all_tasks() - before - {asyncio.current_task()}


def _check_outage(value: object, key: str) -> None:
    assert isinstance(value, StoreNotAvailable), value
    assert value.uri == key


# -- get_many ------------------------------------------------------------------------------------


def _as_list(keys: list[str]) -> Any:
    return keys


async def _as_async(keys: list[str]) -> AsyncIterator[str]:
    for key in keys:
        yield key


@pytest.mark.parametrize("shape", [_as_list, _as_async])
async def test_get_many_gives_each_failure_in_its_place_and_the_rest_of_the_results(
    shape: Callable[[list[str]], Any],
) -> None:
    store = _flaky()
    found = await store.get_many(shape(KEYS), concurrency=4, return_exceptions=True)
    assert len(found) == len(KEYS)
    for key, value in zip(KEYS, found, strict=True):
        if key in DOWN:
            _check_outage(value, key)
        elif key == "k5":
            assert value is None
        else:
            assert value == key.encode()
    assert store.peak <= 4


@pytest.mark.parametrize("shape", [_as_list, _as_async])
async def test_get_many_without_the_flag_still_raises_the_first_failure(
    shape: Callable[[list[str]], Any],
) -> None:
    with pytest.raises(StoreNotAvailable, match="test outage"):
        await _flaky().get_many(shape(KEYS), concurrency=4)


# -- iter_get ------------------------------------------------------------------------------------


@pytest.mark.parametrize("ordered", [True, False])
async def test_iter_get_yields_failures_as_results(ordered: bool) -> None:
    store = _flaky()
    pairs = [
        pair
        async for pair in store.iter_get(
            KEYS, concurrency=3, ordered=ordered, return_exceptions=True
        )
    ]
    if ordered:
        assert [key for key, _ in pairs] == KEYS
    answers = dict(pairs)
    assert answers.keys() == set(KEYS)
    for key in DOWN:
        _check_outage(answers[key], key)
    assert answers["k5"] is None
    assert answers["k0"] == b"k0"
    assert store.peak <= 3


async def test_iter_get_without_the_flag_still_raises() -> None:
    with pytest.raises(StoreNotAvailable):
        async for _ in _flaky().iter_get(KEYS, concurrency=3):
            pass


async def test_iter_get_over_an_endless_stream_with_one_failing_key_carries_on() -> None:
    store = Flaky({"k7"})
    pulled = 0

    async def endless() -> AsyncIterator[str]:
        nonlocal pulled
        for n in itertools.count():
            pulled += 1
            yield f"k{n}"

    store.blobs = {f"k{n}": b"x" for n in range(200)}
    before = asyncio.all_tasks()
    results: list[tuple[str, object]] = []
    pairs = store.iter_get(endless(), concurrency=4, ordered=True, return_exceptions=True)
    async with contextlib.aclosing(pairs):
        async for pair in pairs:
            results.append(pair)
            if len(results) == 50:
                break
    assert [key for key, _ in results] == [f"k{n}" for n in range(50)]
    failures = [value for _, value in results if isinstance(value, BaseException)]
    assert len(failures) == 1
    _check_outage(failures[0], "k7")
    assert all(value == b"x" for key, value in results if key != "k7")
    assert pulled <= 50 + 2 * 4 + 4 + 1  # read-ahead stayed bounded
    assert store.peak <= 4
    assert _leftover_tasks(before) == set()


# -- put_many, exists_many, delete_many ---------------------------------------------------------


async def test_put_many_returns_the_failures_by_uri_and_writes_the_others() -> None:
    store = Flaky(DOWN)
    failed = await store.put_many(
        [(key, key.encode()) for key in KEYS], concurrency=4, return_exceptions=True
    )
    assert failed.keys() == DOWN
    for key, exc in failed.items():
        _check_outage(exc, key)
    assert store.blobs == {key: key.encode() for key in KEYS if key not in DOWN}


async def test_put_many_returns_an_empty_dict_when_all_went_well() -> None:
    store = Flaky()
    assert await store.put_many([("a", b"1")], return_exceptions=True) == {}
    assert await store.put_many([("b", b"2")]) == 1  # without the flag: the count, as before


async def test_exists_many_gives_the_exception_in_place_of_the_answer() -> None:
    answers = await _flaky().exists_many(KEYS, concurrency=4, return_exceptions=True)
    assert answers.keys() == set(KEYS)
    for key in DOWN:
        _check_outage(answers[key], key)
    assert answers["k5"] is False
    assert answers["k0"] is True


async def test_delete_many_returns_the_failures_by_uri_and_deletes_the_others() -> None:
    store = _flaky()
    failed = await store.delete_many(KEYS, concurrency=4, return_exceptions=True)
    assert failed.keys() == DOWN
    assert store.blobs.keys() == DOWN - {"k5"}


def _put_many(store: Flaky, keys: list[str]) -> Any:
    return store.put_many([(key, b"x") for key in keys], concurrency=4)


def _exists_many(store: Flaky, keys: list[str]) -> Any:
    return store.exists_many(keys, concurrency=4)


def _delete_many(store: Flaky, keys: list[str]) -> Any:
    return store.delete_many(keys, concurrency=4)


def _get_many(store: Flaky, keys: list[str]) -> Any:
    return store.get_many(keys, concurrency=4)


@pytest.mark.parametrize("call", [_put_many, _exists_many, _delete_many, _get_many])
async def test_without_the_flag_the_first_failure_cancels_the_rest_and_leaves_no_task(
    call: Callable[[Flaky, list[str]], Any],
) -> None:
    store = Flaky({"bad"}, hang=lambda uri: uri != "bad")
    before = asyncio.all_tasks()
    with pytest.raises(StoreNotAvailable):
        await asyncio.wait_for(call(store, ["k1", "k2", "bad", "k3", "k4", "k5"]), 5)
    assert store.started == 4  # k4 and k5 were never asked
    assert store.cancelled == 3
    assert store.now == 0
    assert _leftover_tasks(before) == set()


# -- what is never captured ----------------------------------------------------------------------


class _Raises(Flaky):
    def __init__(self, exc: BaseException) -> None:
        super().__init__()
        self.exc = exc

    async def get(self, uri: str, *, stored: bool = False, raw: bool | None = None) -> bytes:
        if uri == "bad":
            raise self.exc
        return b"ok"


@pytest.mark.parametrize("concurrency", [1, 4])
async def test_a_cancelled_error_from_a_store_is_never_captured(concurrency: int) -> None:
    store = _Raises(asyncio.CancelledError())
    with pytest.raises(asyncio.CancelledError):
        await store.get_many(["a", "bad", "b"], concurrency=concurrency, return_exceptions=True)
    with pytest.raises(asyncio.CancelledError):
        async for _ in store.iter_get(["a", "bad", "b"], return_exceptions=True):
            pass


@pytest.mark.parametrize("exc", [KeyboardInterrupt(), SystemExit(3), asyncio.CancelledError()])
async def test_the_capture_lets_interrupts_and_cancellation_through(exc: BaseException) -> None:
    async def fail(item: str) -> bytes:
        raise exc

    with pytest.raises(type(exc)):
        await bulk.capture(fail)("x")  # awaited here, not in a task: an interrupt stays local


async def test_other_base_exceptions_are_captured() -> None:
    class Odd(BaseException):
        pass

    store = _Raises(Odd("strange"))
    found = await store.get_many(["a", "bad"], return_exceptions=True)
    assert found[0] == b"ok"
    assert isinstance(found[1], Odd)


# -- a real chain with a source that is down -----------------------------------------------------


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A port bound on 127.0.0.1 but not listening: connections are refused."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    try:
        yield sock.getsockname()[1]
    finally:
        sock.close()


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


async def test_a_chain_whose_source_is_down_serves_the_cached_keys_and_reports_the_rest(
    closed_port: int,
) -> None:
    cached = [f"blob {i}".encode() for i in range(6)]
    absent = [f"other {i}".encode() for i in range(4)]
    cache = HashCache(MemoryRaw(), "mem://cache/")
    for data in cached:
        await cache.put(_digest(data), data)
    source = HTTPRaw(retry=Retry(attempts=1))
    chain = HashComposite()
    chain.append_cache(cache)
    chain.append_source(HashStore(source, f"http://127.0.0.1:{closed_port}/blobs/"))
    order = [
        cached[0],
        absent[0],
        cached[1],
        absent[1],
        absent[2],
        cached[2],
        absent[3],
        *cached[3:],
    ]
    keys = [_digest(data) for data in order]
    async with chain:
        with pytest.raises(StoreNotAvailable):
            await chain.get_many(keys, concurrency=4)
        found = await chain.get_many(keys, concurrency=4, return_exceptions=True)
        answers = await chain.exists_many(keys, concurrency=4, return_exceptions=True)
    wanted = {_digest(data): data for data in cached}
    for key, value in zip(keys, found, strict=True):
        if key in wanted:
            assert value == wanted[key]
            assert answers[key] is True
        else:
            assert isinstance(value, StoreNotAvailable)
            assert isinstance(answers[key], StoreNotAvailable)


# -- a bounded cache folder: the batched read path ----------------------------------------------


async def test_a_bounded_cache_gives_a_bad_key_its_own_error_and_reads_the_rest(
    tmp_path: Path,
) -> None:
    cache = HashCache(FileRaw(), f"{tmp_path}/", max_bytes=1 << 20)
    blobs = [f"blob {i}".encode() for i in range(10)]
    async with cache:
        for data in blobs:
            await cache.put(_digest(data), data)
        keys = [_digest(data) for data in blobs]
        keys.insert(4, "not-a-digest")
        keys.append(_digest(b"never stored"))
        with pytest.raises(InvalidURI):
            await cache.get_many(keys)
        found = await cache.get_many(keys, return_exceptions=True)
    assert isinstance(found[4], InvalidURI)
    assert found[-1] is None
    assert [value for i, value in enumerate(found) if i not in (4, len(found) - 1)] == blobs


# -- progress bars count failed items as done ----------------------------------------------------


async def test_progress_bars_count_failed_items(capsys: pytest.CaptureFixture[str]) -> None:
    store = _flaky()
    await store.get_many(KEYS, concurrency=4, progress=True, return_exceptions=True)
    pairs = store.iter_get(KEYS, concurrency=4, progress=True, return_exceptions=True)
    assert len([pair async for pair in pairs]) == len(KEYS)
    await store.exists_many(KEYS, concurrency=4, progress=True, return_exceptions=True)
    await store.put_many(
        [(key, b"x") for key in KEYS], concurrency=4, progress=True, return_exceptions=True
    )
    await store.delete_many(KEYS, concurrency=4, progress=True, return_exceptions=True)
    err = capsys.readouterr().err
    assert err.count("20/20") == 5, err


def _blob_file(folder: Path, key: str) -> Path:
    return folder / key[:2] / key[2:4] / key


async def test_a_bounded_cache_batch_that_fails_is_read_again_blob_by_blob(tmp_path: Path) -> None:
    folder = tmp_path / "cache"
    outside = tmp_path / "outside"
    outside.write_bytes(b"not in the cache")
    cache = HashCache(FileRaw(root=str(folder)), f"{folder}/", max_bytes=1 << 20)
    blobs = [f"blob {i}".encode() for i in range(8)]
    keys = [_digest(data) for data in blobs]
    async with cache:
        for data in blobs:
            await cache.put(_digest(data), data)
        escaping = _blob_file(folder, keys[2])
        escaping.unlink()
        escaping.symlink_to(outside)  # reading it fails with an OSError: the whole batch does
        _blob_file(folder, keys[5]).write_bytes(MAGIC + b"\xff\xffdamaged")
        with pytest.raises(BitstoreError):
            await cache.get_many(keys)
        found = await cache.get_many(keys, return_exceptions=True)
    assert isinstance(found[2], BitstoreError)
    assert isinstance(found[5], InvalidDataFound)
    assert [value for i, value in enumerate(found) if i not in (2, 5)] == [
        data for i, data in enumerate(blobs) if i not in (2, 5)
    ]


# -- the warm command carries on past keys that fail ---------------------------------------------


async def test_warm_fills_what_it_can_and_reports_the_keys_that_failed(
    tmp_path: Path, closed_port: int
) -> None:
    cache = tmp_path / "cache"
    cache.mkdir()
    cached = [f"cached {i}".encode() for i in range(3)]
    for data in cached:
        (cache / hashlib.sha1(data).hexdigest()).write_bytes(data)
    failing = [hashlib.sha1(f"elsewhere {i}".encode()).hexdigest() for i in range(2)]
    keys = [hashlib.sha1(cached[0]).hexdigest(), failing[0], *failing[1:]]
    keys += [hashlib.sha1(data).hexdigest() for data in cached[1:]]
    (tmp_path / "keys.txt").write_text("\n".join(keys) + "\n")
    (tmp_path / "bitstore.toml").write_text(f"""
[[tier]]
role = "cache"
uri = "{cache}/"

[[tier]]
role = "source"
uri = "s3://bucket/files/"
endpoint = "http://127.0.0.1:{closed_port}"
anonymous = true
retry = {{ attempts = 1 }}
""")
    env = {k: v for k, v in os.environ.items() if k != "BITSTORE_CONFIG"}
    env["XDG_CONFIG_HOME"] = str(tmp_path / "config")
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    process = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "asyncbitstore", "--no-progress", "--json", "warm", "keys.txt"),
        cwd=tmp_path,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 100)
    assert process.returncode == 3, err  # the tier's outage, as for a single key
    summary = json.loads(out)
    assert (summary["keys"], summary["found"], summary["missing"]) == (5, 3, 0)
    assert summary["failed"] == 2
    assert sorted(summary["failed_keys"]) == sorted(failing)
    assert "is not available" in err.decode()
