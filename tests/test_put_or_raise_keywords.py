"""`put_or_raise` takes exactly the keywords of `put`, checked the same way."""

from __future__ import annotations

import warnings

import pytest

from asyncbitstore import MemoryRaw
from asyncbitstore.store import PutKeywords


async def test_every_put_keyword_is_honoured() -> None:
    store = MemoryRaw()
    await store.put_or_raise(
        "mem://t/a",
        b"x" * 100,
        mode="create",
        content_type="text/plain",
        cache_control="no-cache",
        metadata={"k": "v"},
        compress="gzip",
        level=9,
    )
    assert await store.get("mem://t/a") == b"x" * 100
    assert len(await store.get("mem://t/a", stored=True)) < 100  # stored compressed
    assert (await store.head("mem://t/a")).content_type == "text/plain"


async def test_an_unknown_keyword_is_refused_by_name() -> None:
    with pytest.raises(
        TypeError, match="put_or_raise\\(\\) got an unexpected keyword argument 'compression'"
    ):
        await MemoryRaw().put_or_raise("mem://t/a", b"x", compression="gzip")  # type: ignore[call-arg]


async def test_stored_and_raw_together_are_refused_and_raw_warns() -> None:
    store = MemoryRaw()
    with pytest.raises(TypeError):
        await store.put_or_raise("mem://t/a", b"x", stored=True, raw=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        await store.put_or_raise("mem://t/b", b"y", raw=True)
    assert any(issubclass(w.category, DeprecationWarning) for w in caught)
    assert await store.get("mem://t/b", stored=True) == b"y"


def test_the_keywords_are_those_put_takes() -> None:
    import inspect

    from asyncbitstore import Store

    put_keywords = {
        name
        for name, parameter in inspect.signature(Store.put).parameters.items()
        if parameter.kind is inspect.Parameter.KEYWORD_ONLY
    }
    assert set(PutKeywords.__optional_keys__) == put_keywords
