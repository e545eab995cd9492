"""Pickles written by version 0.1.0 (``tests/fixtures/pickles-0.1.0.pkl``) load with today's code.

The fixture was made by ``tests/fixtures/make_pickles.py`` at the 0.1.0 layout; it records the
module paths classes had then, private ones included. Unpickled stores and chains must work.
"""

from __future__ import annotations

import hashlib
import pickle
from pathlib import Path
from typing import Any

import pytest

import asyncbitstore as ab
from asyncbitstore import errors

FIXTURE = Path(__file__).parent / "fixtures" / "pickles-0.1.0.pkl"


@pytest.fixture(scope="module")
def loaded() -> dict[str, Any]:
    result: dict[str, Any] = pickle.loads(FIXTURE.read_bytes())
    return result


def test_every_object_comes_back_as_its_public_class(loaded: dict[str, Any]) -> None:
    for name, value in loaded.items():
        if name.startswith("error:"):
            continue
        if name == "BoundedFileRaw":
            from asyncbitstore.bounded_cache import BoundedFileRaw

            assert isinstance(value, BoundedFileRaw)
        else:
            assert isinstance(value, getattr(ab, name)), name


def test_errors_keep_their_class_message_and_attributes(loaded: dict[str, Any]) -> None:
    found = {
        name[len("error:") :]: value for name, value in loaded.items() if name.startswith("error:")
    }
    assert len(found) == 12
    for name, error in found.items():
        if name == "ConfigError":
            assert isinstance(error, ab.ConfigError)
            assert (error.origin, error.tier, error.option) == ("bitstore.toml", 2, "x")
        elif name == "CircuitOpen":
            assert isinstance(error, errors.StoreNotAvailable)
            assert type(error).__name__ == "CircuitOpen"
        else:
            assert type(error) is getattr(errors, name)
        assert str(error)
    assert found["NotFoundInStore"].uri == "mem://fixture/key"
    assert (found["InvalidRange"].start, found["InvalidRange"].end) == (5, 2)


async def test_an_unpickled_chain_reads_and_writes(loaded: dict[str, Any]) -> None:
    chain = loaded["Sha1Composite"]
    async with chain:
        key = await chain.write(b"kept across versions")
        assert await chain.get(key) == b"kept across versions"
        await chain.flush()
        assert await chain.exists(key)
    assert key == hashlib.sha1(b"kept across versions").hexdigest()


async def test_an_unpickled_plain_chain_and_memory_store_work(loaded: dict[str, Any]) -> None:
    memory = loaded["MemoryRaw"]
    await memory.put("mem://a/b", b"x")
    assert await memory.get("mem://a/b") == b"x"
    plain = loaded["Composite"]
    async with plain:
        await plain.put("mem://p/q", b"y")
        assert await plain.get("mem://p/q") == b"y"


def test_unpickled_stores_have_every_attribute_a_new_one_has(
    loaded: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.fixtures.make_pickles import objects

    # objects() fills in AWS keys it needs: restored after the test.
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "fixture")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "fixture")
    for name, fresh in objects().items():
        if name.startswith("error:") or not hasattr(fresh, "__dict__"):
            continue
        old = loaded[name]
        missing = [attr for attr in vars(fresh) if not hasattr(old, attr)]
        assert missing == [], (name, missing)
