"""Asking whether a blob is there by reading something of it."""

from __future__ import annotations

from collections.abc import Awaitable

from ..errors import NotFoundInStore

__all__ = ["answers"]


async def answers(read: Awaitable[object]) -> bool:
    """Whether ``read`` (a read of a blob, its metadata, ...) finds the blob: ``False`` when
    it raises `NotFoundInStore`; any other error propagates."""
    try:
        await read
    except NotFoundInStore:
        return False
    return True
