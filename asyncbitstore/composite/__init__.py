"""The tier chain: caches in front of sources, first hit wins, caches filled in the background.

Semantics (the contract users rely on):

- ``get`` asks the tiers in the order they were appended, skipping tiers whose ``is_valid``
  rejects the URI and caches appended with ``read=False``, and returns the first hit.
- A tier that fails (unavailable, timed out, any error) is skipped for that key. When no tier
  has the blob, [`NotFoundInStore`][asyncbitstore.errors.NotFoundInStore] is raised only if every
  tier answered "not there";
  if any tier failed, [`StoreNotAvailable`][asyncbitstore.errors.StoreNotAvailable] lists each
  failure. An outage is never
  reported as a missing blob.
- A hit from a source appended with ``cache_result=True`` is written to every cache; a hit from a
  cache is written to the caches before it. Writes run in the background (see ``_fills``):
  ``get`` does not wait for them, ``flush()`` does, and ``aclose()`` flushes first.
- Concurrent ``get`` calls for one key share one fetch.
- A cache whose blob fails verification has it deleted and the tiers below are asked.
- ``put`` writes to the sources appended with ``write=True``: the first before returning, the
  others in the background. ``delete`` removes the blob from every writable tier and cache.
- Compression: ``put(..., compress=...)`` passes the codec to the sources it writes. ``get``
  and ``stream`` return decoded bytes, and cache fills store those plain bytes: a cache is for
  speed, and a hit then costs no decoding. ``get(stored=True)`` and ``stream(stored=True)`` return
  the first tier's stored form, with no fills (a cache may hold the plain form of a blob a
  source holds compressed).

Layout: ``_base`` holds the chain's state (tiers, options, remembered misses, fills above a
hit); ``_ask`` asks tiers in order and forms the error when none answers; ``_read``, ``_stream``
and ``_write`` are the paths, put together in ``_chain``; ``_keyed`` has the content-addressed
chains. ``_hooks`` is what a ``tracer`` implements; ``_tier``, ``_circuit``, ``_health`` (a
tier's failures logged once while they last), ``_names`` (default tier names), ``_fills``,
``_tee`` and ``_local`` are the parts those use.
"""

from __future__ import annotations

from ._chain import Composite
from ._hooks import ChainHooks
from ._keyed import HashComposite, Sha1Composite
from ._tier import Tier

__all__ = ["ChainHooks", "Composite", "HashComposite", "Sha1Composite", "Tier"]

# Defined in private modules, named by this public path: reprs, pickles and docs show it.
for _public in (ChainHooks, Composite, HashComposite, Sha1Composite, Tier):
    _public.__module__ = __name__
del _public
