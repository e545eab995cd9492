"""An S3 object's `ObjectMeta`, from a GET or HEAD answer: HTTP headers on the fast path,
botocore's parsed response otherwise; and the "not modified" answer to a conditional GET."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

from botocore.exceptions import ClientError

from ...compression.store_io import FRAME_KEY
from ...meta import ObjectMeta, parse_http_date, strong_etag

__all__ = [
    "from_headers",
    "from_response",
    "if_none_match",
    "not_modified",
    "shown_metadata",
    "user_metadata",
]

_META_PREFIX = "x-amz-meta-"


def _version(value: object) -> str | None:
    # "null" is the id of an object written while versioning was off or suspended: it stays
    # the same across overwrites, so it tells nothing about the content.
    return value if isinstance(value, str) and value and value != "null" else None


def user_metadata(headers: Mapping[str, str]) -> dict[str, str]:
    """The ``x-amz-meta-*`` headers of an answer, by their names without the prefix."""
    return {
        name.lower()[len(_META_PREFIX) :]: value
        for name, value in headers.items()
        if name.lower().startswith(_META_PREFIX)
    }


def shown_metadata(metadata: dict[str, str]) -> dict[str, str]:
    """User metadata as `head` shows it: without the frame mark this package keeps there."""
    metadata.pop(FRAME_KEY, None)
    return metadata


def from_headers(headers: Mapping[str, str], size: int) -> ObjectMeta:
    """The meta of an answer's headers (a case-insensitive mapping), with ``size`` bytes."""
    metadata = shown_metadata(user_metadata(headers))
    return ObjectMeta(
        size=size,
        etag=headers.get("ETag") or None,
        last_modified=parse_http_date(headers.get("Last-Modified")),
        content_type=headers.get("Content-Type") or None,
        version=_version(headers.get("x-amz-version-id")),
        metadata=metadata,
    )


def from_response(response: Mapping[str, Any], size: int) -> ObjectMeta:
    """The meta of botocore's parsed ``get_object``/``head_object`` response."""
    when = response.get("LastModified")
    if isinstance(when, datetime) and when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    metadata = response.get("Metadata")
    return ObjectMeta(
        size=size,
        etag=str(response["ETag"]) if response.get("ETag") else None,
        last_modified=when if isinstance(when, datetime) else None,
        content_type=response.get("ContentType") or None,
        version=_version(response.get("VersionId")),
        metadata=shown_metadata({str(k): str(v) for k, v in (metadata or {}).items()}),
    )


def if_none_match(name: str, etag: str | None) -> dict[str, str]:
    """``{name: etag}`` with ``etag`` quoted as S3 compares them, for the header (or botocore
    parameter) ``name``; empty without an ETag."""
    return {} if etag is None else {name: f'"{strong_etag(etag)}"'}


def not_modified(exc: BaseException) -> bool:
    """Whether ``exc`` is the 304 answer to a conditional GET (botocore and the fast path both
    raise it as a ``ClientError``)."""
    if not isinstance(exc, ClientError):
        return False
    status: object = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return status == 304
