"""Checking a whole body against the digest its server announced, shared by S3 and GCS.

A body whose digest differs is first taken for damage on the way (a flipped bit in a proxy, a
broken middlebox): `ChecksumMismatch` is a [`TransientError`][asyncbitstore.retry.TransientError],
so the store's retry policy reads the object again. Only a mismatch that outlasts the retries
becomes `InvalidDataFound` (the backend does that, naming the store and URI).
"""

from __future__ import annotations

import asyncio
import hashlib
from typing import Any

from ...retry import TransientError

__all__ = ["ChecksumMismatch", "md5_of"]

#: Bodies from this size on are hashed in a worker thread (hashlib releases the GIL), so a
#: large read does not hold up the event loop; smaller ones cost microseconds in place.
THREAD_FROM = 1 << 20


class ChecksumMismatch(TransientError):
    """A whole body whose digest is not the one its server announced (retried).

    Attributes:
        reason: what differs, for the final error; never holds the body.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


async def md5_of(data: bytes) -> Any:
    """The MD5 hash object of ``data`` (in a thread for large bodies)."""
    if len(data) >= THREAD_FROM:
        return await asyncio.to_thread(_md5, data)
    return _md5(data)


def _md5(data: bytes) -> Any:
    return hashlib.md5(data, usedforsecurity=False)
