"""``bitstore`` over S3 prefixes (moto): ``cp -r`` and ``sync`` local to store, store to local
and store to store, wildcards, ``ls -l``, ``du``, ``head`` and ``mv`` of any URI, not only the
digests of a content-addressed chain."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.contract.targets_s3 import fresh_bucket
from tests.test_cli_paths import Shell, shell  # noqa: F401 - the fixture

pytestmark = pytest.mark.servers


@pytest.fixture
async def s3(shell: Shell, moto_server: Any) -> AsyncIterator[tuple[Shell, str, Any]]:  # noqa: F811
    async with fresh_bucket(moto_server.url) as (bucket, client):
        # A content-addressed chain: its own keys are digests, yet any S3 URI can be used.
        shell.config(f"""
[[tier]]
role = "cache"
uri = "cache/"

[[tier]]
role = "source"
uri = "s3://{bucket}/blobs/"
endpoint = "{moto_server.url}"
region = "us-east-1"
write = true
""")
        yield shell, bucket, client


async def test_cp_r_and_sync_in_every_direction(s3: tuple[Shell, str, Any]) -> None:
    sh, bucket, client = s3
    (sh.home / "data" / "sub").mkdir(parents=True)
    (sh.home / "data" / "a.txt").write_bytes(b"A" * 100)
    (sh.home / "data" / "sub" / "b.log").write_bytes(b"B" * 7)
    up = await sh.run("cp", "-r", "data", f"s3://{bucket}/up")
    assert up.exit_code == 0, up.stderr
    got = await client.get_object(Bucket=bucket, Key="up/sub/b.log")
    assert await got["Body"].read() == b"B" * 7

    across = await sh.run("--json", "sync", f"s3://{bucket}/up/", f"s3://{bucket}/copy/")
    assert json.loads(across.stdout) == {"copied": 2, "skipped": 0, "failed": 0, "bytes": 107}
    down = await sh.run("sync", f"s3://{bucket}/copy", "back")
    assert down.exit_code == 0, down.stderr
    assert (sh.home / "back" / "a.txt").read_bytes() == b"A" * 100
    assert (sh.home / "back" / "sub" / "b.log").read_bytes() == b"B" * 7
    again = await sh.run("--json", "sync", "back/", f"s3://{bucket}/copy/")
    assert json.loads(again.stdout)["skipped"] == 2

    several = await sh.run("cp", "data/a.txt", "data/sub/b.log", f"s3://{bucket}/flat/")
    assert several.exit_code == 0, several.stderr
    listed = await sh.run("ls", f"s3://{bucket}/flat/")
    assert listed.stdout.split() == [f"s3://{bucket}/flat/a.txt", f"s3://{bucket}/flat/b.log"]

    missing = await sh.run("cp", f"s3://{bucket}/nothing", "x")
    assert missing.exit_code == 1
    assert missing.stderr.startswith(f"bitstore: error: SOURCE 's3://{bucket}/nothing': ")
    assert "tier" not in missing.stderr


async def test_globs_ls_l_du_head_and_mv_on_s3_uris(s3: tuple[Shell, str, Any]) -> None:
    sh, bucket, client = s3
    for key, size in [("logs/2024-01/a.gz", 10), ("logs/2024-02/b.gz", 20), ("logs/x.txt", 5)]:
        await client.put_object(Bucket=bucket, Key=key, Body=b"z" * size)
    root = f"s3://{bucket}/logs/"

    matched = await sh.run("ls", f"{root}2024-*/*.gz")
    assert matched.stdout.split() == [f"{root}2024-01/a.gz", f"{root}2024-02/b.gz"]
    assert (await sh.run("ls", f"{root}*.gz")).exit_code == 1  # * does not cross /
    long = await sh.run("ls", "-l", root)
    assert long.exit_code == 0, long.stderr
    sizes = [(line.split()[0], line.split()[-1]) for line in long.stdout.splitlines()]
    assert sizes == [
        ("10", f"{root}2024-01/a.gz"),
        ("20", f"{root}2024-02/b.gz"),
        ("5", f"{root}x.txt"),
    ]
    assert all("T" in line.split()[1] for line in long.stdout.splitlines())
    flat = await sh.run("ls", "-l", "-d", root)
    assert [line.split()[0] for line in flat.stdout.splitlines()] == ["PRE", "PRE", "5"]

    usage = await sh.run("--json", "du", "-s", root)
    assert json.loads(usage.stdout) == {"prefix": root, "objects": 3, "bytes": 35}
    each = await sh.run("du", f"{root}**.gz")
    assert each.stdout.splitlines()[-1].split() == ["30", f"{root}**.gz", "(2", "objects)"]

    head = json.loads((await sh.run("--json", "head", f"{root}x.txt")).stdout)
    assert (head["size"], head["key"]) == (5, f"{root}x.txt")
    assert head["etag"] and head["last_modified"].endswith("+00:00")

    moved = await sh.run("mv", f"{root}2024-*/*.gz", f"s3://{bucket}/archive/")
    assert moved.exit_code == 0, moved.stderr
    left = await sh.run("ls", f"s3://{bucket}/")
    assert left.stdout.split() == [
        f"s3://{bucket}/archive/2024-01/a.gz",
        f"s3://{bucket}/archive/2024-02/b.gz",
        f"{root}x.txt",
    ]
