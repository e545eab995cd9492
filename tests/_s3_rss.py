"""Peak memory of one whole-object `S3Raw.get`, run in its own process.

Usage: ``python tests/_s3_rss.py ENDPOINT WARM_URI URI [OPTION=INT ...]`` (the package imported
is the one on ``PYTHONPATH``; options are `S3Raw` keywords, ``parallel_threshold=0`` meaning
None). Prints the object's size and how much the process's peak resident memory grew during the
read, in bytes, after a warm-up read of ``WARM_URI`` (client, connections, imports).
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any

from tests.raw._gcs_rss import print_growth


async def _main(endpoint: str, warm: str, uri: str, *options: str) -> None:
    from asyncbitstore import S3Raw

    keywords: dict[str, Any] = {}
    for option in options:
        name, value = option.split("=")
        keywords[name] = int(value) or None
    credentials = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
    async with S3Raw(credentials, endpoint_url=endpoint, **keywords) as store:
        await print_growth(store, warm, uri)


if __name__ == "__main__":
    asyncio.run(_main(*sys.argv[1:]))
