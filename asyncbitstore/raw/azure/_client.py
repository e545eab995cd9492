"""Credentials, secrets and the SDK client of one event loop.

`Access` holds what the user gave (account URL or connection string, credential) and knows
which of its strings are secrets; `open_client` builds an ``azure.storage.blob.aio`` service
client on an aiohttp session of its own, with the SDK's own retries turned off (the store's
`Retry` is the one policy).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from azure.core.pipeline.transport import AioHttpTransport

from ..._core.redact import guard_sdk_logs
from .._net.aiohttp import new_session
from .._net.buffers import BodyBuffer

__all__ = [
    "ENV_VAR",
    "Access",
    "AzureClient",
    "Credential",
    "download_piece",
    "open_client",
    "read_whole",
]

#: The connection string a store given neither ``account_url`` nor ``connection_string`` uses.
ENV_VAR = "AZURE_STORAGE_CONNECTION_STRING"

#: An account key (or a SAS token, told apart by its ``sig=``), a dict with ``account_name``
#: and ``account_key``, an azure-core credential object, or None.
Credential = Any

#: The least bytes the SDK asks in one download request (its default piece). A store asks
#: ``block_size`` when that is larger (`download_piece`), so that each range of a parallel
#: read is one request; a ``stream``'s memory is bounded by this piece.
DOWNLOAD_PIECE = 4 * 1024 * 1024
#: The most bytes azure-core takes from aiohttp per read of an answer's body (its default,
#: 4 KiB, costs a Python-level step per 4 KiB: most of a large download's CPU time).
READ_BLOCK = 256 * 1024
#: Request bodies larger than this go to aiohttp as a stream it sends in pieces (aiohttp warns
#: that a larger `bytes` body might block the event loop, as its own limit is 1 MiB).
STREAMED_BODY = 1024 * 1024
_SECRET_FIELDS = ("accountkey", "sharedaccesssignature")


def _fields(connection_string: str) -> dict[str, str]:
    """``Key=Value;...`` as a dict with lower-case keys (values keep their ``=`` padding)."""
    pairs = (part.partition("=") for part in connection_string.split(";") if part.strip())
    return {key.strip().lower(): value.strip() for key, _, value in pairs}


def _is_sas(value: str) -> bool:
    return "sig=" in value


@dataclass(frozen=True)
class Access:
    """Where the account is and how to authenticate to it.

    Attributes:
        account_url: the blob endpoint (``https://<account>.blob.core.windows.net``), without
            any query; None with a connection string.
        connection_string: the connection string, or None.
        credential: what the user gave as ``credential``.
    """

    account_url: str | None
    connection_string: str | None
    credential: Credential

    def __post_init__(self) -> None:
        if self.account_url is not None and self.connection_string is not None:
            raise ValueError("give account_url or connection_string, not both")
        for name in ("account_url", "connection_string"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, str) or not value.strip()):
                raise ValueError(f"{name} must be a non-empty str")
        if self.connection_string is not None and self.credential is not None:
            raise ValueError("a connection string carries its own credential: give no credential")
        if isinstance(self.credential, dict) and not {"account_name", "account_key"} <= set(
            self.credential
        ):
            raise ValueError("a credential dict needs 'account_name' and 'account_key'")

    @property
    def shown_url(self) -> str:
        """The endpoint as messages show it: no user info, no query (a SAS token)."""
        if self.account_url is not None:
            parts = urlsplit(self.account_url)
            host = parts.netloc.rpartition("@")[2]
            return urlunsplit((parts.scheme, host, parts.path.rstrip("/"), "", ""))
        if self.connection_string is None:
            return "<none>"
        fields = _fields(self.connection_string)
        if "blobendpoint" in fields:
            parts = urlsplit(fields["blobendpoint"])
            return urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/"), "", ""))
        if fields.get("usedevelopmentstorage", "").lower() == "true":
            return "http://127.0.0.1:10000/devstoreaccount1"
        protocol = fields.get("defaultendpointsprotocol", "https")
        suffix = fields.get("endpointsuffix", "core.windows.net")
        return f"{protocol}://{fields.get('accountname', '?')}.blob.{suffix}"

    @property
    def secrets(self) -> tuple[str, ...]:
        """Every string that must never be shown: keys, SAS tokens, the connection string."""
        found: list[str] = []
        if self.connection_string:
            fields = _fields(self.connection_string)
            found += [self.connection_string, *(fields.get(k, "") for k in _SECRET_FIELDS)]
        if self.account_url and urlsplit(self.account_url).query:
            found.append(urlsplit(self.account_url).query)
        credential = self.credential
        if isinstance(credential, str):
            found.append(credential)
        elif isinstance(credential, dict):
            found.append(str(credential.get("account_key", "")))
        else:
            named = getattr(credential, "named_key", None)  # AzureNamedKeyCredential
            signature = getattr(credential, "signature", None)  # AzureSasCredential
            found += [str(named[1]) if named else "", str(signature or "")]
        return tuple(dict.fromkeys(s.lstrip("?") for s in found if s))

    def sdk_credential(self, account_name: str) -> Any:
        """The credential in the SDK's terms (an account key becomes a name-and-key dict)."""
        if isinstance(self.credential, str) and not _is_sas(self.credential):
            return {"account_name": account_name, "account_key": self.credential}
        return self.credential


class AzureClient:
    """A service client and the aiohttp session it runs on (closed together)."""

    def __init__(self, service: Any, session: Any) -> None:
        self.service = service
        self._session = session

    def blob(self, container: str, name: str) -> Any:
        """The SDK's client for one blob (no request is made)."""
        return self.service.get_blob_client(container, name)

    def container(self, container: str) -> Any:
        """The SDK's client for one container (no request is made)."""
        return self.service.get_container_client(container)

    def signing_key(self) -> tuple[str, str] | None:
        """``(account name, account key)`` when the client authenticates with a shared key."""
        credential = self.service.credential
        key = getattr(credential, "account_key", None)
        if isinstance(key, str) and key:
            return str(self.service.account_name), key
        return None

    async def aclose(self) -> None:
        """Close the client, then its session."""
        try:
            await self.service.close()
        finally:
            await self._session.close()


class _Transport(AioHttpTransport):  # type: ignore[misc]
    """azure-core's aiohttp transport, handing a large `bytes` body to aiohttp as an
    `io.BytesIO` over the same buffer (no copy): aiohttp then sends it in pieces, yielding to
    the event loop between them, with the length the SDK announced."""

    def _get_request_data(self, request: Any) -> Any:
        data = super()._get_request_data(request)
        if isinstance(data, bytes) and len(data) > STREAMED_BODY:
            return io.BytesIO(data)
        return data


def download_piece(block_size: int) -> int:
    """The most bytes one download request of the SDK asks, for a store of ``block_size``."""
    return max(DOWNLOAD_PIECE, block_size)


async def open_client(
    access: Access, *, max_connections: int, read_timeout: float | None, block_size: int
) -> AzureClient:
    """A client for the running loop (no request is made)."""
    from azure.storage.blob.aio import BlobServiceClient

    session = new_session(limit=max_connections)
    options: dict[str, Any] = {
        "transport": _Transport(
            session=session, session_owner=False, connection_data_block_size=READ_BLOCK
        ),
        "retry_total": 0,
        "max_single_get_size": download_piece(block_size),
        "max_chunk_get_size": download_piece(block_size),
        "max_single_put_size": block_size,
        "max_block_size": block_size,
    }
    if read_timeout is not None:
        options.update(connection_timeout=read_timeout, read_timeout=read_timeout)
    if access.account_url is None and access.connection_string is None:
        raise ValueError(f"no account: give account_url or connection_string, or set {ENV_VAR}")
    try:
        if access.connection_string is not None:
            service = BlobServiceClient.from_connection_string(access.connection_string, **options)
        else:
            assert access.account_url is not None
            probe = BlobServiceClient(access.account_url)  # only to read the account name
            credential = access.sdk_credential(str(probe.account_name))
            await probe.close()
            service = BlobServiceClient(access.account_url, credential=credential, **options)
    except BaseException:
        await session.close()
        raise
    guard_sdk_logs(("azure",), access.secrets)
    return AzureClient(service, session)


async def read_whole(downloader: Any) -> bytes:
    """All of a download (a ``StorageStreamDownloader`` not yet read), received into one
    buffer of the length its first answer gave: no pieces kept and joined, no second copy.

    Raises:
        ConnectionError: the answers held fewer or more bytes than that length (transient).
    """
    sink = BodyBuffer(int(downloader.size))
    # One piece at a time, in order: the sink is written front to back, never seeked.
    await downloader.readinto(sink)
    if sink.missing:
        raise ConnectionError(f"the download ended {sink.missing} bytes short of {sink.size}")
    return sink.value()
