"""``size_many`` and ``head_many`` are typed like ``exists_many``: mypy sees the plain answers
without ``return_exceptions`` and answers that may be exceptions when the flag is true (a
literal or any ``bool``)."""

from __future__ import annotations

from pathlib import Path

from tests.typecheck import assert_mypy_accepts

SNIPPET = """
from typing_extensions import assert_type
from asyncbitstore import Store
from asyncbitstore.meta import ObjectMeta

Sized = dict[str, int | BaseException | None]
Headed = dict[str, ObjectMeta | BaseException | None]


async def check(store: Store, flag: bool) -> None:
    assert_type(await store.size_many(["a"]), dict[str, int | None])
    assert_type(await store.size_many(["a"], return_exceptions=False), dict[str, int | None])
    assert_type(await store.size_many(["a"], return_exceptions=True), Sized)
    assert_type(await store.size_many(["a"], return_exceptions=flag), Sized)
    assert_type(await store.head_many(["a"]), dict[str, ObjectMeta | None])
    assert_type(await store.head_many(["a"], concurrency=2), dict[str, ObjectMeta | None])
    assert_type(await store.head_many(["a"], return_exceptions=True), Headed)
    assert_type(await store.head_many(["a"], return_exceptions=flag), Headed)
"""


def test_mypy_infers_size_many_and_head_many_results(tmp_path: Path) -> None:
    assert_mypy_accepts(SNIPPET, tmp_path / "meta_many_types.py")
