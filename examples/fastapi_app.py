"""A blob service: FastAPI in front of a SHA-1 tier chain (a local cache over sources).

Run it::

    pip install 'asyncbitstore[http,fastapi,prometheus]' uvicorn
    BLOB_SOURCE_DIR=/srv/blobs uvicorn examples.fastapi_app:app

Endpoints: ``GET /blobs/{sha1}`` (streamed; ``Range``, ``If-None-Match`` and
``If-Modified-Since`` honoured; ``ETag`` and an immutable ``Cache-Control``),
``HEAD /blobs/{sha1}``, ``PUT /blobs`` (the body, streamed to storage; answers
``{"key": sha1}``, or 413 past ``BLOB_MAX_UPLOAD``), ``GET /stats``, and ``GET /metrics`` for
Prometheus when ``prometheus_client`` is installed.

The chain comes from environment variables (all optional):

- ``BLOB_CACHE_DIR``: folder of the local cache (default: ``asyncbitstore-cache`` in the
  temp folder).
- ``BLOB_SOURCE_DIR``: folder of a writable source; ``PUT /blobs`` writes there.
- ``BLOB_ORIGIN``: URL prefix of a read-only HTTP origin holding ``<prefix><sha1>`` files;
  ``BLOB_ORIGIN_TOKEN`` is sent to it as a bearer token.
- ``BLOB_MAX_UPLOAD``: the largest body ``PUT /blobs`` takes, in bytes (default: no limit).
- ``BLOB_REDIRECT``: ``1`` to answer ``GET`` with a redirect to a presigned URL when the blob
  is found in a tier that can sign one (S3, GCS); it is served otherwise.
- ``BLOB_CONFIG``: a chain configuration file (TOML, see ``asyncbitstore.config``) instead of
  the variables above; it is read by ``Sha1Composite.from_config`` at startup.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request, Response

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


def create_app(
    source: StoreSource | None = None,
    *,
    metrics_registry: Any = None,
    max_upload: int | None = None,
    redirect: bool | None = None,
) -> FastAPI:
    """The service, its chain built from ``source`` (default: the environment) at startup.

    ``GET /metrics`` serves ``metrics_registry`` (default: prometheus_client's global one).
    ``max_upload`` (default: ``BLOB_MAX_UPLOAD``, else no limit) bounds ``PUT /blobs`` bodies;
    ``redirect`` (default: ``BLOB_REDIRECT=1``) sends clients to presigned URLs.
    """
    if source is None:
        source = os.environ.get("BLOB_CONFIG") or build_store
    if max_upload is None and os.environ.get("BLOB_MAX_UPLOAD"):
        max_upload = int(os.environ["BLOB_MAX_UPLOAD"])
    if redirect is None:
        redirect = os.environ.get("BLOB_REDIRECT") == "1"
    app = FastAPI(title="blobs", lifespan=store_lifespan(source))

    @app.get("/blobs/{sha1}")
    async def get_blob(sha1: str, request: Request, store: StoreDep) -> Response:
        """The blob, streamed; a single byte ``Range`` gets 206, a matching
        ``If-None-Match`` or ``If-Modified-Since`` 304."""
        return await blob_response(store, sha1, request=request, redirect=redirect)

    @app.head("/blobs/{sha1}")
    async def head_blob(sha1: str, request: Request, store: StoreDep) -> Response:
        """The blob's headers: its length (when known) as ``Content-Length``, its ETag."""
        return await blob_response(store, sha1, request=request)

    @app.put("/blobs", status_code=201)
    async def put_blob(request: Request, store: StoreDep) -> Response:
        """Store the request body as it arrives; answers ``{"key": sha1}``."""
        return await write_response(store, request, max_size=max_upload)

    @app.get("/stats")
    async def stats(store: StoreDep) -> dict[str, Any]:
        """Hits, misses, errors, bytes and latency per tier; background fill counts."""
        return store.stats.as_dict() if isinstance(store, Composite) else {}

    with contextlib.suppress(ImportError):  # no /metrics without the prometheus extra
        mount_metrics(app, registry=metrics_registry)
    return app


app = create_app()
