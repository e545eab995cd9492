"""Probes for the parallel reads of large objects: mixed in ahead of a raw store class, they
record each pinned range the store asks for, and can replace the object before the first one.

    class Counting(CountsPinned, GSRaw): ...
    class Overwriting(OverwritesFirst, Counting): ...
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any


class CountsPinned:
    """Records ``(first, last, version)`` of every pinned range asked, and the most in flight
    at once. The test sets ``pinned = []`` on the instance."""

    pinned: list[tuple[int, int, str]]
    in_flight = 0
    most = 0

    async def _before(self, uri: str, where: Any, first: int, last: int, version: str) -> None:
        self.pinned.append((first, last, version))

    @contextlib.contextmanager
    def _counted(self) -> Iterator[None]:
        self.in_flight += 1
        self.most = max(self.most, self.in_flight)
        try:
            yield
        finally:
            self.in_flight -= 1

    async def _pinned_range(
        self, uri: str, where: Any, first: int, last: int, version: str, /
    ) -> bytes:
        await self._before(uri, where, first, last, version)
        with self._counted():
            return await super()._pinned_range(uri, where, first, last, version)  # type: ignore[misc, no-any-return]


class OverwritesFirst(CountsPinned):
    """Replaces the object on the server with ``replacement`` before its first pinned range
    is asked, through ``writer`` (a store that reaches the server directly) unless a subclass
    writes it otherwise in `_replace`."""

    replacement = b""
    replaced = False
    writer: Any

    async def _before(self, uri: str, where: Any, first: int, last: int, version: str) -> None:
        if not self.pinned and not self.replaced:
            self.replaced = True  # before the put: the other ranges start while it runs
            await self._replace(uri, where)
        await super()._before(uri, where, first, last, version)

    async def _replace(self, uri: str, where: Any) -> None:
        await self.writer.put(uri, self.replacement)
