"""HTTPRaw quirks: headers, status mapping, retries, odd servers, listings, and secrecy."""

from __future__ import annotations

import asyncio
import base64
import logging
import pickle
import socket
import ssl
import time
import traceback
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from aiohttp import web

from asyncbitstore import (
    HTTPRaw,
    InvalidRange,
    InvalidURI,
    NotFoundInStore,
    NotWritable,
    Retry,
    StoreNotAvailable,
    StoreTimeout,
)
from tests.servers import NginxServer
from tests.tls import self_signed

SECRET = "Bearer s3cr3t-t0ken-4711"
BLOB = bytes(range(256)) * 64  # 16 KiB
FAST = Retry(attempts=4, base=0.01, cap=0.02)


class Origin:
    """A small aiohttp app with one route per server behaviour, counting requests per path."""

    def __init__(self) -> None:
        self.url = ""
        self.requests: Counter[str] = Counter()
        self.auth_seen: list[str | None] = []
        self.methods: list[str] = []
        self._runner: web.AppRunner | None = None

    def app(self) -> web.Application:
        @web.middleware
        async def count(request: web.Request, handler: object) -> web.StreamResponse:
            self.requests[request.path] += 1
            self.methods.append(request.method)
            self.auth_seen.append(request.headers.get("Authorization"))
            return await handler(request)  # type: ignore[operator, no-any-return]

        app = web.Application(middlewares=[count])
        app.router.add_route("*", "/auth/blob", self.auth)
        app.router.add_route("*", "/status/{code}/{name}", self.status)
        app.router.add_route("*", "/flaky/{failures}/{code}/{name}", self.flaky)
        app.router.add_route("*", "/norange", self.norange)
        app.router.add_route("*", "/chunked/{mode}", self.chunked)
        app.router.add_route("*", "/nohead/{name}", self.nohead)
        app.router.add_get("/truncated", self.truncated)
        app.router.add_get("/slow", self.slow)
        app.router.add_get("/html/", self.html)
        app.router.add_get("/badjson/", self.badjson)
        return app

    async def auth(self, request: web.Request) -> web.Response:
        given = request.headers.get("Authorization")
        if given is None:
            return web.Response(status=401)
        if given != SECRET:
            return web.Response(status=403, text=f"token {given} refused")
        return web.Response(body=BLOB)

    async def status(self, request: web.Request) -> web.Response:
        return web.Response(status=int(request.match_info["code"]), text="nope")

    async def flaky(self, request: web.Request) -> web.Response:
        failures = int(request.match_info["failures"])
        if self.requests[request.path] <= failures:
            return web.Response(status=int(request.match_info["code"]))
        return web.Response(body=BLOB)

    async def norange(self, request: web.Request) -> web.Response:
        return web.Response(body=BLOB)  # a plain Response ignores Range headers

    async def chunked(self, request: web.Request) -> web.StreamResponse:
        """No Content-Length; mode "ranges" answers Range with 206, "plain" ignores it."""
        ranged = request.match_info["mode"] == "ranges" and "Range" in request.headers
        response = web.StreamResponse(status=206 if ranged else 200)
        if ranged:
            response.headers["Content-Range"] = f"bytes 0-0/{len(BLOB)}"
        response.enable_chunked_encoding()
        await response.prepare(request)
        if request.method != "HEAD":
            body = BLOB[:1] if ranged else BLOB
            for offset in range(0, len(body), 1000):
                await response.write(body[offset : offset + 1000])
        await response.write_eof()
        return response

    async def nohead(self, request: web.Request) -> web.Response:
        """Like a presigned URL: HEAD is refused; only "blob" exists."""
        if request.method == "HEAD":
            return web.Response(status=405)
        if request.match_info["name"] != "blob":
            return web.Response(status=404)
        return web.Response(body=BLOB)

    async def truncated(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Length": str(len(BLOB))})
        await response.prepare(request)
        await response.write(BLOB[:1000])
        await asyncio.sleep(0.05)
        assert request.transport is not None
        request.transport.close()
        return response

    async def slow(self, request: web.Request) -> web.Response:
        await asyncio.sleep(2)
        return web.Response(body=b"late")

    async def html(self, request: web.Request) -> web.Response:
        return web.Response(text="<html><a href='x'>x</a></html>", content_type="text/html")

    async def badjson(self, request: web.Request) -> web.Response:
        return web.Response(text="{not json", content_type="application/json")

    async def start(self, ssl_context: ssl.SSLContext | None = None) -> None:
        self._runner = web.AppRunner(self.app(), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0, ssl_context=ssl_context)
        await site.start()
        scheme = "https" if ssl_context else "http"
        self.url = f"{scheme}://127.0.0.1:{self._runner.addresses[0][1]}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


@pytest.fixture(scope="module")
async def origin() -> AsyncIterator[Origin]:
    server = Origin()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def store() -> AsyncIterator[HTTPRaw]:
    async with HTTPRaw(headers={"Authorization": SECRET}, retry=FAST) as raw:
        yield raw


def _unique(origin: Origin, path: str) -> str:
    """A URL whose path was never requested before (the request counters start at zero)."""
    return f"{origin.url}{path}/{time.monotonic_ns()}"


# -- headers and status codes -------------------------------------------------------------------


async def test_custom_headers_are_sent_with_every_kind_of_request(
    origin: Origin, store: HTTPRaw
) -> None:
    origin.auth_seen.clear()
    url = f"{origin.url}/auth/blob"
    assert await store.get(url) == BLOB
    assert await store.exists(url)
    assert await store.size(url) == len(BLOB)
    assert await store.get_range(url, 5, 9) == BLOB[5:9]
    assert b"".join([c async for c in store.stream(url, 4096)]) == BLOB
    # Six requests: the range from 5 also asks for the first bytes (is it compressed?).
    assert origin.auth_seen == [SECRET] * 6


@pytest.mark.parametrize(("headers", "status"), [({}, 401), ({"Authorization": "Bearer x"}, 403)])
async def test_401_and_403_become_store_not_available_at_once(
    origin: Origin, headers: dict[str, str], status: int
) -> None:
    before = origin.requests["/auth/blob"]
    async with HTTPRaw(headers=headers, retry=FAST) as raw:
        with pytest.raises(StoreNotAvailable, match=f"access denied \\(HTTP {status}\\)"):
            await raw.get(f"{origin.url}/auth/blob")
        with pytest.raises(StoreNotAvailable):
            await raw.exists(f"{origin.url}/auth/blob")
    assert origin.requests["/auth/blob"] - before == 2  # no retries


@pytest.mark.parametrize("code", [404, 410])
async def test_404_and_410_mean_not_found(origin: Origin, store: HTTPRaw, code: int) -> None:
    url = f"{origin.url}/status/{code}/x"
    with pytest.raises(NotFoundInStore):
        await store.get(url)
    with pytest.raises(NotFoundInStore):
        await store.size(url)
    assert await store.exists(url) is False


@pytest.mark.parametrize("code", [500, 503, 429])
async def test_transient_errors_are_retried_then_succeed(
    origin: Origin, store: HTTPRaw, code: int
) -> None:
    url = _unique(origin, f"/flaky/2/{code}")
    assert await store.get(url) == BLOB
    assert origin.requests[url.removeprefix(origin.url)] == 3


async def test_stream_retries_before_the_first_chunk(origin: Origin, store: HTTPRaw) -> None:
    url = _unique(origin, "/flaky/3/503")
    assert b"".join([c async for c in store.stream(url)]) == BLOB
    assert origin.requests[url.removeprefix(origin.url)] == 4


async def test_persistent_503_becomes_store_not_available_after_every_attempt(
    origin: Origin, store: HTTPRaw
) -> None:
    url = _unique(origin, "/flaky/99/503")
    with pytest.raises(StoreNotAvailable, match=r"HTTP 503.*after 4 attempts"):
        await store.get(url)
    assert origin.requests[url.removeprefix(origin.url)] == FAST.attempts


async def test_connection_refused_becomes_store_not_available() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again below: nothing listens there
    async with HTTPRaw(retry=Retry(attempts=2, base=0.01, cap=0.01)) as raw:
        with pytest.raises(StoreNotAvailable, match="ClientConnectorError"):
            await raw.get(f"http://127.0.0.1:{port}/x")


async def test_a_slow_server_raises_store_timeout(origin: Origin) -> None:
    async with HTTPRaw(read_timeout=0.2, retry=Retry(attempts=1)) as raw:
        started = time.monotonic()
        with pytest.raises(StoreTimeout, match=r"within 0\.2 s"):
            await raw.get(f"{origin.url}/slow")
    assert time.monotonic() - started < 1.5


async def test_put_and_delete_are_refused(origin: Origin, store: HTTPRaw) -> None:
    with pytest.raises(NotWritable, match="does not implement put"):
        await store.put(f"{origin.url}/x", b"data")
    with pytest.raises(NotWritable, match="does not implement delete"):
        await store.delete(f"{origin.url}/x")


# -- odd servers --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [(0, 1, BLOB[:1]), (100, 5000, BLOB[100:5000]), (16000, 99999, BLOB[16000:]),
     (len(BLOB), len(BLOB) + 3, b"")],
)  # fmt: skip
async def test_a_200_reply_to_a_range_request_is_sliced(
    origin: Origin, store: HTTPRaw, start: int, end: int, expected: bytes
) -> None:
    assert await store.get_range(f"{origin.url}/norange", start, end) == expected


