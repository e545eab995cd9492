"""mypy accepts `ObspecStore`, over any store or chain, wherever obspec's async protocols are
asked for, and its answers where obspec's result types are."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.typecheck import assert_mypy_accepts

pytest.importorskip("obspec")

SNIPPET = """
from collections.abc import Sequence

import obspec

from asyncbitstore import Composite, MemoryRaw, S3Raw
from asyncbitstore.obspec import ObspecStore

chain_store = ObspecStore(Composite())
raw_store = ObspecStore(S3Raw(), "s3://bucket/data/")

get: obspec.GetAsync = chain_store
get_range: obspec.GetRangeAsync = chain_store
get_ranges: obspec.GetRangesAsync = chain_store
put: obspec.PutAsync = chain_store
delete: obspec.DeleteAsync = chain_store
head: obspec.HeadAsync = chain_store
listing: obspec.ListAsync = raw_store
flat: obspec.ListWithDelimiterAsync = raw_store
copy: obspec.CopyAsync = ObspecStore(MemoryRaw(), "mem://b/")
rename: obspec.RenameAsync = raw_store


async def answers(store: ObspecStore) -> None:
    result: obspec.GetResultAsync = await store.get_async("a")
    meta: obspec.ObjectMeta = await store.head_async("a")
    done: obspec.PutResult = await store.put_async("a", b"x")
    pages: Sequence[obspec.ObjectMeta]
    async for pages in store.list_async("a/"):
        pass
    listed: obspec.ListResult[Sequence[obspec.ObjectMeta]]
    listed = await store.list_with_delimiter_async("a")
"""


def test_mypy_sees_obspec_store_as_each_protocol(tmp_path: Path) -> None:
    assert_mypy_accepts(SNIPPET, tmp_path / "obspec_types.py")
