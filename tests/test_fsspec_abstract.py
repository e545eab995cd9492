"""fsspec's own contract suite (`fsspec.tests.abstract`) run against `BitstoreFileSystem`.

Over a named chain (a memory cache in front of a folder), and once over S3 on moto (four
minutes: marked slow). Stores have
no folders, so the suite runs with ``supports_empty_directories`` off, as for s3fs.
"""

from __future__ import annotations

import itertools
import posixpath
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

fsspec = pytest.importorskip("fsspec")
abstract = pytest.importorskip("fsspec.tests.abstract")

from fsspec.asyn import sync  # noqa: E402

from asyncbitstore import FileRaw, MemoryRaw, S3Raw  # noqa: E402
from asyncbitstore.composite import Composite  # noqa: E402
from asyncbitstore.fsspec import BitstoreFileSystem  # noqa: E402
from asyncbitstore.named import PrefixCache, PrefixStore  # noqa: E402
from tests.fsspec_support import bucket  # noqa: E402, F401

_serial = itertools.count()


def _join(*parts: str) -> str:
    return posixpath.join(*parts)  # keeps a trailing "/": "into this directory"


class _Fixtures(abstract.AbstractFixtures):  # type: ignore[misc]
    @pytest.fixture
    def fs_join(self) -> Callable[..., str]:
        return _join

    @pytest.fixture
    def fs_path(self) -> str:
        return f"suite-{next(_serial)}"

    @pytest.fixture
    def supports_empty_directories(self) -> bool:
        return False


def _closing(fs: BitstoreFileSystem) -> Iterator[BitstoreFileSystem]:
    yield fs
    sync(fs.loop, fs.store.aclose)  # waits for the background fills, so none outlives a test


class NamedChain(_Fixtures):
    @pytest.fixture
    def fs(self, tmp_path: Path) -> Iterator[BitstoreFileSystem]:
        chain = Composite()
        chain.append_cache(PrefixCache(MemoryRaw(), "mem://suite/"), name="memory")
        chain.append_source(
            PrefixStore(FileRaw(), f"{tmp_path}/files/"), write=True, cache_result=True
        )
        yield from _closing(BitstoreFileSystem(store=chain))


class TestNamedCopy(abstract.AbstractCopyTests, NamedChain):  # type: ignore[misc]
    pass


class TestNamedGet(abstract.AbstractGetTests, NamedChain):  # type: ignore[misc]
    pass


class TestNamedPut(abstract.AbstractPutTests, NamedChain):  # type: ignore[misc]
    pass


class TestNamedOpen(abstract.AbstractOpenTests, NamedChain):  # type: ignore[misc]
    pass


class TestNamedPipe(abstract.AbstractPipeTests, NamedChain):  # type: ignore[misc]
    pass


class S3Chain(_Fixtures):
    @pytest.fixture
    def fs(self, moto_server: Any, bucket: str) -> Iterator[BitstoreFileSystem]:  # noqa: F811
        chain = Composite()
        chain.append_cache(PrefixCache(MemoryRaw(), "mem://suite-s3/"), name="memory")
        chain.append_source(
            PrefixStore(S3Raw(endpoint_url=moto_server.url), f"s3://{bucket}/suite/"),
            write=True,
            cache_result=True,
        )
        yield from _closing(BitstoreFileSystem(store=chain))


@pytest.mark.servers
@pytest.mark.slow
class TestS3Copy(abstract.AbstractCopyTests, S3Chain):  # type: ignore[misc]
    pass


@pytest.mark.servers
@pytest.mark.slow
class TestS3Get(abstract.AbstractGetTests, S3Chain):  # type: ignore[misc]
    pass


@pytest.mark.servers
@pytest.mark.slow
class TestS3Put(abstract.AbstractPutTests, S3Chain):  # type: ignore[misc]
    pass


@pytest.mark.servers
@pytest.mark.slow
class TestS3Open(abstract.AbstractOpenTests, S3Chain):  # type: ignore[misc]
    pass


@pytest.mark.servers
@pytest.mark.slow
class TestS3Pipe(abstract.AbstractPipeTests, S3Chain):  # type: ignore[misc]
    pass
