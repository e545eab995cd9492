"""Only 200 and 206 are answers: any other status a peer sends instead is a failure, never data.

A scripted peer answers every request with one odd status (an informational one surfacing as
final, 204, or an unusual 2xx carrying a body). On every backend and both S3 paths, ``exists``
must not say True, ``size`` must not say 0, and ``get``/``get_range`` must not return bytes:
each raises ``StoreNotAvailable`` (after the retry policy ran out, or at once).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from asyncbitstore import StoreNotAvailable
from tests.reliability.hostile_http import KINDS, Request, answer, peer, store_for


def with_body(status: int, request: Request) -> bytes:
    """What a 200 would carry: GCS metadata for a metadata request, else bytes."""
    if request.metadata:
        return answer(status, b'{"name": "key", "size": "5"}', Content_Type="application/json")
    return answer(status, b"hello", ETag='"x"')


UPGRADE = b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: x\r\n\r\n"
ODD = {
    "101": lambda request: UPGRADE,
    "204": lambda request: b"HTTP/1.1 204 No Content\r\n\r\n",
    "203-with-a-body": lambda request: with_body(203, request),
    "299-with-a-body": lambda request: with_body(299, request),
}
CALLS: dict[str, Callable[[Any, str], Awaitable[Any]]] = {
    "exists": lambda store, uri: store.exists(uri),
    "size": lambda store, uri: store.size(uri),
    "get": lambda store, uri: store.get(uri),
    "get_range": lambda store, uri: store.get_range(uri, 0, 3),
}


@pytest.mark.parametrize("call", CALLS)
@pytest.mark.parametrize("odd", ODD)
@pytest.mark.parametrize("kind", KINDS)
async def test_an_odd_status_is_no_answer(kind: str, odd: str, call: str) -> None:
    reply: Callable[[Request], bytes] = ODD[odd]
    async with peer(reply) as server:
        store, uri = store_for(kind, server, limit=1.0)
        async with store:
            with pytest.raises(StoreNotAvailable) as caught:
                found = await CALLS[call](store, uri)
                pytest.fail(f"{call} answered {found!r}")
    assert server.requests, "the store never asked"
    assert "testing" not in str(caught.value)
