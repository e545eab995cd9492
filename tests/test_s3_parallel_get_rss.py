"""A parallel S3 `get` holds about one object of memory: each range is received into its place
in the assembled buffer, not into a buffer of its own and then copied (SeaweedFS, measured in a
process of its own)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from asyncbitstore import S3Raw
from tests.contract.targets_s3 import fresh_bucket

pytestmark = pytest.mark.servers

MiB = 1 << 20
ROOT = Path(__file__).resolve().parents[1]
PROBE = Path(__file__).with_name("_s3_rss.py")


async def _grown(endpoint: str, warm: str, uri: str, *options: str) -> tuple[int, int]:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    command = [sys.executable, str(PROBE), endpoint, warm, uri, *options]
    done = await asyncio.to_thread(
        subprocess.run, command, env=env, capture_output=True, text=True, timeout=300, cwd=ROOT
    )
    assert done.returncode == 0, done.stderr[-2000:]
    read, grown = map(int, done.stdout.split())
    return read, grown


async def test_a_64_mib_parallel_get_grows_memory_by_about_one_object(
    seaweed_server: Any,
) -> None:
    size = 64 * MiB
    async with fresh_bucket(seaweed_server.url) as (bucket, _):
        warm, big = f"s3://{bucket}/warm", f"s3://{bucket}/big"
        async with S3Raw(endpoint_url=seaweed_server.url) as store:
            await store.put(warm, b"w" * 1000)
            await store.put(big, os.urandom(MiB) * (size // MiB))
        # The defaults: 8 MiB ranges, 8 in flight, so the object is the first range and 7 more.
        read, grown = await _grown(seaweed_server.url, warm, big)
        assert read == size
        assert grown < 1.3 * size, f"reading {size} bytes grew the peak by {grown / size:.2f}x"
