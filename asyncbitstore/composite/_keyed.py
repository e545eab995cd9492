"""The keyed chains: ``HashComposite`` (keys are digests of one algorithm) and
``Sha1Composite``."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from .._core.data import PutData
from .._core.keys import DigestKeyed, HashKeys
from ..compression.store_io import verified_stored
from ..store import Store
from ._chain import Composite

if TYPE_CHECKING:
    from .._core.write_source import WriteData

__all__ = ["HashComposite", "Sha1Composite"]


# The chain declares uri_hint and key_algorithm as plain attributes; DigestKeyed's read-only
# ones replace them (a descriptor overriding an attribute needs the ignore).
class HashComposite(DigestKeyed, Composite):  # type: ignore[misc]
    """A chain of content-addressed tiers; keys are hex digests of ``algorithm``.

    Accepts ``<hex>`` and ``<algorithm>://<hex>`` in any case and hands tiers the lower-case hex.
    ``put`` refuses data whose digest is not the key, so no tier ever stores a wrong blob.
    """

    def __init__(self, *, algorithm: str = "sha256", **options: Any) -> None:
        """Options as for ``Composite`` (``max_pending_fills``, ``negative_ttl``, ...)."""
        self.keys = HashKeys(algorithm)
        super().__init__(**options)

    def _stream_hasher(self) -> Any:
        return self.keys.new()

    @property
    def verifies_keys(self) -> bool:
        """Always: a content-addressed chain checks each blob's digest against its key."""
        return True

    def _check_tier(self, store: Store) -> None:
        super()._check_tier(store)
        if store.key_algorithm is not None and store.key_algorithm != self.algorithm:
            raise ValueError(
                f"{store.name} uses {store.key_algorithm} keys; this chain uses {self.algorithm}"
            )

    def _key_getter(self, store: Store) -> Callable[[str], Awaitable[bytes]] | None:
        if store.key_algorithm == self.algorithm:
            return store.get_key
        return None

    def is_valid(self, uri: str) -> bool:
        """Whether ``uri`` is a key of this chain's algorithm."""
        return self.keys.match(uri) is not None

    def _key(self, uri: object) -> str:
        return self.keys.require(self, uri)

    async def _prepare_put(self, key: str, data: PutData, stored: bool) -> PutData:
        if stored:
            return await verified_stored(self.keys, self, key, data)
        if isinstance(data, (bytes, bytearray, memoryview)):
            self.keys.check(self, key, self.keys.digest(data))
            return data
        return self.keys.verified(self, key, data)

    async def _after_put(self, key: str) -> None:
        """Nothing to invalidate: a key's content never changes."""

    async def write(
        self, data: WriteData, *, compress: str | None = None, level: int | None = None
    ) -> str:
        """Store ``data`` under its digest and return that key.

        ``data`` may be bytes-like, a path object (``pathlib.Path``; a ``str`` raises
        ``TypeError``), a binary file object or an async iterable of bytes; the digest is
        computed while streaming, in bounded memory, and ``put`` checks it again as the bytes
        go to the first writable source (see ``HashStore.write``). The key is the digest of the
        data as given, also when ``compress`` stores it compressed.

        When the first writable source already holds the key, nothing is uploaded (a digest
        names one content) and ``stats.writes_skipped`` counts the call.
        """
        from .._core.write_source import keyed_source

        async with keyed_source(data, self.keys) as (key, source):
            if await self._first_writer_has(key):
                self.writes_skipped += 1
                return key
            await self.put(key, source, compress=compress, level=level)
        return key

    async def _first_writer_has(self, key: str) -> bool:
        """Whether the first writable source, the one whose write decides, holds ``key``
        already (a cache holding it proves nothing about the source). A source whose check
        fails is written to as before."""
        writers = [t for t in self._tiers if t.write and t.store.is_valid(key)]
        if not writers or not writers[0].store.exists_is_cheap:
            return False
        try:
            return await writers[0].call(writers[0].store.exists, key)
        except Exception:
            return False


class Sha1Composite(HashComposite):
    """A chain of SHA-1-keyed tiers: accepts ``<sha1>`` and ``sha1://<sha1>``, any case."""

    def __init__(self, **options: Any) -> None:
        """Options as for ``Composite`` (``max_pending_fills``, ``negative_ttl``, ...)."""
        super().__init__(algorithm="sha1", **options)
