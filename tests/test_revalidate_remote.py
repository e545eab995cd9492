"""Conditional reads on the network backends: a copy still current costs an answer with no
body (304), seen on the wire; a changed object comes back with its new meta."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest

from asyncbitstore import GSRaw, HTTPRaw, NotFoundInStore, ObjectMeta, S3Raw
from asyncbitstore.meta import http_date
from tests.contract.targets_s3 import fresh_bucket
from tests.faults import FaultProxy
from tests.hostile import Scripted, ok

BODY = b"x" * 4096
ETAG = '"abc123"'
WHEN = "Wed, 01 Jan 2025 00:00:00 GMT"


class Conditional:
    """A scripted server holding one object: 304 when the request's If-None-Match names its
    ETag, else 200 with the body. Counts the body bytes it sent."""

    def __init__(self, etag: str = ETAG, honour: bool = True) -> None:
        self.etag = etag
        self.honour = honour
        self.body_bytes = 0
        self.answers: list[int] = []

    async def __call__(self, server: Scripted, reader: Any, writer: Any, n: int) -> None:
        while head := await server.head(reader):
            lines = head.decode("latin-1").split("\r\n")
            fields = {
                k.strip().lower(): v.strip()
                for k, _, v in (x.partition(":") for x in lines[1:])
                if k
            }
            headers = f"ETag: {self.etag}\r\nLast-Modified: {WHEN}\r\nContent-Type: text/plain\r\n"
            if self.honour and fields.get("if-none-match") == self.etag:
                self.answers.append(304)
                writer.write(f"HTTP/1.1 304 Not Modified\r\n{headers}\r\n".encode())
            else:
                self.answers.append(200)
                self.body_bytes += len(BODY)
                writer.write(ok(BODY, headers))
            await writer.drain()


def _known(etag: str = ETAG) -> ObjectMeta:
    return ObjectMeta(size=len(BODY), etag=etag)


async def test_http_304_moves_no_body() -> None:
    script = Conditional()
    async with Scripted(script) as server, HTTPRaw() as store:
        uri = f"http://{server.authority}/obj"
        data, meta = await store.get_with_meta(uri)
        assert data == BODY and meta.etag == ETAG and meta.content_type == "text/plain"
        assert script.body_bytes == len(BODY)
        assert await store.get_if_changed(uri, meta) is None
        assert script.answers[-1] == 304
        assert script.body_bytes == len(BODY)  # nothing more sent
        request = server.requests[-1].decode("latin-1")
        assert f"If-None-Match: {ETAG}" in request
        assert f"If-Modified-Since: {WHEN}" in request


async def test_http_changed_object_comes_back_with_its_new_meta() -> None:
    script = Conditional(etag='"new"')
    async with Scripted(script) as server, HTTPRaw() as store:
        answer = await store.get_if_changed(f"http://{server.authority}/obj", _known())
        assert answer is not None
        assert answer[0] == BODY and answer[1].etag == '"new"'
        assert answer[1].last_modified is not None and http_date(answer[1].last_modified) == WHEN


async def test_http_server_ignoring_conditions_still_answers_unchanged() -> None:
    script = Conditional(honour=False)
    async with Scripted(script) as server, HTTPRaw() as store:
        assert await store.get_if_changed(f"http://{server.authority}/obj", _known()) is None
        assert script.answers == [200]


@pytest.mark.parametrize("fast_path", [True, False])
async def test_s3_304_moves_no_body(fast_path: bool) -> None:
    script = Conditional()
    async with Scripted(script) as server:
        store = S3Raw.anonymous(endpoint_url=f"http://{server.authority}", fast_path=fast_path)
        async with store:
            assert await store.get_if_changed("s3://bkt/obj", _known("abc123")) is None
            assert script.answers == [304] and script.body_bytes == 0
            request = server.requests[-1].decode("latin-1").lower()
            assert 'if-none-match: "abc123"' in request
            answer = await store.get_if_changed("s3://bkt/obj", _known('"other"'))
            assert answer is not None and answer[0] == BODY
            assert answer[1].etag == ETAG


@pytest.mark.parametrize("fast_path", [True, False])
async def test_s3_moto_revalidation_on_the_wire(moto_server: Any, fast_path: bool) -> None:
    async with (
        fresh_bucket(moto_server.url) as (bucket, admin),
        FaultProxy(moto_server.url) as proxy,
    ):
        await admin.put_object(
            Bucket=bucket, Key="k", Body=BODY, ContentType="text/csv", Metadata={"owner": "me"}
        )
        async with S3Raw(endpoint_url=proxy.url, fast_path=fast_path) as store:
            uri = f"s3://{bucket}/k"
            meta = await store.head(uri)
            assert meta.size == len(BODY)
            assert meta.content_type == "text/csv"
            assert dict(meta.metadata) == {"owner": "me"}
            assert meta.etag and meta.last_modified is not None
            data, with_get = await store.get_with_meta(uri)
            assert data == BODY and with_get == meta
            assert await store.get_if_changed(uri, meta) is None
            last = proxy.requests[-1]
            assert (last.method, last.status) == ("GET", 304)
            await admin.put_object(Bucket=bucket, Key="k", Body=b"changed")
            answer = await store.get_if_changed(uri, meta)
            assert answer is not None and answer[0] == b"changed"
            assert answer[1].size == 7 and answer[1].etag != meta.etag
            await admin.delete_object(Bucket=bucket, Key="k")
            with pytest.raises(NotFoundInStore):
                await store.get_if_changed(uri, answer[1])


@pytest.mark.parametrize("fast_path", [True, False])
async def test_s3_versioned_bucket_reports_the_version(moto_server: Any, fast_path: bool) -> None:
    async with fresh_bucket(moto_server.url) as (bucket, admin):
        await admin.put_bucket_versioning(
            Bucket=bucket, VersioningConfiguration={"Status": "Enabled"}
        )
        async with S3Raw(endpoint_url=moto_server.url, fast_path=fast_path) as store:
            uri = f"s3://{bucket}/v"
            await store.put(uri, BODY)
            first = await store.head(uri)
            assert first.version is not None
            await store.put(uri, BODY)  # same bytes, same ETag, a new version
            second = await store.head(uri)
            assert second.version not in (None, first.version)
            assert second.same_content_as(first) is False
            # drop the versions, so that the bucket can go
            listing = await admin.list_object_versions(Bucket=bucket)
            for item in listing.get("Versions", []) + listing.get("DeleteMarkers", []):
                await admin.delete_object(
                    Bucket=bucket, Key=item["Key"], VersionId=item["VersionId"]
                )


async def test_gcs_generation_is_the_version(gcs_server: Any) -> None:
    bucket = f"meta-{uuid.uuid4().hex[:12]}"
    await asyncio.to_thread(gcs_server.create_bucket, bucket)
    async with GSRaw(api_root=gcs_server.url) as store:
        uri = f"gs://{bucket}/g"
        await store.put(uri, BODY)
        meta = await store.head(uri)
        assert meta.version is not None and meta.size == len(BODY)
        assert meta.last_modified is not None
        data, with_get = await store.get_with_meta(uri)
        assert data == BODY and with_get == meta
        assert await store.get_if_changed(uri, meta) is None
        await store.put(uri, b"second")
        answer = await store.get_if_changed(uri, meta)
        assert answer is not None and answer[0] == b"second"
        assert answer[1].version not in (None, meta.version)
        await store.delete(uri)
        with pytest.raises(NotFoundInStore):
            await store.get_if_changed(uri, answer[1])


async def test_nginx_answers_304_for_a_current_copy(nginx_bin: Any, tmp_path: Any) -> None:
    from tests.servers import NginxServer

    (tmp_path / "f").write_bytes(BODY)
    with NginxServer(tmp_path, binary=nginx_bin) as nginx:
        async with FaultProxy(nginx.url) as proxy, HTTPRaw() as store:
            uri = f"{proxy.url}/f"
            meta = await store.head(uri)
            assert meta.etag and meta.last_modified is not None
            assert await store.get_if_changed(uri, meta) is None
            assert proxy.requests[-1].status == 304
