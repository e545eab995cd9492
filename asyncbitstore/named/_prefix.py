"""`PrefixStore` and `PrefixCache`: blobs under relative keys, kept at ``prefix + key``."""

from __future__ import annotations

from ..store import Store
from ._base import NamedCache, NamedStore
from ._keys import KEY_HINT, key_problem
from ._layout import Layout, Plain
from ._records import RECORDS, is_record_key

__all__ = ["PrefixCache", "PrefixStore"]


class PrefixStore(NamedStore):
    """Blobs under relative keys (``"img/1.png"``), kept at ``prefix + key`` in a raw store.

    A key is non-empty ``/``-separated segments, none of them empty, ``.`` or ``..``, with no
    leading ``/``, no NUL or control character, and at most 1,024 bytes of UTF-8; anything
    else raises `InvalidURI` saying which rule it breaks. `list` gives keys back, relative.

    Args:
        raw: the store that holds the bytes (``FileRaw()``, ``S3Raw()``, ``MemoryRaw()``...).
        prefix: put before each key to form the raw URI, e.g. ``"s3://bucket/assets/"``.
    """

    __module__ = "asyncbitstore.named"  # the documented import path

    uri_hint = KEY_HINT

    def __init__(self, raw: Store, prefix: str, *, _layout: Layout | None = None) -> None:
        super().__init__(raw, prefix, Plain(prefix) if _layout is None else _layout)

    def _key(self, uri: str) -> tuple[str | None, str]:
        problem = key_problem(uri)
        return (uri, "") if problem is None else (None, problem)


class PrefixCache(NamedCache, PrefixStore):
    """A `PrefixStore` for a cache tier: `put` never raises (failures are logged at DEBUG
    and counted in ``put_failures``); `put_or_raise` raises.

    Args:
        raw: the store that holds the bytes.
        prefix: put before each key to form the raw URI.

    Keyword Args:
        max_bytes (int | None): keep the cache under this many (stored) bytes, evicting the least
            recently used blobs first. With a ``FileRaw``, ``prefix`` is a folder ending in ``/``
            that becomes a bounded cache folder (see
            [BoundedFileRaw][asyncbitstore.bounded_cache.BoundedFileRaw]): its index survives
            restarts and may be shared by processes, and keys are kept as flat file names (a key
            whose name would exceed 255 characters is declined). With a ``MemoryRaw``, the memory
            store takes the bound. None (the default): no bound.
        ttl (float | None): seconds a copy stays fresh after it was fetched from its source; then it
            is a miss (or, with ``revalidate``, checked at the source). None (the default): a copy
            stays until the chain writes or deletes its key. Each copy keeps a small record of its
            source's validators and fetch time under ``prefix + "~records/"`` (so keys starting with
            ``~records/`` are not cached).
        revalidate (bool): a stale copy is checked at the source with a conditional request: served
            (no body moved) while unchanged, replaced when changed. Default False.
        serve_stale (bool): a stale copy is served while every source that could answer is down
            (never when a source says the object is gone). Default True.
        clock (Callable[[], float] | None): the wall-clock time in seconds since the epoch, for
            tests; ``time.time`` by default.
    """

    __module__ = "asyncbitstore.named"  # the documented import path

    def _key(self, uri: str) -> tuple[str | None, str]:
        if is_record_key(uri):
            return None, f"its first segment {RECORDS!r} is where the cache keeps its records"
        return super()._key(uri)

    def _public(self, key: str) -> str | None:
        return None if is_record_key(key) else key
