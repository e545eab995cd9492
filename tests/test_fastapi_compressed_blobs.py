"""Blobs stored compressed, served by the FastAPI helpers: lengths are the data's, and byte
ranges are served by decoding."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from asyncbitstore import FileRaw, PrefixStore, Sha1Composite, Sha1Store

from .fastapi_support import asgi_client, blob_app

BLOB = b"".join(i.to_bytes(4, "big") for i in range(300_000))  # 1.2 MB, compressible
KEY = hashlib.sha1(BLOB).hexdigest()
CHUNK = 64 << 10


def _chain(tmp_path: Path) -> Sha1Composite:
    chain = Sha1Composite()
    chain.append_source(Sha1Store(FileRaw(), f"{tmp_path}/blobs/"), write=True)
    return chain


@pytest.mark.parametrize("codec", ["gzip", "zstd"])
async def test_head_and_get_never_give_the_stored_length(tmp_path: Path, codec: str) -> None:
    app = blob_app(lambda: _chain(tmp_path), chunk_size=CHUNK)
    async with asgi_client(app) as client:
        await app.state.store.put(KEY, BLOB, compress=codec)
        stored = (tmp_path / "blobs" / KEY).stat().st_size
        assert stored < len(BLOB)
        head = await client.head(f"/b/{KEY}")
        assert head.status_code == 200
        assert "content-length" not in head.headers
        whole = await client.get(f"/b/{KEY}")
        assert whole.content == BLOB
        assert whole.headers.get("content-length") in (None, str(len(BLOB)))


@pytest.mark.parametrize(
    ("header", "start", "end"),
    [
        ("bytes=0-9", 0, 10),
        ("bytes=100000-300000", 100_000, 300_001),  # across several decoded chunks
        ("bytes=-5", len(BLOB) - 5, len(BLOB)),
        ("bytes=1199990-", 1_199_990, len(BLOB)),
        ("bytes=5-99999999", 5, len(BLOB)),
    ],
)
async def test_a_range_of_a_compressed_blob_is_served_decoded(
    tmp_path: Path, header: str, start: int, end: int
) -> None:
    app = blob_app(lambda: _chain(tmp_path), chunk_size=CHUNK)
    async with asgi_client(app) as client:
        await app.state.store.put(KEY, BLOB, compress="gzip")
        response = await client.get(f"/b/{KEY}", headers={"Range": header})
        assert response.status_code == 206
        assert response.headers["content-range"] == f"bytes {start}-{end - 1}/{len(BLOB)}"
        assert response.headers["content-length"] == str(end - start)
        assert response.content == BLOB[start:end]


async def test_an_unsatisfiable_range_of_a_compressed_blob_is_416(tmp_path: Path) -> None:
    app = blob_app(lambda: _chain(tmp_path))
    async with asgi_client(app) as client:
        await app.state.store.put(KEY, BLOB, compress="gzip")
        response = await client.get(f"/b/{KEY}", headers={"Range": f"bytes={len(BLOB)}-"})
        assert response.status_code == 416
        assert response.headers["content-range"] == f"bytes */{len(BLOB)}"


async def test_a_compressed_named_object_is_served_right(tmp_path: Path) -> None:
    app = blob_app(lambda: PrefixStore(FileRaw(), f"{tmp_path}/named/"))
    async with asgi_client(app) as client:
        await app.state.store.put("a/b.bin", BLOB, compress="zstd")
        assert "content-length" not in (await client.head("/b/a/b.bin")).headers
        ranged = await client.get("/b/a/b.bin", headers={"Range": "bytes=4-7"})
        assert (ranged.status_code, ranged.content) == (206, BLOB[4:8])
        assert (await client.get("/b/a/b.bin")).content == BLOB


async def test_a_plain_blob_stored_behind_a_frame_header_gets_no_wrong_length(
    tmp_path: Path,
) -> None:
    data = b"\x93BSZ\r\n starts like a frame"  # stored behind an identity header
    key = hashlib.sha1(data).hexdigest()
    app = blob_app(lambda: _chain(tmp_path))
    async with asgi_client(app) as client:
        await app.state.store.put(key, data)
        assert (tmp_path / "blobs" / key).stat().st_size > len(data)
        head = await client.head(f"/b/{key}")
        assert head.headers.get("content-length") in (None, str(len(data)))
        whole = await client.get(f"/b/{key}")
        assert whole.content == data
        assert whole.headers.get("content-length") in (None, str(len(data)))
