"""The real-server fixtures answer real requests, and stopping one ends its processes."""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import redis.asyncio
from aiobotocore.config import AioConfig
from aiobotocore.session import get_session
from botocore.exceptions import ClientError
from gcloud.aio.storage import Storage

from tests.servers import (
    FakeGCSServer,
    MotoServer,
    NginxServer,
    RedisServer,
    SeaweedServer,
    Server,
    ServerStartError,
)

pytestmark = pytest.mark.servers

_PATH_STYLE = AioConfig(s3={"addressing_style": "path"})


def _bucket_name() -> str:
    return f"test-{uuid.uuid4().hex[:12]}"


def _s3_client(endpoint: str, secret: str = "testing") -> Any:
    return get_session().create_client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key=secret,
        config=_PATH_STYLE,
    )


async def _s3_roundtrip(endpoint: str) -> None:
    bucket = _bucket_name()
    async with _s3_client(endpoint) as s3:
        await s3.create_bucket(Bucket=bucket)
        await s3.put_object(Bucket=bucket, Key="greeting", Body=b"hello")
        response = await s3.get_object(Bucket=bucket, Key="greeting")
        async with response["Body"] as body:
            assert await body.read() == b"hello"
        listing = await s3.list_objects_v2(Bucket=bucket)
        assert [item["Key"] for item in listing["Contents"]] == ["greeting"]


def test_cloud_env_holds_only_fake_credentials() -> None:
    assert os.environ["AWS_ACCESS_KEY_ID"] == "testing"
    assert os.environ["AWS_EC2_METADATA_DISABLED"] == "true"
    assert "GOOGLE_APPLICATION_CREDENTIALS" not in os.environ
    assert "STORAGE_EMULATOR_HOST" not in os.environ


async def test_moto_stores_and_lists_objects(moto_server: MotoServer) -> None:
    await _s3_roundtrip(moto_server.endpoint)


async def test_seaweed_stores_objects_and_checks_signatures(
    seaweed_server: SeaweedServer,
) -> None:
    await _s3_roundtrip(seaweed_server.endpoint)
    async with _s3_client(seaweed_server.endpoint, secret="wrong") as s3:
        with pytest.raises(ClientError) as caught:
            await s3.list_buckets()
    assert caught.value.response["Error"]["Code"] == "SignatureDoesNotMatch"


async def test_fake_gcs_stores_objects(gcs_server: FakeGCSServer) -> None:
    bucket = _bucket_name()
    gcs_server.create_bucket(bucket)
    async with (
        aiohttp.ClientSession() as session,
        Storage(session=session, api_root=gcs_server.url) as storage,
    ):
        await storage.upload(bucket, "dir/greeting", b"hello")
        assert await storage.download(bucket, "dir/greeting") == b"hello"
        listing = await storage.list_objects(bucket, params={"prefix": "dir/"})
    assert [item["name"] for item in listing["items"]] == ["dir/greeting"]


async def test_redis_sets_and_gets(redis_server: RedisServer) -> None:
    client = redis.asyncio.Redis.from_url(redis_server.url)
    try:
        await client.set("greeting", b"hello", ex=60)
        assert await client.get("greeting") == b"hello"
    finally:
        await client.aclose()


async def test_nginx_serves_ranges_and_json_listing(nginx_bin: Path, tmp_path: Path) -> None:
    (tmp_path / "greeting").write_bytes(b"hello")
    with NginxServer(tmp_path, binary=nginx_bin) as nginx:
        async with aiohttp.ClientSession() as session:
            async with session.get(f"{nginx.url}/") as response:
                listing = await response.json(content_type=None)
            async with session.get(
                f"{nginx.url}/greeting", headers={"Range": "bytes=1-3"}
            ) as response:
                assert response.status == 206
                assert await response.read() == b"ell"
    assert [(entry["name"], entry["size"]) for entry in listing] == [("greeting", 5)]


async def test_moto_reset_wipes_buckets() -> None:
    with MotoServer() as moto:
        async with _s3_client(moto.endpoint) as s3:
            await s3.create_bucket(Bucket=_bucket_name())
            moto.reset()
            assert (await s3.list_buckets())["Buckets"] == []


def _child_pids(pid: int) -> set[int]:
    children = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            children.add(int(stat.parent.name))
    return children


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


_FACTORIES: dict[str, Callable[[pytest.FixtureRequest], Server]] = {
    "moto": lambda _: MotoServer(),
    "seaweedfs": lambda _: SeaweedServer(),
    "fake-gcs": lambda _: FakeGCSServer(),
    "redis": lambda _: RedisServer(),
    "nginx": lambda request: NginxServer(
        request.getfixturevalue("tmp_path"), binary=request.getfixturevalue("nginx_bin")
    ),
}


@pytest.mark.parametrize("kind", sorted(_FACTORIES))
def test_leaving_the_context_ends_the_server_processes(
    kind: str, request: pytest.FixtureRequest
) -> None:
    server = _FACTORIES[kind](request)
    with server:
        pids = {server.pid, *_child_pids(server.pid)}
        workdir = server.workdir
        assert all(_alive(pid) for pid in pids)
    assert not any(_alive(pid) for pid in pids)
    assert not workdir.exists()


def test_a_server_that_exits_reports_its_output(tmp_path: Path) -> None:
    failing = tmp_path / "fake-redis-server"
    failing.write_text("#!/bin/sh\necho 'cannot bind: boom' >&2\nexit 1\n")
    failing.chmod(0o755)
    leftovers_before = set(Path(tempfile.gettempdir()).glob("asyncbitstore-redis-*"))
    with pytest.raises(ServerStartError, match="cannot bind: boom"):
        RedisServer(binary=failing).start()
    assert set(Path(tempfile.gettempdir()).glob("asyncbitstore-redis-*")) == leftovers_before
