"""A file's stored attributes (content type, cache control, user metadata), kept in one
extended attribute of the file itself.

Set on the temporary file before it is renamed into place, they appear and disappear with the
blob (atomically), never describe another blob's bytes, take no room that the bounded folder
would have to count, and stay out of listings. A file system without user extended attributes
refuses a put that has attributes (`Unsupported`); plain puts never touch them.
"""

from __future__ import annotations

import errno
import json
import os

from ..._core.put_attrs import PLAIN, PutAttrs

__all__ = ["XATTR", "Unsupported", "decode", "encode", "read", "write"]

#: The name of the extended attribute.
XATTR = "user.asyncbitstore.attrs"

_UNSUPPORTED = {errno.ENOTSUP, errno.EOPNOTSUPP, errno.EPERM}


class Unsupported(Exception):
    """The file system keeps no user extended attributes (not an `OSError`, so that the
    store's mapping of file errors leaves it alone)."""


def encode(attrs: PutAttrs) -> bytes:
    """The attribute's value for ``attrs``."""
    fields = {
        "content_type": attrs.content_type,
        "cache_control": attrs.cache_control,
        "metadata": dict(attrs.metadata),
    }
    return json.dumps({k: v for k, v in fields.items() if v}, separators=(",", ":")).encode()


def decode(value: bytes | None) -> PutAttrs:
    """The attributes kept in ``value`` (`PLAIN` for none, or for a value this library did not
    write)."""
    if not value:
        return PLAIN
    try:
        fields = json.loads(value)
        return PutAttrs(
            content_type=fields.get("content_type"),
            cache_control=fields.get("cache_control"),
            metadata=dict(fields.get("metadata") or {}),
        )
    except (ValueError, TypeError, AttributeError):
        return PLAIN


def write(fd: int, attrs: PutAttrs) -> None:
    """Keep ``attrs`` on the open file ``fd`` (nothing for a blob without attributes).

    Raises:
        Unsupported: the file system keeps no user extended attributes.
    """
    if not attrs.described:
        return
    try:
        os.setxattr(fd, XATTR, encode(attrs))
    except OSError as exc:
        if exc.errno in _UNSUPPORTED:
            raise Unsupported("this file system keeps no user extended attributes") from None
        raise


def read(fd: int) -> PutAttrs:
    """The attributes kept on the open file ``fd``."""
    try:
        return decode(os.getxattr(fd, XATTR))
    except OSError:  # none kept, or no extended attributes on this file system
        return PLAIN
