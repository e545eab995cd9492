"""``bitstore head``: what a store knows about one blob, without reading it."""

from __future__ import annotations

from typing import Any

from ..meta import ObjectMeta
from ._listing import addressed, when
from ._run import OK, App

__all__ = ["head", "meta_dict"]


def meta_dict(key: str, meta: ObjectMeta) -> dict[str, Any]:
    """``meta`` as plain JSON values, its key first; the time in ISO 8601, UTC."""
    return {
        "key": key,
        "size": meta.size,
        "etag": meta.etag,
        "last_modified": when(meta.last_modified),
        "content_type": meta.content_type,
        "version": meta.version,
        "metadata": dict(meta.metadata),
    }


def _table(shown: dict[str, Any]) -> str:
    rows = [(name, value) for name, value in shown.items() if name != "metadata"]
    rows += [(f"metadata.{name}", value) for name, value in sorted(shown["metadata"].items())]
    width = max(len(name) for name, _ in rows)
    return "\n".join(f"{name:<{width}}  {'-' if value is None else value}" for name, value in rows)


async def head(app: App, key: str) -> int:
    """Print the [`ObjectMeta`][asyncbitstore.meta.ObjectMeta] of ``key`` (a key of the chain,
    or a URI or local path), as a table or with ``--json`` as an object."""
    async with addressed(app, key, "KEY") as target:
        meta = await target.store.head(target.uri)
        shown = meta_dict(target.uri, meta)
    app.emit(shown, _table(shown))
    return OK
