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
    nested = (
        target.uri("dir/a"),
        target.uri("dir/sub/b"),
        target.uri("dir/sub/deeper/c"),
        target.uri("dir-x"),
        target.uri("dir2/c"),
        target.uri("dir2/d"),
    )
    if not nested[1].endswith("dir/sub/b") or not all(map(target.store.is_valid, nested)):
        pytest.skip("store keys (digests) cannot nest")
    for uri in (top, *nested):
        await target.write(uri, b"x")
    base = target.prefix
    # sorted, each sub-prefix once although several blobs lie below it ("dir-x" < "dir/")
    expected = [nested[3], base + "dir/", base + "dir2/", top]
    assert [u async for u in target.store.list(base, flat=True)] == expected
    assert sorted([u async for u in list_flat(target.store, base)]) == expected
    inner = [u async for u in target.store.list(base + "dir/", flat=True)]
    assert inner == [nested[0], base + "dir/sub/"]
    deeper = [u async for u in target.store.list(base + "dir/sub/", flat=True)]
    assert deeper == [nested[1], base + "dir/sub/deeper/"]
    # a partial name groups what follows it, like S3's Prefix + Delimiter
    partial = [u async for u in target.store.list(base + "dir", flat=True)]
    assert partial == [nested[3], base + "dir/", base + "dir2/"]
    assert [u async for u in target.store.list(base + "nothing/", flat=True)] == []
    # the recursive listing is unchanged by the new argument's default
    assert sorted([u async for u in target.store.list(base)]) == sorted([top, *nested])
