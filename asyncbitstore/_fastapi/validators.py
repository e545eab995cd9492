"""Caching headers of a blob answer (``ETag``, ``Last-Modified``, ``Cache-Control``) and the
conditional requests they answer (``If-None-Match``, ``If-Modified-Since``), as RFC 9110 says.

A content-addressed blob (its key is the digest of its bytes) never changes: its ETag is the
digest and it may be cached for a year. A named object's validators are its source's (`head`).
"""

from __future__ import annotations

import dataclasses
import re
from datetime import datetime

from .._core.keys import HashKeys
from ..meta import ObjectMeta, http_date, parse_http_date, strong_etag
from ..store import Store

__all__ = ["IMMUTABLE", "Validators", "asks_existence", "fixed_validators", "not_modified"]

#: ``Cache-Control`` of a content-addressed blob: one year, never revalidated.
IMMUTABLE = "public, max-age=31536000, immutable"

# One entity tag of an If-None-Match list (RFC 9110 8.8.3: an opaque tag may hold commas).
_TAG = re.compile(r'\s*(?:W/)?"([^"]*)"\s*(?:,|$)')


@dataclasses.dataclass(frozen=True)
class Validators:
    """What a client may cache a blob by.

    Attributes:
        etag: the entity tag as sent (quoted), or None.
        last_modified: when the blob last changed, or None.
        immutable: the blob never changes (content-addressed).
    """

    etag: str | None = None
    last_modified: datetime | None = None
    immutable: bool = False

    def with_meta(self, meta: ObjectMeta) -> Validators:
        """These validators completed by what ``head`` said of the blob."""
        when = meta.last_modified
        if self.immutable:
            return dataclasses.replace(self, last_modified=when)
        etag = None if meta.etag is None else _quoted(meta.etag)
        return Validators(etag=etag, last_modified=when)

    def headers(self) -> dict[str, str]:
        """The response headers they make."""
        headers: dict[str, str] = {}
        if self.etag is not None:
            headers["ETag"] = self.etag
        if self.last_modified is not None:
            headers["Last-Modified"] = http_date(self.last_modified)
        if self.immutable:
            headers["Cache-Control"] = IMMUTABLE
        return headers


def _quoted(etag: str) -> str:
    """A backend's ETag as a header value: quoted, a weak ``W/`` prefix kept."""
    etag = etag.strip()
    if etag.startswith(('"', 'W/"')) and etag.endswith('"') and len(etag) >= 2:
        return etag
    return f'"{strong_etag(etag)}"'


def fixed_validators(store: Store, key: str) -> Validators:
    """What is known of ``key`` without asking the store: for a content-addressed store, the
    digest as a strong ETag and immutability; nothing for other stores.

    Raises:
        InvalidURI: ``key`` is not a digest of the store's algorithm.
    """
    if store.key_algorithm is None:
        return Validators()
    digest = HashKeys(store.key_algorithm).require(store, key)
    return Validators(etag=f'"{digest}"', immutable=True)


def asks_existence(if_none_match: str | None) -> bool:
    """Whether ``If-None-Match`` is ``*``: it then matches only a blob that exists."""
    return if_none_match is not None and if_none_match.strip() == "*"


def _tags(header: str) -> list[str] | None:
    """The opaque tags of an ``If-None-Match`` list; None if it cannot be read."""
    tags: list[str] = []
    position = 0
    while position < len(header):
        found = _TAG.match(header, position)
        if found is None or found.end() == position:
            return None
        tags.append(found.group(1))
        position = found.end()
    return tags


def not_modified(
    validators: Validators, if_none_match: str | None, if_modified_since: str | None
) -> bool:
    """Whether a GET or HEAD with these conditions is answered 304.

    ``If-None-Match`` is compared weakly (a ``W/`` prefix does not count; ``*`` matches: the
    caller checks the blob exists) and, when sent, decides alone. Otherwise
    ``If-Modified-Since`` (a valid HTTP date) matches a blob not modified after it, to the
    second; an immutable blob always matches. Unreadable headers are ignored.
    """
    if if_none_match and if_none_match.strip():
        if asks_existence(if_none_match):
            return True
        tags = _tags(if_none_match)
        if tags is None or validators.etag is None:
            return False
        return strong_etag(validators.etag) in tags
    since = parse_http_date(if_modified_since)
    if since is None:
        return False
    if validators.immutable:
        return True
    changed = validators.last_modified
    return changed is not None and changed.replace(microsecond=0) <= since
