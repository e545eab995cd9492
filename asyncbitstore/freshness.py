"""How fresh a cached copy of a named object is, and what a chain does about it.

A named cache ([PrefixCache][asyncbitstore.PrefixCache],
[MirrorCache][asyncbitstore.MirrorCache]) keeps with each copy a `CopyRecord`: the source's
`ObjectMeta` (its validators) and when the copy was fetched. `decide` turns a record, the cache's
``ttl`` and ``revalidate`` options and the time into an `Action`; it is pure, so that every case
can be tested without a store. Content-addressed copies never go stale: their stores keep no
record and a chain never asks.
"""

from __future__ import annotations

import dataclasses
import enum
import json
from datetime import datetime
from typing import Any

from .meta import ObjectMeta

__all__ = ["FRESH", "Action", "CopyRecord", "CopyState", "decide"]


class Action(enum.Enum):
    """What a chain does with a cached copy."""

    #: Serve it: it is fresh (or its cache has no ``ttl``).
    SERVE = "serve"
    #: Treat it as a miss and ask the next tiers (served only while every source is down).
    MISS = "miss"
    #: Ask the source whether it changed (``get_if_changed`` with the recorded meta).
    REVALIDATE = "revalidate"


@dataclasses.dataclass(frozen=True, slots=True)
class CopyRecord:
    """What a cache remembers about a copy: the source's meta, and when it was fetched.

    Attributes:
        meta: the source's `ObjectMeta` when the copy was fetched; None when the chain could
            not learn it (a streamed fill): such a copy can expire but not be revalidated.
        fetched_at: when the copy was fetched, in seconds since the epoch (wall-clock time, so
            that it keeps its meaning across restarts).
    """

    meta: ObjectMeta | None
    fetched_at: float

    def to_bytes(self) -> bytes:
        """The record as a small JSON document."""
        body: dict[str, Any] = {"v": 1, "fetched_at": self.fetched_at}
        meta = self.meta
        if meta is not None:
            body["meta"] = {
                "size": meta.size,
                "etag": meta.etag,
                "last_modified": None
                if meta.last_modified is None
                else meta.last_modified.isoformat(),
                "content_type": meta.content_type,
                "version": meta.version,
                "metadata": dict(meta.metadata),
            }
        return json.dumps(body, separators=(",", ":")).encode()

    @classmethod
    def from_bytes(cls, data: bytes) -> CopyRecord | None:
        """The record written by `to_bytes`; None for anything else (a damaged or foreign
        record counts as no record)."""
        try:
            body = json.loads(data)
            if body.get("v") != 1:
                return None
            fetched_at = body["fetched_at"]
            if isinstance(fetched_at, bool) or not isinstance(fetched_at, (int, float)):
                return None
            fields = body.get("meta")
            if fields is None:
                return cls(None, float(fetched_at))
            when = fields.get("last_modified")
            meta = ObjectMeta(
                size=fields["size"],
                etag=fields.get("etag"),
                last_modified=None if when is None else datetime.fromisoformat(when),
                content_type=fields.get("content_type"),
                version=fields.get("version"),
                metadata=fields.get("metadata") or {},
            )
            return cls(meta, float(fetched_at))
        except (ValueError, TypeError, KeyError, AttributeError):
            return None


@dataclasses.dataclass(frozen=True, slots=True)
class CopyState:
    """A cache's answer about one copy: what to do with it, its record, and whether it may be
    served stale while the sources are down."""

    action: Action
    record: CopyRecord | None = None
    serve_stale: bool = False


#: The state of a copy that never goes stale.
FRESH = CopyState(Action.SERVE)


def decide(record: CopyRecord | None, ttl: float | None, revalidate: bool, now: float) -> Action:
    """What to do with a copy.

    Args:
        record: the copy's record; None when there is none (written before records existed,
            or a crash between the blob and its record).
        ttl: seconds a copy stays fresh; None: always fresh.
        revalidate: a stale copy is checked at its source instead of refetched.
        now: the time, in seconds since the epoch.

    Returns:
        `Action.SERVE` while the copy is fresh (``ttl`` None, or fetched less than ``ttl``
        seconds ago); else `Action.REVALIDATE` when ``revalidate`` is set and the record holds
        the source's meta; else `Action.MISS`. A copy without a record, or fetched "in the
        future" (the clock went back), is stale.
    """
    if ttl is None:
        return Action.SERVE
    if record is None:
        return Action.MISS
    if 0 <= now - record.fetched_at < ttl:
        return Action.SERVE
    if revalidate and record.meta is not None:
        return Action.REVALIDATE
    return Action.MISS
