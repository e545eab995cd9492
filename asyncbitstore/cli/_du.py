"""``bitstore du``: the bytes stored under a prefix (or matching a pattern), blob by blob and
in total."""

from __future__ import annotations

from typing import Any

import click

from . import _glob
from ._listing import addressed, described, human_size, listed
from ._paths import no_match
from ._run import OK, App

__all__ = ["du"]


async def du(app: App, prefix: str, *, summary: bool, human: bool) -> int:
    """Print each blob's size and the total under ``prefix``; with ``summary``, the total only.

    Sizes are as stored (a blob stored compressed counts its compressed bytes), as ``ls -l``
    and ``head`` report them. With ``--json``: ``{"prefix", "objects", "bytes"}``, plus
    ``"sizes"`` (key to bytes) without ``summary``.
    """
    show = human_size if human else str
    total = objects = 0
    sizes: dict[str, int] = {}
    async with addressed(app, prefix, "PREFIX") as target:
        async for uri, meta in described(target.store, listed(target), app.concurrency):
            if meta is None:
                continue  # deleted since it was listed
            objects += 1
            total += meta.size
            if summary:
                continue
            if app.json:
                sizes[uri] = meta.size
            else:
                click.echo(f"{show(meta.size):>10}  {uri}")
    if not objects and _glob.has_magic(prefix):
        no_match("PREFIX", prefix)
    result: dict[str, Any] = {"prefix": prefix, "objects": objects, "bytes": total}
    if not summary:
        result["sizes"] = sizes
    app.emit(result, f"{show(total):>10}  {prefix or '.'}  ({objects} objects)")
    return OK
