"""Tiers over named keys: the options of named and mirror caches, and the stores they make.

In a ``kind = "named"`` chain a URI tier is a `PrefixCache` (caches) or a `PrefixStore`
(sources) with the tier's URI as prefix. In a plain chain, a cache with ``mirror = true`` is a
`MirrorCache` keeping copies of other stores' full URIs under its URI. Only those caches
(named caches, for short) have a freshness policy: ``ttl``, ``revalidate`` and ``serve_stale``
mean nothing anywhere else, and are refused there.
"""

from __future__ import annotations

from typing import Any

from ..named import MirrorCache, PrefixCache, PrefixStore
from ..store import Store
from ._spec import BOOL, NUMBER, Failer, TierSpec

__all__ = ["FRESHNESS", "NAMED_OPTIONS", "cache_keywords", "check_named", "named_store"]

#: The freshness options of a named cache, as its constructor's keywords.
FRESHNESS = ("ttl", "revalidate", "serve_stale")
#: The tier options this module checks, with their types.
NAMED_OPTIONS = {"mirror": BOOL, "ttl": NUMBER, "revalidate": BOOL, "serve_stale": BOOL}
#: Schemes whose raw store takes ``max_bytes`` from a named cache (others bound themselves).
_BOUND_BY_CACHE = ("file", "mem")
_NAMED_OR_MIRROR = 'use [chain] kind = "named", or set mirror = true on a cache of a plain chain'


def is_named_cache(tier: TierSpec, kind: str) -> bool:
    """Whether ``tier`` becomes a `PrefixCache` or a `MirrorCache`."""
    if tier.role != "cache" or tier.api is not None:
        return False
    return kind == "named" or (kind == "plain" and tier.options.get("mirror") is True)


def check_named(tier: TierSpec, values: dict[str, Any], fail: Failer, kind: str) -> None:
    """Refuse ``mirror`` and the freshness options where they mean nothing."""
    if "mirror" in values:
        if tier.role != "cache":
            raise fail("mirror = true makes a cache", "mirror", "remove it from this source")
        if kind != "plain" and values["mirror"]:
            held = "its keys" if kind == "named" else "content-addressed blobs"
            raise fail(
                f'mirror = true is for plain chains; a kind = "{kind}" chain\'s caches hold '
                f"{held} already",
                "mirror",
                "remove it",
            )
    named = tier.role == "cache" and (kind == "named" or values.get("mirror") is True)
    for option in FRESHNESS:
        if option not in values or (option == "ttl" and tier.scheme in ("redis", "rediss")):
            continue  # a redis tier's ttl is checked below
        _check_fresh_option(tier, option, named, kind, fail)
    if "ttl" in values and tier.scheme in ("redis", "rediss") and named:
        raise fail(
            "ttl on a redis:// named cache would mean both the keys' expiry in Redis and how "
            "long a copy is fresh",
            "ttl",
            "remove it here and set the freshness on a PrefixCache or MirrorCache in Python",
        )
    ttl = values.get("ttl")
    if named and ttl is not None and not ttl > 0:
        raise fail(f"ttl must be a positive number of seconds, not {ttl!r}", "ttl", "fix it")


def _check_fresh_option(tier: TierSpec, option: str, named: bool, kind: str, fail: Failer) -> None:
    if named:
        return
    if tier.role != "cache":
        raise fail(f"option {option!r} applies to caches", option, "remove it from this source")
    if kind in ("sha1", "hash"):
        raise fail(
            f"option {option!r} is a named cache's freshness; content-addressed copies never "
            "go stale",
            option,
            "remove it",
        )
    raise fail(
        f"option {option!r} applies to named caches only; this cache keeps raw copies",
        option,
        _NAMED_OR_MIRROR,
    )


def cache_keywords(tier: TierSpec) -> dict[str, Any]:
    """The keywords a named cache of ``tier`` is made with: only the options the tier gives."""
    keywords = {k: tier.options[k] for k in FRESHNESS if k in tier.options}
    if tier.scheme in _BOUND_BY_CACHE and "max_bytes" in tier.options:
        keywords["max_bytes"] = tier.options["max_bytes"]
    return keywords


def named_store(tier: TierSpec, raw: Store, prefix: str, fail: Failer) -> Store:
    """The `PrefixStore`, `PrefixCache` or `MirrorCache` for ``tier`` over ``raw``."""
    try:
        if tier.role != "cache":
            return PrefixStore(raw, prefix)
        if tier.options.get("mirror") is True:
            return MirrorCache(raw, prefix, **cache_keywords(tier))
        return PrefixCache(raw, prefix, **cache_keywords(tier))
    except (TypeError, ValueError) as exc:
        raise fail(str(exc), None, "fix the tier's uri or options") from exc
