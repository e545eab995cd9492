"""Opening an S3 connection: the aiobotocore client, its settings, and the transport chosen.

The client never follows a redirect (see `_StayingSession`); botocore's own region redirector
signs again for the region S3 names, and a redirect that names none is an error carrying its
`Location`. With `Options.fast_path`, and no proxy in the way, the connection is a
`FastConnection` (hand-signed GET, HEAD, single-part PUT and multipart parts); otherwise plain
botocore.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Mapping
from contextlib import AsyncExitStack
from typing import Any

from aiobotocore.config import AioConfig
from aiobotocore.httpsession import AIOHTTPSession
from aiobotocore.session import AioSession
from botocore import UNSIGNED

from ..._core.redact import guard_sdk_logs
from ._client import ANONYMOUS, Connection, Credential, Options, redirect_refused
from ._fast import FastConnection

__all__ = ["open_connection"]


def _config(options: Options, anonymous: bool) -> AioConfig:
    settings: dict[str, Any] = {
        "max_pool_connections": options.max_connections,
        # Our Retry is the only retry loop; botocore's would multiply the attempts.
        "retries": {"max_attempts": 0, "mode": "standard"},
        # The newer defaults ("when_supported") break several S3-compatible servers.
        "request_checksum_calculation": "when_required",
        "response_checksum_validation": "when_required",
        "http_session_cls": _StayingSession,
    }
    if options.endpoint_url is not None:
        settings["s3"] = {"addressing_style": "path"}
    if options.timeout is not None:
        settings["connect_timeout"] = settings["read_timeout"] = options.timeout
    if anonymous:
        settings["signature_version"] = UNSIGNED
    else:  # what requests use anyway; botocore would otherwise presign URLs with SigV2
        settings["signature_version"] = "s3v4"
    return AioConfig(**settings)


class _NoRedirects:
    """An aiohttp session whose requests never follow a redirect."""

    def __init__(self, session: Any) -> None:
        self._session = session

    def request(self, *args: Any, **kwargs: Any) -> Any:
        return self._session.request(*args, **kwargs, allow_redirects=False)


class _StayingSession(AIOHTTPSession):  # type: ignore[misc]
    """aiobotocore's HTTP session, except that a redirect is answered to botocore, not followed.

    aiohttp would follow a ``Location`` to any host, carrying the session token and a PUT's
    body. Botocore then sees the 3xx itself: its region redirector signs again for the region
    S3 names (on the configured endpoint, or AWS's own for that region), and any other
    redirect becomes an error.
    """

    async def _get_session(self, proxy_url: str | None) -> Any:
        return _NoRedirects(await super()._get_session(proxy_url))

    def proxy_for(self, url: str) -> str | None:
        """The proxy botocore sends requests for ``url`` through (environment or config)."""
        proxy: str | None = self._proxy_config.proxy_url_for(url)
        return proxy

    def verify_context(self) -> ssl.SSLContext:
        """The TLS context botocore checks the endpoint with (``AWS_CA_BUNDLE``, ``ca_bundle``)."""
        context: ssl.SSLContext = self._build_verify_context()
        return context


def _name_redirect(response: Any = None, request_dict: Any = None, **_: Any) -> None:
    """Put the ``Location`` of a 3xx answer in the error botocore will raise for it.

    A 3xx naming no region must not reach botocore's redirector either: it would ask the same
    server for the bucket's region with a HEAD, whose redirect would ask again, without end.
    """
    if response is None or response[0] is None:
        return
    http, parsed = response
    if not 300 <= http.status_code < 400 or not isinstance(parsed, dict):
        return
    error = parsed.setdefault("Error", {})
    error["Message"] = redirect_refused(http.status_code, http.headers.get("location"))
    if "x-amz-bucket-region" not in http.headers and not error.get("Region"):
        context = request_dict.get("context", {}) if isinstance(request_dict, dict) else {}
        context.setdefault("s3_redirect", {})["redirected"] = True


_loader: Any = None


def _session(profile: str | None) -> AioSession:
    """A new session sharing the process's botocore data loader.

    The loader caches the parsed service models: sharing it makes a client about ten times
    cheaper to create (it holds no I/O state, so any loop or session may use it).
    """
    global _loader
    session = AioSession(profile=profile)
    if _loader is None:
        _loader = session.get_component("data_loader")
    else:
        session.register_component("data_loader", _loader)
    return session


async def open_connection(credential: Credential, options: Options) -> Connection:
    """Create the client for one credentials entry (inside the running loop)."""
    entry: Mapping[str, str] = credential if isinstance(credential, Mapping) else {}
    session = _session(entry.get("profile_name"))
    keys = {k: v for k, v in entry.items() if k != "profile_name"}
    creator = session.create_client(
        "s3",
        region_name=options.region,
        endpoint_url=options.endpoint_url,
        config=_config(options, anonymous=credential == ANONYMOUS),
        **keys,
    )
    stack = AsyncExitStack()
    try:
        client = await stack.enter_async_context(creator)
        # botocore dumps signed requests, session token included, to its DEBUG logs.
        guard_sdk_logs(("botocore", "aiobotocore"), keys.values())
        client.meta.events.register_first("needs-retry.s3", _name_redirect)
        http = client._endpoint.http_session
        endpoint = str(client.meta.endpoint_url)
        if not options.fast_path or http.proxy_for(endpoint) is not None:
            # Through a proxy, only botocore's transport knows the way.
            return Connection(client, stack, options.max_connections, options.max_object_bytes)
        https = endpoint.startswith("https:")
        return FastConnection(
            client,
            stack,
            options.max_connections,
            options.max_object_bytes,
            anonymous=credential == ANONYMOUS,
            path_style=options.endpoint_url is not None,
            context=await asyncio.to_thread(http.verify_context) if https else None,
        )
    except BaseException:
        await stack.aclose()
        raise
