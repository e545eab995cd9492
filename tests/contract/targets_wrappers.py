"""Contract targets for the tier wrappers (Small, Fanout) and the bounded cache folder."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from asyncbitstore import FileRaw, MemoryRaw, Sha1Store
from asyncbitstore.bounded_cache import BoundedFileRaw
from asyncbitstore.wrappers import Fanout, Small

from .target import Target

TARGETS = ["small", "fanout", "fanout_sha1", "bounded_file"]


@pytest.fixture
async def contract_small() -> AsyncIterator[Target]:
    async with Small(MemoryRaw(), 1 << 20) as store:
        yield Target(store, lambda n: f"mem://small/{n}", "mem://small/", invalid=["mem://x", ""])


@pytest.fixture
async def contract_fanout() -> AsyncIterator[Target]:
    # Blobs up to 64 bytes stay in the first store; bigger ones spill over to the second.
    async with Fanout(Small(MemoryRaw(), 64), MemoryRaw()) as store:
        yield Target(
            store, lambda n: f"mem://fan/{n}", "mem://fan/", invalid=["mem://x", "/abs/path", ""]
        )


@pytest.fixture
async def contract_fanout_sha1(tmp_path: Path) -> AsyncIterator[Target]:
    small = Small(Sha1Store(MemoryRaw(), "mem://small/"), 64)
    async with Fanout(small, Sha1Store(FileRaw(), f"{tmp_path}/big/")) as store:
        yield Target(
            store,
            lambda n: hashlib.sha1(n.encode()).hexdigest(),
            "",
            invalid=["", "abc", "0" * 39, "sha256://" + "0" * 40],
        )


@pytest.fixture
async def contract_bounded_file(tmp_path: Path) -> AsyncIterator[Target]:
    folder = f"{tmp_path}/lru/"
    async with BoundedFileRaw(FileRaw(), folder, 1 << 20) as store:
        yield Target(
            store,
            lambda n: folder + hashlib.sha1(n.encode()).hexdigest(),
            folder,
            invalid=[
                "",
                folder + "abc",
                folder + "ab.cdef",
                folder + "../abcdef",
                folder + "abcd/efgh",
                folder + ".abs-index.sqlite",
                f"{tmp_path}/elsewhere/abcdef",
                "s3://bucket/abcdef",
            ],
        )
