"""The ``bitstore`` command, run as a subprocess against file tiers and an S3 (moto) tier."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import socket
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.contract.targets_s3 import fresh_bucket

ROOT = Path(__file__).resolve().parent.parent
SECRET = "hunter2-sEcReT-value-9f8e7d"


def sha1(data: bytes) -> str:
    return hashlib.sha1(data).hexdigest()


@dataclass
class Result:
    code: int
    out: bytes
    err: str

    @property
    def text(self) -> str:
        return self.out.decode()

    def json(self) -> Any:
        return json.loads(self.out)


@dataclass
class Bitstore:
    """Runs ``python -m asyncbitstore`` in a folder of its own, with its own user folders."""

    home: Path
    env: dict[str, str]

    async def __call__(self, *args: str, stdin: bytes | None = None) -> Result:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "asyncbitstore",
            "--no-progress",
            *args,
            cwd=self.home,
            env=self.env,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(process.communicate(stdin), 100)
        assert process.returncode is not None
        return Result(process.returncode, out, err.decode())

    def config(self, text: str) -> Path:
        path = self.home / "bitstore.toml"
        path.write_text(text)
        return path


@pytest.fixture
def bitstore(tmp_path: Path) -> Bitstore:
    env = {k: v for k, v in os.environ.items() if k != "BITSTORE_CONFIG"}
    for name in ("CACHE", "CONFIG", "STATE"):
        env[f"XDG_{name}_HOME"] = str(tmp_path / "user" / name.lower())
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    home = tmp_path / "work"
    home.mkdir()
    return Bitstore(home, env)


@pytest.fixture
async def bucket(moto_server: Any) -> AsyncIterator[tuple[str, Any]]:
    async with fresh_bucket(moto_server.url) as made:
        yield made


def s3_chain(folder: Path, bucket: str, endpoint: str) -> str:
    return f"""
[chain]
name = "blobs"

[[tier]]
role = "cache"
uri = "{folder}/cache/"

