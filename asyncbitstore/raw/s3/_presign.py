"""Presigned URLs for ``S3Raw`` (SigV4 query-string signing, by botocore)."""

from __future__ import annotations

from typing import Any

__all__ = ["presign"]

_OPERATIONS = {
    "GET": "get_object",
    "PUT": "put_object",
    "HEAD": "head_object",
    "DELETE": "delete_object",
}


async def presign(client: Any, bucket: str, key: str, method: str, expires_in: int) -> str:
    """A URL allowing ``method`` (checked, upper-case) on the object for ``expires_in`` s."""
    url: str = await client.generate_presigned_url(
        _OPERATIONS[method],
        Params={"Bucket": bucket, "Key": key},
        ExpiresIn=expires_in,
        HttpMethod=method,
    )
    return url
