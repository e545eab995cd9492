"""@memoize: keys, stores accepted, single flight, failures, serializers, sync calls, processes."""

from __future__ import annotations

import asyncio
import copy
import json
import logging
import multiprocessing
import subprocess
import sys
import textwrap
import threading
import types
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from asyncbitstore import (
    Composite,
    FileRaw,
    HashCache,
    HashComposite,
    HashStore,
    MemoryRaw,
    Sha1Store,
)
from asyncbitstore.memoize import Memoized, UnpicklableArgument, memoize
from asyncbitstore.testing import FaultyStore


@pytest.fixture
def store() -> HashStore:
    return HashStore(MemoryRaw(), "mem://memo/")


def _add(a: int, b: int = 2, *rest: int, **options: Any) -> int:
    return a + b + sum(rest) + len(options)


def _square_logged(x: int, log: str) -> int:
    """Module-level so that another process finds it under the same name."""
    with open(log, "a") as file:
        file.write("computed\n")
    return x * x


# -- keys -----------------------------------------------------------------------------------------


def test_defaults_are_applied_before_hashing(store: HashStore) -> None:
    add = memoize(store)(_add)
    assert add.key(1) == add.key(1, 2) == add.key(a=1) == add.key(1, b=2)
    assert add.key(1) != add.key(1, 3)
    assert add.key(1, 2, x=1, y=2) == add.key(1, 2, y=2, x=1)  # **kwargs sorted by name
    assert len(add.key(1)) == 64 and int(add.key(1), 16) >= 0


def test_keys_depend_on_contents_not_on_identity_or_set_order(store: HashStore) -> None:
    add = memoize(store)(_add)
    item = {"k": [1, 2.5, b"x", None]}
    assert add.key([item, item]) == add.key([item, copy.deepcopy(item)])
    assert add.key({"b", "a", "c"}) == add.key({"c", "a", "b"})
    assert add.key({"a": 1, "b": 2}) != add.key({"b": 2, "a": 1})  # a function sees dict order
    assert add.key(1) != add.key(1.0) != add.key(True)
    assert add.key(Point(1, 2)) == add.key(Point(1, 2)) != add.key(Point(2, 1))


@dataclass
class Point:
    x: int
    y: int


_KEY_SCRIPT = """
from asyncbitstore import HashStore, MemoryRaw
from asyncbitstore.memoize import memoize
from tests.test_memoize import Point, _add, _in_other_process
add = memoize(HashStore(MemoryRaw(), "mem://memo/"))(_add)
print(add.key({"s", "t", "u"}, frozenset({"v", "w"}), p=Point(1, 2), t=("x", {"y": {"z"}})))
print(memoize(HashStore(MemoryRaw(), "mem://memo/"), unstable=True)(_in_other_process).key("", ""))
"""


