"""``local_path(store, uri)``: a blob as a real local file, pinned while a block runs.

For tools that need a file rather than bytes (memory maps, subprocesses). It is the same as
``store.local_path(uri)``; each store decides where the path comes from (`Store.local_path`,
`Store.local_file`): a local file store hands out the blob's own file, a chain the file in its
first local file tier that has it (filling one if needed), any other store a temporary copy.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .store import Store

__all__ = ["local_path"]


def local_path(store: Store, uri: str) -> contextlib.AbstractAsyncContextManager[Path]:
    """``async with local_path(store, uri) as path``: the same as ``store.local_path(uri)``.

    Raises:
        NotFoundInStore: the store (chain) does not have the blob.
        InvalidURI: the store does not accept ``uri``.
    """
    return store.local_path(uri)
