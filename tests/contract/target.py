"""What the contract suite needs to know about a store under test."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from asyncbitstore import Store


@dataclass
class Target:
    """A store plus how to address it in the contract tests.

    Attributes:
        store: the store under test, fresh (empty) for each test.
        uri: maps a short name to a valid URI of this store (distinct names, distinct URIs).
        prefix: a listing prefix that covers every ``uri(...)`` of this test.
        invalid: URIs the store must reject with ``InvalidURI``.
        writable: whether ``put``/``delete`` work; if not, ``seed`` writes test data.
        listable: whether ``list`` works.
        sorted_listing: whether ``list`` promises sorted output.
        seed: writes a blob out of band (for read-only stores).
    """

    store: Store
    uri: Callable[[str], str]
    prefix: str
    invalid: list[str] = field(default_factory=list)
    writable: bool = True
    listable: bool = True
    sorted_listing: bool = True
    seed: Callable[[str, bytes], Awaitable[None]] | None = None

    async def write(self, uri: str, data: bytes) -> None:
        """Put ``data`` at ``uri``, through the store or out of band."""
        if self.seed is not None:
            await self.seed(uri, data)
        else:
            await self.store.put(uri, data)
