"""Bodies served with ``Content-Encoding`` read back decoded from ``HTTPRaw``.

nginx serves pre-compressed files as they are (``gzip_static always``, and an ``add_header``
on ``.gz`` files); a scripted server sends br, zstd, deflate, several encodings and unknown
ones, which nginx does not produce.
"""

from __future__ import annotations

import gzip
import os
import zlib
from collections.abc import Iterator
from contextlib import aclosing
from pathlib import Path
from typing import Any

import pytest

from asyncbitstore import Composite, HTTPRaw, MemoryRaw, MirrorCache, Retry, Store
from asyncbitstore.errors import CompressedRange, InvalidDataFound, StoreNotAvailable
from tests.hostile import Scripted
from tests.servers import NginxServer

brotli = pytest.importorskip("brotli")
zstandard = pytest.importorskip("zstandard")

FAST = Retry(attempts=1)
DATA = os.urandom(1500) * 40 + b"the end"
LOCATIONS = """
        location /static/ {{
            root {root};
            gzip_static always;
        }}
        location /pre/ {{
            root {root};
            add_header Content-Encoding gzip;
        }}
"""


async def _stream(store: Store, uri: str, **kwargs: Any) -> bytes:
    async with aclosing(store.stream(uri, 4096, **kwargs)) as chunks:
        out = []
        async for chunk in chunks:
            assert len(chunk) <= 4096
            out.append(chunk)
        return b"".join(out)


@pytest.fixture
def nginx(nginx_bin: Path, tmp_path: Path) -> Iterator[NginxServer]:
    root = tmp_path / "www"
    for folder in ("static", "pre"):
        (root / folder).mkdir(parents=True)
    (root / "static/data.bin.gz").write_bytes(gzip.compress(DATA))  # no plain file beside it
    (root / "pre/data.bin").write_bytes(gzip.compress(DATA))
    locations = LOCATIONS.format(root=root.resolve())
    with NginxServer(root, locations, binary=nginx_bin) as server:
        yield server


@pytest.mark.parametrize("path", ["static/data.bin", "pre/data.bin"])
async def test_nginx_precompressed_files_read_decoded(nginx: NginxServer, path: str) -> None:
    uri = f"{nginx.url}/{path}"
    stored = gzip.compress(DATA)
    async with HTTPRaw(retry=FAST) as store:
        assert await store.get(uri) == DATA
        assert await _stream(store, uri) == DATA
        assert await store.get(uri, stored=True) == stored
        assert await _stream(store, uri, stored=True) == stored
        assert await store.size(uri) == len(stored)  # the length as sent, as stored
        assert (await store.get_with_meta(uri))[0] == DATA
        for start, end in ((0, 10), (50, 60)):
            with pytest.raises(CompressedRange, match="gzip"):
                await store.get_range(uri, start, end)


async def test_a_chain_in_front_of_nginx_caches_the_decoded_bytes(nginx: NginxServer) -> None:
    memory = MemoryRaw()
    chain = Composite()
    chain.append_cache(MirrorCache(memory, "mem://m/"))
    chain.append_source(HTTPRaw(retry=FAST), cache_result=True)
    async with chain:
        assert await chain.get(f"{nginx.url}/static/data.bin") == DATA
        await chain.flush()
        copies = [u async for u in memory.list() if "/~records/" not in u]  # not the record
        assert [await memory.get(u, stored=True) for u in copies] == [DATA]


def _serving(body: bytes, encoding: str) -> Any:
    async def handler(server: Scripted, reader: Any, writer: Any, n: int) -> None:
        while await server.head(reader):
            writer.write(
                f"HTTP/1.1 200 OK\r\nContent-Length: {len(body)}\r\n"
                f"Content-Encoding: {encoding}\r\n\r\n".encode()
                + body
            )

    return handler


ENCODED = {
    "br": brotli.compress(DATA),
    "zstd": zstandard.ZstdCompressor().compress(DATA),
    "deflate": zlib.compress(DATA),
    "x-gzip": gzip.compress(DATA),
    "gzip, br": brotli.compress(gzip.compress(DATA)),
    "identity": DATA,
}


@pytest.mark.parametrize("encoding", list(ENCODED))
async def test_each_encoding_reads_decoded(encoding: str) -> None:
    body = ENCODED[encoding]
    async with Scripted(_serving(body, encoding)) as server, HTTPRaw(retry=FAST) as store:
        uri = f"http://{server.authority}/blob"
        assert await store.get(uri) == DATA
        assert await _stream(store, uri) == DATA
        assert await store.get(uri, stored=True) == body


async def test_raw_deflate_as_some_servers_send_it_reads_decoded() -> None:
    squeeze = zlib.compressobj(6, zlib.DEFLATED, -15)
    body = squeeze.compress(DATA) + squeeze.flush()
    async with Scripted(_serving(body, "deflate")) as server, HTTPRaw(retry=FAST) as store:
        assert await store.get(f"http://{server.authority}/blob") == DATA


@pytest.mark.parametrize("encoding", ["compress", "gzip, snappy", "x-made-up"])
async def test_an_encoding_not_decodable_is_refused(encoding: str) -> None:
    body = b"\x1f\x9d\x90abc"
    async with Scripted(_serving(body, encoding)) as server, HTTPRaw(retry=FAST) as store:
        uri = f"http://{server.authority}/blob"
        with pytest.raises(InvalidDataFound, match=r"cannot be decoded.*stored=True"):
            await store.get(uri)
        with pytest.raises(InvalidDataFound, match="cannot be decoded"):
            await _stream(store, uri)
        assert await store.get(uri, stored=True) == body


async def test_a_damaged_body_is_refused() -> None:
    body = bytearray(gzip.compress(DATA))
    body[len(body) // 2] ^= 0xFF  # caught by the gzip trailer's CRC, if not before
    async with Scripted(_serving(bytes(body), "gzip")) as server, HTTPRaw(retry=FAST) as store:
        uri = f"http://{server.authority}/blob"
        with pytest.raises(InvalidDataFound, match="gzip"):
            await store.get(uri)
        with pytest.raises(InvalidDataFound, match="gzip"):
            await _stream(store, uri)


async def test_a_decompression_bomb_hits_max_decoded_bytes() -> None:
    body = brotli.compress(bytes(64 << 20))
    assert len(body) < 64 << 10
    async with Scripted(_serving(body, "br")) as server, HTTPRaw(retry=FAST) as store:
        store.max_decoded_bytes = 1 << 20
        uri = f"http://{server.authority}/blob"
        with pytest.raises(StoreNotAvailable, match=r"max_decoded_bytes=1048576"):
            await store.get(uri)
        total = 0
        async with aclosing(store.stream(uri, 1 << 20)) as chunks:
            async for chunk in chunks:
                assert len(chunk) <= 1 << 20
                total += len(chunk)
        assert total == 64 << 20
