"""What ``ls``, ``du`` and ``head`` share: the store an argument addresses, listings of a prefix
or a pattern, and the metadata of listed blobs, a bounded batch at a time.

A local path written as one (``/abs``, ``./rel``, ``~/x``), or a URI in the bucket
(container, host) of a configured tier, is read from that store directly, whichever tier it
is (a cache included) and whatever its keys look like; any other argument is a key or prefix
of the configured chain (which refuses a URI that none of its tiers serves).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timezone

from ..errors import BitstoreError
from ..meta import ObjectMeta
from ..store import Store
from . import _glob
from ._paths import Place, is_location, no_match, place, wrong
from ._run import App, fail

__all__ = ["Addressed", "addressed", "described", "expanded_keys", "human_size", "listed", "when"]

#: Blobs whose metadata is asked for at once: bounds memory whatever the listing's length.
_BATCH = 1000
_UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB")


@dataclass(frozen=True)
class Addressed:
    """A store and the URI (or key) in it that an argument names."""

    store: Store
    uri: str
    where: Place | None  # the argument, for messages; None for a key of the chain


@contextlib.asynccontextmanager
async def addressed(app: App, arg: str, role: str) -> AsyncIterator[Addressed]:
    """The store ``arg`` addresses (closed on exit), and the URI in it."""
    where = place(arg, role) if is_location(arg) else None
    if where is None or not (where.local or _in_a_tier(app, where.uri)):
        async with app.chain() as chain:
            yield Addressed(chain, arg, None)
        return
    async with where.store(app) as store:
        try:
            yield Addressed(store, where.uri, where)
        except BitstoreError as exc:
            raise wrong(where, exc) from exc


def _root(uri: str) -> str:
    """``scheme://authority/`` of a URI: its bucket (container, host)."""
    scheme, _, rest = uri.partition("://")
    return f"{scheme.lower()}://{rest.split('/', 1)[0]}/"


def _in_a_tier(app: App, uri: str) -> bool:
    """Whether ``uri`` is in the bucket (container, host) of one of the configured tiers."""
    return any(
        tier.uri is not None and "://" in tier.uri and _root(uri) == _root(tier.uri)
        for tier in app.config.tiers
    )


async def listed(target: Addressed, *, flat: bool = False) -> AsyncIterator[str]:
    """The URIs under ``target``'s prefix, or matching its pattern, as the store lists them.

    Raises:
        Failure: the store cannot list.
    """
    uri = target.uri
    found = _glob.matches(target.store, uri) if _glob.has_magic(uri) else None
    listing = found if found is not None else target.store.list(uri, flat=flat)
    try:
        async with contextlib.aclosing(listing):  # type: ignore[type-var]  # async generators
            async for each in listing:
                yield each
    except NotImplementedError:
        fail(f"{target.store.name} cannot list; list one of its tiers by URI instead")


async def described(
    store: Store, uris: AsyncIterator[str], concurrency: int
) -> AsyncIterator[tuple[str, ObjectMeta | None]]:
    """Each listed URI with its metadata (None for a sub-prefix, or a blob gone since it was
    listed), asked for a batch at a time, in the listing's order."""
    batch: list[str] = []
    async for uri in uris:
        batch.append(uri)
        if len(batch) >= _BATCH:
            async for pair in _batch_meta(store, batch, concurrency):
                yield pair
            batch = []
    async for pair in _batch_meta(store, batch, concurrency):
        yield pair


async def _batch_meta(
    store: Store, batch: list[str], concurrency: int
) -> AsyncIterator[tuple[str, ObjectMeta | None]]:
    blobs = [uri for uri in batch if not uri.endswith("/")]
    metas = await store.head_many(blobs, concurrency=concurrency) if blobs else {}
    for uri in batch:
        yield uri, metas.get(uri)


def human_size(size: int) -> str:
    """``size`` bytes in binary units, as ``du -h`` writes them: 512 B, 1.5 KiB, 20 MiB."""
    value = float(size)
    for unit in _UNITS:
        if value < 1024 or unit == _UNITS[-1]:
            break
        value /= 1024
    if unit == "B":
        return f"{size} B"
    return f"{value:.1f} {unit}" if value < 10 else f"{value:.0f} {unit}"


def when(moment: datetime | None) -> str | None:
    """A modification time as ISO 8601 in UTC (None when the store does not know it)."""
    if moment is None:
        return None
    return moment.astimezone(timezone.utc).isoformat(timespec="seconds")


async def expanded_keys(app: App, keys: list[str]) -> list[str]:
    """``keys`` with each pattern replaced by the chain's keys it matches, in listed order.

    Raises:
        Failure: a pattern matches nothing (exit 1), so a typo is not a silent no-op.
    """
    if not any(_glob.has_magic(key) for key in keys):
        return keys
    out: list[str] = []
    async with app.chain() as chain:
        for key in keys:
            if not _glob.has_magic(key):
                out.append(key)
                continue
            before = len(out)
            out.extend([uri async for uri in listed(Addressed(chain, key, None))])
            if len(out) == before:
                no_match("KEY", key)
    return out
