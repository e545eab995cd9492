"""Module paths of 0.1.0 that moved, kept importable so that its pickles still load.

Pickles name classes by module path, private ones included (a chain pickles its tiers). An old
path imports as a small module that reads every attribute from the new one; nothing is copied
and nothing is loaded until the old path is asked for.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
import types
from collections.abc import Sequence
from typing import Any

__all__ = ["MOVED", "install"]

#: Old module path -> the module that holds its contents now.
MOVED: dict[str, str] = {
    "asyncbitstore._bulk": "asyncbitstore._core.bulk",
    "asyncbitstore._cache_files": "asyncbitstore.raw.file._layout",
    "asyncbitstore._circuit": "asyncbitstore.composite._circuit",
    "asyncbitstore._cli_copy": "asyncbitstore.cli._copy",
    "asyncbitstore._cli_io": "asyncbitstore.cli._io",
    "asyncbitstore._cli_ops": "asyncbitstore.cli._ops",
    "asyncbitstore._cli_run": "asyncbitstore.cli._run",
    "asyncbitstore._cli_show": "asyncbitstore.cli._show",
    "asyncbitstore._cli_stats": "asyncbitstore.cli._stats",
    "asyncbitstore._codec": "asyncbitstore.compression.codecs",
    "asyncbitstore._codec_base": "asyncbitstore.compression.frame",
    "asyncbitstore._codec_io": "asyncbitstore.compression.store_io",
    "asyncbitstore._codec_zstd": "asyncbitstore.compression.zstd",
    "asyncbitstore._config_backends": "asyncbitstore.config._backends",
    "asyncbitstore._config_check": "asyncbitstore.config._check",
    "asyncbitstore._data": "asyncbitstore._core.data",
    "asyncbitstore._deadline": "asyncbitstore._core.deadline",
    "asyncbitstore._fills": "asyncbitstore.composite._fills",
    "asyncbitstore._memoize_keys": "asyncbitstore.memoize._keys",
    "asyncbitstore._memoize_loop": "asyncbitstore._core.loop_thread",
    "asyncbitstore._redact": "asyncbitstore._core.redact",
    "asyncbitstore._resources": "asyncbitstore._core.resources",
    "asyncbitstore._singleflight": "asyncbitstore._core.singleflight",
    "asyncbitstore._tee": "asyncbitstore.composite._tee",
    "asyncbitstore._tier": "asyncbitstore.composite._tier",
    "asyncbitstore._uri": "asyncbitstore._core.redact",
    "asyncbitstore._write_source": "asyncbitstore._core.write_source",
    "asyncbitstore.cache_index": "asyncbitstore.raw.file._index",
    "asyncbitstore.progress": "asyncbitstore._core.progress",
    "asyncbitstore.raw._aiohttp": "asyncbitstore.raw._net.aiohttp",
    "asyncbitstore.raw._batcher": "asyncbitstore.raw._threads",
    "asyncbitstore.raw._fileops": "asyncbitstore.raw.file._ops",
    "asyncbitstore.raw._gs_client": "asyncbitstore.raw.gs._client",
    "asyncbitstore.raw._gs_io": "asyncbitstore.raw.gs._io",
    "asyncbitstore.raw._h1": "asyncbitstore.raw._net.h1",
    "asyncbitstore.raw._httpproto": "asyncbitstore.raw.http._proto",
    "asyncbitstore.raw._redis": "asyncbitstore.raw.redis._commands",
    "asyncbitstore.raw._s3client": "asyncbitstore.raw.s3._client",
    "asyncbitstore.raw._s3credentials": "asyncbitstore.raw.s3._credentials",
    "asyncbitstore.raw._s3errors": "asyncbitstore.raw.s3._errors",
    "asyncbitstore.raw._s3fast": "asyncbitstore.raw.s3._fast",
    "asyncbitstore.raw._s3multipart": "asyncbitstore.raw.s3._multipart",
    "asyncbitstore.raw._s3sign": "asyncbitstore.raw.s3._sign",
    "asyncbitstore.raw._sftp_link": "asyncbitstore.raw.sftp._link",
    "asyncbitstore.raw._sftp_ops": "asyncbitstore.raw.sftp._ops",
    "asyncbitstore.raw._sqlite_conn": "asyncbitstore.raw.sqlite._conn",
    "asyncbitstore.raw._sqlite_db": "asyncbitstore.raw.sqlite._db",
    "asyncbitstore.raw._sqlite_hops": "asyncbitstore.raw.sqlite._hops",
}


class _MovedModules(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None,
        target: types.ModuleType | None = None,
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname not in MOVED:
            return None
        return importlib.machinery.ModuleSpec(fullname, self)

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType | None:
        return None  # the default: a fresh, empty module

    def exec_module(self, module: types.ModuleType) -> None:
        current = importlib.import_module(MOVED[module.__name__])

        def forward(name: str) -> Any:
            return getattr(current, name)

        module.__getattr__ = forward  # type: ignore[method-assign]
        module.__doc__ = f"Moved to {current.__name__}."


def install() -> None:
    """Let the old module paths import (once per process)."""
    if not any(isinstance(finder, _MovedModules) for finder in sys.meta_path):
        sys.meta_path.append(_MovedModules())
