"""Asking tiers in order: the first answer wins; misses and failures go on to the next tier.

Every read of the chain (``get``, ``exists``, ``size``, ``get_range``, ``stream``) goes through
`first_answer`, and every failed call on the chain ends with `verdict`: an outage
is never reported as a missing blob.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable, Iterable
from typing import Concatenate, ParamSpec, TypeVar

from .._core.deadline import within
from ..errors import (
    InvalidDataFound,
    InvalidRange,
    NotFoundInStore,
    StoreNotAvailable,
    StoreTimeout,
)
from ._base import ChainBase, explain
from ._fresh import Convert, Found, Stale, drop, revalidate, serve_stale, stale_state
from ._tier import Tier

__all__ = ["first_answer", "verdict"]

R = TypeVar("R")
T = TypeVar("T")
P = ParamSpec("P")


def _within_operation_timeout(
    ask_tiers: Callable[Concatenate[ChainBase, str, P], Awaitable[T]],
) -> Callable[Concatenate[ChainBase, str, P], Awaitable[T]]:
    """``ask_tiers`` within the chain's ``operation_timeout``, if it has one.

    Raises:
        StoreTimeout: no answer within ``operation_timeout``.
    """

    @functools.wraps(ask_tiers)
    async def bounded(chain: ChainBase, key: str, /, *args: P.args, **kwargs: P.kwargs) -> T:
        budget = chain.operation_timeout
        asking = ask_tiers(chain, key, *args, **kwargs)
        if budget is None:
            return await asking
        try:
            return await within(budget, asking)
        except asyncio.TimeoutError:
            reason = f"no answer within {budget:g} s (the chain's operation_timeout)"
            raise StoreTimeout(chain, reason, uri=key) from None

    return bounded


@_within_operation_timeout
async def first_answer(
    chain: ChainBase,
    key: str,
    tiers: Iterable[Tier],
    ask: Callable[[Tier, str], Awaitable[R]],
    full_read: bool = False,
    convert: Convert[R] | None = None,
    found: Found | None = None,
) -> tuple[Tier, R]:
    """The first of ``tiers`` to answer ``await ask(tier, key)``, and its answer, within the
    chain's ``operation_timeout`` if it has one.

    A tier that raises ``NotFoundInStore`` missed; any other error is a failure, and the next
    tier is asked either way. ``InvalidRange`` is about the request, not the tier: it is raised
    at once.

    Args:
        chain: the chain asking.
        key: the key asked for.
        tiers: the tiers to ask, in order.
        ask: the read, given the tier and ``key``.
        full_read: the answers are the blob itself, as ``get`` and ``stream`` read it: a
            copy failing verification is then deleted from a cache (and reported from a
            source when no tier has a good one), and a key that no tier
            had is remembered (``negative_ttl``). Otherwise such a copy is a miss.
        convert: the answer from a blob and its meta, when a source sends a changed blob for
            a stale copy it revalidates (None: the source is asked again with ``ask``).
        found: where a full read notes the source's meta and the fills already made.

    A cache whose copies expire is asked first whether its copy is fresh; a stale copy is
    passed over and revalidated, dropped or served while the sources are down (see `_fresh`).

    Raises:
        NotFoundInStore: every tier missed.
        StoreNotAvailable: no tier answered and at least one failed; lists each failure.
        InvalidDataFound: in a full read, the only copies found failed verification.
        StoreTimeout: the tiers asked gave no answer within ``operation_timeout``.
    """
    since = chain._writes.now()  # a miss is not remembered if the chain writes the key meanwhile
    failures: list[tuple[Tier, BaseException]] = []
    corrupt: InvalidDataFound | None = None
    stale: Stale | None = None
    for tier in tiers:
        try:
            if tier.is_cache:
                store = tier.store
                if stale is None and store.copies_expire and not store.known_fresh(key):
                    stale = await stale_state(tier, key, full_read)
                    if stale is not None:
                        continue
            elif stale is not None and stale.revalidating:
                answer = await revalidate(chain, key, stale, tier, ask, convert, found, since)
                if answer is not None:
                    return answer
                stale = None  # the copy vanished meanwhile: ask this source for the blob
            if stale is not None and found is not None:
                found.stale = stale.tier
            return tier, await ask(tier, key)
        except InvalidRange:
            raise
        except InvalidDataFound as exc:
            if full_read:
                if tier.is_cache:
                    await chain._drop_corrupt(tier, key)
                else:
                    corrupt = exc
        except NotFoundInStore:
            if stale is not None and not tier.is_cache:  # gone at the source: never serve it
                await drop(stale, key)
                stale = None
        except Exception as exc:  # logged by the tier (see its health), once while it fails
            failures.append((tier, exc))
    if stale is not None and failures:
        served = await serve_stale(key, stale, ask, found)
        if served is not None:
            return served
    error = verdict(chain, key, failures, corrupt)
    if full_read:
        chain._remember_missing(key, error, since)
    raise error


def verdict(
    chain: ChainBase,
    key: str,
    failures: list[tuple[Tier, BaseException]],
    corrupt: InvalidDataFound | None = None,
) -> BaseException:
    """The error of a call on the chain that no tier answered.

    ``StoreNotAvailable`` naming each tier's failure (caused by the last) if any tier failed;
    else ``InvalidDataFound`` if only corrupt copies were found; else ``NotFoundInStore``.
    """
    if failures:
        reason = "; ".join(f"tier {tier.name}: {explain(exc)}" for tier, exc in failures)
        error: BaseException = StoreNotAvailable(chain, reason, uri=key)
        error.__cause__ = failures[-1][1]
        return error
    if corrupt is not None:
        return InvalidDataFound(chain, key, f"every copy found failed verification ({corrupt})")
    return NotFoundInStore(chain, key)