def test_keys_are_the_same_in_processes_with_other_hash_seeds(store: HashStore) -> None:
    keys = {
        subprocess.run(
            [sys.executable, "-c", _KEY_SCRIPT],
            env={"PYTHONHASHSEED": seed, "PATH": "/usr/bin:/bin"},
            cwd=Path(__file__).parent.parent,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for seed in ("1", "2", "3")
    }
    add = memoize(store)(_add)
    here = add.key({"s", "t", "u"}, frozenset({"v", "w"}), p=Point(1, 2), t=("x", {"y": {"z"}}))
    code = memoize(store, unstable=True)(_in_other_process).key("", "")
    assert keys == {f"{here}\n{code}\n"}


@pytest.mark.parametrize(
    "bad", [threading.Lock(), lambda: 1, (x for x in ()), [types.ModuleType("m")]]
)
def test_unpicklable_arguments_raise_our_error_naming_the_argument(
    store: HashStore, bad: object
) -> None:
    add = memoize(store)(_add)
    with pytest.raises(UnpicklableArgument, match=r"_add: argument 'options' cannot be part"):
        add.key(1, 2, extra=bad)
    assert issubclass(UnpicklableArgument, TypeError)


def test_a_cyclic_argument_is_refused(store: HashStore) -> None:
    loop: list[object] = []
    loop.append(loop)
    with pytest.raises(UnpicklableArgument, match="contains itself"):
        memoize(store)(_add).key(loop)


# -- unstable: the code is part of the key --------------------------------------------------------

_SOURCE = """
import math

def helper(x):
    return x + 1

def unused(x):
    return x - 1

def f(x):
    return helper(x) * 2 + math.floor(0.5) + inner(x)

def inner(x):
    return sum(helper(y) for y in range(x)) if x < 0 else f.__name__.count("f")
"""


def _module(source: str) -> types.ModuleType:
    module = types.ModuleType("memo_code_test")
    exec(compile(textwrap.dedent(source), "<memo-test>", "exec"), module.__dict__)
    return module


def _code_key(store: HashStore, source: str, unstable: bool = True) -> str:
    return memoize(store, unstable=unstable)(_module(source).f).key(3)


@pytest.mark.parametrize(
    ("edit", "same"),
    [
        (lambda s: s.replace("x + 1", "x + 2"), False),  # a called helper changed
        (lambda s: s.replace("x < 0", "x < 1"), False),  # a nested generator's caller
        (lambda s: s.replace("* 2", "* 3"), False),
        (lambda s: s.replace("return helper(x)", "return math.ceil(x) + helper(x)"), False),
        (lambda s: "\n\n# a comment\n" + s.replace("def f(x):", 'def f(x):\n    "Doc."'), True),
        (lambda s: s.replace("x - 1", "x - 5"), True),  # a function f does not call
    ],
)
def test_unstable_keys_follow_code_edits_but_not_docs_comments_or_lines(
    store: HashStore, edit: Any, same: bool
) -> None:
    assert (_code_key(store, edit(_SOURCE)) == _code_key(store, _SOURCE)) is same
    assert _code_key(store, edit(_SOURCE), unstable=False) == _code_key(store, _SOURCE, False)


# -- stores ---------------------------------------------------------------------------------------


def test_stores_that_cannot_hold_memoized_values_are_refused() -> None:
    for bad in (
        MemoryRaw(),
        HashComposite(),
        HashStore(MemoryRaw(), "mem://v/", verify=True),
        _chain(HashStore(MemoryRaw(), "mem://v/", verify=True)),
    ):
        with pytest.raises(TypeError, match=r"memoize|digest"):
            memoize(bad)  # type: ignore[arg-type]
    half = types.SimpleNamespace(dumps=json.dumps)
    with pytest.raises(TypeError, match="serializer"):
        memoize(HashStore(MemoryRaw(), "mem://v/"), serializer=half)  # type: ignore[arg-type]


async def test_a_serializer_that_does_not_make_bytes_is_an_error(store: HashStore) -> None:
    texts = memoize(store, serializer=json)(_add)  # type: ignore[arg-type]  # json makes str
    with pytest.raises(TypeError, match="returned str, not bytes"):
        await texts.acall(1)


def _chain(*sources: HashStore) -> Composite:
    chain = Composite()
    chain.append_cache(HashCache(MemoryRaw(), "mem://cache/"))
    for source in sources:
        chain.append_source(source, write=True)
    return chain


async def test_a_sha1_store_gets_sha1_keys_and_a_chain_keeps_values_in_its_tiers() -> None:
    sha1 = memoize(Sha1Store(MemoryRaw(), "mem://s/"))(_square_logged)
    assert len(sha1.key(2, "log")) == 40
    source = HashStore(MemoryRaw(), "mem://src/")
    chain = _chain(source)

    @memoize(chain)
    async def double(x: int) -> int:
        return 2 * x

    assert [await double(21), await double(21)] == [42, 42] and double.hits == 1
    assert await source.exists(double.key(21))


# -- calls ----------------------------------------------------------------------------------------


async def test_async_results_are_computed_once_and_read_back(store: HashStore) -> None:
    calls = 0

    @memoize(store)
    async def slow(x: int, *, y: str = "a") -> dict[str, Any]:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0)
        return {"x": x, "y": y}

    assert await slow(1) == await slow(1, y="a") == {"x": 1, "y": "a"}
    assert await slow(2) == {"x": 2, "y": "a"}
    assert (calls, slow.hits, slow.misses) == (2, 1, 2)
    assert await store.exists(slow.key(1))
    assert isinstance(slow, Memoized) and slow.__name__ == "slow"


async def test_concurrent_equal_calls_compute_once(store: HashStore) -> None:
    calls = 0
    gate = asyncio.Event()

    @memoize(store)
    async def once(x: int) -> int:
        nonlocal calls
        calls += 1
        await gate.wait()
        return x + 1

    waiting = [asyncio.create_task(once(5)) for _ in range(10)]
    await asyncio.sleep(0.01)
    gate.set()
    assert await asyncio.gather(*waiting) == [6] * 10 and calls == 1


