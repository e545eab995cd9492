"""A multipart upload of bytes in memory sends slices of them: no copy per part in flight.

Measured in a fresh Python process (the kernel's peak RSS, ``VmHWM``, reset just before the
put): 64 MiB in 8 MiB parts, 4 in flight, must add less than two parts, where botocore's
copies (one per part in flight, another in its body buffer) added about eight.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from tests.contract.targets_s3 import fresh_bucket

MiB = 1 << 20
ROOT = Path(__file__).resolve().parents[1]

_SCRIPT = textwrap.dedent(
    """
    import asyncio, json, os, sys

    from asyncbitstore import S3Raw

    MiB = 1 << 20

    def resident() -> int:
        with open("/proc/self/clear_refs", "w") as clear:
            clear.write("5")  # the peak starts again from what is resident now
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

    def peak() -> int:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
        raise RuntimeError("no VmHWM")

    async def chunks():  # fresh 1 MiB chunks, each dropped by the producer once yielded
        for n in range(64):
            yield bytes([n]) * MiB

    async def main(endpoint: str, bucket: str, form: str) -> None:
        blob = b"m" * (64 * MiB)  # written, so resident before the measurement
        store = S3Raw(endpoint_url=endpoint, part_size=8 * MiB, max_concurrency=4)
        async with store:
            await store.put(f"s3://{bucket}/warm", b"warm")  # client and imports ready
            before = resident()
            await store.put(f"s3://{bucket}/big", blob if form == "bytes" else chunks())
            grown = peak() - before
            assert await store.size(f"s3://{bucket}/big") == len(blob)
        print(json.dumps({"grown": grown}))

    asyncio.run(main(*sys.argv[1:4]))
    """
)


async def _growth(endpoint: str, form: str) -> int:
    """The peak RSS growth of a 64 MiB put of ``form`` (``bytes`` or ``stream``)."""
    async with fresh_bucket(endpoint) as (bucket, _):
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        done = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-c", _SCRIPT, endpoint, bucket, form],
            capture_output=True, text=True, timeout=300, env=env, cwd=ROOT,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr[-3000:]
        grown: int = json.loads(done.stdout.strip().splitlines()[-1])["grown"]
        print(f"{form}: {grown / MiB:.1f} MiB")
        return grown


@pytest.mark.skipif(not Path("/proc/self/clear_refs").exists(), reason="needs Linux /proc")
async def test_a_64_mib_put_in_8_mib_parts_adds_less_than_two_parts(seaweed_server: Any) -> None:
    grown = await _growth(str(seaweed_server.url), "bytes")
    # Botocore's copies grew it by about 65 MiB (2 x 4 parts). The parts are views of the
    # caller's bytes now, so a copy of each part in flight (32 MiB) would already fail this.
    assert grown < 2 * 8 * MiB, f"the peak RSS grew by {grown / MiB:.1f} MiB"


@pytest.mark.skipif(not Path("/proc/self/clear_refs").exists(), reason="needs Linux /proc")
async def test_a_64_mib_stream_adds_the_parts_in_flight_and_one_more(seaweed_server: Any) -> None:
    grown = await _growth(str(seaweed_server.url), "stream")
    # 4 parts in flight and the one being filled: 40 MiB, with at most a part's worth of its
    # chunks while they are joined. Botocore's copies made it about 74 MiB.
    assert grown < (4 + 2) * 8 * MiB, f"the peak RSS grew by {grown / MiB:.1f} MiB"
