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


async def test_a_flat_listing_shows_one_level_of_names_and_sub_prefixes(target: Target) -> None:
    from asyncbitstore.listing import list_flat

    if not target.listable:
        pytest.skip("store cannot list")
    top = target.uri("top")
    nested = target.uri("dir/a"), target.uri("dir/sub/b"), target.uri("dir2/c")
    if not nested[1].endswith("dir/sub/b") or not all(map(target.store.is_valid, nested)):
        pytest.skip("store keys (digests) cannot nest")
    for uri in (top, *nested):
        await target.write(uri, b"x")
    found = [u async for u in list_flat(target.store, target.prefix)]
    base = target.prefix
    assert sorted(found) == sorted([top, base + "dir/", base + "dir2/"])
    inner = [u async for u in list_flat(target.store, base + "dir/")]
    assert sorted(inner) == sorted([nested[0], base + "dir/sub/"])
