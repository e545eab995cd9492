"""Peak memory of one whole-object `GSRaw.get`, run in its own process.

Usage: ``python tests/raw/_gcs_rss.py API_ROOT WARM_URI URI [OPTIONS]`` (the package imported
is the one on ``PYTHONPATH``; ``OPTIONS``, a JSON object of `GSRaw` keyword options). Prints the
object's size and how much the process's peak resident memory grew during the read, in bytes,
after a warm-up read of ``WARM_URI`` (client, session, imports).
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any


def _peak() -> int:
    # VmHWM, not ru_maxrss: that one keeps the parent's figure across fork and exec.
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


async def _main(api_root: str, warm: str, uri: str, options: str = "{}") -> None:
    from asyncbitstore import GSRaw

    async with GSRaw(api_root=api_root, **json.loads(options)) as store:
        await print_growth(store, warm, uri)


async def print_growth(store: Any, warm: str, uri: str) -> None:
    """Get ``warm`` (so pools and buffers exist), then ``uri``; print its length and how much
    the peak resident memory grew during that second get."""
    await store.get(warm)
    before = _peak()
    data = await store.get(uri)
    print(len(data), _peak() - before)


if __name__ == "__main__":
    asyncio.run(_main(*sys.argv[1:5]))