async def test_failures_reach_every_waiting_caller_and_are_not_cached(store: HashStore) -> None:
    attempts = 0

    @memoize(store)
    async def flaky(x: int) -> int:
        nonlocal attempts
        attempts += 1
        await asyncio.sleep(0.01)
        if attempts == 1:
            raise ValueError("first try fails")
        return x

    outcomes = await asyncio.gather(*(flaky(1) for _ in range(5)), return_exceptions=True)
    assert all(isinstance(o, ValueError) for o in outcomes) and attempts == 1
    assert not await store.exists(flaky.key(1))
    assert await flaky(1) == 1 and attempts == 2


async def test_an_unavailable_store_or_unreadable_bytes_only_cost_a_recomputation(
    store: HashStore, caplog: pytest.LogCaptureFixture
) -> None:
    calls = 0

    async def compute(x: int) -> int:
        nonlocal calls
        calls += 1
        return x

    down = memoize(HashStore(FaultyStore(MemoryRaw(), outage=True), "mem://d/"))(compute)
    assert [await down(1), await down(1)] == [1, 1] and calls == 2
    assert "cache read failed" in caplog.text and "result not cached" in caplog.text
    cached = memoize(store)(compute)
    await store.put(cached.key(7), b"not a pickle")
    assert await cached(7) == 7 and calls == 3
    assert await cached(7) == 7 and calls == 3  # the bad bytes were overwritten


async def test_a_given_serializer_writes_the_stored_bytes(store: HashStore) -> None:
    class Json:
        @staticmethod
        def dumps(value: Any) -> bytes:
            return json.dumps(value).encode()

        @staticmethod
        def loads(data: bytes) -> Any:
            return json.loads(data)

    @memoize(store, serializer=Json())
    async def listing(n: int) -> list[int]:
        return list(range(n))

    assert await listing(3) == [0, 1, 2] == await listing(3)
    assert await store.get(listing.key(3)) == b"[0, 1, 2]"
    assert listing.key(3) != memoize(store)(listing.__wrapped__).key(3)


def test_plain_functions_block_outside_a_loop_and_share_one_flight_across_threads(
    store: HashStore,
) -> None:
    calls = 0
    started = threading.Event()

    @memoize(store)
    def blocking(x: int) -> int:
        nonlocal calls
        calls += 1
        started.wait(5)
        return x * 3

    results: list[int] = []
    threads = [threading.Thread(target=lambda: results.append(blocking(4))) for _ in range(5)]
    for thread in threads:
        thread.start()
    started.set()
    for thread in threads:
        thread.join(10)
    assert results == [12] * 5 and calls == 1
    # Threads that start after the first call finished read the stored value (a hit) instead
    # of joining its flight: on a loaded machine that can be any of them, but never a call.
    assert blocking(4) == 12 and blocking.hits >= 1 and calls == 1


async def test_plain_functions_refuse_to_block_a_running_loop(store: HashStore) -> None:
    @memoize(store)
    def triple(x: int) -> int:
        return x * 3

    with pytest.raises(RuntimeError, match=r"await triple\.acall\(\.\.\.\)"):
        triple(1)
    assert await triple.acall(1) == 3 and await triple.acall(1) == 3 and triple.hits == 1


@dataclass
class Scaler:
    """Instances pickle by name, so they can be part of a key."""

    factor: int

    @memoize(HashStore(MemoryRaw(), "mem://methods/"))
    def scale(self, x: int) -> int:
        return self.factor * x


def test_methods_bind_and_generators_are_refused(store: HashStore) -> None:
    assert Scaler(2).scale(5) == 10 and Scaler(3).scale(5) == 15 and Scaler(2).scale(5) == 10
    assert Scaler.scale.hits == 1 and Scaler.scale.misses == 2
    with pytest.raises(TypeError, match="generator"):

        @memoize(store)
        def numbers() -> Iterator[int]:
            yield 1


def test_a_result_cached_by_one_process_is_a_hit_in_another(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    folder, log = f"{tmp_path}/memo/", str(tmp_path / "log")
    square = memoize(HashStore(FileRaw(), folder))(_square_logged)
    assert square(7, log) == 49
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        assert pool.submit(_in_other_process, folder, log).result(timeout=60) == (49, 1)
    assert Path(log).read_text() == "computed\n"
    assert caplog.records == [] or all(r.levelno < logging.WARNING for r in caplog.records)


def _in_other_process(folder: str, log: str) -> tuple[int, int]:
    square = memoize(HashStore(FileRaw(), folder))(_square_logged)
    return square(7, log), square.hits
