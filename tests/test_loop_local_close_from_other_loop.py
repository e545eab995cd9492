"""Closing a per-loop client from another event loop (a store used through zarr's or another
library's loop thread, then closed by the application's loop) sets the client aside instead of
dropping it: dropping it makes its library warn about an unclosed session at garbage collection."""

from __future__ import annotations

import asyncio
import gc
import threading
import warnings

from asyncbitstore._core.resources import LoopLocal


class Client:
    """Warns when collected unclosed, as aiohttp's session does."""

    def __init__(self) -> None:
        self.closed = False

    def __del__(self, warn=warnings.warn) -> None:  # bound early: it may run at shutdown
        if not self.closed:
            warn("unclosed client", ResourceWarning, stacklevel=1)


async def make() -> Client:
    return Client()


async def close(client: Client) -> None:
    client.closed = True


async def test_a_client_of_another_loop_is_set_aside_on_close() -> None:
    local: LoopLocal[Client] = LoopLocal(make, close)
    other = asyncio.new_event_loop()
    thread = threading.Thread(target=other.run_forever, daemon=True)
    thread.start()
    try:
        made = asyncio.run_coroutine_threadsafe(local.get(), other).result(timeout=30)
        assert not made.closed
        del made
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            await local.aclose()  # from this loop, not the one that made the client
            gc.collect()
        assert not [w for w in caught if issubclass(w.category, ResourceWarning)]
        # The loop that made it gets a fresh client on its next call.
        again = asyncio.run_coroutine_threadsafe(local.get(), other).result(timeout=30)
        assert not again.closed
        await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(local.aclose(), other))
        assert again.closed
    finally:
        other.call_soon_threadsafe(other.stop)
        thread.join(timeout=30)
        other.close()
