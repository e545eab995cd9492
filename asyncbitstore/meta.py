"""`ObjectMeta`: what a store knows about a blob without reading it.

`Store.head` answers with one; `Store.get_with_meta` and `Store.get_if_changed` pair one with the
bytes. Each backend fills what it has (an S3 object its ETag, version id and user metadata; a
file its modification time and an ETag made from its status); the rest stays None.

`ObjectMeta.same_content_as` tells whether two answers for the same key describe the same
content, which is what a cache needs to revalidate a copy.
"""

from __future__ import annotations

import dataclasses
import email.utils
from collections.abc import Mapping
from datetime import datetime, timezone
from types import MappingProxyType
from typing import Any

__all__ = ["ObjectMeta", "http_date", "parse_http_date", "strong_etag"]

_EMPTY: Mapping[str, str] = MappingProxyType({})


@dataclasses.dataclass(frozen=True, slots=True)
class ObjectMeta:
    """What a store reports about one blob: its size and, where the backend has them, its
    validators and descriptive headers.

    Attributes:
        size: the stored size in bytes (the same number `Store.size` gives, so a blob stored
            compressed reports its compressed size).
        etag: the backend's entity tag, as it gave it (quotes and a weak ``W/`` prefix kept);
            None when it has none.
        last_modified: when the blob was last written, timezone-aware; None when unknown.
        content_type: the media type the backend keeps for it; None when it keeps none.
        version: a version identifier (an S3 version id, a GCS generation); None when the
            backend does not version the blob.
        metadata: user metadata (S3 ``x-amz-meta-*``, GCS custom metadata), read-only; empty
            when there is none.

    Raises:
        ValueError: ``size`` is negative, or ``last_modified`` is a naive datetime (give it a
            ``tzinfo``, for example ``datetime.now(timezone.utc)``).
        TypeError: a field of the wrong type (``size`` not an int, ``metadata`` not a mapping
            of str to str).
    """

    size: int
    etag: str | None = None
    last_modified: datetime | None = None
    content_type: str | None = None
    version: str | None = None
    metadata: Mapping[str, str] = dataclasses.field(default_factory=lambda: _EMPTY, hash=False)

    def __post_init__(self) -> None:
        if isinstance(self.size, bool) or not isinstance(self.size, int):
            raise TypeError(f"ObjectMeta.size must be an int, not {type(self.size).__name__}")
        if self.size < 0:
            raise ValueError(f"ObjectMeta.size must be 0 or more, not {self.size}")
        for field in ("etag", "content_type", "version"):
            value = getattr(self, field)
            if value is not None and not isinstance(value, str):
                raise TypeError(
                    f"ObjectMeta.{field} must be a str or None, not {type(value).__name__}"
                )
        when = self.last_modified
        if when is not None:
            if not isinstance(when, datetime):
                raise TypeError(
                    "ObjectMeta.last_modified must be a datetime or None, "
                    f"not {type(when).__name__}"
                )
            if when.tzinfo is None or when.utcoffset() is None:
                raise ValueError(
                    "ObjectMeta.last_modified must be timezone-aware: give it a tzinfo "
                    "(for example datetime.now(timezone.utc) or dt.replace(tzinfo=timezone.utc))"
                )
        object.__setattr__(self, "metadata", _frozen(self.metadata))

    def __reduce__(self) -> tuple[Any, ...]:
        # A mapping proxy does not pickle: ship a plain dict, frozen again on the way in.
        return (
            ObjectMeta,
            (
                self.size,
                self.etag,
                self.last_modified,
                self.content_type,
                self.version,
                dict(self.metadata),
            ),
        )

    def same_content_as(self, other: ObjectMeta) -> bool | None:
        """Whether ``self`` and ``other``, two answers about the same key, describe the same
        content.

        Compared by ``version`` when both have one; else by ETag when both have one (a weak
        ``W/`` prefix and the quotes do not count); else by ``(size, last_modified)`` when
        both have a ``last_modified``. A difference in size always means different content.

        Returns:
            True or False when the fields tell; None when they give no way to tell (then treat
            the content as changed).

        Raises:
            TypeError: ``other`` is not an `ObjectMeta`.
        """
        if not isinstance(other, ObjectMeta):
            raise TypeError(f"same_content_as takes an ObjectMeta, not {type(other).__name__}")
        if self.size != other.size:
            return False
        if self.version is not None and other.version is not None:
            return self.version == other.version
        if self.etag is not None and other.etag is not None:
            return strong_etag(self.etag) == strong_etag(other.etag)
        if self.last_modified is not None and other.last_modified is not None:
            return self.last_modified == other.last_modified
        return None


def _frozen(metadata: object) -> Mapping[str, str]:
    if isinstance(metadata, MappingProxyType) and metadata is _EMPTY:
        return _EMPTY
    if not isinstance(metadata, Mapping):
        raise TypeError(
            f"ObjectMeta.metadata must be a mapping of str to str, not {type(metadata).__name__}"
        )
    copy: dict[str, str] = {}
    for key, value in metadata.items():
        if not isinstance(key, str) or not isinstance(value, str):
            raise TypeError(
                "ObjectMeta.metadata must map str to str, "
                f"not {type(key).__name__} to {type(value).__name__}"
            )
        copy[key] = value
    return MappingProxyType(copy) if copy else _EMPTY


def strong_etag(etag: str) -> str:
    """``etag`` without a weak ``W/`` prefix and without its surrounding quotes."""
    tag = etag.strip()
    if tag[:2] in ("W/", "w/"):
        tag = tag[2:]
    if len(tag) >= 2 and tag[0] == tag[-1] == '"':
        tag = tag[1:-1]
    return tag


def parse_http_date(value: str | None) -> datetime | None:
    """An HTTP date (``Last-Modified``) as an aware UTC datetime; None if absent or unreadable."""
    if not value:
        return None
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # "-0000" parses naive; HTTP dates are GMT
        when = when.replace(tzinfo=timezone.utc)
    return when.astimezone(timezone.utc)


def http_date(when: datetime) -> str:
    """``when`` in the form HTTP headers use (``If-Modified-Since``), in GMT."""
    return email.utils.format_datetime(when.astimezone(timezone.utc), usegmt=True)
