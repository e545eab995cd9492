"""The FastAPI helpers under a real uvicorn on 127.0.0.1: an HTTP client and ``curl`` resume a
cut download with ``Range`` and get 304 for conditional requests."""

from __future__ import annotations

import asyncio
import hashlib
import shutil
import subprocess
from pathlib import Path

import httpx
import pytest

from asyncbitstore import FileRaw, PrefixStore, Sha1Composite, Sha1Store
from asyncbitstore.meta import http_date

from .fastapi_support import asgi_client, blob_app, load_example, uvicorn_server

example = load_example("fastapi_app_real_server")

BLOB = b"".join(hashlib.sha256(i.to_bytes(4, "big")).digest() for i in range(125_000))  # 4 MB
KEY = hashlib.sha1(BLOB).hexdigest()
CURL = shutil.which("curl")
needs_curl = pytest.mark.skipif(CURL is None, reason="curl is not on PATH")


def _env(tmp_path: Path) -> dict[str, str]:
    return {"BLOB_CACHE_DIR": str(tmp_path / "cache"), "BLOB_SOURCE_DIR": str(tmp_path / "src")}


async def _curl(*args: str) -> tuple[int, str]:
    assert CURL is not None
    done = await asyncio.to_thread(
        subprocess.run, [CURL, "-s", "--noproxy", "*", *args], capture_output=True, timeout=60
    )
    return done.returncode, done.stdout.decode()


async def test_httpx_gets_lengths_ranges_and_304_from_uvicorn(tmp_path: Path) -> None:
    app = example.create_app(lambda: example.build_store(_env(tmp_path)))
    with uvicorn_server(app) as url:
        async with httpx.AsyncClient(base_url=url, trust_env=False, timeout=30) as client:
            put = await client.put("/blobs", content=BLOB)
            assert put.json() == {"key": KEY}
            whole = await client.get(f"/blobs/{KEY}")
            assert whole.content == BLOB
            assert whole.headers["content-length"] == str(len(BLOB))
            etag = whole.headers["etag"]
            assert etag == f'"{KEY}"'
            again = await client.get(f"/blobs/{KEY}", headers={"If-None-Match": etag})
            assert (again.status_code, again.content) == (304, b"")
            rest = await client.get(f"/blobs/{KEY}", headers={"Range": "bytes=1000000-"})
            assert (rest.status_code, rest.content) == (206, BLOB[1_000_000:])


async def _cut_download(url: str, out: Path, limit: int) -> None:
    """Start downloading ``url`` into ``out`` and drop the connection after ``limit`` bytes
    or more, as a failing network would."""
    async with (
        httpx.AsyncClient(trust_env=False, timeout=30) as client,
        client.stream("GET", url) as response,
    ):
        assert response.status_code == 200
        with out.open("wb") as file:
            async for chunk in response.aiter_raw():
                file.write(chunk)
                if file.tell() >= limit:
                    break


@needs_curl
@pytest.mark.parametrize("compress", [None, "gzip"])
async def test_curl_resumes_a_cut_download(tmp_path: Path, compress: str | None) -> None:
    def build() -> Sha1Composite:
        chain = Sha1Composite()
        chain.append_source(Sha1Store(FileRaw(), f"{tmp_path}/blobs/"), write=True)
        return chain

    app = blob_app(build, chunk_size=64 << 10)
    out = tmp_path / "download"
    with uvicorn_server(app) as url:
        await app.state.store.put(KEY, BLOB, compress=compress)
        await _cut_download(url + f"/b/{KEY}", out, 1 << 20)
        assert 0 < out.stat().st_size < len(BLOB)
        rc, code = await _curl("-C", "-", "-w", "%{http_code}", "-o", str(out), url + f"/b/{KEY}")
        assert (rc, code) == (0, "206")
    assert out.read_bytes() == BLOB


@needs_curl
async def test_curl_conditional_requests_get_304(tmp_path: Path) -> None:
    app = blob_app(lambda: PrefixStore(FileRaw(), f"{tmp_path}/named/"))
    with uvicorn_server(app) as url:
        store = app.state.store
        await store.put("docs/a.txt", BLOB)
        meta = await store.head("docs/a.txt")
        assert meta.etag and meta.last_modified
        target = url + "/b/docs/a.txt"
        since = http_date(meta.last_modified)
        for args in (
            ["-H", f"If-None-Match: {meta.etag}"],
            ["-H", f"If-Modified-Since: {since}"],
            ["-z", since],
        ):
            rc, code = await _curl(*args, "-w", "%{http_code}", "-o", "/dev/null", target)
            assert (rc, code) == (0, "304"), args
        rc, code = await _curl(
            "-H", 'If-None-Match: "other"', "-w", "%{http_code}", "-o", "/dev/null", target
        )
        assert (rc, code) == (0, "200")


async def test_the_same_app_over_asgi_answers_304(tmp_path: Path) -> None:
    app = example.create_app(lambda: example.build_store(_env(tmp_path)))
    async with asgi_client(app) as client:
        key = (await client.put("/blobs", content=BLOB)).json()["key"]
        response = await client.get(f"/blobs/{key}", headers={"If-None-Match": f'W/"{key}"'})
        assert response.status_code == 304
