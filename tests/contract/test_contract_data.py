"""Working with the data, on every store: JSON helpers and flat listing."""

from __future__ import annotations

import pytest

from .target import Target

DOC = {"name": "blob", "sizes": [1, 2, 3], "nested": {"ok": True, "none": None}, "text": "é✓"}


async def test_put_json_then_get_json_round_trips(target: Target) -> None:
    if not target.writable:
        pytest.skip("read-only store")
    await target.store.put_json(target.uri("doc"), DOC)
    assert await target.store.get_json(target.uri("doc")) == DOC
    assert (await target.store.get(target.uri("doc"))).decode().startswith("{")


async def test_get_json_reads_a_blob_written_as_bytes(target: Target) -> None:
    await target.write(target.uri("raw"), b'[1, "two", {"three": 3}]')
    assert await target.store.get_json(target.uri("raw")) == [1, "two", {"three": 3}]


async def test_json_bulk_forms_keep_order_and_give_none_for_missing(target: Target) -> None:
    if not target.writable:
        pytest.skip("read-only store")
    names = ["j0", "j1", "j2"]
    written = await target.store.put_json_many(
        [(target.uri(n), {"i": i}) for i, n in enumerate(names)], concurrency=2
    )
    assert written == 3
    uris = [target.uri(n) for n in [*names, "absent"]]
    assert await target.store.get_json_many(uris) == [{"i": 0}, {"i": 1}, {"i": 2}, None]
