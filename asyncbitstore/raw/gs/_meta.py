"""A GCS object's `ObjectMeta`, from its JSON resource."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

from ...meta import ObjectMeta

__all__ = ["from_resource"]


def _time(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:  # RFC 3339, "2026-01-02T03:04:05.678Z"; fromisoformat reads "Z" from Python 3.11 on
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo is not None else when.replace(tzinfo=timezone.utc)


def _text(value: object) -> str | None:
    return str(value) if isinstance(value, (str, int)) and str(value) else None


def from_resource(resource: Mapping[str, Any]) -> ObjectMeta:
    """Size, ETag, ``updated``, ``contentType``, generation (as the version) and custom
    metadata of an object resource."""
    custom = resource.get("metadata")
    metadata = (
        {str(k): str(v) for k, v in custom.items() if v is not None}
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
