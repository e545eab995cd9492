"""How a named cache keeps under ``max_bytes``: the raw store's own least-recently-used bound."""

from __future__ import annotations

from .._core.checks import non_negative_int
from ..raw.file import FileRaw
from ..raw.file.bounded import BoundedFileRaw
from ..raw.memory import MemoryRaw
from ..store import Store
from ._layout import Flat, Layout, Plain

__all__ = ["bounded"]


def bounded(raw: Store, prefix: str, max_bytes: int | None) -> tuple[Store, Layout]:
    """The store to keep blobs in and how keys sit in it, bounded by ``max_bytes`` if set.

    A ``FileRaw`` becomes a bounded cache folder at ``prefix`` (its index survives restarts
    and is shared by processes), with keys as flat file names; a ``MemoryRaw`` takes the bound
    itself (it must be empty, or already have that bound).

    Raises:
        ValueError: ``max_bytes`` with any other raw store, or with a memory store that holds
            blobs or has another bound.
    """
    if max_bytes is None:
        return raw, Plain(prefix)
    non_negative_int("max_bytes", max_bytes)
    if isinstance(raw, FileRaw):
        return BoundedFileRaw(raw, prefix, max_bytes), Flat(prefix)
    if isinstance(raw, MemoryRaw):
        if raw.max_bytes is None and len(raw) == 0:
            raw.max_bytes = max_bytes
        elif raw.max_bytes != max_bytes:
            raise ValueError(
                f"max_bytes={max_bytes} needs an empty, unbounded MemoryRaw (or one bounded "
                f"at {max_bytes}); this one is {raw.name} with {len(raw)} blobs"
            )
        return raw, Plain(prefix)
    raise ValueError(
        f"max_bytes needs a FileRaw or a MemoryRaw to bound, not {raw.name}; "
        "leave it out, or bound the backend itself"
    )
