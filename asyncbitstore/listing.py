"""One "directory" level of a store's listing: ``store.list(prefix, flat=True)``.

Object stores have no folders; a flat listing groups the URIs under ``prefix`` by the next
``/``, as S3's ``Delimiter="/"`` does: a URI with no further ``/`` is yielded as it is, and the
others are collapsed into their sub-prefix (ending in ``/``), each yielded once.

S3 and GCS ask the server for one level (their native delimiter). Every other store that lists
derives the level from its recursive ``list`` with `sorted_level`, which reads the whole
recursive listing below ``prefix`` and keeps one level of it (so it costs a full listing, and
memory for the names of that one level). `list_flat` does the same for any store, including
user stores whose ``list`` has no ``flat`` argument.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .store import Store

__all__ = ["cut_level", "flat_level", "list_flat", "listed", "sorted_level"]


def cut_level(uris: Iterable[str], prefix: str) -> list[str]:
    """One level of an in-memory recursive listing of ``prefix``: sorted, without repeats.

    Args:
        uris: URIs that all start with ``prefix``.
        prefix: the listed prefix; each URI is cut just after the first ``/`` following it.

    Returns:
        Names directly under ``prefix`` and sub-prefixes ending in ``/``, sorted.
    """
    start = len(prefix)
    level = set()
    for uri in uris:
        slash = uri.find("/", start)
        level.add(uri if slash < 0 else uri[: slash + 1])
    return sorted(level)


async def flat_level(uris: AsyncIterator[str], prefix: str) -> AsyncIterator[str]:
    """Collapse a recursive listing of ``prefix`` into one level (names and sub-prefixes).

    Streams: each entry is yielded at its first appearance, in the order of ``uris``. A sorted
    ``uris`` gives a sorted level (cutting each URI at its next ``/`` keeps the order).

    Args:
        uris: the recursive listing; every URI starts with ``prefix``.
        prefix: the listed prefix; the level is cut at the first ``/`` after it.

    Yields:
        Names directly under ``prefix`` and sub-prefixes ending in ``/``, without repeats.
    """
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


async def sorted_level(uris: AsyncIterator[str], prefix: str) -> AsyncGenerator[str, None]:
    """One level of a recursive listing, sorted, without repeats, whatever the input order.

    The generic ``flat=True`` of stores without a native delimiter. ``uris`` is closed when
    this generator finishes or is closed.

    Args:
        uris: the recursive listing of ``prefix`` (any order).
        prefix: the listed prefix.

    Yields:
        Names directly under ``prefix`` and sub-prefixes ending in ``/``, sorted.
    """
    async with contextlib.aclosing(uris):  # type: ignore[type-var]
        level = {uri async for uri in flat_level(uris, prefix)}
    for uri in sorted(level):
        yield uri


async def listed(
    check: Callable[[object], str],
    walk: Callable[[str], AsyncIterator[str]],
    prefix: object,
    flat: bool,
) -> AsyncGenerator[str, None]:
    """The ``list`` of a store that walks its URIs recursively: ``walk(check(prefix))``, or
    with ``flat`` one level of it (`sorted_level`).

    Nothing runs before the first URI is asked for, so ``check`` raises then, as it would in
    the store's own generator. The walk is closed when this generator finishes or is closed.

    Args:
        check: returns the prefix to list (the store may widen it), or raises ``TypeError``
            or ``InvalidURI``.
        walk: the recursive listing of a checked prefix (an async generator, as
            `sorted_level` takes).
        prefix: the prefix asked for.
        flat: list one level only.
    """
    start = check(prefix)
    found = walk(start)
    uris = sorted_level(found, start) if flat else found
    async with contextlib.aclosing(uris):  # type: ignore[type-var]
        async for uri in uris:
            yield uri


async def list_flat(store: Store, prefix: str) -> AsyncIterator[str]:
    """The names and sub-prefixes (ending in ``/``) directly under ``prefix`` in ``store``.

    Derived from ``store.list(prefix)`` (the recursive listing), so it works on any store that
    lists, including user stores whose ``list`` has no ``flat`` argument; stores of this package
    answer ``store.list(prefix, flat=True)`` directly (natively on S3 and GCS). The order is the
    store's listing order (sorted for stores whose ``list`` is sorted).

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
