"""Raw stores: one module per protocol, each addressed by full URIs, and the list of them.

`BACKENDS` is the one place that says which backends exist: for each, its URI schemes, the
module and class that implement it, and the pip extra its SDK comes with. The package root
(`asyncbitstore.S3Raw`, ...), the configuration and the `bitstore` command all read it.

This module imports no backend: modules are named by strings and imported by `Backend.load`,
so that `import asyncbitstore.raw` loads no cloud SDK.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..store import Store

__all__ = ["BACKENDS", "BY_CLASS", "BY_SCHEME", "Backend", "backend_for", "schemes_text"]


@dataclass(frozen=True)
class Backend:
    """One raw backend.

    Attributes:
        name: a short name, also its first URI scheme (`"s3"`, `"http"`).
        schemes: the URI schemes it serves, lower case, without `://`.
        module: the dotted path of the module that defines the class.
        class_name: the raw store class, as exported from `asyncbitstore`.
        extra: the pip extra that installs what it needs, or `None` when nothing is needed.
        requires: the top-level packages of that extra the backend cannot do without (top-level
            names only: looking up a dotted name would import its parents).
    """

    name: str
    schemes: tuple[str, ...]
    module: str
    class_name: str
    extra: str | None
    requires: tuple[str, ...] = ()

    def installed(self) -> bool:
        """Whether the packages it needs are installed (looked up, not imported)."""
        return all(importlib.util.find_spec(name) is not None for name in self.requires)

    def load(self) -> type[Store]:
        """The store class, imported now.

        Raises:
            ImportError: a package the backend needs is missing; the message names the
                `pip install 'asyncbitstore[extra]'` that provides it.
        """
        try:
            module = importlib.import_module(self.module)
        except ModuleNotFoundError as exc:
            missing = exc.name
            if self.extra and missing is not None and not missing.startswith("asyncbitstore"):
                raise ImportError(
                    f"{self.class_name} needs the {missing!r} package: "
                    f"pip install 'asyncbitstore[{self.extra}]'"
                ) from exc
            raise
        cls: type[Store] = getattr(module, self.class_name)
        return cls


def _backend(
    schemes: tuple[str, ...], module: str, class_name: str, extra: str | None, *requires: str
) -> Backend:
    return Backend(schemes[0], schemes, f"asyncbitstore.raw.{module}", class_name, extra, requires)


#: Every raw backend, in the order they are listed in messages.
BACKENDS: tuple[Backend, ...] = (
    _backend(("file",), "file", "FileRaw", None),
    _backend(("mem",), "memory", "MemoryRaw", None),
    _backend(("s3",), "s3", "S3Raw", "s3", "aiobotocore", "aiohttp"),
    _backend(("gs",), "gs", "GSRaw", "gcs", "gcloud", "aiohttp"),
    _backend(("http", "https"), "http", "HTTPRaw", "http", "aiohttp"),
    _backend(("redis", "rediss"), "redis", "RedisRaw", "redis", "redis"),
    _backend(("sftp",), "sftp", "SFTPRaw", "sftp", "asyncssh"),
    _backend(("sqlite",), "sqlite", "SqliteRaw", None),
    _backend(("az",), "azure", "AzureRaw", "azure", "azure", "aiohttp"),
)

#: URI scheme -> its backend.
BY_SCHEME: Mapping[str, Backend] = {s: b for b in BACKENDS for s in b.schemes}

#: Class name (as exported from `asyncbitstore`) -> its backend.
BY_CLASS: Mapping[str, Backend] = {b.class_name: b for b in BACKENDS}


def backend_for(scheme: str) -> Backend | None:
    """The backend serving `scheme` (`"s3"`, any case, without `://`), or `None`."""
    return BY_SCHEME.get(scheme.lower())


def schemes_text() -> str:
    """Every scheme as a reader would write it: `"file://, mem://, s3://, ..."`."""
    return ", ".join(f"{scheme}://" for scheme in BY_SCHEME)
