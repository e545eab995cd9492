"""Caching headers of the FastAPI blob responses, and conditional requests answered 304
without reading the blob."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from asyncbitstore import (
    FileRaw,
    PrefixStore,
    Sha1APISource,
    Sha1Cache,
    Sha1Composite,
    Sha1Store,
)
from asyncbitstore.meta import http_date

from .fastapi_support import CountingFileRaw, asgi_client, blob_app

BLOB = os.urandom(300_000)
KEY = hashlib.sha1(BLOB).hexdigest()
IMMUTABLE = "public, max-age=31536000, immutable"


class NoHeadSource(Sha1APISource):
    """An API source: knowing a blob's size means reading it."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    async def api_get(self, key: str) -> bytes | None:
        self.calls += 1
        return BLOB if key == KEY else None


def _keyed(tmp_path: Path, raw: FileRaw) -> Sha1Composite:
    chain = Sha1Composite()
    chain.append_source(Sha1Store(raw, f"{tmp_path}/blobs/"), write=True)
    return chain


async def test_a_content_addressed_blob_carries_its_digest_and_length(tmp_path: Path) -> None:
    raw = CountingFileRaw()
    app = blob_app(lambda: _keyed(tmp_path, raw))
    async with asgi_client(app) as client:
        await app.state.store.put(KEY, BLOB)
        for method in ("GET", "HEAD"):
            response = await client.request(method, f"/b/{KEY.upper()}")
            assert response.status_code == 200
            assert response.headers["content-length"] == str(len(BLOB))
            assert response.headers["etag"] == f'"{KEY}"'
            assert response.headers["cache-control"] == IMMUTABLE
        assert response.content == b""
        assert (await client.get(f"/b/{KEY}")).content == BLOB


@pytest.mark.parametrize(
    "header",
    [f'"{KEY}"', f'W/"{KEY}"', "*", f'"other", "{KEY}"', f'"a,b" , W/"{KEY}" '],
)
async def test_if_none_match_answers_304_without_reading(tmp_path: Path, header: str) -> None:
    raw = CountingFileRaw()
    app = blob_app(lambda: _keyed(tmp_path, raw))
    async with asgi_client(app) as client:
        await app.state.store.put(KEY, BLOB)
        reads = raw.reads
        for method in ("GET", "HEAD"):
            response = await client.request(
                method, f"/b/{KEY}", headers={"If-None-Match": header, "Range": "bytes=0-9"}
            )
            assert response.status_code == 304
            assert response.content == b""
            assert response.headers["etag"] == f'"{KEY}"'
            assert response.headers["cache-control"] == IMMUTABLE
            assert "content-length" not in response.headers
        assert raw.reads == reads


async def test_an_etag_that_does_not_match_gets_the_blob(tmp_path: Path) -> None:
    app = blob_app(lambda: _keyed(tmp_path, FileRaw()))
    async with asgi_client(app) as client:
        await app.state.store.put(KEY, BLOB)
        response = await client.get(f"/b/{KEY}", headers={"If-None-Match": '"0000", W/"1"'})
        assert (response.status_code, response.content) == (200, BLOB)
        missing = await client.get("/b/" + "0" * 40, headers={"If-None-Match": "*"})
        assert missing.status_code == 404


async def test_if_modified_since_on_a_content_addressed_blob_is_304(tmp_path: Path) -> None:
    raw = CountingFileRaw()
    app = blob_app(lambda: _keyed(tmp_path, raw))
    async with asgi_client(app) as client:
        await app.state.store.put(KEY, BLOB)
        reads = raw.reads
        response = await client.get(
            f"/b/{KEY}", headers={"If-Modified-Since": "Sat, 01 Jan 2000 00:00:00 GMT"}
        )
        assert response.status_code == 304
        assert raw.reads == reads


def _named(tmp_path: Path, raw: FileRaw) -> PrefixStore:
    return PrefixStore(raw, f"{tmp_path}/named/")


async def test_a_named_object_carries_its_sources_etag_and_date(tmp_path: Path) -> None:
    raw = CountingFileRaw()
    app = blob_app(lambda: _named(tmp_path, raw))
    async with asgi_client(app) as client:
        store = app.state.store
        await store.put("img/a.png", BLOB)
        meta = await store.head("img/a.png")
        assert meta.etag and meta.last_modified
        response = await client.get("/b/img/a.png")
        assert response.content == BLOB
        assert response.headers["etag"] == meta.etag
        assert response.headers["last-modified"] == http_date(meta.last_modified)
        assert response.headers["content-length"] == str(len(BLOB))
        assert "cache-control" not in response.headers

        reads = raw.reads
        for headers in (
            {"If-None-Match": meta.etag},
            {"If-None-Match": "W/" + meta.etag},
            {"If-Modified-Since": http_date(meta.last_modified)},
            {"If-Modified-Since": "Fri, 01 Jan 2100 00:00:00 GMT"},
        ):
            response = await client.get("/b/img/a.png", headers=headers)
            assert response.status_code == 304, headers
            assert response.headers["etag"] == meta.etag
        assert raw.reads == reads

        older = {"If-Modified-Since": "Sat, 01 Jan 2000 00:00:00 GMT"}
        assert (await client.get("/b/img/a.png", headers=older)).content == BLOB
        # If-None-Match wins over If-Modified-Since when both are sent.
        both = {"If-None-Match": '"changed"', "If-Modified-Since": http_date(meta.last_modified)}
        assert (await client.get("/b/img/a.png", headers=both)).status_code == 200
        bad_date = {"If-Modified-Since": "yesterday"}
        assert (await client.get("/b/img/a.png", headers=bad_date)).status_code == 200


async def test_a_blob_only_an_api_source_has_is_fetched_once(tmp_path: Path) -> None:
    source = NoHeadSource()

    def build() -> Sha1Composite:
        chain = Sha1Composite()
        chain.append_cache(Sha1Cache(FileRaw(), f"{tmp_path}/cache/"))
        chain.append_source(source, cache_result=True)
        return chain

    app = blob_app(build)
    async with asgi_client(app) as client:
        first = await client.get(f"/b/{KEY}")
        assert first.content == BLOB
        assert "content-length" not in first.headers  # only the API knows, by sending it
        assert first.headers["etag"] == f'"{KEY}"'
        assert source.calls == 1
        await app.state.store.flush()
        second = await client.get(f"/b/{KEY}")  # from the cache now, whose size is known
        assert second.headers["content-length"] == str(len(BLOB))
        assert source.calls == 1
