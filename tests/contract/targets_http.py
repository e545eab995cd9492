"""Contract targets for ``HTTPRaw``: an aiohttp static server and nginx, both on 127.0.0.1.

HTTP is read-only: each target's ``seed`` writes the file into the served folder. Every test
gets its own subfolder, so each starts with an empty store. Only nginx publishes JSON listings.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import pytest
from aiohttp import web

from asyncbitstore import HTTPRaw
from tests.servers import NginxServer

from .target import Target

TARGETS = ["http_aiohttp", "http_nginx"]


class StaticServer:
    """aiohttp's static file route serving ``root``, run inside the test's event loop."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.url = ""
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_static("/", self.root)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


# Helper fixtures need the contract_ prefix too: conftest.py collects only those names.
@pytest.fixture(scope="session")
async def contract_aiohttp_static(
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[StaticServer]:
    """One static server for the session."""
    server = StaticServer(tmp_path_factory.mktemp("aiohttp-static"))
    await server.start()
    yield server
    await server.stop()


@pytest.fixture(scope="session")
def contract_nginx_static(
    nginx_bin: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[NginxServer]:
    """One nginx for the session, serving a temp folder with JSON autoindex."""
    with NginxServer(tmp_path_factory.mktemp("nginx-root"), binary=nginx_bin) as server:
        yield server


def _seeder(root: Path, base: str) -> Callable[[str, bytes], Awaitable[None]]:
    async def seed(uri: str, data: bytes) -> None:
        path = root / uri.removeprefix(base + "/")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)

    return seed


def _target(store: HTTPRaw, base: str, root: Path, *, listable: bool) -> Target:
    folder = f"{base}/{uuid.uuid4().hex}"
    return Target(
        store,
        lambda name: f"{folder}/{name}",
        f"{folder}/",
        invalid=[
            "http://",
            base,
            f"{base}/",
            f"{folder}/dir/",
            f"{folder}/a#fragment",
            f"{folder}/with space",
            "http://127.0.0.1:notaport/x",
            "ftp://127.0.0.1/x",
            "s3://bucket/key",
            "",
        ],
        writable=False,
        listable=listable,
        seed=_seeder(root, base),
    )


@pytest.fixture
async def contract_http_aiohttp(contract_aiohttp_static: StaticServer) -> AsyncIterator[Target]:
    async with HTTPRaw(listing=False) as store:
        server = contract_aiohttp_static
        yield _target(store, server.url, server.root, listable=False)


@pytest.fixture
async def contract_http_nginx(contract_nginx_static: NginxServer) -> AsyncIterator[Target]:
    async with HTTPRaw() as store:
        server = contract_nginx_static
        yield _target(store, server.url, server.root_dir, listable=True)
