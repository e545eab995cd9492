"""Contract targets for the named-key stores: a `PrefixStore` over each raw backend (wrapping
that backend's own target), and the bounded and mirror caches."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from asyncbitstore import FileRaw, MemoryRaw, MirrorCache, PrefixCache, PrefixStore

from .target import Target

_BACKENDS = ["memory", "file_root", "s3_moto", "gcs", "redis", "sqlite", "sftp", "http_nginx"]
TARGETS = [f"prefix_{name}" for name in _BACKENDS] + [
    "prefix_cache_file_bounded",
    "prefix_cache_memory_bounded",
    "mirror_file",
    "mirror_file_bounded",
]


class _PrefixCache(PrefixCache):
    """The contract checks writes that fail: this cache's ``put`` raises, as ``put_or_raise``."""

    put = PrefixCache.put_or_raise


class _MirrorCache(MirrorCache):
    put = MirrorCache.put_or_raise


INVALID_KEYS = ["", "/a", "a//b", "a/", "a/./b", "a/../b", "..", "a\x00b", "a\nb", "k" * 1025]


def _seed(
    seed: Callable[[str, bytes], Awaitable[None]] | None, base: str
) -> Callable[[str, bytes], Awaitable[None]] | None:
    if seed is None:
        return None

    async def write(key: str, data: bytes) -> None:
        await seed(base + key, data)

    return write


def _wrap(raw: Target) -> Target:
    """A `PrefixStore` over the raw target's store, at the prefix its names go under."""
    base = raw.uri("")
    assert raw.uri("x/y") == base + "x/y"
    return Target(
        PrefixStore(raw.store, base),
        lambda name: name,
        "",
        invalid=INVALID_KEYS,
        writable=raw.writable,
        listable=raw.listable,
        sorted_listing=raw.sorted_listing,
        seed=_seed(raw.seed, base),
    )


def _fixture(backend: str) -> Callable[[pytest.FixtureRequest], Target]:
    def fixture(request: pytest.FixtureRequest) -> Target:
        return _wrap(request.getfixturevalue(f"contract_{backend}"))

    fixture.__name__ = f"contract_prefix_{backend}"
    return pytest.fixture(name=f"contract_prefix_{backend}")(fixture)


for _backend in _BACKENDS:
    globals()[f"contract_prefix_{_backend}"] = _fixture(_backend)


@pytest.fixture
async def contract_prefix_cache_file_bounded(tmp_path: Path) -> AsyncIterator[Target]:
    async with _PrefixCache(FileRaw(), f"{tmp_path}/lru/", max_bytes=64 << 20) as store:
        yield Target(store, lambda name: name, "", invalid=INVALID_KEYS)


@pytest.fixture
async def contract_prefix_cache_memory_bounded() -> AsyncIterator[Target]:
    async with _PrefixCache(MemoryRaw(), "mem://lru/", max_bytes=64 << 20) as store:
        yield Target(store, lambda name: name, "", invalid=INVALID_KEYS)


_MIRRORED = "s3://bucket/c/"
_NOT_MIRRORED = ["", "relative/key", "/abs/path", "ftp://host/x", "S3://b/k", "file://rel"]


@pytest.fixture
async def contract_mirror_file(tmp_path: Path) -> AsyncIterator[Target]:
    async with _MirrorCache(FileRaw(tmp_path), f"{tmp_path}/mirror/") as store:
        yield Target(store, lambda name: _MIRRORED + name, _MIRRORED, invalid=_NOT_MIRRORED)


@pytest.fixture
async def contract_mirror_file_bounded(tmp_path: Path) -> AsyncIterator[Target]:
    async with _MirrorCache(FileRaw(), f"{tmp_path}/mirror/", max_bytes=64 << 20) as store:
        yield Target(store, lambda name: _MIRRORED + name, _MIRRORED, invalid=_NOT_MIRRORED)
