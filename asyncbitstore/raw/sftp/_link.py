"""The connection behind ``SFTPRaw``: URL parsing, one SSH session per loop, error classes.

A `Link` lives in a ``LoopLocal`` (one per store, process and event loop). It holds the
current `Session` (an SSH connection and its SFTP client), builds a new one when the
current one was found broken, and bounds the SFTP operations in flight with a semaphore.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import unquote, urlsplit

import asyncssh

from ..._core.redact import redact, scrub
from ..._core.temp import TEMP_PREFIX
from ...errors import StoreFull, StoreNotAvailable, StoreTimeout

__all__ = [
    "TEMP_PREFIX",
    "Address",
    "Link",
    "Session",
    "breaks_session",
    "connect",
    "error_for",
    "parse_url",
    "transient",
]

logger = logging.getLogger("asyncbitstore.sftp")

R = TypeVar("R")

_ROOT = re.compile(r"(?:/[^/\x00]+)*/?")


@dataclass(frozen=True)
class Address:
    """Where to connect, and the URI prefix of that server."""

    host: str
    port: int
    username: str | None
    root: str  # "" or "/a/b": remote folder every URI lies under
    authority: str  # "sftp://user@host[:port]": a URI minus its remote path


def parse_url(url: str) -> Address:
    """Check ``sftp://[user@]host[:port][/root]``; refuse a password in it (pass ``password=``)."""
    if not isinstance(url, str):
        raise TypeError(f"url must be a str, not {type(url).__name__}")
    parts = urlsplit(url)
    try:
        port = parts.port or 22
    except ValueError:
        raise ValueError(f"invalid port in {redact(url)!r}") from None
    if parts.scheme != "sftp" or not parts.hostname or parts.query or parts.fragment:
        raise ValueError(f"expected sftp://[user@]host[:port][/folder], not {redact(url)!r}")
    if parts.password is not None:
        raise ValueError(f"pass the password as password=, not in the URL {redact(url)!r}")
    root = unquote(parts.path)
    if _ROOT.fullmatch(root) is None or any(s in (".", "..") for s in root.split("/")):
        raise ValueError(f"the folder in {url!r} must be absolute, without '.', '..' or '//'")
    host = parts.hostname
    user = unquote(parts.username) if parts.username else None
    shown = f"[{host}]" if ":" in host else host
    authority = f"sftp://{user + '@' if user else ''}{shown}{'' if port == 22 else f':{port}'}"
    return Address(host, port, user, root.rstrip("/"), authority)


def breaks_session(exc: BaseException) -> bool:
    """Whether the session is unusable after ``exc`` (the connection dropped or hung)."""
    return isinstance(
        exc,
        (
            asyncssh.ConnectionLost,
            asyncssh.SFTPConnectionLost,
            asyncssh.SFTPNoConnection,
            asyncssh.ChannelOpenError,
            OSError,
            asyncio.TimeoutError,
        ),
    )


def error_for(store: Any, exc: BaseException, uri: str, secrets: tuple[str, ...]) -> BaseException:
    """Our exception for a failure of asyncssh (the one place), with ``secrets`` masked."""
    text = scrub(str(exc) or type(exc).__name__, secrets)
    if isinstance(exc, (asyncssh.SFTPNoSpaceOnFilesystem, asyncssh.SFTPQuotaExceeded)):
        return StoreFull(store, uri, text)
    if isinstance(exc, asyncio.TimeoutError):
        return StoreTimeout(store, f"no answer within {store.request_timeout:g} s", uri=uri)
    if isinstance(exc, asyncssh.HostKeyNotVerifiable):
        text += " (check known_hosts=)"
    if isinstance(exc, (asyncssh.Error, OSError)):
        return StoreNotAvailable(store, f"{type(exc).__name__}: {text}", uri=uri)
    return exc


def transient(exc: BaseException) -> bool:
    """Whether retrying (on a new session) may succeed: the connection, not the request."""
    return breaks_session(exc)


async def connect(address: Address, options: dict[str, Any], timeout: float) -> Session:
    """A new SSH connection with its SFTP client."""
    conn = await asyncssh.connect(
        address.host,
        address.port,
        username=address.username or (),
        connect_timeout=timeout,
        **options,
    )
    try:
        sftp = await asyncio.wait_for(conn.start_sftp_client(), timeout)
    except BaseException:
        conn.close()
        raise
    return Session(conn, sftp)


@dataclass(eq=False)
class Session:
    """An SSH connection and its SFTP client."""

    conn: asyncssh.SSHClientConnection
    sftp: asyncssh.SFTPClient
    broken: bool = False

    async def close(self) -> None:
        self.sftp.exit()
        self.conn.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.conn.wait_closed(), 5)


class Link:
    """The current session of one store in one loop, rebuilt after it breaks."""

    def __init__(self, connect: Callable[[], Awaitable[Session]], max_requests: int) -> None:
        self._connect = connect
        self._session: Session | None = None
        self._lock = asyncio.Lock()
        self.slots = asyncio.Semaphore(max_requests)
        self.connects = 0

    async def session(self) -> Session:
        """A session believed healthy: the current one, or a new one."""
        current = self._session
        if current is not None and not current.broken and not current.conn.is_closed():
            return current
        async with self._lock:
            current = self._session
            if current is None or current.broken or current.conn.is_closed():
                self._session = None
                if current is not None:
                    await current.close()
                current = self._session = await self._connect()
                self.connects += 1
            return current

    async def request(
        self, session: Session, make: Callable[[], Awaitable[R]], timeout: float
    ) -> R:
        """``await make()`` in a slot, within ``timeout``; a failure that breaks the session
        marks it, so that the next call connects again."""
        try:
            async with self.slots:
                return await asyncio.wait_for(make(), timeout)
        except BaseException as exc:
            if breaks_session(exc):
                session.broken = True
            raise

    async def close(self) -> None:
        current, self._session = self._session, None
        if current is not None:
            await current.close()
