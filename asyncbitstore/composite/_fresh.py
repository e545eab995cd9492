"""Stale copies in a chain: what a read does with a copy its cache says is no longer fresh.

`first_answer` asks a cache whose copies expire (``Store.copies_expire``) for the copy's state
before reading it. A fresh copy is read as usual. A stale one is passed over, and remembered:

- with ``revalidate``, the first source that answers is asked ``get_if_changed`` with the
  recorded meta: unchanged, the copy is served and its record renewed (no body moved); changed,
  the new bytes are served and replace the copy;
- a source that says the object is gone has the copy dropped: it is never served again;
- when no tier answered and every failure was an outage, the copy is served if its cache allows
  (``serve_stale``), and counted in ``stale_served``.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from ..errors import NotFoundInStore
from ..freshness import Action, CopyState
from ..meta import ObjectMeta
from ._base import ChainBase
from ._fills import Abandoned
from ._generations import Since
from ._tier import Tier

__all__ = [
    "Convert",
    "Found",
    "Stale",
    "drop",
    "revalidate",
    "serve_stale",
    "stale_state",
]

R = TypeVar("R")

#: What a revalidated blob is as the answer of a read: ``(data, meta) -> answer``.
Convert = Callable[[bytes, ObjectMeta], R]


@dataclass(slots=True)
class Found:
    """What a full read learnt beside its answer, for the fills that follow it.

    Attributes:
        meta: the source's meta for the answer (None: not known here).
        filled: the caches were already filled (a revalidated copy replaced).
        stale: a cache whose stale copy the answer should replace.
    """

    meta: ObjectMeta | None = None
    filled: bool = False
    stale: Tier | None = None


@dataclass(slots=True)
class Stale:
    """A stale copy passed over: its tier and state."""

    tier: Tier
    state: CopyState

    @property
    def revalidating(self) -> bool:
        """Whether the first source to answer is asked if the copy changed."""
        return self.state.action is Action.REVALIDATE


async def stale_state(tier: Tier, key: str, full_read: bool) -> Stale | None:
    """The copy of ``key`` in cache ``tier`` if it is stale, else None (read it as usual).

    Raises what the cache raised (a failure of the tier).
    """
    state = await tier.copy_state(key)
    if state.action is Action.SERVE:
        return None
    if full_read and state.action is Action.MISS:
        tier.stats.misses += 1
    return Stale(tier, state)


async def revalidate(
    chain: ChainBase,
    key: str,
    stale: Stale,
    source: Tier,
    ask: Callable[[Tier, str], Awaitable[R]],
    convert: Convert[R] | None,
    found: Found | None,
    since: Since,
) -> tuple[Tier, R] | None:
    """Ask ``source`` whether the stale copy changed, and answer from the copy or the source
    (``since``: when the read began; no copy or record is written if the chain wrote the key
    after it).

    None when the copy vanished from its cache meanwhile (ask the source for the blob).

    Raises:
        NotFoundInStore: the source says the object is gone (the caller drops the copy).
        Exception: the source failed.
    """
    cache = stale.tier
    record = stale.state.record
    assert record is not None and record.meta is not None  # `decide` says so
    known = record.meta
    answer = await source.ask(key, source.store.get_if_changed, key, known)
    if answer is None:
        try:
            result = await ask(cache, key)
        except NotFoundInStore:
            return None
        cache.stats.revalidated_unchanged += 1
        renew = functools.partial(_renew, cache, key, known, since)
        chain._background.start_fill(key, f"renewal of {cache.name}", renew)
        if found is not None:
            found.meta = known  # caches above are filled as fetched now
        return cache, result
    data, meta = answer
    cache.stats.revalidated_changed += 1
    source.stats.hits += 1
    source.stats.bytes += len(data)
    chain._fill_from(source, key, data, since, meta=meta, also=cache)
    if found is not None:
        found.filled = True
    if convert is None:  # a read whose answer the bytes cannot give (a stored form)
        return source, await ask(source, key)
    return source, convert(data, meta)


async def _renew(cache: Tier, key: str, meta: ObjectMeta, since: Since) -> None:
    if not since.current(key):
        raise Abandoned("the chain wrote the key after the copy was revalidated")
    await cache.noted("renewal", key, cache.call(cache.store.renew_copy, key, meta))


async def serve_stale(
    key: str, stale: Stale, ask: Callable[[Tier, str], Awaitable[R]], found: Found | None
) -> tuple[Tier, R] | None:
    """The stale copy, served because no source could answer (no cache is filled with it);
    None if it is gone too."""
    if not stale.state.serve_stale:
        return None
    try:
        result = await ask(stale.tier, key)
    except Exception:  # the copy is gone or its cache failed: the outage stands
        return None
    stale.tier.stats.stale_served += 1
    if found is not None:
        found.filled = True
    return stale.tier, result


async def drop(stale: Stale, key: str) -> None:
    """Remove a copy whose source says the object is gone (a failure is noted, not raised)."""
    cache = stale.tier
    with contextlib.suppress(Exception):
        delete = cache.call(cache.store.delete, key)
        await cache.noted("delete of a copy gone at its source", key, delete)
