"""100,000 keys through a three-tier chain: RSS over the run, leaks, throughput.

Starts a SeaweedFS S3 server on 127.0.0.1, seeds it, and runs the load test's own routine
(``tests/reliability/test_load.py``: a bounded MemoryRaw cache, a FileRaw cache and the S3
source, read with ``iter_get``, twice). Every blob is verified; prints RSS samples, peak RSS,
growth after warm-up, leaked file descriptors and tasks, and the rate of each pass.

Run: python benchmarks/load.py [--keys 100000] [--json out.json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.contract.targets_s3 import admin_client
from tests.reliability.test_load import LoadReport, run_load
from tests.servers import _FAKE_AWS_ENV, SeaweedServer


async def measure(endpoint: str, keys: int, folder: Path) -> LoadReport:
    async with admin_client(endpoint) as admin:
        await admin.create_bucket(Bucket="load")
    return await run_load(endpoint, "load", folder / "cache", keys)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, default=100_000, help="blobs to seed and read")
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    args = parser.parse_args()
    os.environ.update(_FAKE_AWS_ENV)
    folder = Path(tempfile.mkdtemp(prefix="asyncbitstore-load-"))
    try:
        with SeaweedServer(auth=True) as server:
            report = asyncio.run(measure(server.url, args.keys, folder))
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    print("\n".join(report.lines()))
    if args.json is not None:
        figures = {
            "keys": report.keys,
            "passes": report.passes,
            "verified": report.verified,
            "seed_seconds": report.seed_seconds,
            "get_seconds": report.get_seconds,
            "rss_mib": report.rss,
            "peak_rss_mib": max(mib for _, mib in report.rss),
            "steady_growth_mib": report.steady_growth_mib,
            "leaked_fds": sorted(report.leaked_fds),
            "leaked_tasks": report.leaked_tasks,
        }
        args.json.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
