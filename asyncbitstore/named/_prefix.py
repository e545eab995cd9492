"""`PrefixStore` and `PrefixCache`: blobs under relative keys, kept at ``prefix + key``."""

from __future__ import annotations

from ..store import Store
from ._base import NamedCache, NamedStore
from ._bound import bounded
from ._keys import KEY_HINT, key_problem
from ._layout import Layout, Plain

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
        max_bytes: keep the cache under this many (stored) bytes, evicting the least recently
            used blobs first. With a ``FileRaw``, ``prefix`` is a folder ending in ``/`` that
            becomes a bounded cache folder (see
            [BoundedFileRaw][asyncbitstore.bounded_cache.BoundedFileRaw]): its index survives
            restarts and may be shared by processes, and keys are kept as flat file names (a
            key whose name would exceed 255 characters is declined). With a ``MemoryRaw``, the
            memory store takes the bound. None (the default): no bound.
    """

    __module__ = "asyncbitstore.named"  # the documented import path

    def __init__(self, raw: Store, prefix: str, *, max_bytes: int | None = None) -> None:
        store, layout = bounded(raw, prefix, max_bytes)
        super().__init__(store, prefix, _layout=layout)
        self.max_bytes = max_bytes
        self._init_runtime()
