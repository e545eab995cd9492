"""HTTPRaw refuses an Authorization header together with ``user:password@`` credentials.

aiohttp cannot send both and raises a bare ValueError; the store must answer with one of its own
errors instead, whether the credentials come in the URL asked for or in a redirect a server
answers with, and the message must not show the password.
"""

from __future__ import annotations

from typing import Any

import pytest

from asyncbitstore import BitstoreError, HTTPRaw, InvalidURI, Retry, StoreNotAvailable
from tests.hostile import Scripted, ok

PASSWORD = "pw-FAKE-url-password-93d1"
HEADERS = {"authorization": "Bearer FAKE-header-token-11ab"}


async def _serve(server: Scripted, reader: Any, writer: Any, n: int) -> None:
    """``/jump`` redirects to a URL with credentials on the same origin; the rest is a blob."""
    while head := await server.head(reader):
        if b" /jump " in head.split(b"\r\n")[0]:
            target = f"http://user:{PASSWORD}@{server.authority}/blob"
            writer.write(
                f"HTTP/1.1 302 Found\r\nLocation: {target}\r\nContent-Length: 0\r\n\r\n".encode()
            )
        else:
            writer.write(ok(b"data"))


def _assert_quiet(error: BaseException) -> None:
    assert isinstance(error, BitstoreError)
    assert PASSWORD not in str(error) and PASSWORD not in repr(error)


@pytest.mark.parametrize("call", ["get", "size", "exists", "stream", "list"])
async def test_a_url_with_credentials_is_refused_before_any_request(call: str) -> None:
    async with Scripted(_serve) as server:
        url = f"http://user:{PASSWORD}@{server.authority}/{'dir/' if call == 'list' else 'blob'}"
        async with HTTPRaw(headers=HEADERS, retry=Retry(attempts=1)) as store:
            with pytest.raises(InvalidURI, match="Authorization") as caught:
                if call in ("stream", "list"):
                    [x async for x in getattr(store, call)(url)]
                else:
                    await getattr(store, call)(url)
    _assert_quiet(caught.value)
    assert server.requests == []


async def test_a_redirect_to_a_url_with_credentials_is_a_library_error() -> None:
    store = HTTPRaw(headers=HEADERS, retry=Retry(attempts=1))
    async with Scripted(_serve) as server, store:
        with pytest.raises(StoreNotAvailable, match="Authorization") as caught:
            await store.get(f"http://{server.authority}/jump")
        with pytest.raises(StoreNotAvailable, match="Authorization"):
            [x async for x in store.stream(f"http://{server.authority}/jump")]
    _assert_quiet(caught.value)


async def test_credentials_in_the_url_still_work_without_an_authorization_header() -> None:
    async with Scripted(_serve) as server, HTTPRaw(headers={"X-Other": "1"}) as store:
        assert await store.get(f"http://user:{PASSWORD}@{server.authority}/blob") == b"data"
    assert b"Authorization: Basic " in server.requests[0]