async def test_a_200_reply_to_a_range_past_the_end_is_an_invalid_range(
    origin: Origin, store: HTTPRaw
) -> None:
    with pytest.raises(InvalidRange, match=f"has {len(BLOB)} bytes"):
        await store.get_range(f"{origin.url}/norange", len(BLOB) + 1, len(BLOB) + 2)


async def test_size_without_content_length_reads_content_range(
    origin: Origin, store: HTTPRaw
) -> None:
    origin.methods.clear()
    assert await store.size(f"{origin.url}/chunked/ranges") == len(BLOB)
    assert origin.methods == ["HEAD", "GET"]


async def test_size_without_content_length_or_ranges_counts_the_body(
    origin: Origin, store: HTTPRaw
) -> None:
    assert await store.size(f"{origin.url}/chunked/plain") == len(BLOB)


async def test_without_head_size_and_exists_ask_with_a_ranged_get(
    origin: Origin, store: HTTPRaw
) -> None:
    origin.methods.clear()
    assert await store.size(f"{origin.url}/nohead/blob") == len(BLOB)
    assert await store.exists(f"{origin.url}/nohead/blob") is True
    assert await store.exists(f"{origin.url}/nohead/other") is False
    assert origin.methods == ["HEAD", "GET"] * 3


async def test_a_body_cut_short_mid_stream_raises_store_not_available(
    origin: Origin, store: HTTPRaw
) -> None:
    received = []
    with pytest.raises(StoreNotAvailable, match="ClientPayloadError"):
        async for chunk in store.stream(f"{origin.url}/truncated", 100):
            received.append(chunk)  # noqa: PERF401 - keeps what came before the error
    assert 0 < sum(map(len, received)) <= 1000


