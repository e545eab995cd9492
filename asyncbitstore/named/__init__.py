"""Stores over named keys: relative keys under a prefix, and mirrors of other stores' URIs.

- [PrefixStore][asyncbitstore.PrefixStore]: relative keys (``"img/1.png"``) kept at
  ``prefix + key`` in any raw store.
- [PrefixCache][asyncbitstore.PrefixCache]: the same as a cache tier (its ``put`` never raises),
  optionally bounded in bytes.
- [MirrorCache][asyncbitstore.MirrorCache]: a cache tier holding copies of full URIs of other
  stores (``s3://b/k`` under ``root/s3/b/k``).
"""

from __future__ import annotations

from ._keys import MAX_KEY_BYTES, key_problem
from ._mirror_cache import MirrorCache
from ._prefix import PrefixCache, PrefixStore

__all__ = ["MAX_KEY_BYTES", "MirrorCache", "PrefixCache", "PrefixStore", "key_problem"]