[[tier]]
role = "source"
uri = "s3://{bucket}/files/"
endpoint = "{endpoint}"
region = "us-east-1"
write = true
cache_result = true
"""


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_a_fresh_machine_stores_blobs_in_the_user_cache(bitstore: Bitstore) -> None:
    (bitstore.home / "a.txt").write_bytes(b"alpha")
    put = await bitstore("put", "a.txt")
    assert (put.code, put.text) == (0, sha1(b"alpha") + "\n")
    got = await bitstore("get", sha1(b"alpha"))
    assert (got.code, got.out) == (0, b"alpha")
    blob = Path(bitstore.env["XDG_CACHE_HOME"]) / "asyncbitstore" / "blobs" / sha1(b"alpha")
    assert blob.read_bytes() == b"alpha"


@pytest.mark.servers
async def test_put_get_exists_rm_round_trip_through_a_file_cache_and_s3(
    bitstore: Bitstore, bucket: tuple[str, Any], moto_server: Any
) -> None:
    name, client = bucket
    bitstore.config(s3_chain(bitstore.home, name, moto_server.url))
    (bitstore.home / "a.bin").write_bytes(b"a" * 3000)
    (bitstore.home / "b.bin").write_bytes(b"bee")
    put = await bitstore("put", "a.bin", "-", "b.bin", stdin=b"from stdin")
    keys = [sha1(b"a" * 3000), sha1(b"from stdin"), sha1(b"bee")]
    assert (put.code, put.text.split()) == (0, keys), put.err
    head = await client.head_object(Bucket=name, Key=f"files/{keys[1]}")
    assert head["ContentLength"] == len(b"from stdin")

    got = await bitstore("get", keys[0].upper())
    assert (got.code, got.out) == (0, b"a" * 3000)
    assert (bitstore.home / "cache" / keys[0]).read_bytes() == b"a" * 3000  # filled
    assert (await bitstore("get", keys[2], "-o", "out/../copy.bin")).code == 2  # no out/ folder
    assert (await bitstore("get", keys[2], "-o", "copy.bin")).code == 0
    assert (bitstore.home / "copy.bin").read_bytes() == b"bee"
    cat = await bitstore("cat", keys[2], keys[1])
    assert (cat.code, cat.out) == (0, b"beefrom stdin")

    assert (await bitstore("exists", *keys)).code == 0
    assert (await bitstore("rm", keys[0])).code == 0
    exists = await bitstore("exists", *keys)
    assert exists.code == 1
    assert exists.text.splitlines()[0] == f"missing  {keys[0]}"
    assert not (bitstore.home / "cache" / keys[0]).exists()
    listed = await bitstore("ls")
    assert sorted(listed.text.split()) == sorted(keys[1:])


@pytest.mark.servers
async def test_warm_fills_the_cache_from_a_file_of_1000_keys(
    bitstore: Bitstore, bucket: tuple[str, Any], moto_server: Any
) -> None:
    bitstore.config(s3_chain(bitstore.home, bucket[0], moto_server.url))
    blobs = bitstore.home / "blobs"
    blobs.mkdir()
    for n in range(1000):
        (blobs / f"{n}.txt").write_text(f"blob number {n}")
    names = [f"blobs/{n}.txt" for n in range(1000)]
    put = await bitstore("--concurrency", "32", "put", *names)
    assert put.code == 0, put.err
    keys = put.text.split()
    (bitstore.home / "keys.txt").write_text("# keys\n\n" + "\n".join(keys) + "\n")

    first = await bitstore("--json", "warm", "keys.txt")
    assert first.code == 0, first.err
    summary = first.json()
    assert (summary["found"], summary["missing"]) == (1000, 0)
    assert list(summary["hits"].values()) == [0, 1000]
    assert summary["fills"]["done"] == 1000
    second = await bitstore("warm", "keys.txt")
    assert "warmed 1000 of 1000 keys" in second.text
    assert list((await bitstore("--json", "warm", "keys.txt")).json()["hits"].values()) == [
        1000,
        0,
    ]

    stats = await bitstore("--json", "stats")
    cache, source = stats.json()["tiers"]
    assert (cache["hits"], source["hits"]) == (2000, 1000 + 0)
    assert "hits" in (await bitstore("stats")).text
    assert (await bitstore("stats", "--reset")).code == 0
    assert (await bitstore("--json", "stats")).json()["tiers"] == []


@pytest.mark.servers
async def test_cp_and_sync_copy_between_two_stores(
    bitstore: Bitstore, bucket: tuple[str, Any], moto_server: Any
) -> None:
    name, client = bucket
    bitstore.config(s3_chain(bitstore.home, name, moto_server.url))
    local = bitstore.home / "local"
    local.mkdir()
    (local / "one").write_bytes(b"1" * 5000)
    (local / "two").write_bytes(b"22")
    one = await bitstore("cp", f"{local}/one", f"s3://{name}/copies/")
    assert one.code == 0, one.err
    assert one.text.strip() == "1 copied, 0 skipped, 0 failed, 5000 bytes"
    body = await client.get_object(Bucket=name, Key="copies/one")
    assert await body["Body"].read() == b"1" * 5000

    synced = await bitstore("--json", "sync", f"file://{local}/", f"s3://{name}/mirror/")
    assert synced.json() == {"copied": 2, "skipped": 0, "failed": 0, "bytes": 5002}
    (local / "two").write_bytes(b"changed")
    again = await bitstore("--json", "sync", f"file://{local}/", f"s3://{name}/mirror/")
    assert again.json() == {"copied": 1, "skipped": 1, "failed": 0, "bytes": 7}
    back = await bitstore("cp", f"s3://{name}/mirror/", f"{bitstore.home}/back/")
    assert back.code == 0, back.err
    assert (bitstore.home / "back" / "two").read_bytes() == b"changed"
    missing = await bitstore("cp", f"s3://{name}/nothing", f"{bitstore.home}/x")
    assert missing.code == 1 and "not found" in missing.err


async def test_exit_codes_and_one_line_errors(bitstore: Bitstore) -> None:
    bitstore.config(f'[[tier]]\nrole = "source"\nuri = "{bitstore.home}/src/"\nwrite = true\n')
    absent = await bitstore("get", "0" * 40)
    assert absent.code == 1
    assert absent.err.startswith("bitstore: error: '0000") and "check the key" in absent.err
    assert absent.err.count("\n") == 1 and "Traceback" not in absent.err
    assert (await bitstore("get", "not-a-key")).code == 2
    assert (await bitstore("frobnicate")).code == 2
    assert (await bitstore("put", "no-such-file")).code == 2
    assert (await bitstore("--config", "nowhere.toml", "ls")).code == 2


async def test_an_unreachable_tier_exits_3_and_v_shows_the_traceback(bitstore: Bitstore) -> None:
    bitstore.config(f"""
[[tier]]
role = "source"
uri = "s3://bucket/files/"
endpoint = "http://127.0.0.1:{closed_port()}"
anonymous = true
request_timeout = 5
retry = {{ attempts = 1 }}
""")
    down = await bitstore("get", "1" * 40)
    assert down.code == 3
    assert "is not available" in down.err and "retry later" in down.err
    assert "Traceback" not in down.err
    verbose = await bitstore("-v", "get", "1" * 40)
    assert verbose.code == 3 and "Traceback" in verbose.err


async def test_a_bad_config_file_is_reported_with_its_location(bitstore: Bitstore) -> None:
    bitstore.config("""