async def test_a_stream_stopped_early_releases_its_connection(
    origin: Origin, store: HTTPRaw
) -> None:
    for _ in range(3):
        chunks = store.stream(f"{origin.url}/norange", 1024)
        assert await anext(chunks) == BLOB[:1024]
        await chunks.aclose()  # type: ignore[attr-defined]
    assert await store.get(f"{origin.url}/norange") == BLOB


# -- listings -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("path", "reason"), [("/html/", "text/html"), ("/badjson/", "")])
async def test_listing_a_server_without_json_listings_raises_a_clear_error(
    origin: Origin, store: HTTPRaw, path: str, reason: str
) -> None:
    with pytest.raises(NotImplementedError, match=f"did not answer with a JSON.*{reason}"):
        [u async for u in store.list(origin.url + path)]


async def test_listing_disabled_raises_when_called() -> None:
    raw = HTTPRaw(listing=False)
    with pytest.raises(NotImplementedError, match="listing=False"):
        raw.list("http://127.0.0.1/x/")


async def test_list_rejects_a_prefix_that_is_not_an_http_url(store: HTTPRaw) -> None:
    for prefix in ("", "s3://b/", "http://", "http://h/x?q=1"):
        with pytest.raises(InvalidURI):
            store.list(prefix)


@pytest.fixture(scope="module")
def nginx(nginx_bin: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[NginxServer]:
    root = tmp_path_factory.mktemp("nginx-listing")
    for name in ["a", "a b", "a-z", "ab/c", "ab/d/e", "b/x", "é", ".hidden", "z/"]:
        path = root / name
        if name.endswith("/"):
            path.mkdir()
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(name.encode())
    with NginxServer(root, binary=nginx_bin) as server:
        yield server


async def test_nginx_listing_is_recursive_sorted_and_quoted(
    nginx: NginxServer, store: HTTPRaw
) -> None:
    base = nginx.url + "/"
    listed = [u async for u in store.list(base)]
    expected = ["a", "a%20b", "a-z", "ab/c", "ab/d/e", "b/x", "%C3%A9"]
    assert listed == sorted(base + name for name in expected)
    assert await store.get(base + "a%20b") == b"a b"
    assert [u async for u in store.list(nginx.url)] == listed


async def test_nginx_listing_filters_by_a_partial_prefix(
    nginx: NginxServer, store: HTTPRaw
) -> None:
    base = nginx.url + "/"
    assert [u async for u in store.list(base + "a")] == [
        base + n for n in ["a", "a%20b", "a-z", "ab/c", "ab/d/e"]
    ]
    assert [u async for u in store.list(base + "ab/")] == [base + "ab/c", base + "ab/d/e"]
    assert [u async for u in store.list(base + "missing/")] == []


async def test_a_folder_is_not_a_blob(nginx: NginxServer, store: HTTPRaw) -> None:
    with pytest.raises(NotFoundInStore, match="folder"):
        await store.get(nginx.url + "/ab")
    assert await store.exists(nginx.url + "/ab") is False


# -- secrecy ------------------------------------------------------------------------------------


async def _failures(origin: Origin, raw: HTTPRaw, port: int) -> list[BaseException]:
    calls = [
        raw.get(f"{origin.url}/auth/blob"),
        raw.get(_unique(origin, "/flaky/99/503")),
        raw.size(f"{origin.url}/status/404/x"),
        raw.get(f"http://127.0.0.1:{port}/refused"),
        raw.get(f"{origin.url}/slow"),
        raw.get("not a url"),
        raw.put(f"{origin.url}/x", b"x"),
    ]
    results = await asyncio.gather(*calls, return_exceptions=True)
    return [r for r in results if isinstance(r, BaseException)]


async def test_the_secret_header_never_appears_in_errors_or_logs(
    origin: Origin, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    # The wrong token gets a 403 whose body echoes it back.
    raw = HTTPRaw(headers={"Authorization": SECRET + "x"}, retry=FAST, read_timeout=0.2)
    async with raw:
        errors = await _failures(origin, raw, port)
    assert len(errors) == 7
    texts = [repr(raw), raw.name, caplog.text]
    texts += [m for r in caplog.records for m in (r.getMessage(), str(r.args))]
    for error in errors:
        texts += [str(error), repr(error), *traceback.format_exception(error)]
    assert any("retrying" in r.getMessage() for r in caplog.records)  # retries were logged
    assert not [text for text in texts if "s3cr3t" in text]


async def test_url_credentials_are_used_but_redacted(origin: Origin) -> None:
    url = origin.url.replace("http://", "http://user:pa55word@") + "/status/404/x"
    origin.auth_seen.clear()
    async with HTTPRaw(retry=FAST) as raw:
        with pytest.raises(NotFoundInStore) as caught:
            await raw.get(url)
    assert origin.auth_seen == ["Basic " + base64.b64encode(b"user:pa55word").decode()]
    assert "pa55word" not in str(caught.value)
    assert "http://***@127.0.0.1" in str(caught.value)
    with pytest.raises(InvalidURI) as invalid:
        await HTTPRaw().get("http://user:pa55word@127.0.0.1/folder/")
    assert "pa55word" not in str(invalid.value)


# -- lifecycle ----------------------------------------------------------------------------------


async def test_pickling_drops_the_session_and_keeps_the_headers(
    origin: Origin, store: HTTPRaw
) -> None:
    assert await store.get(f"{origin.url}/auth/blob") == BLOB
    state = store.__getstate__()
    assert "_session" not in state
    clone = pickle.loads(pickle.dumps(store))
    async with clone:
        assert await clone.get(f"{origin.url}/auth/blob") == BLOB


async def test_aclose_closes_the_session_and_the_store_reopens_it(
    origin: Origin, store: HTTPRaw
) -> None:
    await store.get(f"{origin.url}/norange")
    session = await store._session.get()
    await store.aclose()
    assert session.closed
    await store.aclose()
    assert await store.get(f"{origin.url}/norange") == BLOB


@pytest.mark.parametrize(
    "kwargs",
    [{"max_connections": 0}, {"max_connections": True}, {"read_timeout": 0}, {"headers": {"a": 1}}],
)
def test_bad_options_are_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises((TypeError, ValueError)):
        HTTPRaw(**kwargs)  # type: ignore[arg-type]


# -- TLS ----------------------------------------------------------------------------------------


async def test_tls_certificates_are_verified_and_not_retried(tmp_path: Path) -> None:
    server = Origin()
    server_context, _ = self_signed(tmp_path)
    await server.start(server_context)
    try:
        async with HTTPRaw() as raw:  # default Retry(): 7 attempts if it were retried
            started = time.monotonic()
            with pytest.raises(StoreNotAvailable, match=r"[Cc]ertificate"):
                await raw.get(f"{server.url}/norange")
        assert time.monotonic() - started < 1.0
        assert server.requests["/norange"] == 0
    finally:
        await server.stop()
