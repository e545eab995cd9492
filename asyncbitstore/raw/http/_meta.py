"""An HTTP resource's `ObjectMeta` from response headers, and the conditional request headers
that ask a server to answer 304 for a copy still current."""

from __future__ import annotations

from collections.abc import Mapping

from ...meta import ObjectMeta, http_date, parse_http_date

__all__ = ["conditions", "from_headers"]


def from_headers(headers: Mapping[str, str], size: int) -> ObjectMeta:
    """ETag, ``Last-Modified`` and ``Content-Type`` of an answer, with ``size`` bytes."""
    return ObjectMeta(
        size=size,
        etag=headers.get("ETag") or None,
        last_modified=parse_http_date(headers.get("Last-Modified")),
        content_type=headers.get("Content-Type") or None,
    )


def conditions(known: ObjectMeta) -> dict[str, str]:
    """``If-None-Match`` and ``If-Modified-Since`` for ``known`` (empty when it has neither
    validator; a server that knows ETags then ignores the date)."""
    headers: dict[str, str] = {}
    if known.etag is not None:
        headers["If-None-Match"] = known.etag
    if known.last_modified is not None:
        headers["If-Modified-Since"] = http_date(known.last_modified)
    return headers
