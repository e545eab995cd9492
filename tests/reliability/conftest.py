"""Shared pieces of the reliability tests: origins behind the fault proxy, blobs, leak checks.

An :class:`Origin` is one real server (moto or SeaweedFS S3, fake-gcs-server, an aiohttp static
HTTP server) with a way to build a store that reaches it through any URL (the proxy's), a way to
name blobs, and a way to seed blobs straight into the server, bypassing the proxy.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import uuid
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from asyncbitstore import GSRaw, HTTPRaw, Retry, S3Raw, Store
from tests.contract.targets_http import StaticServer
from tests.contract.targets_s3 import fresh_bucket
from tests.servers import FakeGCSServer

# When a property test fails, Hypothesis imports its patch writer, which may import libcst,
# which warns (DeprecationWarning from mypy_extensions) inside a pytest hook: with warnings as
# errors that becomes an INTERNALERROR hiding the real failure. Import it here, quietly, first.
with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    with contextlib.suppress(ImportError):
        import hypothesis.extra._patching  # noqa: F401

#: Quick retries with room for several faults in a row: 8 calls in all, waits of 1-10 ms.
FAST = Retry(attempts=8, base=0.002, cap=0.01)


def blob(i: int, size: int = 256) -> bytes:
    """Blob number ``i``: ``size`` bytes that name ``i`` (so any blob tells which it is)."""
    head = f"blob {i:09d} ".encode()
    return (head * (size // len(head) + 1))[:size]


def sha1(data: bytes) -> str:
    return hashlib.sha1(data).hexdigest()


def blob_index(data: bytes) -> int:
    """The ``i`` of a :func:`blob` (its content is checked by the caller against blob(i))."""
    return int(data[5:14])


@dataclass
class Origin:
    """A server to put the fault proxy in front of.

    Attributes:
        name: "s3", "gcs" or "http".
        upstream: the server's own URL (the proxy forwards there).
        make: builds a store that talks to the server at a given URL.
        uri: the URI of blob ``name`` when the server is reached at a given URL.
        seed: writes a blob straight into the server.
    """

    name: str
    upstream: str
    make: Callable[[str], Store]
    uri: Callable[[str, str], str]
    seed: Callable[[str, bytes], Awaitable[None]]

    async def seed_many(self, items: list[tuple[str, bytes]]) -> None:
        """Seed many ``(name, data)`` pairs, 64 at a time."""
        gate = asyncio.Semaphore(64)

        async def one(name: str, data: bytes) -> None:
            async with gate:
                await self.seed(name, data)

        await asyncio.gather(*(one(n, d) for n, d in items))


@pytest.fixture
async def s3_origin(moto_server: Any) -> AsyncIterator[Origin]:
    """moto S3, a fresh bucket."""
    async with s3_origin_on(moto_server.url) as origin:
        yield origin


@pytest.fixture
async def weed_origin(seaweed_server: Any) -> AsyncIterator[Origin]:
    """SeaweedFS S3 (faster than moto, for bulk tests), a fresh bucket."""
    async with s3_origin_on(seaweed_server.url) as origin:
        yield origin


@contextlib.asynccontextmanager
async def s3_origin_on(endpoint: str) -> AsyncIterator[Origin]:
    """An S3 origin on the server at ``endpoint``, in a fresh bucket."""
    async with fresh_bucket(endpoint) as (bucket, admin):

        async def seed(name: str, data: bytes) -> None:
            await admin.put_object(Bucket=bucket, Key=name, Body=data)

        yield Origin(
            "s3",
            endpoint,
            lambda url: S3Raw(endpoint_url=url, retry=FAST),
            lambda url, name: f"s3://{bucket}/{name}",
            seed,
        )


@pytest.fixture
async def gcs_origin(gcs_server: FakeGCSServer) -> AsyncIterator[Origin]:
    """fake-gcs-server, a fresh bucket."""
    bucket = f"rel-{uuid.uuid4().hex[:12]}"
    await asyncio.to_thread(gcs_server.create_bucket, bucket)
    direct = GSRaw(api_root=gcs_server.url)

    async def seed(name: str, data: bytes) -> None:
        await direct.put(f"gs://{bucket}/{name}", data)

    yield Origin(
        "gcs",
        gcs_server.url,
        lambda url: GSRaw(api_root=url, retry=FAST),
        lambda url, name: f"gs://{bucket}/{name}",
        seed,
    )
    await direct.aclose()


@pytest.fixture
async def http_origin(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Origin]:
    """aiohttp's static route over a fresh folder; seeding writes files into it."""
    root = tmp_path_factory.mktemp("http-origin")
    server = StaticServer(root)
    await server.start()

    async def seed(name: str, data: bytes) -> None:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)

    yield Origin(
        "http",
        server.url,
        lambda url: HTTPRaw(retry=FAST, listing=False),
        lambda url, name: f"{url}/{name}",
        seed,
    )
    await server.stop()


@pytest.fixture(params=["s3", "gcs", "http"])
def origin(request: pytest.FixtureRequest) -> Origin:
    """Each origin in turn: moto S3, fake-gcs-server, an aiohttp static server."""
    return request.getfixturevalue(f"{request.param}_origin")  # type: ignore[no-any-return]


# -- counting retries and checking for leaks ----------------------------------------------------


class RetryLog(logging.Handler):
    """Counts the backends' "retrying" records (one per retried request)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.retried = 0

    def emit(self, record: logging.LogRecord) -> None:
        if "retrying" in record.getMessage():
            self.retried += 1


@pytest.fixture
def retries() -> Iterator[RetryLog]:
    """Counts retried requests (from the ``asyncbitstore.retry`` logger) during the test."""
    handler = RetryLog()
    logger = logging.getLogger("asyncbitstore.retry")
    level = logger.level
    logger.setLevel(logging.DEBUG)
    logger.addHandler(handler)
    yield handler
    logger.removeHandler(handler)
    logger.setLevel(level)


def files_under(folder: Path) -> dict[str, bytes]:
    """``{relative path: content}`` of every file under ``folder`` (temp files included)."""
    found = {}
    for parent, _, names in os.walk(folder):
        for name in names:
            path = Path(parent, name)
            found[str(path.relative_to(folder))] = path.read_bytes()
    return found


def open_fds() -> set[str]:
    """What this process's file descriptors point at."""
    found = set()
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):  # the descriptor listdir used, closed meanwhile
            found.add(f"{fd}->{os.readlink(f'/proc/self/fd/{fd}')}")
    return found


async def settled_tasks() -> set[asyncio.Task[Any]]:
    """The running loop's tasks other than the caller's, after letting finished ones end."""
    for _ in range(3):
        await asyncio.sleep(0)
    current = asyncio.current_task()
    return {t for t in asyncio.all_tasks() if t is not current and not t.done()}
