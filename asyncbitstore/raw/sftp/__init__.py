"""``SFTPRaw``: blobs as files on an SSH server, over one SFTP session per store and loop.

A store built with ``SFTPRaw("sftp://backup@files.internal:2222/srv/blobs")`` answers for
``sftp://backup@files.internal:2222/srv/blobs/<path>``: the URL's authority exactly as the
store writes it (host lower-cased, port only when not 22; see ``store.base``) followed by an
absolute remote path under the URL's folder. Paths with ``.``, ``..`` or empty segments and
files named ``.abstmp-*`` (uploads in progress) are refused.

Authentication uses the SSH agent and ``~/.ssh`` keys and config by default, or the
``client_keys=``/``password=`` given. The server's host key is always checked: against
``~/.ssh/known_hosts``, or against ``known_hosts=`` (a file, or keys); there is no switch
that turns the check off. Passwords and passphrases appear in no name, message or log.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import re
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Mapping, Sequence
from datetime import datetime, timezone
from typing import Any, TypeVar

from ..._core.checks import positive_int
from ..._core.data import PutData, bytes_chunk, check_chunk_size
from ..._core.put_attrs import PutAttrs
from ..._core.renamed import NOT_GIVEN, renamed
from ..._core.resources import LoopLocal
from ...errors import (
    AlreadyExists,
    InvalidRange,
    InvalidURI,
    NotFoundInStore,
    StoreNotAvailable,
)
from ...listing import listed
from ...meta import ObjectMeta
from ...retry import Retry
from .._base import PrefixedRaw, check_str
from . import _copy as sftp_copy
from . import _link as link_ops
from . import _ops as ops
from ._link import TEMP_PREFIX, Link, Session, parse_url

__all__ = ["SFTPRaw"]

R = TypeVar("R")

_PATH = re.compile(r"(?:/[^/\x00]+)+")
_BAD_SEGMENT = re.compile(r"/\.\.?(?:/|$)|/" + re.escape(TEMP_PREFIX) + r"[^/]*$")


class SFTPRaw(PrefixedRaw):
    """Files on an SFTP server, for ``sftp://[user@]host[:port]/path`` URIs.

    Args:
        url: ``sftp://[user@]host[:port][/folder]``; only paths under ``folder`` are accepted.
            Without a user, the SSH config's (or the local) user name is used.
        known_hosts: the trusted host keys: a known_hosts file path, or anything else
            ``asyncssh.connect(known_hosts=...)`` takes (such as a tuple of trusted, CA and
            revoked key lists) except ``None``. Default: ``~/.ssh/known_hosts``.
        client_keys: private keys (paths or asyncssh keys). Default: the agent and ``~/.ssh``.
        passphrase: for encrypted ``client_keys``.
        password: password authentication, when the server allows it.
        max_requests: SFTP operations in flight at once on the session (others wait).
        request_timeout: seconds one operation (or connecting) may take before the session is
            dropped and the operation fails (or is retried). Raise it for very large blobs.
        retry: the policy for dropped connections and timeouts; each retry reconnects.
            Streams and streaming puts are not replayed: they fail if the connection drops.
        options: more keyword arguments for ``asyncssh.connect`` (``agent_path``, ``config``,
            ``keepalive_interval``, ...).

    Writes are atomic: the bytes go to ``.abstmp-<random>`` in the destination folder (created
    as needed), renamed over the destination with OpenSSH's ``posix-rename`` extension. A put
    interrupted by a dropped connection may leave its temporary file, which is never listed.
    The store pickles (without its connection) when its keys are given as file paths.
    """

    _runtime_attrs = ("_link",)
    _key_word = "<path>"
    _key_note = " (no '.', '..' or empty segments)"
    _renamed_attrs = (("timeout", "request_timeout"),)

    def __init__(
        self,
        url: str,
        *,
        known_hosts: Any = (),
        client_keys: str | os.PathLike[str] | Sequence[Any] | None = None,
        passphrase: str | None = None,
        password: str | None = None,
        max_requests: int = 32,
        request_timeout: float = 120.0,
        retry: Retry | None = None,
        options: Mapping[str, Any] | None = None,
        timeout: Any = NOT_GIVEN,
    ) -> None:
        timeout = renamed("request_timeout", request_timeout, "timeout", timeout, 120.0)
        self.address = parse_url(url)
        if known_hosts is None:
            raise ValueError(
                "known_hosts=None would turn off host-key checking; pass the server's key "
                "or a known_hosts file instead"
            )
        positive_int("max_requests", max_requests)
        options = dict(options or {})
        if options.get("known_hosts", ()) is None:
            raise ValueError("options must not turn off host-key checking (known_hosts=None)")
        self.authority = self.address.authority
        self.base = self.authority + self.address.root + "/"
        self.max_requests = max_requests
        self.request_timeout = float(timeout)
        self.retry = retry or Retry()
        self._connect_options = {"known_hosts": known_hosts, **options}
        if client_keys is not None:
            self._connect_options["client_keys"] = client_keys
        self._secrets = tuple(s for s in (password, passphrase) if s)
        self._password = password
        self._passphrase = passphrase
        self._init_runtime()

    def _init_runtime(self) -> None:
        self._link: LoopLocal[Link] = LoopLocal(self._new_link, Link.close)

    async def _new_link(self) -> Link:
        return Link(self._connect, self.max_requests)

    async def _connect(self) -> Session:
        given = {"password": self._password, "passphrase": self._passphrase}
        options = self._connect_options | {k: v for k, v in given.items() if v is not None}
        return await link_ops.connect(self.address, options, self.request_timeout)

    @property
    def name(self) -> str:
        return f"SFTPRaw({self.base!r})"

    def uri(self, path: str) -> str:
        """The URI of ``path``, relative to the URL's folder."""
        return self.base + path.lstrip("/")

    # -- URIs, errors, calls --------------------------------------------------------------------

    def is_valid(self, uri: str) -> bool:
        """Whether ``uri`` names a file under this store's folder on its server."""
        check_str(uri)
        if len(uri) <= len(self.base) or not uri.startswith(self.base):
            return False
        path = uri[len(self.authority) :]
        return _PATH.fullmatch(path) is not None and _BAD_SEGMENT.search(path) is None

    def _path(self, uri: object) -> str:
        return self.check_uri(uri)[len(self.authority) :]

    _locate = _path

    def _error(self, exc: BaseException, uri: str) -> BaseException:
        if isinstance(exc, (ops.NotAFile, *ops.MISSING)):
            return NotFoundInStore(self, uri)
        if isinstance(exc, ops.Taken):
            return AlreadyExists(self, uri)
        return link_ops.error_for(self, exc, uri, self._secrets)

    async def _call(self, uri: str, op: Callable[[Session], Awaitable[R]]) -> R:
        """``await op(session)`` in a slot, reconnecting and retrying after a dropped session."""
        link = await self._link.get()

        async def attempt() -> R:
            session = await asyncio.wait_for(link.session(), self.request_timeout * 2)
            return await link.request(session, lambda: op(session), self.request_timeout)

        try:
            return await self.retry.call(
                attempt, transient=link_ops.transient, what=f"{self.name} {uri}"
            )
        except Exception as exc:
            raise self._error(exc, uri) from exc

    async def _open(self, uri: str, opener: Callable[[Session], Awaitable[R]]) -> tuple[Session, R]:
        """``await opener(session)`` as `_call` does, with the session it ran on: a file opened
        there is read or written through `_once` on that same session."""

        async def op(session: Session) -> tuple[Session, R]:
            return session, await opener(session)

        return await self._call(uri, op)

    async def _once(self, uri: str, session: Session, request: Callable[[], Awaitable[R]]) -> R:
        """One request on a given session (an open file's), without retries."""
        try:
            link = await self._link.get()
            return await link.request(session, request, self.request_timeout)
        except Exception as exc:
            raise self._error(exc, uri) from exc

    # -- reads ----------------------------------------------------------------------------------

    async def _get_stored(self, uri: str) -> bytes:
        path = self._path(uri)
        return await self._call(uri, functools.partial(ops.read, path, 0, None))

    async def _stored_range(
        self, uri: str, path: Any, start: int, end: int, first: int, last: int
    ) -> bytes:
        """Read at an offset (the rest is not transferred)."""
        size, data = await self._call(uri, functools.partial(ops.read, path, first, last))
        if data is None:
            raise InvalidRange(self, uri, start, end, f"the blob has only {size} bytes")
        return data  # type: ignore[no-any-return]

    async def _stream_stored(self, uri: str, chunk_size: int) -> AsyncIterator[bytes]:
        """The file in chunks read at increasing offsets."""
        path = self._path(uri)
        check_chunk_size(chunk_size)
        session, (file, size) = await self._open(uri, functools.partial(ops.open_read, path))
        try:
            offset = 0
            while offset < size:
                chunk = await self._once(
                    uri, session, functools.partial(file.read, chunk_size, offset)
                )
                if not chunk:
                    raise StoreNotAvailable(self, "the file shrank while it was streamed", uri=uri)
                offset += len(chunk)
                yield chunk
        finally:
            with contextlib.suppress(Exception):
                await asyncio.shield(asyncio.wait_for(file.close(), 10))

    async def _stat(self, uri: str) -> Any:
        path = self._path(uri)
        return await self._call(uri, lambda s: s.sftp.stat(path))

    async def exists(self, uri: str) -> bool:
        """Whether a regular file is at ``uri``."""
        try:
            return (await self._stat(uri)).type == ops.REGULAR  # type: ignore[no-any-return]
        except NotFoundInStore:
            return False

    async def size(self, uri: str) -> int:
        """The file's size."""
        attrs = await self._stat(uri)
        if attrs.type != ops.REGULAR:
            raise NotFoundInStore(self, uri)
        return attrs.size or 0

    async def head(self, uri: str) -> ObjectMeta:
        """The file's size and modification time (whole seconds on most servers: a rewrite of
        the same size within the same second does not show)."""
        attrs = await self._stat(uri)
        if attrs.type != ops.REGULAR:
            raise NotFoundInStore(self, uri)
        when = None
        if attrs.mtime is not None:
            nanos = attrs.mtime_ns or 0  # the sub-second part (SFTP v4 and later)
            when = datetime.fromtimestamp(attrs.mtime, timezone.utc)
            when = when.replace(microsecond=nanos // 1000)
        return ObjectMeta(size=attrs.size or 0, last_modified=when)

    def list(self, prefix: str = "", flat: bool = False) -> AsyncIterator[str]:
        """Every file whose URI starts with ``prefix``, recursively, sorted.

        With ``flat``, one level of them (files and sub-folders ending in ``/``), sorted.
        """
        return listed(self._path_prefix, self._walk, prefix, flat)

    def _path_prefix(self, prefix: object) -> str:
        """`_list_prefix`, which must also be a valid start of a path."""
        prefix = self._list_prefix(prefix)
        wanted = prefix[len(self.authority) :]
        if "\x00" in wanted or re.search(r"//|/\.\.?(?:/|$)", wanted):
            raise InvalidURI(self, prefix, self.uri_hint)
        return prefix

    async def _walk(self, prefix: str, folder: str | None = None) -> AsyncIterator[str]:
        """The URI of every file in ``folder`` (at first, the one holding ``prefix``) and
        below it that starts with ``prefix``, sorted."""
        wanted = prefix[len(self.authority) :]
        if folder is None:
            folder = wanted.rsplit("/", 1)[0] or "/"
        try:
            entries = await self._call(prefix, lambda s: s.sftp.readdir(folder))
        except NotFoundInStore:
            return
        for path, is_folder in ops.listing_entries(entries, folder, wanted):
            if is_folder:
                async for found in self._walk(prefix, path):
                    yield found
            else:
                yield self.authority + path

    # -- writes ---------------------------------------------------------------------------------

    async def _put_stored(self, uri: str, path: Any, data: PutData, attrs: PutAttrs) -> None:
        """Upload to a temporary file, then rename it over the destination.

        ``mode="create"`` renames with the plain SFTP rename, which does not replace a file
        (atomic on OpenSSH; see `_ops.claim`). The attributes (content type, cache control,
        metadata) are not kept.
        """
        if isinstance(data, (bytes, bytearray, memoryview)):
            blob = bytes(data)
            put = functools.partial(ops.put_bytes, path, blob, create=attrs.create)
            await self._call(uri, put)
        else:
            await self._put_stream(uri, path, data, attrs.create)

    async def _put_stream(
        self, uri: str, path: str, data: AsyncIterable[bytes], create: bool = False
    ) -> None:
        session, (file, temp) = await self._open(uri, functools.partial(ops.open_temp, path))
        try:
            offset = 0
            async for chunk in data:
                part = bytes(bytes_chunk(chunk))
                await self._once(uri, session, functools.partial(file.write, part, offset))
                offset += len(part)
            await self._once(uri, session, file.close)
            rename = ops.claim if create else ops.replace
            await self._once(uri, session, lambda: rename(session.sftp, temp, path))
        except BaseException:
            with contextlib.suppress(Exception):
                await asyncio.shield(asyncio.wait_for(file.close(), 10))
            await asyncio.shield(ops.discard(session, temp))
            raise

    async def _copy(self, src_uri: str, dst_uri: str) -> None:
        """On the server with the ``copy-data`` extension (OpenSSH 9.0+), into a temporary
        file renamed over the destination; streamed through otherwise."""
        src, dst = self._path(src_uri), self._path(dst_uri)
        if not await self._call(src_uri, functools.partial(sftp_copy.copy_remote, src, dst)):
            await super()._copy(src_uri, dst_uri)

    async def _rename(self, src_uri: str, dst_uri: str) -> None:
        """A rename on the server (``posix-rename``, atomic over an existing destination)."""
        src, dst = self._path(src_uri), self._path(dst_uri)
        await self._call(src_uri, functools.partial(sftp_copy.move, src, dst))

    async def delete(self, uri: str) -> None:
        """Remove the file if it exists (a folder at the path is left alone)."""
        path = self._path(uri)
        await self._call(uri, functools.partial(ops.remove, path))

    async def aclose(self) -> None:
        """Close the SSH connection (the next call opens a new one)."""
        await self._link.aclose()
