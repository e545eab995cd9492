"""aiohttp plumbing shared by the HTTP-based backends: sessions and status-to-error mapping."""

from __future__ import annotations

from typing import Any

from ...errors import InvalidRange, NotFoundInStore, StoreNotAvailable
from ...retry import TransientError, is_transient_status

__all__ = ["new_session", "status_error"]


def new_session(
    *, limit: int, headers: dict[str, str] | None = None, timeout: float | None = None
) -> Any:
    """A ``ClientSession`` with a connection pool of ``limit`` (call inside the running loop)."""
    import aiohttp

    connector = aiohttp.TCPConnector(limit=limit, limit_per_host=limit, ttl_dns_cache=300)
    client_timeout = aiohttp.ClientTimeout(total=timeout) if timeout else aiohttp.ClientTimeout()
    return aiohttp.ClientSession(
        connector=connector, headers=headers, timeout=client_timeout, raise_for_status=False
    )


def status_error(store: object, uri: str, status: int, detail: str = "") -> Exception:
    """Our exception for an HTTP error status (the caller decides whether to retry)."""
    suffix = f": {detail}" if detail else ""
    if status in (404, 410):
        return NotFoundInStore(store, uri)
    if status == 416:
        return InvalidRange(store, uri, -1, -1, f"the server refused the range (416){suffix}")
    if status in (401, 403):
        return StoreNotAvailable(store, f"access denied (HTTP {status}){suffix}", uri=uri)
    if is_transient_status(status):
        return TransientError(f"HTTP {status}{suffix}", status)
    return StoreNotAvailable(store, f"HTTP {status}{suffix}", uri=uri)
