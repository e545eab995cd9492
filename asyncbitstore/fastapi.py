"""FastAPI helpers for a service in front of a store: lifespan, dependency and blob responses.

::

    from fastapi import Depends, FastAPI, Request
    from asyncbitstore import Store
    from asyncbitstore.fastapi import blob_response, get_store, store_lifespan

    app = FastAPI(lifespan=store_lifespan(build_chain))  # a factory, or a config file later


    @app.get("/blobs/{key}")
    async def get_blob(key: str, request: Request, store: Store = Depends(get_store)):
        return await blob_response(store, key, request.headers.get("Range"))

The lifespan builds the store when the app starts, keeps it on ``app.state.store`` and closes
it on shutdown (a chain flushes its pending cache fills first). To combine it with a lifespan of
your own, enter it inside yours: ``async with store_lifespan(build)(app): yield``.

Errors become HTTP statuses in one place
([`error_response`][asyncbitstore.fastapi.error_response]): a malformed key 400, a missing
blob 404, a read-only store 405, an unsatisfiable range 416, stored copies that fail verification
502, tiers that are down 503 (details go to the log, not to the client), a full store 507.
Install with ``pip install 'asyncbitstore[fastapi]'``.
"""

from __future__ import annotations

import contextlib
import inspect
import logging
import os
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any, Protocol, TypeAlias, runtime_checkable

try:
    from fastapi import Request
    from fastapi.responses import JSONResponse, Response, StreamingResponse
    from starlette.applications import Starlette
except ModuleNotFoundError as exc:  # pragma: no cover - depends on the installed extras
    raise ImportError(
        "asyncbitstore.fastapi needs FastAPI: pip install 'asyncbitstore[fastapi]'"
    ) from exc

from . import errors
from ._core.data import DEFAULT_CHUNK_SIZE
from .store import Store

__all__ = [
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

logger = logging.getLogger("asyncbitstore.fastapi")

#: What a service's store is built from: a factory (plain or async), or a configuration
#: (a mapping, or the path of a TOML file) for ``Sha1Composite.from_config``.
StoreSource: TypeAlias = (
    Callable[[], Store | Awaitable[Store]] | Mapping[str, Any] | str | os.PathLike[str]
)

_RANGE = re.compile(r"bytes=(\d*)-(\d*)", re.IGNORECASE)
_MEDIA_TYPE = "application/octet-stream"


@runtime_checkable
class _Writer(Protocol):
    async def write(self, data: bytes) -> str: ...


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


# -- responses ----------------------------------------------------------------------------------


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """``[start, end)`` asked for by a ``Range`` header, or None to send the whole blob.

    Only single byte ranges are honoured; anything else (several ranges, other units, bad
    syntax) is ignored, as RFC 9110 allows. A range that starts at or past ``size`` comes back
    with ``start >= size``: the caller answers 416.
    """
    found = _RANGE.fullmatch(header.strip()) if header else None
    if found is None or found.groups() == ("", ""):
        return None
    first, last = found.groups()
    if not first:  # "bytes=-N": the last N bytes ("bytes=-0" is unsatisfiable)
        return (max(size - int(last), 0) if int(last) else size), size
    start = int(first)
    if last and int(last) < start:
        return None
    end = min(int(last) + 1, size) if last else size
    return start, max(end, start)


def error_response(exc: errors.BitstoreError) -> Response:
    """The HTTP answer for one of the library's errors (see the module docstring)."""
    headers: dict[str, str] = {}
    if isinstance(exc, errors.InvalidURI):
        status, detail = 400, "malformed key" + (f": expected {exc.hint}" if exc.hint else "")
    elif isinstance(exc, errors.InvalidDataFound):
        status, detail = 502, "stored copies failed verification"
    elif isinstance(exc, errors.NotFoundInStore):
        status, detail = 404, "not found"
    elif isinstance(exc, errors.InvalidRange):
        status, detail = 416, "range not satisfiable"
    elif isinstance(exc, errors.NotWritable):
        status, detail, headers = 405, "this service does not take uploads", {"Allow": "GET, HEAD"}
    elif isinstance(exc, errors.StoreFull):
        status, detail = 507, "no room for the blob"
    elif isinstance(exc, errors.StoreNotAvailable):
        status, detail, headers = 503, "storage temporarily unavailable", {"Retry-After": "1"}
    else:
        status, detail = 500, "storage error"
    if status >= 500:
        logger.warning("answering %d: %s", status, exc)
    return JSONResponse({"detail": detail}, status_code=status, headers=headers)


async def blob_response(
    store: Store,
    key: str,
    range_header: str | None = None,
    *,
    head: bool = False,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    media_type: str = _MEDIA_TYPE,
) -> Response:
    """The answer to ``GET`` (or ``HEAD``, with ``head=True``) for the blob at ``key``.

    A whole blob is streamed from ``store.stream`` (chunked, memory bounded by ``chunk_size``).
    A single byte ``Range`` is answered with 206 and ``Content-Range``, read piecewise with
    ``get_range``; an unsatisfiable one with 416. ``HEAD`` sends ``Content-Length`` only.
    Errors before the first byte become an error status
    ([`error_response`][asyncbitstore.fastapi.error_response]); a failure in
    mid-stream aborts the connection, so a client never mistakes a cut body for a whole one.
    """
    headers = {"Accept-Ranges": "bytes"}
    try:
        if head:
            headers["Content-Length"] = str(await store.size(key))
            return Response(headers=headers, media_type=media_type)
        if range_header:
            size = await store.size(key)
            span = parse_range(range_header, size)
            if span is not None:
                return await _partial(store, key, span, size, chunk_size, media_type, headers)
        chunks = store.stream(key, chunk_size)
        first = await anext(chunks, b"")
    except errors.BitstoreError as exc:
        return error_response(exc)
    return StreamingResponse(_relay(key, first, chunks), media_type=media_type, headers=headers)


async def _partial(
    store: Store,
    key: str,
    span: tuple[int, int],
    size: int,
    chunk_size: int,
    media_type: str,
    headers: dict[str, str],
) -> Response:
    start, end = span
    if start >= size:
        headers["Content-Range"] = f"bytes */{size}"
        return Response(status_code=416, headers=headers)
    first = await store.get_range(key, start, min(start + chunk_size, end))

    async def rest() -> AsyncIterator[bytes]:
        for offset in range(start + len(first), end, chunk_size):
            yield await store.get_range(key, offset, min(offset + chunk_size, end))

    headers["Content-Range"] = f"bytes {start}-{end - 1}/{size}"
    headers["Content-Length"] = str(end - start)
    return StreamingResponse(
        _relay(key, first, rest()), status_code=206, media_type=media_type, headers=headers
    )


async def _relay(key: str, first: bytes, chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """``first``, then the rest of ``chunks``; a failure is logged and aborts the response."""
    try:
        if first:
            yield first
        async for chunk in chunks:
            yield chunk
    except Exception as exc:
        logger.warning("blob %s failed in mid-response: %s", key, exc)
        raise
    finally:
        await chunks.aclose()  # type: ignore[attr-defined]


async def write_response(store: Store, data: bytes) -> Response:
    """Store ``data`` under its digest (``store.write``); 201 with ``{"key": ...}``."""
    if not isinstance(store, _Writer):
        raise TypeError(f"{store.name} has no write(); use a content-addressed store or chain")
    try:
        key = await store.write(data)
    except errors.BitstoreError as exc:
        return error_response(exc)
    return JSONResponse({"key": key}, status_code=201)
