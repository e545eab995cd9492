"""Server-side copies for ``GSRaw``: the JSON API's ``rewrite``, followed to its end.

GCS may answer a rewrite with ``done: false`` and a ``rewriteToken`` (large objects, or a copy
between locations or storage classes); the same call is then repeated with that token until
an answer says ``done``. Each call is retried on its own, with the token it was given.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

from .._net.responses import read_chunk
from ._client import GSClient, check

__all__ = ["MAX_REWRITE_CALLS", "rewrite_step"]

#: Rewrite calls a copy may take before it is given up (each moves up to about 1 GiB or more).
MAX_REWRITE_CALLS = 100_000
_ANSWER_LIMIT = 1 << 20


async def rewrite_step(
    client: GSClient,
    src: tuple[str, str],
    dst: tuple[str, str],
    token: str | None,
) -> str | None:
    """One rewrite call: None once GCS says the copy is done, else the token to go on with.

    Raises:
        ValueError: an answer that is no JSON object, or neither done nor carrying a token.
    """
    url = f"{client.object_url(*src)}/rewriteTo/b/{dst[0]}/o/{quote(dst[1], safe='')}" + (
        "" if token is None else f"?rewriteToken={quote(token, safe='')}"
    )
    headers = await client.headers()
    async with client.session.post(
        url, json={}, headers=headers, timeout=client.timeout
    ) as response:
        await check(response, 200)
        body = await read_chunk(response.content, _ANSWER_LIMIT + 1, None)
    if len(body) > _ANSWER_LIMIT:
        raise ValueError("a rewrite answer over 1 MiB")
    answer: Any = json.loads(body)
    if not isinstance(answer, dict):
        raise ValueError("a rewrite answer that is not a JSON object")
    if answer.get("done") is True:
        return None
    following = answer.get("rewriteToken")
    if not isinstance(following, str) or not following:
        raise ValueError("a rewrite answer neither done nor carrying a rewriteToken")
    return following
