"""`MirrorCache`: a cache that keeps copies of full URIs of other stores under one root."""

from __future__ import annotations

from typing_extensions import Unpack

from ..raw import schemes_text
from ..store import Store
from . import _mirror
from ._base import CacheOptions, NamedCache

__all__ = ["MirrorCache"]


class MirrorCache(NamedCache):
    """A cache tier for full URIs of other stores, each kept under ``root``.

    ``s3://bucket/a/b`` is kept at ``root + "s3/bucket/a/b"``, ``file:///x/y`` at
    ``root + "file/x/y"``. Characters that are not safe in a path (a port's ``:``, ``?``,
    ``#``, ``%``, control characters, a leading ``.``) are written ``~XX`` in hex, an empty
    segment is ``~``, and long segments are cut into pieces, so that any URI is kept inside
    ``root`` and `list` gives back the URIs themselves. A URI whose spelling would exceed
    1,024 bytes is not one of this cache's (`is_valid` is false, so a chain skips it).

    `put` never raises (failures are logged at DEBUG and counted in ``put_failures``);
    `put_or_raise` raises.

    Args:
        raw: the store that keeps the copies (``FileRaw()``, ``MemoryRaw()``, ...).
        root: the prefix under which copies are kept (``"/var/cache/mirror/"``,
            ``"mem://mirror/"``).

    Keyword Args:
        max_bytes (int | None): a bound, as for [PrefixCache][asyncbitstore.PrefixCache].
        ttl (float | None): as for [PrefixCache][asyncbitstore.PrefixCache] (records are kept under
            ``root + "~records/"``, where no URI's copy can be).
        revalidate (bool): as for [PrefixCache][asyncbitstore.PrefixCache].
        serve_stale (bool): as for [PrefixCache][asyncbitstore.PrefixCache].
        clock (Callable[[], float] | None): as for [PrefixCache][asyncbitstore.PrefixCache].
    """

    __module__ = "asyncbitstore.named"  # the documented import path

    _names_are_keys = False

    def __init__(self, raw: Store, root: str, **options: Unpack[CacheOptions]) -> None:
        super().__init__(raw, root, **options)

    @property
    def uri_hint(self) -> str:  # type: ignore[override]
        """The URIs a mirror keeps, for messages."""
        return f"a full URI of a known scheme ({schemes_text()})"

    def _key(self, uri: str) -> tuple[str | None, str]:
        key = _mirror.key_of(uri)
        if key is None:
            return None, "it has no known scheme, or is too long to keep"
        return key, ""

    def _public(self, key: str) -> str | None:
        return _mirror.uri_of(key)

    def _key_prefix(self, prefix: str) -> str:
        scheme, found, _ = prefix.partition("://")
        return f"{scheme}/" if found and _mirror.key_of(f"{scheme}://x/x") else ""
