"""A TCP proxy on loopback that caps each connection's bandwidth, both ways.

Cloud object stores serve one connection at a fraction of what a host can take; on loopback a
single connection runs at memory speed, which hides what parallel parts and ranges are for.
This proxy models the cap: every connection it accepts is forwarded to ``--upstream``, and
each direction of it is held to ``--rate`` MB/s (a token bucket with a short burst), so a
client gains from several connections exactly as it would over a real link.

Run alone (``python benchmarks/_throttle.py --upstream 127.0.0.1:8333 --rate 40``: it prints
the port it listens on) or from a benchmark with `throttled`, which runs it in its own process
so its pumping does not share the measured client's core.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator

CHUNK = 256 << 10
BURST_SECONDS = 0.05


class Bucket:
    """Tokens for one direction of one connection: ``rate`` bytes a second, a short burst."""

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self.capacity = max(rate * BURST_SECONDS, CHUNK)
        self.tokens = self.capacity
        self.stamp = time.monotonic()

    async def take(self, n: int) -> None:
        """Wait until ``n`` bytes may pass."""
        now = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        self.tokens -= n
        if self.tokens < 0:
            await asyncio.sleep(-self.tokens / self.rate)


async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, rate: float) -> None:
    bucket = Bucket(rate)
    try:
        while data := await reader.read(CHUNK):
            await bucket.take(len(data))
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        with contextlib.suppress(Exception):
            writer.close()


async def serve(upstream: tuple[str, int], rate: float, port: int = 0) -> None:
    """Listen on 127.0.0.1 (``port``, 0 for any), print the port, forward until killed."""

    async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*upstream)
        except OSError:
            writer.close()
            return
        await asyncio.gather(_pump(reader, up_writer, rate), _pump(up_reader, writer, rate))

    server = await asyncio.start_server(accept, "127.0.0.1", port)
    print(server.sockets[0].getsockname()[1], flush=True)
    async with server:
        await server.serve_forever()


@contextlib.contextmanager
def throttled(upstream: str, rate_mb: float) -> Iterator[str]:
    """Run the proxy in a child process in front of ``upstream`` (``http://host:port``);
    yields the proxy's endpoint URL. Each connection is held to ``rate_mb`` MB/s each way."""
    host, _, port = upstream.removeprefix("http://").rstrip("/").partition(":")
    command = [sys.executable, os.path.abspath(__file__), "--upstream", f"{host}:{port}"]
    command += ["--rate", str(rate_mb)]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        listening = proc.stdout.readline().strip()
        if not listening.isdigit():
            raise RuntimeError("the throttling proxy did not start")
        yield f"http://127.0.0.1:{listening}"
    finally:
        proc.terminate()
        proc.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--upstream", required=True, help="host:port to forward to")
    parser.add_argument("--rate", type=float, default=40.0, help="MB/s per connection, each way")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    host, _, port = args.upstream.rpartition(":")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve((host, int(port)), args.rate * 1e6, args.port))


if __name__ == "__main__":
    main()
