"""pandas and pyarrow read and write ``bitstore://`` URLs: a memory cache, a file cache and S3."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pd = pytest.importorskip("pandas")
pytest.importorskip("pyarrow")
import pyarrow.dataset as ds  # noqa: E402
from fsspec.asyn import sync  # noqa: E402

from asyncbitstore import FileRaw, MemoryRaw, S3Raw  # noqa: E402
from asyncbitstore.composite import Composite  # noqa: E402
from asyncbitstore.fsspec import BitstoreFileSystem  # noqa: E402
from asyncbitstore.named import PrefixCache, PrefixStore  # noqa: E402
from tests.fsspec_support import bucket  # noqa: E402, F401

pytestmark = pytest.mark.servers


@pytest.fixture
def chain(moto_server: Any, bucket: str, tmp_path: Path) -> Iterator[Composite]:  # noqa: F811
    chain = Composite()
    chain.append_cache(PrefixCache(MemoryRaw(), "mem://frames/"), name="memory")
    chain.append_cache(PrefixCache(FileRaw(), f"{tmp_path}/cache/"), name="disk")
    chain.append_source(
        PrefixStore(S3Raw(endpoint_url=moto_server.url), f"s3://{bucket}/{tmp_path.name}/"),
        name="s3",
        write=True,
        cache_result=True,
    )
    yield chain
    fs = BitstoreFileSystem(store=chain)
    sync(fs.loop, chain.aclose)


def frame(rows: int = 1000) -> Any:
    return pd.DataFrame({"n": range(rows), "word": [f"w{i % 17}" for i in range(rows)]})


def test_parquet_round_trip_fills_the_caches(chain: Composite) -> None:
    options = {"store": chain}
    frame().to_parquet("bitstore://tables/t.parquet", storage_options=options)
    back = pd.read_parquet("bitstore://tables/t.parquet", storage_options=options)
    pd.testing.assert_frame_equal(back, frame())
    fs = BitstoreFileSystem(store=chain)
    sync(fs.loop, chain.flush)
    before = s3_calls(chain)
    again = pd.read_parquet("bitstore://tables/t.parquet", storage_options=options)
    pd.testing.assert_frame_equal(again, frame())
    assert s3_calls(chain) == before, "the second read went to S3 instead of the caches"


def s3_calls(chain: Composite) -> int:
    return next(tier.calls for tier in chain.stats.tiers if tier.name == "s3")


def test_read_csv_through_bitstore(chain: Composite) -> None:
    options = {"store": chain}
    frame(50).to_csv("bitstore://csv/t.csv", index=False, storage_options=options)
    back = pd.read_csv("bitstore://csv/t.csv", storage_options=options)
    pd.testing.assert_frame_equal(back, frame(50))


def test_pyarrow_dataset_over_a_directory(chain: Composite) -> None:
    fs = BitstoreFileSystem(store=chain)
    for part in range(3):
        frame(10).assign(part=part).to_parquet(f"bitstore://ds/part-{part}.parquet", filesystem=fs)
    table = ds.dataset("ds", filesystem=fs, format="parquet").to_table()
    assert table.num_rows == 30
    assert sorted(set(table.column("part").to_pylist())) == [0, 1, 2]
