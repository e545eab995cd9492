"""``az://<container>/<blob>`` URIs: splitting them and checking container and blob names."""

from __future__ import annotations

import re

__all__ = ["SCHEME", "split_blob", "split_prefix"]

SCHEME = "az://"
#: Azure's rule: 3 to 63 of lower-case letters, digits and single hyphens, no hyphen at an end.
_CONTAINER = re.compile(r"(?=.{3,63}$)[a-z0-9]+(?:-[a-z0-9]+)*")
_MAX_NAME_BYTES = 1024
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _container_ok(name: str) -> bool:
    return _CONTAINER.fullmatch(name) is not None


def _blob_ok(name: str) -> bool:
    if not name or name.endswith("/") or _CONTROL.search(name):
        return False
    if len(name.encode("utf-8", "surrogatepass")) > _MAX_NAME_BYTES:
        return False
    return not any(part in (".", "..") for part in name.split("/"))


def split_blob(uri: str) -> tuple[str, str] | None:
    """``(container, blob)`` of a valid ``az://container/blob`` URI, else None."""
    if not uri.startswith(SCHEME):
        return None
    container, slash, blob = uri[len(SCHEME) :].partition("/")
    if not slash or not _container_ok(container) or not _blob_ok(blob):
        return None
    return container, blob


def split_prefix(prefix: str) -> tuple[str, str] | None:
    """``(container, name prefix)`` of ``az://container`` or ``az://container/<prefix>``."""
    if not prefix.startswith(SCHEME):
        return None
    container, _, rest = prefix[len(SCHEME) :].partition("/")
    if not _container_ok(container) or _CONTROL.search(rest):
        return None
    return container, rest
