"""A file's `ObjectMeta`, from its status."""

from __future__ import annotations

import os
from datetime import datetime, timezone

from ..._core.put_attrs import PLAIN, PutAttrs
from ...meta import ObjectMeta

__all__ = ["stat_meta"]


def stat_meta(found: os.stat_result, attrs: PutAttrs = PLAIN) -> ObjectMeta:
    """Size, modification time (aware, UTC) and an ETag made of inode, size and modification
    time in nanoseconds, as web servers derive one from a file: an atomic rewrite (a new
    inode) or any change of size or time gives another."""
    etag = f'"{found.st_ino:x}-{found.st_size:x}-{found.st_mtime_ns:x}"'
    seconds, nanos = divmod(found.st_mtime_ns, 1_000_000_000)
    when = datetime.fromtimestamp(seconds, timezone.utc).replace(microsecond=nanos // 1000)
    return ObjectMeta(
        size=found.st_size,
        etag=etag,
        last_modified=when,
        content_type=attrs.content_type,
        metadata=attrs.metadata,
    )
