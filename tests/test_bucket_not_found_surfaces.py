"""A misspelled bucket, end to end: ``bitstore get`` exits 3 and the FastAPI service answers 503.

Before, a chain over a missing bucket answered "not found" for every key: the command said
"check the key" and exited 1, the service answered 404. Servers: moto and fake-gcs-server.
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest

from asyncbitstore import FileRaw, GSRaw, Retry, S3Raw, Sha1Cache, Sha1Composite, Sha1Store

pytestmark = pytest.mark.servers

ROOT = Path(__file__).resolve().parent.parent
MISSING = "no-such-bucket-i19"
KEY = "0123456789abcdef0123456789abcdef01234567"
FAST = Retry(attempts=2, base=0.01, cap=0.02)


def _source_tier(kind: str, url: str) -> str:
    scheme = "s3" if kind == "s3" else "gs"
    region = 'region = "us-east-1"\n' if kind == "s3" else ""
    return (
        f'[[tier]]\nrole = "source"\nuri = "{scheme}://{MISSING}/files/"\n'
        f'endpoint = "{url}"\n{region}retry = {{ attempts = 2 }}\n'
    )


@pytest.fixture(params=["s3", "gs"])
def server(request: pytest.FixtureRequest) -> tuple[str, str]:
    """(kind, endpoint) of a server that has no bucket named MISSING."""
    name = "moto_server" if request.param == "s3" else "gcs_server"
    return request.param, str(request.getfixturevalue(name).url)


async def test_bitstore_get_from_a_missing_bucket_exits_3_naming_it(
    server: tuple[str, str], tmp_path: Path
) -> None:
    kind, url = server
    home = tmp_path / "work"
    home.mkdir()
    (home / "bitstore.toml").write_text(
        f'[[tier]]\nrole = "cache"\nuri = "{tmp_path}/cache/"\n\n' + _source_tier(kind, url)
    )
    env = {k: v for k, v in os.environ.items() if k != "BITSTORE_CONFIG"}
    for name in ("CACHE", "CONFIG", "STATE"):
        env[f"XDG_{name}_HOME"] = str(tmp_path / "user" / name.lower())
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    for command in (("get", KEY), ("exists", KEY)):
        code, err = await _run(
            sys.executable, "-m", "asyncbitstore", "--no-progress", *command, cwd=home, env=env
        )
        assert code == 3, (command, err)
        assert f"{MISSING!r} does not exist" in err, err
        assert "check the key" not in err and "Traceback" not in err


async def _run(*args: str, cwd: Path, env: dict[str, str]) -> tuple[int, str]:
    """Exit code and standard error of a command."""
    process = await asyncio.create_subprocess_exec(
        *args, cwd=cwd, env=env, stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    _, err = await asyncio.wait_for(process.communicate(), 100)
    assert process.returncode is not None
    return process.returncode, err.decode()


def _load_example() -> ModuleType:
    path = ROOT / "examples" / "fastapi_app.py"
    spec = importlib.util.spec_from_file_location("fastapi_app_example_i19", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _chain(kind: str, url: str, cache: Path) -> Sha1Composite:
    source: Any = (
        S3Raw(endpoint_url=url, retry=FAST) if kind == "s3" else GSRaw(api_root=url, retry=FAST)
    )
    chain = Sha1Composite()
    chain.append_cache(Sha1Cache(FileRaw(), f"{cache}/"))
    chain.append_source(Sha1Store(source, f"{kind}://{MISSING}/files/"), cache_result=True)
    return chain


@pytest.fixture
async def client(server: tuple[str, str], tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    kind, url = server
    app = _load_example().create_app(lambda: _chain(kind, url, tmp_path / "cache"))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://blobs") as client:
            yield client


async def test_the_service_answers_503_for_a_missing_bucket(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    for method, headers in (("GET", {}), ("HEAD", {}), ("GET", {"Range": "bytes=0-9"})):
        response = await client.request(method, f"/blobs/{KEY}", headers=headers)
        assert response.status_code == 503, (method, headers)
        assert response.headers["retry-after"] == "1"
        if method == "GET":
            assert MISSING not in response.text  # details go to the log, not to the client
    assert any(f"{MISSING!r} does not exist" in r.getMessage() for r in caplog.records)
