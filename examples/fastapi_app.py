"""A blob service: FastAPI in front of a SHA-1 tier chain (a local cache over sources).

Run it::

    pip install 'asyncbitstore[http,fastapi,prometheus]' uvicorn
    BLOB_SOURCE_DIR=/srv/blobs uvicorn examples.fastapi_app:app

Endpoints: ``GET /blobs/{sha1}`` (streamed; ``Range`` honoured), ``HEAD /blobs/{sha1}``,
``PUT /blobs`` (the body; answers ``{"key": sha1}``), ``GET /stats``, and ``GET /metrics``
for Prometheus when ``prometheus_client`` is installed.

The chain comes from environment variables (all optional):

- ``BLOB_CACHE_DIR``: folder of the local cache (default: ``asyncbitstore-cache`` in the
  temp folder).
- ``BLOB_SOURCE_DIR``: folder of a writable source; ``PUT /blobs`` writes there.
- ``BLOB_ORIGIN``: URL prefix of a read-only HTTP origin holding ``<prefix><sha1>`` files;
  ``BLOB_ORIGIN_TOKEN`` is sent to it as a bearer token.
- ``BLOB_CONFIG``: a chain configuration file (TOML, see ``asyncbitstore.config``) instead of
  the variables above; it is read by ``Sha1Composite.from_config`` at startup.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Header, Request, Response

from asyncbitstore import Composite, FileRaw, HTTPRaw, Sha1Cache, Sha1Composite, Sha1Store, Store
from asyncbitstore.fastapi import (
    StoreSource,
    blob_response,
    get_store,
    mount_metrics,
    store_lifespan,
    write_response,
)

#: The app's store, as a route parameter (module level: FastAPI resolves annotations here).
StoreDep = Annotated[Store, Depends(get_store)]


def build_store(env: Mapping[str, str] = os.environ) -> Sha1Composite:
    """The chain described by the ``BLOB_*`` environment variables."""
    cache_dir = env.get("BLOB_CACHE_DIR") or os.path.join(
        tempfile.gettempdir(), "asyncbitstore-cache"
    )
    chain = Sha1Composite(name="blobs")
    chain.append_cache(Sha1Cache(FileRaw(), os.path.abspath(cache_dir) + "/"))
    if source_dir := env.get("BLOB_SOURCE_DIR"):
        source = Sha1Store(FileRaw(), os.path.abspath(source_dir) + "/")
        chain.append_source(source, write=True, cache_result=True)
    if origin := env.get("BLOB_ORIGIN"):
        token = env.get("BLOB_ORIGIN_TOKEN")
        http = HTTPRaw(headers={"Authorization": f"Bearer {token}"} if token else None)
        chain.append_source(Sha1Store(http, origin), cache_result=True, timeout=30)
    return chain


def create_app(source: StoreSource | None = None, *, metrics_registry: Any = None) -> FastAPI:
    """The service, its chain built from ``source`` (default: the environment) at startup.

    ``GET /metrics`` serves ``metrics_registry`` (default: prometheus_client's global one).
    """
    if source is None:
        source = os.environ.get("BLOB_CONFIG") or build_store
    app = FastAPI(title="blobs", lifespan=store_lifespan(source))

    @app.get("/blobs/{sha1}")
    async def get_blob(
        sha1: str, store: StoreDep, range_: Annotated[str | None, Header(alias="Range")] = None
    ) -> Response:
        """The blob, streamed; a single byte ``Range`` gets 206."""
        return await blob_response(store, sha1, range_)

    @app.head("/blobs/{sha1}")
    async def head_blob(sha1: str, store: StoreDep) -> Response:
        """The blob's size, as ``Content-Length``."""
        return await blob_response(store, sha1, head=True)

    @app.put("/blobs", status_code=201)
    async def put_blob(request: Request, store: StoreDep) -> Response:
        """Store the request body; answers ``{"key": sha1}``. Limit body sizes in your proxy."""
        return await write_response(store, await request.body())

    @app.get("/stats")
    async def stats(store: StoreDep) -> dict[str, Any]:
        """Hits, misses, errors, bytes and latency per tier; background fill counts."""
        return store.stats.as_dict() if isinstance(store, Composite) else {}

    with contextlib.suppress(ImportError):  # no /metrics without the prometheus extra
        mount_metrics(app, registry=metrics_registry)
    return app


app = create_app()
