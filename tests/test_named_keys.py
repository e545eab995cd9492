"""The rules for relative keys of `PrefixStore`: which keys are its own, and what a bad one says."""

from __future__ import annotations

import logging

import pytest
from hypothesis import given
from hypothesis import strategies as st

from asyncbitstore import InvalidURI, MemoryRaw, PrefixCache, PrefixStore, StoreFull
from asyncbitstore.named import MAX_KEY_BYTES, key_problem

GOOD = ["a", "img/1.png", "a/b/c.d", "...", ".hidden/x", "é/ü", "k" * 1024, "é" * 512, "a b/c~d"]

BAD = [
    ("", "empty"),
    ("/a", "starts with '/'"),
    ("a//b", "empty segment"),
    ("a/", "empty segment"),
    (".", "'.' segment"),
    ("a/./b", "'.' segment"),
    ("a/..", "'..' segment"),
    ("../a", "'..' segment"),
    ("a\x00b", "control character"),
    ("a\tb", "control character"),
    ("a\x7fb", "control character"),
    ("a\x85b", "control character"),
    ("k" * 1025, "more than 1024"),
    ("é" * 513, "more than 1024"),
    ("a\ud800b", "lone surrogate"),
]


@pytest.mark.parametrize("key", GOOD)
def test_good_keys_are_the_stores_own(key: str) -> None:
    assert key_problem(key) is None
    assert PrefixStore(MemoryRaw(), "mem://p/").is_valid(key)


@pytest.mark.parametrize(("key", "rule"), BAD)
async def test_a_bad_key_raises_invalid_uri_naming_the_rule(key: str, rule: str) -> None:
    store = PrefixStore(MemoryRaw(), "mem://p/")
    assert not store.is_valid(key)
    for call in (store.get(key), store.put(key, b"x"), store.exists(key), store.delete(key)):
        with pytest.raises(InvalidURI, match=rule):
            await call


def test_a_non_str_key_is_a_type_error() -> None:
    with pytest.raises(TypeError):
        PrefixStore(MemoryRaw(), "mem://p/").is_valid(b"a")  # type: ignore[arg-type]


def test_a_key_the_raw_store_refuses_is_not_valid(tmp_path: object) -> None:
    store = PrefixStore(MemoryRaw(), "s3://b/")  # a memory store takes no s3:// URI
    assert not store.is_valid("a")


_segment = st.text(
    st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="/"), min_size=1
).filter(lambda s: s not in (".", ".."))


@given(st.lists(_segment, min_size=1, max_size=6))
def test_keys_built_by_the_rules_are_valid_when_short_enough(segments: list[str]) -> None:
    key = "/".join(segments)
    fits = len(key.encode()) <= MAX_KEY_BYTES
    assert (key_problem(key) is None) == fits


@given(st.text())
def test_any_text_is_either_valid_or_says_why(key: str) -> None:
    problem = key_problem(key)
    if problem is None:
        assert key and not key.startswith("/") and "//" not in key
        assert all(seg not in ("", ".", "..") for seg in key.split("/"))
        assert all(ord(c) >= 0x20 for c in key)
    else:
        assert problem.startswith("it ")


async def test_keys_map_to_prefix_plus_key_and_list_back_relative() -> None:
    raw = MemoryRaw()
    store = PrefixStore(raw, "mem://p/assets/")
    await store.put("img/1.png", b"one")
    await raw.put("mem://p/other", b"not ours")
    assert await raw.get("mem://p/assets/img/1.png") == b"one"
    assert [k async for k in store.list()] == ["img/1.png"]
    assert [k async for k in store.list("img/", flat=True)] == ["img/1.png"]
    assert [k async for k in store.list("", flat=True)] == ["img/"]


async def test_a_cache_put_never_raises_but_counts_and_logs_at_debug(
    caplog: pytest.LogCaptureFixture,
) -> None:
    cache = PrefixCache(MemoryRaw(), "mem://c/", max_bytes=4)
    with caplog.at_level(logging.DEBUG, logger="asyncbitstore.named"):
        await cache.put("big", b"too big for four bytes")
    assert cache.put_failures == 1
    assert any(r.levelno == logging.DEBUG and "big" in r.getMessage() for r in caplog.records)
    with pytest.raises(StoreFull):
        await cache.put_or_raise("big", b"too big for four bytes")
    with pytest.raises(InvalidURI, match="empty segment"):
        await cache.put("a//b", b"x")  # the caller's mistake still raises
    assert cache.declines("a", 5) and not cache.declines("a", 4)
