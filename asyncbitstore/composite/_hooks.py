"""The hooks a chain calls when it is traced: what a ``chain.tracer`` must implement.

A chain with ``tracer = None`` (the default) calls none of them. With a tracer set, each
operation on the chain and each tier tried goes through the matching hook, which must do the
work it is handed (call ``fetch``, ``write``, ``tier.get``, ...) and may wrap it in whatever it
records. ``asyncbitstore.otel.ChainTracer`` is the implementation the library ships.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Protocol

from .._core.data import PutData, PutWriter
from ..store import Store
from ._tier import Tier

__all__ = ["ChainHooks"]


class ChainHooks(Protocol):
    """Called by a chain around its ``get``, ``put`` and ``stream``, and around each tier tried."""

    async def get(self, chain: Store, key: str, fetch: Callable[[str], Awaitable[bytes]]) -> bytes:
        """A ``get`` of the chain: return ``await fetch(key)``."""
        ...

    async def put(self, chain: Store, key: str, data: PutData, write: PutWriter) -> None:
        """A ``put`` to the chain: ``await write(key, data)``."""
        ...

    def stream(self, chain: Store, uri: str, chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        """A ``stream`` of the chain: pass on ``chunks`` and close them when done."""
        ...

    async def tier_get(self, tier: Tier, key: str) -> bytes:
        """One tier asked by a ``get``: return ``await tier.get(key)``."""
        ...

    async def tier_put(self, tier: Tier, key: str, data: PutData, **options: Any) -> None:
        """The first writable source's put: ``tier.store.put(key, data, **options)`` within
        ``tier.call`` (its time limit)."""
        ...

    async def open_tier_stream(
        self, tier: Tier, key: str, chunks: AsyncIterator[bytes]
    ) -> tuple[bytes | None, AsyncIterator[bytes]]:
        """One tier's stream opened: its first chunk (``await tier.ask(key, anext, chunks,
        None)``; None for an empty blob) and the rest, which the chain closes when done."""
        ...
