"""Helpers shared by the tests of `asyncbitstore.fastapi`: apps, stores that count reads, and
running an app over ASGI or under a real uvicorn."""

from __future__ import annotations

import importlib.util
import socket
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from types import ModuleType
from typing import Annotated, Any

import httpx
import uvicorn
from fastapi import Depends, FastAPI, Request, Response

from asyncbitstore import FileRaw, Store
from asyncbitstore.fastapi import blob_response, get_store, store_lifespan

ROOT = Path(__file__).parents[1]

#: The app's store, as a route parameter.
StoreDep = Annotated[Store, Depends(get_store)]


def load_example(name: str) -> ModuleType:
    """The example service module, loaded under ``name``."""
    spec = importlib.util.spec_from_file_location(name, ROOT / "examples" / "fastapi_app.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class CountingFileRaw(FileRaw):
    """A `FileRaw` that counts the reads of blob bytes (``head`` and ``exists`` are not)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.reads = 0

    async def get(self, uri: str, **options: Any) -> bytes:
        self.reads += 1
        return await super().get(uri, **options)

    async def get_range(self, uri: str, start: int, end: int) -> bytes:
        self.reads += 1
        return await super().get_range(uri, start, end)

    def _stream(self, uri: str, chunk_size: int, stored: bool) -> AsyncIterator[bytes]:
        self.reads += 1
        return super()._stream(uri, chunk_size, stored)


def blob_app(build: Callable[[], Store], **options: Any) -> FastAPI:
    """An app serving ``GET``/``HEAD /b/{key}`` with `blob_response` (``options`` passed on)."""
    app = FastAPI(lifespan=store_lifespan(build))

    async def blob(key: str, request: Request, store: StoreDep) -> Response:
        return await blob_response(store, key, request=request, **options)

    app.add_api_route("/b/{key:path}", blob, methods=["GET", "HEAD"])
    return app


@asynccontextmanager
async def asgi_client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """A client talking to ``app`` over ASGI, with the app's lifespan running."""
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://blobs") as client:
            yield client


@contextmanager
def uvicorn_server(app: FastAPI) -> Iterator[str]:
    """``app`` under uvicorn on a free port of 127.0.0.1 (in a thread); yields its base URL
    and stops the server on exit."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        for _ in range(1000):
            if server.started:
                break
            thread.join(0.01)
        else:
            raise RuntimeError("uvicorn did not start")
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(15)
        sock.close()
    assert not thread.is_alive()
