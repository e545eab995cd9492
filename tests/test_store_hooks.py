"""``Store.stream``, ``put`` and ``put_or_raise`` resolve ``raw=`` and call the hooks
``_stream``, ``_put`` and ``_put_or_raise``; a subclass overriding the public methods still
works."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from asyncbitstore import Store
from asyncbitstore._core.data import DEFAULT_CHUNK_SIZE, PutData
from asyncbitstore.errors import NotFoundInStore, NotWritable


class _Hooked(Store):
    """Overrides the hooks only, recording what they were given."""

    def __init__(self) -> None:
        self.blobs: dict[str, bytes] = {}
        self.calls: list[tuple[Any, ...]] = []

    def is_valid(self, uri: str) -> bool:
        return uri.startswith("h://")

    async def get(self, uri: str, *, stored: bool = False, raw: bool | None = None) -> bytes:
        try:
            return self.blobs[self.check_uri(uri)]
        except KeyError:
            raise NotFoundInStore(self, uri) from None

    async def _stream(self, uri: str, chunk_size: int, stored: bool) -> AsyncIterator[bytes]:
        self.calls.append(("stream", uri, chunk_size, stored))
        yield await self.get(uri)

    async def _put(
        self, uri: str, data: PutData, compress: str | None, level: int | None, stored: bool
    ) -> None:
        self.calls.append(("put", uri, compress, level, stored))
        assert isinstance(data, bytes)
        self.blobs[self.check_uri(uri)] = data


class _Legacy(Store):
    """Overrides the public methods, with the signatures from before compression existed."""

    def __init__(self) -> None:
        self.blobs: dict[str, bytes] = {}

    def is_valid(self, uri: str) -> bool:
        return uri.startswith("l://")

    async def get(self, uri: str, *, stored: bool = False, raw: bool | None = None) -> bytes:
        return self.blobs[uri]

    async def stream(  # type: ignore[override]
        self, uri: str, chunk_size: int = DEFAULT_CHUNK_SIZE
    ) -> AsyncIterator[bytes]:
        yield b"legacy:" + self.blobs[uri]

    async def put(self, uri: str, data: PutData) -> None:  # type: ignore[override]
        assert isinstance(data, bytes)
        self.blobs[uri] = data


async def test_hooks_get_stored_resolved_from_raw() -> None:
    store = _Hooked()
    await store.put("h://a", b"data", compress=None, stored=False)
    with pytest.warns(DeprecationWarning, match="stored="):
        await store.put("h://a", b"data", raw=True)
    await store.put_or_raise("h://a", b"data", stored=True)
    with pytest.warns(DeprecationWarning, match="stored="):
        chunks = [c async for c in store.stream("h://a", 5, raw=True)]
    assert chunks == [b"data"]
    assert store.calls == [
        ("put", "h://a", None, None, False),
        ("put", "h://a", None, None, True),
        ("put", "h://a", None, None, True),  # put_or_raise: through the public put
        ("stream", "h://a", 5, True),
    ]


async def test_stored_and_raw_together_are_refused_before_the_hook() -> None:
    store = _Hooked()
    with pytest.raises(TypeError, match="stored="):
        store.stream("h://a", stored=True, raw=True)
    with pytest.raises(TypeError, match="stored="):
        await store.put("h://a", b"x", stored=True, raw=True)
    with pytest.raises(TypeError, match="stored="):
        await store.put_or_raise("h://a", b"x", stored=True, raw=True)
    assert store.calls == []


async def test_a_subclass_overriding_the_public_methods_keeps_working() -> None:
    store = _Legacy()
    await store.put("l://a", b"data")
    await store.put_or_raise("l://b", b"more")  # no compression keywords reach the old put
    assert store.blobs == {"l://a": b"data", "l://b": b"more"}
    assert [c async for c in store.stream("l://a")] == [b"legacy:data"]


async def test_the_default_hooks() -> None:
    class ReadOnly(Store):
        def is_valid(self, uri: str) -> bool:
            return True

        async def get(self, uri: str, *, stored: bool = False, raw: bool | None = None) -> bytes:
            return b"abcdefg"

    store = ReadOnly()
    assert [c async for c in store.stream("x", 3)] == [b"abc", b"def", b"g"]
    with pytest.raises(NotWritable):
        await store.put("x", b"y")
    with pytest.raises(NotWritable):
        await store.put_or_raise("x", b"y")