[[tier]]
role = "cache"
uri = "mem://hot/"

[[tier]]
role = "source"
uri = "s3://bucket/files/"
regoin = "eu-west-1"
""")
    result = await bitstore("ls")
    assert result.code == 2
    assert result.err == (
        "bitstore: error: bitstore.toml: tier 2 (s3://bucket/files/): "
        "unknown option 'regoin' for s3:// tiers; did you mean 'region'?\n"
    )
    bitstore.config("[[tier]\n")
    broken = await bitstore("--json", "ls")
    error = json.loads(broken.err)
    assert error["exit_code"] == 2 and "not valid TOML" in error["error"]
    assert "line 1" in error["error"]


async def test_json_output_parses(bitstore: Bitstore) -> None:
    bitstore.config(f"""
[[tier]]
role = "cache"
uri = "{bitstore.home}/cache/"
max_bytes = 1_000_000

[[tier]]
role = "source"
uri = "{bitstore.home}/src/"
write = true
""")
    (bitstore.home / "x").write_bytes(b"x")
    put = await bitstore("--json", "put", "x")
    assert put.json() == [{"file": "x", "key": sha1(b"x")}]
    exists = await bitstore("--json", "exists", sha1(b"x"), "f" * 40)
    assert exists.json() == {sha1(b"x"): True, "f" * 40: False}
    assert (await bitstore("--json", "ls")).json() == [sha1(b"x")]
    assert (await bitstore("--json", "rm", sha1(b"x"))).json() == {"deleted": [sha1(b"x")]}
    shown = await bitstore("--json", "config", "show")
    assert shown.json()["chain"]["class"] == "Sha1Composite"
    assert [t["store"].split("(")[0] for t in shown.json()["tiers"]] == ["HashCache", "HashStore"]


async def test_config_show_masks_secrets(bitstore: Bitstore) -> None:
    bitstore.env["ABS_TEST_TOKEN"] = SECRET
    port = closed_port()  # nothing is contacted: showing builds the stores, no clients
    bitstore.config(f"""
[[tier]]
role = "cache"
uri = "redis://:{SECRET}@127.0.0.1:{port}/0/blobs/"

[[tier]]
role = "source"
uri = "s3://bucket/files/"
endpoint = "http://127.0.0.1:{port}"
secret_access_key = "{SECRET}"
access_key_id = "AKIDEXAMPLE"
session_token = "${{ABS_TEST_TOKEN}}"
""")
    shown = await bitstore("--json", "config", "show")
    assert shown.code == 0, shown.err
    assert SECRET not in shown.text
    source = shown.json()["tiers"][1]
    assert (source["secret_access_key"], source["session_token"]) == ("***", "${ABS_TEST_TOKEN}")
    text = await bitstore("config", "show")
    assert text.code == 0 and SECRET not in text.text
    assert f"[[tier]]  # 1: HashCache(RedisRaw('redis://127.0.0.1:{port}/0/')" in text.text


async def test_warm_with_a_scheduler_runs_the_prefetch_on_a_dask_cluster(
    bitstore: Bitstore,
) -> None:
    distributed = pytest.importorskip("distributed")
    bitstore.config(
        f"""
[chain]
name = "blobs"

[[tier]]
role = "cache"
uri = "{bitstore.home}/cache/"

[[tier]]
role = "source"
uri = "{bitstore.home}/source/"
cache_result = true
write = true
"""
    )
    (bitstore.home / "in").mkdir()
    for n in range(20):
        (bitstore.home / "in" / f"{n}").write_text(f"clustered blob {n}")
    put = await bitstore("put", *(f"in/{n}" for n in range(20)))
    assert put.code == 0, put.err
    (bitstore.home / "keys.txt").write_text(put.text)
    cluster = await asyncio.to_thread(
        distributed.LocalCluster,
        n_workers=1,
        processes=True,
        threads_per_worker=1,
        host="127.0.0.1",
        dashboard_address="127.0.0.1:0",
    )
    try:
        result = await bitstore(
            "--json", "warm", "keys.txt", "--scheduler", cluster.scheduler_address
        )
    finally:
        await asyncio.to_thread(cluster.close)
    assert result.code == 0, result.err
    summary = result.json()
    assert summary["keys"] == 20
    assert list(summary["hits"].values()) == [0, 20]
    cached = {p.name for p in (bitstore.home / "cache").rglob("*") if p.is_file()}
    assert set(put.text.split()) <= cached
