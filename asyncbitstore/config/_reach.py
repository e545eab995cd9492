"""Refusing a plain chain's cache that can hold none of its sources' URIs.

A chain asks a tier only for keys its store accepts (`is_valid`). In a plain chain the keys are
the sources' full URIs, so a raw cache of another scheme (``mem://`` in front of ``s3://``),
or one confined to another folder, would be configured, built, and never used. Each source
with a URI prefix gives one sample URI under that prefix; a raw cache that accepts none of the
samples is refused. A source given by ``api`` has URIs nobody can guess: with one, nothing is
refused. Mirror caches take the URIs of every known scheme and are not checked.
"""

from __future__ import annotations

from collections.abc import Sequence

from .._core.redact import redact
from ..store import Store
from ._spec import Failer, TierSpec

__all__ = ["Built", "check_reach"]

#: A built tier: its spec, its store, and its URI prefix in that store (None for an api tier).
Built = tuple[TierSpec, Store, str | None]


def _sample(store: Store, prefix: str) -> str | None:
    """A URI under ``prefix`` that ``store`` accepts, or None."""
    uri = prefix + ("" if prefix.endswith("/") else "/") + "x"
    return uri if store.is_valid(uri) else None


def check_reach(built: Sequence[Built], fail: Failer) -> None:
    """Raise for the first raw cache that accepts no sample URI of any source."""
    samples: list[str] = []
    for tier, store, prefix in built:
        if tier.role != "source":
            continue
        if prefix is None:
            return
        sample = _sample(store, prefix)
        if sample is not None:
            samples.append(sample)
    if not samples:
        return
    for tier, store, prefix in built:
        if tier.role != "cache" or prefix is None or tier.options.get("mirror") is True:
            continue
        if not any(store.is_valid(uri) for uri in samples):
            raise fail.at(tier)(
                "this cache accepts none of the sources' URIs "
                f"(such as {redact(samples[0])!r}), so the chain would never use it",
                "uri",
                "set mirror = true to keep copies of the sources' URIs under this one, "
                'or use [chain] kind = "named" with relative keys',
            )
