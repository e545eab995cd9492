"""Default names of tiers: short, secret-free, and unique within a chain.

A store's own ``name`` may be long (a key prefix, an endpoint, a root folder); a tier's default
name is only its class with its backing store's in parentheses, as ``Sha1Cache(FileRaw)``.
"""

from __future__ import annotations

import re
from collections.abc import Collection

from ..store import Store

__all__ = ["default_tier_name", "unique_tier_name"]

#: A store name short and plain enough to be a tier name as it is (``MemoryRaw``, ``"origin"``).
_PLAIN = re.compile(r"[\w.:#-]{1,40}")


def _backing(store: Store) -> Store | None:
    """The store that ``store`` keeps its blobs in (keyed stores, wrappers), if any."""
    for attribute in ("raw", "_inner"):
        try:
            inner = getattr(store, attribute, None)
        except Exception:  # a wrapper base that has no inner store
            continue
        if isinstance(inner, Store) and inner is not store:
            return inner
    return None


def default_tier_name(store: Store) -> str:
    """``Class(BackingClass)`` for a store kept in another, else the store's name when it is
    short and plain (a raw store, a store named by its user), else its class."""
    backing = _backing(store)
    if backing is not None:
        return f"{type(store).__name__}({type(backing).__name__})"
    own = store.name
    return own if _PLAIN.fullmatch(own) else type(store).__name__


def unique_tier_name(name: str, taken: Collection[str]) -> str:
    """``name``, or ``name#2``, ``name#3``, ... if it is taken already."""
    unique, n = name, 2
    while unique in taken:
        unique, n = f"{name}#{n}", n + 1
    return unique
