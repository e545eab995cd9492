"""Copies and renames on the SFTP server for ``SFTPRaw``, without the bytes coming through us.

A copy uses the ``copy-data`` extension (OpenSSH 9.0+) into a temporary file beside the
destination, renamed over it once complete; a rename uses ``posix-rename``.
"""

from __future__ import annotations

import asyncio

from ._link import Session
from ._ops import discard, open_read, open_temp, replace

__all__ = ["copy_remote", "move"]


async def copy_remote(src: str, dst: str, session: Session) -> bool:
    """Copy ``src`` to ``dst`` on the server; False (nothing done) without ``copy-data``.

    Raises what `open_read` raises for a missing ``src`` before anything is written.
    """
    sftp = session.sftp
    if not sftp.supports_remote_copy:
        return False
    source, _size = await open_read(src, session)
    async with source:
        target, temp = await open_temp(dst, session)
        try:
            async with target:
                await sftp.remote_copy(source, target)
            await replace(sftp, temp, dst)
        except BaseException:
            await asyncio.shield(discard(session, temp))
            raise
    return True


async def move(src: str, dst: str, session: Session) -> None:
    """Rename the regular file ``src`` over ``dst`` (creating ``dst``'s folders)."""
    source, _size = await open_read(src, session)  # a missing src raises before dst is touched
    await source.close()
    folder = dst.rsplit("/", 1)[0] or "/"
    await session.sftp.makedirs(folder, exist_ok=True)
    await replace(session.sftp, src, dst)
