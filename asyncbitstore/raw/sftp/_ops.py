"""SFTP file operations behind ``SFTPRaw``, each run on one session (and retried whole).

Writes are atomic: bytes go to ``.abstmp-<random>`` beside the destination, which is renamed
over it with OpenSSH's ``posix-rename`` extension once complete.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from typing import Any

import asyncssh

from ._link import TEMP_PREFIX, Session

__all__ = [
    "MISSING",
    "REGULAR",
    "NotAFile",
    "discard",
    "listing_entries",
    "open_read",
    "open_temp",
    "put_bytes",
    "read",
    "remove",
    "replace",
]

logger = logging.getLogger("asyncbitstore.sftp")

REGULAR, _DIRECTORY = asyncssh.FILEXFER_TYPE_REGULAR, asyncssh.FILEXFER_TYPE_DIRECTORY
MISSING = (asyncssh.SFTPNoSuchFile, asyncssh.SFTPNoSuchPath)


class NotAFile(Exception):
    """The path exists but is not a regular file (answered as a missing blob)."""


async def open_read(path: str, session: Session) -> tuple[Any, int]:
    """An open file and its size; a folder or device raises `NotAFile`."""
    file = await session.sftp.open(path, "rb")
    try:
        attrs = await file.stat()
        if attrs.type != REGULAR:
            raise NotAFile(path)
    except BaseException:
        with contextlib.suppress(Exception):
            await file.close()
        raise
    return file, attrs.size or 0


async def read(path: str, start: int, end: int | None, session: Session) -> Any:
    """The whole file if ``end`` is None, else ``(size, [start, end) or None past the end)``."""
    file, size = await open_read(path, session)
    async with file:
        if end is None:
            return await file.read(size, 0)
        if start > size:
            return size, None
        return size, (await file.read(end - start, start) if end > start else b"")


async def open_temp(path: str, session: Session) -> tuple[Any, str]:
    """A new temporary file beside ``path`` (creating the folders), and its name."""
    folder = path.rsplit("/", 1)[0] or "/"
    temp = f"{folder.rstrip('/')}/{TEMP_PREFIX}{secrets.token_hex(8)}"
    try:
        return await session.sftp.open(temp, "xb"), temp
    except MISSING:
        await session.sftp.makedirs(folder, exist_ok=True)
        return await session.sftp.open(temp, "xb"), temp


async def put_bytes(path: str, data: bytes, session: Session, create: bool = False) -> None:
    file, temp = await open_temp(path, session)
    try:
        async with file:
            await file.write(data, 0)
        await (claim if create else replace)(session.sftp, temp, path)
    except BaseException:
        await asyncio.shield(discard(session, temp))
        raise


async def remove(path: str, session: Session) -> None:
    """Remove the file; a missing file or a folder at ``path`` is not an error."""
    try:
        await session.sftp.remove(path)
    except MISSING:
        pass
    except asyncssh.SFTPError:
        if not await session.sftp.isdir(path):
            raise


async def replace(sftp: asyncssh.SFTPClient, temp: str, path: str) -> None:
    """Rename ``temp`` over ``path``: atomically with OpenSSH's ``posix-rename`` extension.

    Without it (plain SFTPv3 refuses to rename over a file), ``path`` is removed first, which
    leaves a moment when neither the old nor the new blob is there.
    """
    try:
        await sftp.posix_rename(temp, path)
    except asyncssh.SFTPOpUnsupported:
        with contextlib.suppress(asyncssh.SFTPNoSuchFile):
            await sftp.remove(path)
        await sftp.rename(temp, path)


class Taken(Exception):
    """A create found something at the path; nothing was replaced."""


async def claim(sftp: asyncssh.SFTPClient, temp: str, path: str) -> None:
    """Rename ``temp`` to ``path`` only if ``path`` is free (`Taken` if not).

    The plain SFTPv3 rename never replaces a file; OpenSSH's server does it with ``link()``
    then ``unlink()``, so of concurrent creates exactly one wins. (On a file system without
    hard links OpenSSH falls back to checking, then renaming, which is not atomic.) A failed
    rename is told apart from a taken name by looking at ``path``.
    """
    try:
        await sftp.rename(temp, path)
    except asyncssh.SFTPError:
        if await sftp.lexists(path):
            raise Taken(path) from None
        raise


async def discard(session: Session, temp: str) -> None:
    """Remove a temporary file, best effort (the connection may be gone)."""
    try:
        await asyncio.wait_for(session.sftp.remove(temp), 10)
    except (asyncssh.Error, OSError, asyncio.TimeoutError) as exc:
        logger.warning("could not remove the temporary file %s: %s", temp, type(exc).__name__)


def listing_entries(entries: Any, folder: str, wanted: str) -> list[tuple[str, bool]]:
    """``(path, is_folder)`` of the entries of ``folder`` that may lead to paths starting with
    ``wanted``, in the order that lists every path sorted (a folder sorts as ``name/``)."""
    found: list[tuple[str, str, bool]] = []
    for entry in entries:
        name = entry.filename
        if not isinstance(name, str) or name in (".", "..") or name.startswith(TEMP_PREFIX):
            continue
        full = folder.rstrip("/") + "/" + name
        if entry.attrs.type == _DIRECTORY:
            if (full + "/").startswith(wanted) or wanted.startswith(full + "/"):
                found.append((name + "/", full, True))
        elif entry.attrs.type == REGULAR and full.startswith(wanted):
            found.append((name, full, False))
    return [(full, is_folder) for _, full, is_folder in sorted(found)]
