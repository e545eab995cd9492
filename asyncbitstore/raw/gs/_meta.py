"""A GCS object's `ObjectMeta`, from its JSON resource."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from ...compression.store_io import FRAME_KEY
from ...meta import ObjectMeta

__all__ = ["from_resource", "user_metadata"]

_RFC3339 = re.compile(
    r"(?P<base>\d{4}-\d\d-\d\d[Tt ]\d\d:\d\d:\d\d)(?P<fraction>\.\d+)?"
    r"(?P<zone>[Zz]|[+-]\d\d:\d\d)?"
)


def _time(value: object) -> datetime | None:
    """An RFC 3339 time (``2026-01-02T03:04:05.678Z``) as an aware datetime, or None.

    The fraction is cut to microseconds and ``Z`` spelled as an offset first: Python 3.10's
    ``fromisoformat`` reads neither."""
    match = _RFC3339.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        return None
    fraction = (match["fraction"] or ".0")[1:7].ljust(6, "0")
    zone = "+00:00" if match["zone"] in (None, "Z", "z") else match["zone"]
    try:
        return datetime.fromisoformat(f"{match['base']}.{fraction}{zone}")
    except ValueError:
        return None


def _text(value: object) -> str | None:
    return str(value) if isinstance(value, (str, int)) and str(value) else None


def from_resource(resource: Mapping[str, Any]) -> ObjectMeta:
    """Size, ETag, ``updated``, ``contentType``, generation (as the version) and custom
    metadata of an object resource (without the frame mark this package keeps there)."""
    custom = resource.get("metadata")
    metadata = (
        {str(k): str(v) for k, v in custom.items() if v is not None and k != FRAME_KEY}
        if isinstance(custom, Mapping)
        else {}
    )
    return ObjectMeta(
        size=int(resource["size"]),
        etag=_text(resource.get("etag")),
        last_modified=_time(resource.get("updated")),
        content_type=_text(resource.get("contentType")),
        version=_text(resource.get("generation")),
        metadata=metadata,
    )


_META_HEADER = "x-goog-meta-"


def user_metadata(headers: Mapping[str, str]) -> dict[str, str]:
    """The custom metadata a media download's ``x-goog-meta-*`` headers carry (names
    lower-cased, as HTTP headers do not keep case)."""
    return {
        name.lower()[len(_META_HEADER) :]: value
        for name, value in headers.items()
        if name.lower().startswith(_META_HEADER)
    }
