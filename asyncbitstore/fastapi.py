"""FastAPI helpers for a service in front of a store: lifespan, dependency, blob responses
and uploads.

::

    from typing import Annotated

    from fastapi import Depends, FastAPI, Request
    from asyncbitstore import Store
    from asyncbitstore.fastapi import blob_response, get_store, store_lifespan, write_response

    app = FastAPI(lifespan=store_lifespan(build_chain))  # a factory, or a config file
    StoreDep = Annotated[Store, Depends(get_store)]


    @app.api_route("/blobs/{key}", methods=["GET", "HEAD"])
    async def get_blob(key: str, request: Request, store: StoreDep):
        return await blob_response(store, key, request=request)


    @app.put("/blobs")
    async def put_blob(request: Request, store: StoreDep):
        return await write_response(store, request, max_size=1 << 30)

The lifespan builds the store when the app starts, keeps it on ``app.state.store`` and closes
it on shutdown (a chain flushes its pending cache fills first). To combine it with a lifespan of
your own, enter it inside yours: ``async with store_lifespan(build)(app): yield``.

[`blob_response`][asyncbitstore.fastapi.blob_response] behaves like a static-file server:
``Content-Length`` where the length is known, ``ETag`` (and for a content-addressed blob a
year-long immutable ``Cache-Control``), 304 for ``If-None-Match``/``If-Modified-Since``, single
byte ranges (also of blobs stored compressed), and optionally a redirect to a presigned URL.
[`write_response`][asyncbitstore.fastapi.write_response] stores a body as it streams in, with
an optional size limit (413).

Errors become HTTP statuses in one place
([`error_response`][asyncbitstore.fastapi.error_response]): a malformed key 400, a missing
blob 404, a read-only store 405, a body past the limit 413, an unsatisfiable range 416, stored
copies that fail verification 502, tiers that are down 503 (details go to the log, not to the
client), a full store 507.
Install with ``pip install 'asyncbitstore[fastapi]'``.
"""

from __future__ import annotations

import contextlib
import inspect
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any, TypeAlias

try:
    from fastapi import Request
    from fastapi.responses import Response
    from starlette.applications import Starlette
except ModuleNotFoundError as exc:  # pragma: no cover - depends on the installed extras
    raise ImportError(
        "asyncbitstore.fastapi needs FastAPI: pip install 'asyncbitstore[fastapi]'"
    ) from exc

from ._fastapi.blob import blob_response
from ._fastapi.ranges import parse_range
from ._fastapi.statuses import error_response
from ._fastapi.upload import Body, write_response
from .store import Store

__all__ = [
    "Body",
    "StoreSource",
    "blob_response",
    "build_store",
    "error_response",
    "get_store",
    "mount_metrics",
    "parse_range",
    "store_lifespan",
    "write_response",
]

#: What a service's store is built from: a factory (plain or async), or a configuration
#: (a mapping, or the path of a TOML file) for ``Sha1Composite.from_config``.
StoreSource: TypeAlias = (
    Callable[[], Store | Awaitable[Store]] | Mapping[str, Any] | str | os.PathLike[str]
)

# -- lifecycle ----------------------------------------------------------------------------------


async def build_store(source: StoreSource) -> Store:
    """The store described by ``source``: a factory's result, or a chain built from a config."""
    if callable(source):
        store = source()
        if inspect.isawaitable(store):
            store = await store
    else:
        from .composite import Sha1Composite

        store = Sha1Composite.from_config(source)
    if not isinstance(store, Store):
        raise TypeError(f"the store source gave {type(store).__name__}, not a Store")
    return store


def store_lifespan(
    source: StoreSource,
) -> Callable[[Starlette], contextlib.AbstractAsyncContextManager[None]]:
    """A lifespan that builds the store on startup and closes it on shutdown.

    The store lives on ``app.state.store``, where [`get_store`][asyncbitstore.fastapi.get_store]
    finds it. Closing a chain
    waits for its pending cache fills first, so no fill is lost on a clean shutdown.

    A configuration file named by a relative path is found from the working folder of this
    call, not of the server's startup; relative paths inside it are taken from its folder.
    """
    if isinstance(source, (str, os.PathLike)):
        source = Path(source).expanduser().absolute()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        store = await build_store(source)
        app.state.store = store
        try:
            yield
        finally:
            del app.state.store
            await store.aclose()

    return lifespan


def get_store(request: Request) -> Store:
    """The app's store, for ``Depends(get_store)``.

    Raises:
        RuntimeError: the app was not given ``lifespan=store_lifespan(...)``.
    """
    store = getattr(request.app.state, "store", None)
    if not isinstance(store, Store):
        raise RuntimeError("no store on app.state: create the app with lifespan=store_lifespan()")
    return store


def mount_metrics(app: Starlette, *, path: str = "/metrics", registry: Any = None) -> None:
    """Serve Prometheus metrics at ``GET path``: the app's chain and the rest of ``registry``.

    At each scrape the chain on ``app.state.store`` joins the registry's collector (see
    [`asyncbitstore.prometheus.expose`][asyncbitstore.prometheus.expose]), so the store the
    lifespan builds is found.
    ``registry`` defaults to ``prometheus_client.REGISTRY``, which also holds the process
    metrics and the application's own. Needs ``pip install 'asyncbitstore[prometheus]'``.

    Raises:
        ImportError: prometheus_client is not installed.
    """
    from starlette.routing import Route

    from .composite import Composite
    from .prometheus import expose, render

    async def metrics(request: Request) -> Response:
        store = getattr(request.app.state, "store", None)
        if isinstance(store, Composite):
            expose(store, registry=registry)
        body, content_type = render(registry, request.headers.get("accept"))
        return Response(body, headers={"Content-Type": content_type})

    app.router.routes.append(Route(path, metrics, methods=["GET"], include_in_schema=False))


# Defined in private modules, documented under this public path.
for _public in (blob_response, error_response, parse_range, write_response):
    _public.__module__ = __name__
del _public
