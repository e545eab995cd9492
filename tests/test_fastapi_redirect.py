"""``redirect=True``: a blob found in a tier that can presign is answered with a 307 to a
signed URL (S3 on moto), and served as before otherwise."""

from __future__ import annotations

import gzip
import hashlib
import os
from pathlib import Path
from typing import Any

import httpx
import pytest

from asyncbitstore import (
    FileRaw,
    NotFoundInStore,
    PrefixStore,
    S3Raw,
    Sha1Cache,
    Sha1Composite,
    Sha1Store,
)

from .contract.targets_s3 import fresh_bucket
from .fastapi_support import asgi_client, blob_app

pytestmark = pytest.mark.servers

BLOB = os.urandom(200_000)
KEY = hashlib.sha1(BLOB).hexdigest()


async def test_a_blob_on_s3_is_answered_with_a_working_signed_url(
    moto_server: Any, tmp_path: Path
) -> None:
    async with fresh_bucket(moto_server.url) as (bucket, _):

        def build() -> Sha1Composite:
            chain = Sha1Composite()
            chain.append_cache(Sha1Cache(FileRaw(), f"{tmp_path}/cache/"))
            s3 = Sha1Store(S3Raw(endpoint_url=moto_server.url), f"s3://{bucket}/blobs/")
            chain.append_source(s3, write=True)
            return chain

        app = blob_app(build, redirect=True)
        async with asgi_client(app) as client, httpx.AsyncClient(trust_env=False) as web:
            await app.state.store.put(KEY, BLOB)
            response = await client.get(f"/b/{KEY}")
            assert response.status_code == 307
            url = response.headers["location"]
            assert url.startswith(moto_server.url) and "Signature=" in url
            assert response.headers["etag"] == f'"{KEY}"'
            fetched = await web.get(url)
            assert (fetched.status_code, fetched.content) == (200, BLOB)
            ranged = await web.get(url, headers={"Range": "bytes=10-19"})
            assert (ranged.status_code, ranged.content) == (206, BLOB[10:20])

            head = await client.head(f"/b/{KEY}")  # a signed GET URL would not take a HEAD
            assert head.status_code == 200
            assert head.headers["content-length"] == str(len(BLOB))
            assert (await client.get("/b/" + "0" * 40)).status_code == 404

            # Once the local cache holds it, the cache's copy is served.
            (tmp_path / "cache").mkdir()
            (tmp_path / "cache" / KEY).write_bytes(BLOB)
            served = await client.get(f"/b/{KEY}")
            assert (served.status_code, served.content) == (200, BLOB)


async def test_a_compressed_blob_on_s3_is_served_decoded(moto_server: Any) -> None:
    async with fresh_bucket(moto_server.url) as (bucket, _):

        def build() -> Sha1Composite:
            chain = Sha1Composite()
            s3 = Sha1Store(S3Raw(endpoint_url=moto_server.url), f"s3://{bucket}/blobs/")
            chain.append_source(s3, write=True)
            return chain

        app = blob_app(build, redirect=True)
        async with asgi_client(app) as client:
            await app.state.store.put(KEY, BLOB, compress="gzip")
            response = await client.get(f"/b/{KEY}")
            assert (response.status_code, response.content) == (200, BLOB)


async def test_a_tier_that_cannot_sign_is_served(tmp_path: Path) -> None:
    def build() -> Sha1Composite:
        chain = Sha1Composite()
        chain.append_source(Sha1Store(FileRaw(), f"{tmp_path}/blobs/"), write=True)
        return chain

    app = blob_app(build, redirect=True)
    async with asgi_client(app) as client:
        await app.state.store.put(KEY, BLOB)
        response = await client.get(f"/b/{KEY}")
        assert (response.status_code, response.content) == (200, BLOB)


async def test_a_named_object_on_s3_is_redirected(moto_server: Any) -> None:
    async with fresh_bucket(moto_server.url) as (bucket, _):
        app = blob_app(
            lambda: PrefixStore(S3Raw(endpoint_url=moto_server.url), f"s3://{bucket}/files/"),
            redirect=True,
            expires_in=120,
        )
        async with asgi_client(app) as client, httpx.AsyncClient(trust_env=False) as web:
            await app.state.store.put("docs/a b.txt", BLOB)
            response = await client.get("/b/docs/a b.txt")
            assert response.status_code == 307
            assert (
                "Expires=" in response.headers["location"]
                or "X-Amz-Expires=120" in (response.headers["location"])
            )
            assert (await web.get(response.headers["location"])).content == BLOB


async def test_a_chain_signs_reads_at_the_tier_that_has_the_blob(
    moto_server: Any, tmp_path: Path
) -> None:
    async with fresh_bucket(moto_server.url) as (bucket, _):
        chain = Sha1Composite()
        chain.append_cache(Sha1Cache(FileRaw(), f"{tmp_path}/cache/"))
        s3 = Sha1Store(S3Raw(endpoint_url=moto_server.url), f"s3://{bucket}/blobs/")
        chain.append_source(s3, write=True)
        async with chain:
            with pytest.raises(NotFoundInStore):
                await chain.sign(KEY)
            await chain.put(KEY, BLOB)
            assert f"/{bucket}/blobs/{KEY}?" in await chain.sign(KEY.upper())
            with pytest.raises(NotImplementedError, match="reads only"):
                await chain.sign(KEY, method="PUT")
            (tmp_path / "cache").mkdir()
            (tmp_path / "cache" / KEY).write_bytes(BLOB)
            with pytest.raises(NotImplementedError):
                await chain.sign(KEY)  # the local cache has it now, and cannot sign


async def test_an_object_kept_with_a_content_encoding_gets_no_encoded_length(
    moto_server: Any,
) -> None:
    data = BLOB[:1000] * 50
    async with fresh_bucket(moto_server.url) as (bucket, admin):
        await admin.put_object(
            Bucket=bucket, Key="f/x.txt", Body=gzip.compress(data), ContentEncoding="gzip"
        )
        app = blob_app(
            lambda: PrefixStore(S3Raw(endpoint_url=moto_server.url), f"s3://{bucket}/f/")
        )
        async with asgi_client(app) as client:
            whole = await client.get("/b/x.txt")
            assert whole.content == data
            assert whole.headers.get("content-length") in (None, str(len(data)))
            head = await client.head("/b/x.txt")
            assert head.headers.get("content-length") in (None, str(len(data)))
            ranged = await client.get("/b/x.txt", headers={"Range": "bytes=1000-1999"})
            assert (ranged.status_code, ranged.content) == (206, data[1000:2000])


async def test_head_through_a_chain_says_a_missing_bucket_is_an_outage(moto_server: Any) -> None:
    app = blob_app(
        lambda: PrefixStore(S3Raw(endpoint_url=moto_server.url), "s3://no-such-bucket-fa/f/")
    )
    async with asgi_client(app) as client:
        assert (await client.head("/b/x.txt")).status_code == 503
