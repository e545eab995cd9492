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

#: Names imported on first access: name -> (module, pip extra that provides what it needs).
_LAZY: dict[str, tuple[str, str | None]] = {
    "S3Raw": ("asyncbitstore.raw.s3", "s3"),
    "GSRaw": ("asyncbitstore.raw.gs", "gcs"),
    "HTTPRaw": ("asyncbitstore.raw.http", "http"),
    "RedisRaw": ("asyncbitstore.raw.redis", "redis"),
    "SFTPRaw": ("asyncbitstore.raw.sftp", "sftp"),
    "SqliteRaw": ("asyncbitstore.raw.sqlite", None),
    "ConfigError": ("asyncbitstore.config", None),
    "memoize": ("asyncbitstore.memoize", None),
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
    if name not in _LAZY:
        raise AttributeError(f"module 'asyncbitstore' has no attribute {name!r}")
    module_name, extra = _LAZY[name]
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if extra and exc.name is not None and not exc.name.startswith("asyncbitstore"):
            raise ImportError(
                f"{name} needs the {exc.name!r} package: pip install 'asyncbitstore[{extra}]'"
            ) from exc
        raise
    value = getattr(module, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
