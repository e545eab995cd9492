"""A `MirrorCache` with a ttl and revalidation in front of S3 (moto) and HTTP (nginx), each seen
through a proxy: an unchanged object is confirmed with a 304 (no body), a changed one is
fetched and kept, and while the servers fail the stale copies are served."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

from asyncbitstore import Composite, FileRaw, HTTPRaw, MirrorCache, Retry, S3Raw, StoreNotAvailable
from tests.contract.targets_s3 import fresh_bucket
from tests.faults import FaultProxy
from tests.servers import NginxServer

TTL = 60.0
NO_RETRY = Retry(attempts=1)


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def nginx(nginx_bin: Path, tmp_path: Path) -> Any:
    with NginxServer(tmp_path / "www", binary=nginx_bin) as server:
        yield server


def _gets(proxy: FaultProxy) -> list[int]:
    return [seen.status for seen in proxy.requests if seen.method == "GET"]


@pytest.mark.parametrize("serve_stale", [True, False])
async def test_mirror_revalidates_s3_and_http_sources(
    moto_server: Any, nginx: Any, tmp_path: Path, serve_stale: bool
) -> None:
    nginx.root_dir.mkdir(parents=True, exist_ok=True)
    page = nginx.root_dir / f"{uuid.uuid4().hex}.html"
    page.write_bytes(b"<html>one</html>")
    async with (
        fresh_bucket(moto_server.url) as (bucket, _),
        FaultProxy(moto_server.url) as s3_proxy,
        FaultProxy(nginx.url) as web_proxy,
    ):
        writer = S3Raw(endpoint_url=moto_server.url)
        s3_uri = f"s3://{bucket}/data/x.bin"
        await writer.put(s3_uri, b"s3 one")
        http_uri = f"{web_proxy.url}/{page.name}"
        clock = Clock()
        mirror = MirrorCache(
            FileRaw(),
            f"{tmp_path}/mirror/",
            ttl=TTL,
            revalidate=True,
            serve_stale=serve_stale,
            clock=clock,
        )
        chain = Composite(circuit_threshold=None)
        chain.append_cache(mirror, name="mirror")
        chain.append_source(
            S3Raw(endpoint_url=s3_proxy.url, retry=NO_RETRY), name="s3", cache_result=True
        )
        chain.append_source(HTTPRaw(retry=NO_RETRY), name="web", cache_result=True)
        async with chain:
            assert await chain.get(s3_uri) == b"s3 one"
            assert await chain.get(http_uri) == b"<html>one</html>"
            await chain.flush()
            assert _gets(s3_proxy) == [200] and _gets(web_proxy) == [200]  # one request each

            clock.now += TTL + 1  # stale, unchanged: a 304 each, no body
            assert await chain.get(s3_uri) == b"s3 one"
            assert await chain.get(http_uri) == b"<html>one</html>"
            assert _gets(s3_proxy)[-1] == 304 and _gets(web_proxy)[-1] == 304
            stats = chain.chain_stats
            assert stats is not None and stats.tier("mirror").revalidated_unchanged == 2
            await chain.flush()
            record = await mirror.copy_record(s3_uri)
            assert record is not None and record.fetched_at == clock.now  # renewed

            await writer.put(s3_uri, b"s3 two")  # stale, changed: fetched and kept
            page.write_bytes(b"<html>two, longer</html>")
            clock.now += TTL + 1
            assert await chain.get(s3_uri) == b"s3 two"
            assert await chain.get(http_uri) == b"<html>two, longer</html>"
            stats = chain.chain_stats
            assert stats is not None and stats.tier("mirror").revalidated_changed == 2
            await chain.flush()
            assert await mirror.get(s3_uri) == b"s3 two"
            assert await mirror.get(http_uri) == b"<html>two, longer</html>"

            s3_proxy.deny(503)  # the servers fail: stale copies, or the outage
            web_proxy.deny(503)
            clock.now += TTL + 1
            for uri, data in ((s3_uri, b"s3 two"), (http_uri, b"<html>two, longer</html>")):
                if serve_stale:
                    assert await chain.get(uri) == data
                else:
                    with pytest.raises(StoreNotAvailable):
                        await chain.get(uri)
            stats = chain.chain_stats
            assert stats is not None
            assert stats.tier("mirror").stale_served == (2 if serve_stale else 0)
        await writer.aclose()
