"""asyncbitstore: asyncio-native access to tiered, cloud-backed blob storage.

Build a chain of caches in front of sources and ``await store.get(key)``: tiers are asked in
order, the first hit wins, and the caches above it are filled in the background.

Cloud backends (``S3Raw``, ``GSRaw``, ``HTTPRaw``, ``RedisRaw``) are imported on first use, so
``import asyncbitstore`` loads no cloud SDK.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._core import moved
from .composite import Composite, HashComposite, Sha1Composite
from .errors import (
    BitstoreError,
    CompressedRange,
    InvalidDataFound,
    InvalidRange,
    InvalidURI,
    NotFoundInStore,
    NotWritable,
    StoreFull,
    StoreNotAvailable,
    StoreTimeout,
)
from .hashing import (
    HashAPISource,
    HashCache,
    HashStore,
    Sha1APISource,
    Sha1Cache,
    Sha1Store,
)
from .listing import list_flat
from .raw import BY_CLASS
from .raw.file import FileRaw
from .raw.memory import MemoryRaw
from .retry import Retry
from .stats import ChainStats, TierStats
from .store import Store
from .transfer import TransferResult, transfer
from .wrappers import Fanout, Small

if TYPE_CHECKING:
    from .config import ConfigError
    from .memoize import memoize
    from .raw.gs import GSRaw
    from .raw.http import HTTPRaw
    from .raw.redis import RedisRaw
    from .raw.s3 import S3Raw
    from .raw.sftp import SFTPRaw
    from .raw.sqlite import SqliteRaw

__version__ = "0.1.0"

moved.install()

#: Names other than backends imported on first access: name -> module.
_LAZY: dict[str, str] = {
    "ConfigError": "asyncbitstore.config",
    "memoize": "asyncbitstore.memoize",
}

__all__ = [
    "BitstoreError",
    "ChainStats",
    "Composite",
    "CompressedRange",
    "ConfigError",
    "Fanout",
    "FileRaw",
    "GSRaw",
    "HTTPRaw",
    "HashAPISource",
    "HashCache",
    "HashComposite",
    "HashStore",
    "InvalidDataFound",
    "InvalidRange",
    "InvalidURI",
    "MemoryRaw",
    "NotFoundInStore",
    "NotWritable",
    "RedisRaw",
    "Retry",
    "S3Raw",
    "SFTPRaw",
    "Sha1APISource",
    "Sha1Cache",
    "Sha1Composite",
    "Sha1Store",
    "Small",
    "SqliteRaw",
    "Store",
    "StoreFull",
    "StoreNotAvailable",
    "StoreTimeout",
    "TierStats",
    "TransferResult",
    "list_flat",
    "memoize",
    "transfer",
]


def __getattr__(name: str) -> Any:
    backend = BY_CLASS.get(name)
    if backend is not None:
        value: Any = backend.load()
    elif name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
    else:
        raise AttributeError(f"module 'asyncbitstore' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
