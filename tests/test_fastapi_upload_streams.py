"""Uploads through the FastAPI helpers stream in bounded memory and honour a size limit."""

from __future__ import annotations

import ast
import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest
from fastapi import FastAPI, Request, Response

from asyncbitstore import FileRaw, PrefixStore, Sha1Composite, Sha1Store
from asyncbitstore.fastapi import store_lifespan, write_response

from .fastapi_support import ROOT, StoreDep, asgi_client, load_example

example = load_example("fastapi_app_upload_example")

MiB = 1 << 20

# Runs in a fresh interpreter, so that the memory high-water mark is this upload's alone.
_UPLOAD = """
import asyncio, hashlib, json, sys
sys.path.insert(0, sys.argv[1])
from tests.fastapi_support import asgi_client, load_example

def high_water() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmHWM")

async def main(tmp: str, total: int) -> None:
    example = load_example("fastapi_app_rss")
    env = {"BLOB_CACHE_DIR": tmp + "/cache", "BLOB_SOURCE_DIR": tmp + "/uploads"}
    block = bytes(range(256)) * 4096
    async def body():
        for _ in range(total // len(block)):
            yield block
    digest = hashlib.sha1()
    for _ in range(total // len(block)):
        digest.update(block)
    async with asgi_client(example.create_app(lambda: example.build_store(env))) as client:
        assert (await client.put("/blobs", content=b"warm up")).status_code == 201
        before = high_water()
        response = await client.put("/blobs", content=body())
        after = high_water()
    print(json.dumps({"status": response.status_code, "body": response.json(),
                      "key": digest.hexdigest(), "growth": after - before}))

asyncio.run(main(sys.argv[2], int(sys.argv[3])))
"""


def test_a_256_mib_upload_streams_through_the_example_in_bounded_memory(tmp_path: Path) -> None:
    total = 256 * MiB
    done = subprocess.run(
        [sys.executable, "-c", _UPLOAD, str(ROOT), str(tmp_path), str(total)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["status"] == 201
    assert result["body"] == {"key": result["key"]}
    assert (tmp_path / "uploads" / result["key"]).stat().st_size == total
    assert result["growth"] < 64 * MiB, f"peak RSS grew by {result['growth'] / MiB:.0f} MiB"


def test_the_example_no_longer_reads_whole_bodies() -> None:
    tree = ast.parse((ROOT / "examples" / "fastapi_app.py").read_text())
    calls = [
        node.func.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
    ]
    assert "body" not in calls


async def test_the_example_answers_413_past_its_limit_and_stores_nothing(tmp_path: Path) -> None:
    env = {
        "BLOB_CACHE_DIR": str(tmp_path / "cache"),
        "BLOB_SOURCE_DIR": str(tmp_path / "uploads"),
    }
    app = example.create_app(lambda: example.build_store(env), max_upload=1000)

    async def body() -> object:
        for _ in range(3):
            yield b"x" * 600

    async with asgi_client(app) as client:
        assert (await client.put("/blobs", content=b"y" * 1000)).status_code == 201
        response = await client.put("/blobs", content=body())  # no Content-Length: chunked
        assert response.status_code == 413
        assert "1000" in response.json()["detail"]
        declared = await client.put("/blobs", content=b"z" * 1001)  # refused on its header
        assert declared.status_code == 413
    stored = sorted(p.name for p in (tmp_path / "uploads").iterdir())
    assert stored == [hashlib.sha1(b"y" * 1000).hexdigest()]


def _named_app(tmp_path: Path, max_size: int) -> FastAPI:
    app = FastAPI(lifespan=store_lifespan(lambda: PrefixStore(FileRaw(), f"{tmp_path}/named/")))

    @app.put("/n/{key:path}")
    async def put(key: str, request: Request, store: StoreDep) -> Response:
        return await write_response(store, request, key=key, max_size=max_size)

    return app


async def test_a_named_upload_past_the_limit_leaves_no_partial_object(tmp_path: Path) -> None:
    async def body() -> object:
        for _ in range(10):
            yield b"a" * 300

    async with asgi_client(_named_app(tmp_path, 1000)) as client:
        ok = await client.put("/n/dir/ok.bin", content=b"b" * 999)
        assert (ok.status_code, ok.json()) == (201, {"key": "dir/ok.bin"})
        assert (await client.put("/n/dir/big.bin", content=body())).status_code == 413
    assert (tmp_path / "named" / "dir" / "ok.bin").read_bytes() == b"b" * 999
    assert sorted(p.name for p in (tmp_path / "named" / "dir").iterdir()) == ["ok.bin"]


async def test_write_response_takes_a_stream_and_bytes(tmp_path: Path) -> None:
    chain = Sha1Composite()
    chain.append_source(Sha1Store(FileRaw(), f"{tmp_path}/s/"), write=True)

    async def body() -> object:
        yield b"hello "
        yield b"world"

    async with chain:
        streamed = await write_response(chain, body(), max_size=11)
        assert streamed.status_code == 201
        assert await chain.get(hashlib.sha1(b"hello world").hexdigest()) == b"hello world"
        assert (await write_response(chain, b"12345", max_size=4)).status_code == 413
        with pytest.raises(ValueError, match="max_size"):
            await write_response(chain, b"x", max_size=-1)
