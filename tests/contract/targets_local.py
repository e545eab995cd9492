"""Contract targets for the local stores: memory, files, and keyed stores over both."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from asyncbitstore import FileRaw, HashStore, MemoryRaw, Sha1Store

from .target import Target

TARGETS = ["memory", "memory_bounded", "file", "file_root", "sha1_memory", "sha256_file"]


def _digest(algorithm: str):
    return lambda name: hashlib.new(algorithm, name.encode()).hexdigest()


@pytest.fixture
async def contract_memory() -> AsyncIterator[Target]:
    async with MemoryRaw() as store:
        yield Target(
            store,
            lambda n: f"mem://test/{n}",
            "mem://test/",
            invalid=["mem://", "mem://x", "mem://x/", "s3://b/k", ""],
        )


@pytest.fixture
async def contract_memory_bounded() -> AsyncIterator[Target]:
    async with MemoryRaw(max_bytes=64 << 20) as store:
        yield Target(store, lambda n: f"mem://bounded/{n}", "mem://bounded/", invalid=["mem://a"])


@pytest.fixture
async def contract_file(tmp_path: Path) -> AsyncIterator[Target]:
    async with FileRaw() as store:
        yield Target(
            store,
            lambda n: f"file://{tmp_path}/blobs/{n}",
            f"file://{tmp_path}/blobs/",
            invalid=[
                "relative/path",
                "file://relative",
                f"{tmp_path}/../x",
                f"{tmp_path}/a/./b",
                f"{tmp_path}//x",
                f"{tmp_path}/x\x00y",
                f"{tmp_path}/dir/",
                "s3://bucket/key",
                "",
            ],
        )


@pytest.fixture
async def contract_file_root(tmp_path: Path) -> AsyncIterator[Target]:
    async with FileRaw(tmp_path / "root") as store:
        yield Target(
            store,
            lambda n: f"{tmp_path}/root/{n}",
            f"{tmp_path}/root/",
            invalid=[
                f"{tmp_path}/elsewhere",
                f"{tmp_path}/root/../escape",
                f"{tmp_path}/root",
                "/etc/passwd",
            ],
        )


@pytest.fixture
async def contract_sha1_memory() -> AsyncIterator[Target]:
    async with Sha1Store(MemoryRaw(), "mem://sha1/") as store:
        yield Target(
            store,
            _digest("sha1"),
            "",
            invalid=["", "abc", "g" * 40, "0" * 39, "0" * 41, "sha256://" + "0" * 40],
        )


@pytest.fixture
async def contract_sha256_file(tmp_path: Path) -> AsyncIterator[Target]:
    async with HashStore(FileRaw(), f"{tmp_path}/cas/", algorithm="sha256") as store:
        yield Target(
            store, _digest("sha256"), "", invalid=["", "0" * 40, "0" * 63, "../" + "0" * 61]
        )
