"""One large object read whole by several clients, on loopback and through a throttled link.

Shared by `gcs.py` and `azure.py`: each names its clients (a coroutine function per client and
endpoint that reads the object and returns its length); `compare` times them in rounds whose
order rotates, so that no client always meets a warmer server, and `show` prints medians with
every client's time as a ratio of the first one's (below 1: faster than it).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Awaitable, Callable

#: Reads the object whole and returns how many bytes it had.
Read = Callable[[], Awaitable[int]]

#: MB/s each connection is held to by the throttling proxy (a cloud link's single connection).
THROTTLE_MBPS = 40


async def compare(clients: dict[str, Read], size: int, rounds: int) -> dict[str, list[float]]:
    """Seconds per read of every client, over ``rounds`` rounds (after one warm-up read)."""
    for read in clients.values():
        assert await read() == size
    times: dict[str, list[float]] = {name: [] for name in clients}
    names = list(clients)
    for turn in range(rounds):
        for name in names[turn % len(names) :] + names[: turn % len(names)]:
            start = time.perf_counter()
            assert await clients[name]() == size
            times[name].append(time.perf_counter() - start)
    return times


def show(title: str, times: dict[str, list[float]], size: int) -> dict[str, dict[str, float]]:
    """Print a table of medians (seconds, MB/s, ratio to the first client); return it."""
    print(title)
    print(f"{'client':<34}{'median s':>10}{'min-max s':>16}{'MB/s':>9}{'ratio':>8}")
    base = statistics.median(next(iter(times.values())))
    table = {}
    for name, runs in times.items():
        median = statistics.median(runs)
        spread = f"{min(runs):.3f}-{max(runs):.3f}"
        ratio = median / base
        print(f"{name:<34}{median:>10.3f}{spread:>16}{size / median / 1e6:>9.0f}{ratio:>8.2f}")
        table[name] = {"median_s": median, "mb_per_s": size / median / 1e6, "ratio": ratio}
    return table
