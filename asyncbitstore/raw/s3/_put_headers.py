"""What an S3 write sends for `PutAttrs`: HTTP headers (the fast path) or SDK keywords."""

from __future__ import annotations

from typing import Any

from ..._core.put_attrs import PutAttrs

__all__ = ["attr_headers", "attr_kwargs", "condition_kwargs"]


def attr_headers(attrs: PutAttrs) -> dict[str, str]:
    """The headers of a PutObject for ``attrs``: type, cache control, ``x-amz-meta-*`` and,
    for ``mode="create"``, ``If-None-Match: *`` (S3 then answers 412 if the key is taken)."""
    headers = {f"x-amz-meta-{key}": value for key, value in attrs.metadata.items()}
    if attrs.content_type:
        headers["Content-Type"] = attrs.content_type
    if attrs.cache_control:
        headers["Cache-Control"] = attrs.cache_control
    if attrs.create:
        headers["If-None-Match"] = "*"
    return headers


def attr_kwargs(attrs: PutAttrs) -> dict[str, Any]:
    """The SDK keywords that describe the object (PutObject, CreateMultipartUpload)."""
    return attrs.named("ContentType", "CacheControl", "Metadata")


def condition_kwargs(attrs: PutAttrs) -> dict[str, Any]:
    """The SDK keyword of a create (PutObject, CompleteMultipartUpload)."""
    return {"IfNoneMatch": "*"} if attrs.create else {}
