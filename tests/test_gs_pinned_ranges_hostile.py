"""GSRaw's spans and pinned ranges against a scripted server that ignores what was asked.

A server that drops the ``Range`` header still gives the span its whole length; one that
drops ``generation=`` and answers another generation's bytes is caught by the answer's
``X-Goog-Generation`` and never joined to the first range's bytes.
"""

from __future__ import annotations

import os
from typing import Any

import pytest

from asyncbitstore import GSRaw, ObjectChanged, Retry

from .hostile import Scripted, ok

DATA = os.urandom(1000)


def _whole_body_server(generation: str) -> Scripted:
    """Answers every request with all of DATA (200), naming ``generation``."""

    async def handler(server: Scripted, reader: Any, writer: Any, n: int) -> None:
        while await server.head(reader):
            extra = f"X-Goog-Generation: {generation}\r\nX-Goog-Meta-Bitstore-Frame: none\r\n"
            writer.write(ok(DATA, extra))
            await writer.drain()

    return Scripted(handler)


async def test_a_range_answered_whole_still_gives_the_total() -> None:
    async with (
        _whole_body_server("5") as server,
        GSRaw(api_root=f"http://{server.authority}", retry=Retry(attempts=1)) as store,
    ):
        uri = "gs://bkt/obj"
        span = await store._stored_span(uri, store._locate(uri), 100, 200, 100, 200)
        assert (span.data, span.total, span.version) == (DATA[100:200], len(DATA), "5")
        assert await store._pinned_range(uri, store._locate(uri), 900, 1000, "5") == DATA[900:]


async def test_another_generation_in_the_answer_is_object_changed() -> None:
    async with (
        _whole_body_server("6") as server,
        GSRaw(api_root=f"http://{server.authority}") as store,
    ):
        uri = "gs://bkt/obj"
        with pytest.raises(ObjectChanged) as caught:
            await store._pinned_range(uri, store._locate(uri), 100, 200, "5")
        assert caught.value.version == "5"
        assert len(server.requests) == 1
        assert b"generation=5" in server.requests[0]
