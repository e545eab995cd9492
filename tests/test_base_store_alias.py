"""Keyed stores accept epic-bitstore's ``base_store=`` for their backing store."""

from __future__ import annotations

import pickle

import pytest

from asyncbitstore import HashCache, HashStore, MemoryRaw, Sha1Cache, Sha1Store

KEYED = [Sha1Store, Sha1Cache, HashStore, HashCache]


@pytest.mark.parametrize("cls", KEYED)
async def test_base_store_builds_the_same_store(cls: type[HashStore]) -> None:
    raw = MemoryRaw()
    by_alias = cls(base_store=raw, prefix="mem://b/")
    usual = cls(raw, "mem://b/")
    assert pickle.dumps(by_alias) == pickle.dumps(usual)
    assert by_alias.raw is raw and by_alias.prefix == "mem://b/"
    key = await by_alias.write(b"hello")
    assert await usual.get(key) == b"hello"


@pytest.mark.parametrize("cls", KEYED)
def test_base_store_and_raw_together_is_an_error(cls: type[HashStore]) -> None:
    with pytest.raises(TypeError, match="not both"):
        cls(MemoryRaw(), "mem://b/", base_store=MemoryRaw())
    with pytest.raises(TypeError, match="not both"):
        cls(raw=MemoryRaw(), prefix="mem://b/", base_store=MemoryRaw())


@pytest.mark.parametrize("cls", KEYED)
def test_neither_is_an_error(cls: type[HashStore]) -> None:
    with pytest.raises(TypeError, match="raw"):
        cls(prefix="mem://b/")


def test_verify_and_max_bytes_still_pass_by_keyword(tmp_path: object) -> None:
    store = Sha1Store(base_store=MemoryRaw(), prefix="mem://b/", verify=True)
    assert store.verify
