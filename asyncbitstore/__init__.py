"""asyncbitstore: asyncio-native access to tiered, cloud-backed blob storage.

Build a chain of caches in front of sources and ``await store.get(key)``: tiers are asked in
order, the first hit wins, and the caches above it are filled in the background.

Backends that need an SDK (``S3Raw``, ``GSRaw``, ``HTTPRaw``, ``RedisRaw``, ``SFTPRaw``) are
imported on first use, so ``import asyncbitstore`` loads no cloud SDK; one whose extra is not
installed raises an ImportError naming the ``pip install`` that provides it, and is left out of
``from asyncbitstore import *``.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from ._core import moved
from ._core.redact import guard_sdk_logs
from ._core.version import package_version
from .composite import Composite, HashComposite, Sha1Composite
from .errors import (
    AlreadyExists,
    BitstoreError,
    BucketNotFound,
    CircuitOpen,
    CompressedRange,
    ConfigError,
    InvalidDataFound,
    InvalidRange,
    InvalidURI,
    NotFoundInStore,
    NotWritable,
    ObjectChanged,
    PathEscapesRoot,
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
from .memoize import memoize
from .meta import ObjectMeta
from .named import MirrorCache, PrefixCache, PrefixStore
from .raw import BY_CLASS
from .raw.file import FileRaw
from .raw.memory import MemoryRaw
from .retry import Retry
from .stats import ChainStats, TierStats
from .store import BulkOptions, Store, StreamOptions
from .transfer import TransferResult, transfer
from .wrappers import Fanout, Small

if TYPE_CHECKING:
    from .raw.gs import GSRaw
    from .raw.http import HTTPRaw
    from .raw.redis import RedisRaw
    from .raw.s3 import S3Raw
    from .raw.sftp import SFTPRaw
    from .raw.sqlite import SqliteRaw

moved.install()

# A library leaves its log's display to the application: without this, Python's last-resort
# handler would print the library's warnings on stderr of a program that configured no logging.
logging.getLogger(__name__).addHandler(logging.NullHandler())
# Retry records quote a failure's message: the one redaction filter masks credentials in them.
guard_sdk_logs(("asyncbitstore.retry",))

__all__ = [
    "AlreadyExists",
    "AzureRaw",
    "BitstoreError",
    "BucketNotFound",
    "BulkOptions",
    "ChainStats",
    "CircuitOpen",
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
    "MirrorCache",
    "NotFoundInStore",
    "NotWritable",
    "ObjectChanged",
    "ObjectMeta",
    "PathEscapesRoot",
    "PrefixCache",
    "PrefixStore",
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
    "StreamOptions",
    "TierStats",
    "TransferResult",
    "list_flat",
    "memoize",
    "transfer",
]


#: What ``from asyncbitstore import *`` brings: backends whose extra is missing are left out.
__all__ = sorted(name for name in __all__ if name not in BY_CLASS or BY_CLASS[name].installed())


def __getattr__(name: str) -> Any:
    if name == "__version__":
        return package_version()
    backend = BY_CLASS.get(name)
    if backend is None:
        raise AttributeError(f"module 'asyncbitstore' has no attribute {name!r}")
    value: Any = backend.load()
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*__all__, *BY_CLASS})
