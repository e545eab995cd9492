"""Contract targets for ``SqliteRaw``: a fresh database file per test, unbounded and bounded."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from asyncbitstore import HashStore
from asyncbitstore.raw.sqlite import SqliteRaw

from .target import Target

TARGETS = ["sqlite", "sqlite_bounded", "sha256_sqlite"]


def _invalid(store: SqliteRaw, tmp_path: Path) -> list[str]:
    return [
        "",
        store.base,
        store.base[:-1],
        store.base + "a\x00b",
        store.base + "lone\udc80surrogate",
        f"sqlite://{tmp_path}/other.db/key",
        "sqlite://relative.db/key",
        "file:///etc/passwd",
        "s3://bucket/key",
    ]


@pytest.fixture
async def contract_sqlite(tmp_path: Path) -> AsyncIterator[Target]:
    async with SqliteRaw(tmp_path / "blobs.db") as store:
        yield Target(
            store, lambda n: store.uri(f"dir/{n}"), store.uri("dir/"), _invalid(store, tmp_path)
        )


@pytest.fixture
async def contract_sqlite_bounded(tmp_path: Path) -> AsyncIterator[Target]:
    async with SqliteRaw(tmp_path / "bounded.db", max_bytes=64 << 20, threads=3) as store:
        yield Target(store, store.uri, store.base, _invalid(store, tmp_path))


@pytest.fixture
async def contract_sha256_sqlite(tmp_path: Path) -> AsyncIterator[Target]:
    raw = SqliteRaw(tmp_path / "cas.db")
    async with HashStore(raw, raw.uri("cas/"), algorithm="sha256") as store:
        yield Target(
            store,
            lambda n: hashlib.sha256(n.encode()).hexdigest(),
            "",
            invalid=["", "0" * 40, "0" * 63],
        )
