"""One "directory" level of a store's listing: :func:`list_flat`.

Object stores have no folders; a flat listing groups the URIs under ``prefix`` by the next
``/``, as S3's ``Delimiter="/"`` does: a URI with no further ``/`` is yielded as it is, and the
others are collapsed into their sub-prefix (ending in ``/``), each yielded once, at its first
appearance. Derived from the store's recursive ``list``, so it works on every store that lists.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .store import Store

__all__ = ["flat_level", "list_flat"]


async def flat_level(uris: AsyncIterator[str], prefix: str) -> AsyncIterator[str]:
    """Collapse a recursive listing of ``prefix`` into one level (names and sub-prefixes)."""
    seen: set[str] = set()
    start = len(prefix)
    async for uri in uris:
        slash = uri.find("/", start)
        if slash < 0:
            yield uri
            continue
        sub = uri[: slash + 1]
        if sub not in seen:  # unsorted listings (Redis) may come back to a sub-prefix later
            seen.add(sub)
            yield sub


async def list_flat(store: Store, prefix: str) -> AsyncIterator[str]:
    """The names and sub-prefixes (ending in ``/``) directly under ``prefix`` in ``store``.

    The order is the store's listing order (sorted for stores whose ``list`` is sorted).

    Raises:
        NotImplementedError: the store cannot list.
        InvalidURI: ``prefix`` is not a prefix the store lists.
    """
    if not isinstance(prefix, str):
        raise TypeError(f"prefix must be a str, not {type(prefix).__name__}")
    listing = store.list(prefix)
    try:
        async for item in flat_level(listing, prefix):
            yield item
    finally:
        await listing.aclose()  # type: ignore[attr-defined]
