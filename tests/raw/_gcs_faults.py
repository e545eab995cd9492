"""Small misbehaving HTTP endpoints for the GSRaw tests, served inside the test's event loop."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable

from aiohttp import web

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@contextlib.asynccontextmanager
async def serving(method: str, path: str, handler: Handler) -> AsyncIterator[str]:
    """Serve ``handler`` at ``path`` on a free 127.0.0.1 port; yields ``http://127.0.0.1:P``."""
    app = web.Application()
    app.router.add_route(method, path, handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


def cut_midway(blob: bytes, generation: str, seen: list[tuple[str | None, str | None]]) -> Handler:
    """An ``alt=media`` handler whose first answer dies halfway; later ones honour ``bytes=N-``.

    Records ``(Range header, generation parameter)`` of every request in ``seen``.
    """

    async def media(request: web.Request) -> web.StreamResponse:
        seen.append((request.headers.get("Range"), request.query.get("generation")))
        start = int(request.headers["Range"][6:-1]) if "Range" in request.headers else 0
        response = web.StreamResponse(status=206 if start else 200)
        response.headers["X-Goog-Generation"] = generation
        if start:  # a 206 names its bytes (RFC 9110 and GCS)
            response.headers["Content-Range"] = f"bytes {start}-{len(blob) - 1}/{len(blob)}"
        response.content_length = len(blob) - start
        await response.prepare(request)
        if start == 0:
            await response.write(blob[: len(blob) // 2])
            assert request.transport is not None
            request.transport.close()
            return response
        await response.write(blob[start:])
        return response

    return media


def refusing_token_endpoint(calls: list[str]) -> Handler:
    """An OAuth token endpoint that refuses every grant with 401, recording request bodies."""

    async def refuse(request: web.Request) -> web.Response:
        calls.append(await request.text())
        return web.json_response({"error": "invalid_grant", "error_description": "no"}, status=401)

    return refuse
