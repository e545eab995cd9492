"""HTTP details behind ``HTTPRaw``: URL checks and JSON folder listings.

Directory listings are nginx's ``autoindex on; autoindex_format json;``: a JSON array of
``{"name": ..., "type": "file" | "directory" | "other", ...}``. `read_listing` reads one
in chunks up to a bound, `walk` goes depth-first, down to a bound, and yields file URLs in
sorted order without collecting them first.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from urllib.parse import quote, urlsplit

import aiohttp

__all__ = [
    "Entries",
    "parse_listing",
    "read_listing",
    "url_path",
    "walk",
]

#: How much of a listing is read at a time.
_LISTING_CHUNK = 1 << 20

#: ``(name, is_folder)`` for each entry of one folder.
Entries = list[tuple[str, bool]]


def url_path(uri: str, *, allow_empty: bool = False) -> str | None:
    """The path of an ``http(s)://host/...`` URL without fragment, or None if malformed."""
    if any(c.isspace() or ord(c) < 32 for c in uri) or "#" in uri:
        return None
    try:
        parts = urlsplit(uri)
        parts.port  # noqa: B018 - raises ValueError for a malformed port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    try:  # the connector looks the host up by its IDNA form (empty or overlong labels fail)
        parts.hostname.encode("idna")
    except UnicodeError:
        return None
    if not parts.path and not allow_empty:
        return None
    return parts.path


async def read_listing(response: aiohttp.ClientResponse, limit: int) -> bytes | None:
    """The body of a listing, read in chunks; None as soon as it proves longer than ``limit``
    bytes (the rest is left unread, and releasing the response closes its connection)."""
    if response.content_length is not None and response.content_length > limit:
        return None
    body = bytearray()
    async for chunk in response.content.iter_chunked(min(_LISTING_CHUNK, limit + 1)):
        if len(body) + len(chunk) > limit:
            return None
        body += chunk
    return bytes(body)


def parse_listing(body: bytes, content_type: str) -> Entries:
    """The entries of one listing.

    Raises:
        ValueError: the body is not a JSON listing.
    """
    if content_type != "application/json":
        raise ValueError(f"content type {content_type or 'missing'}")
    try:
        listing = json.loads(body)
    except RecursionError:  # arrays or objects nested past the parser's recursion limit
        raise ValueError("JSON nested too deeply") from None
    if not isinstance(listing, list):
        raise ValueError("not a JSON array")
    entries = []
    for entry in listing:
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            raise ValueError("an entry without a name")
        name, kind = entry["name"], entry.get("type")
        # Names that would climb out of the folder or merge path segments are never followed.
        if name in ("", ".", "..") or "/" in name or kind not in ("file", "directory"):
            continue
        entries.append((name, kind == "directory"))
    return entries


async def walk(
    fetch: Callable[[str], Awaitable[Entries]],
    folder: str,
    prefix: str,
    depth: int,
    too_deep: Callable[[str], Exception],
) -> AsyncIterator[str]:
    """Every file URL under ``folder`` (ending in ``/``) that starts with ``prefix``, sorted.

    At most ``depth`` levels of sub-folders are entered; a folder below them raises
    ``too_deep(its URL)`` instead of being fetched.
    """
    # A folder sorts as "name/", so visiting siblings in that order keeps the output sorted.
    keys = sorted(
        (quote(name) + ("/" if is_folder else ""), is_folder)
        for name, is_folder in await fetch(folder)
    )
    for key, is_folder in keys:
        url = folder + key
        if not is_folder:
            if url.startswith(prefix):
                yield url
        elif url.startswith(prefix) or prefix.startswith(url):
            if depth < 1:
                raise too_deep(url)
            async for found in walk(fetch, url, prefix, depth - 1, too_deep):
                yield found
