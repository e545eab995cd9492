"""The bulk methods' overloads give mypy the narrow result without ``return_exceptions`` and
the result with exceptions in it when the flag is true (a literal or any ``bool``)."""

from __future__ import annotations

from pathlib import Path

from tests.typecheck import assert_mypy_accepts

SNIPPET = """
from typing import AsyncIterator
from typing_extensions import assert_type
from asyncbitstore import Store
from asyncbitstore.store import Fetched

Failed = dict[str, BaseException]
Checked = dict[str, bool | BaseException]


async def check(store: Store, flag: bool) -> None:
    assert_type(await store.get_many(["a"]), list[bytes | None])
    assert_type(await store.get_many(["a"], return_exceptions=False), list[bytes | None])
    assert_type(await store.get_many(["a"], return_exceptions=True), list[Fetched])
    assert_type(await store.get_many(["a"], return_exceptions=flag), list[Fetched])
    assert_type(store.iter_get(["a"]), AsyncIterator[tuple[str, bytes | None]])
    assert_type(store.iter_get(["a"], return_exceptions=True), AsyncIterator[tuple[str, Fetched]])
    assert_type(store.iter_get(["a"], return_exceptions=flag), AsyncIterator[tuple[str, Fetched]])
    assert_type(await store.exists_many(["a"]), dict[str, bool])
    assert_type(await store.exists_many(["a"], return_exceptions=True), Checked)
    assert_type(await store.exists_many(["a"], return_exceptions=flag), Checked)
    assert_type(await store.put_many([("a", b"")]), int)
    assert_type(await store.put_many([("a", b"")], return_exceptions=True), Failed)
    assert_type(await store.put_many([("a", b"")], return_exceptions=flag), int | Failed)
    assert_type(await store.delete_many(["a"]), int)
    assert_type(await store.delete_many(["a"], return_exceptions=True), Failed)
    assert_type(await store.delete_many(["a"], return_exceptions=flag), int | Failed)
"""


def test_mypy_infers_bulk_results(tmp_path: Path) -> None:
    assert_mypy_accepts(SNIPPET, tmp_path / "bulk_types.py")
