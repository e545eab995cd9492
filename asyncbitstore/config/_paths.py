"""Local paths in a tier: a relative one is taken from the configuration's folder.

A file is read from anywhere (``bitstore --config conf/bitstore.toml``, a service started from
another folder), so ``uri = "cache/"`` means the ``cache`` folder beside the file, whatever the
working folder. The base folder is absolute (the caller makes it from the file's resolved path,
or from the working folder for a mapping), so every path here comes out absolute and stays
right if the process changes folder later.

The local paths of a tier: the URI of a ``file://`` tier (plain path, ``file://rel/`` or
``file:///abs/``), the database file in a ``sqlite://`` URI, an SFTP tier's ``known_hosts`` and
``client_keys``, and a GCS tier's ``credentials`` when it names a key file. Remote URIs are
left as written.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

__all__ = ["absolute", "resolve_tier_paths"]

#: Options naming local files, by scheme; a list value holds one path per item.
_PATH_OPTIONS: dict[str, tuple[str, ...]] = {
    "sftp": ("known_hosts", "client_keys"),
    "gs": ("credentials",),
}
#: Prefixes of a URI after which comes a local path, by scheme (``file`` also takes bare paths).
_URI_PREFIXES: dict[str, str] = {"file": "file://", "sqlite": "sqlite://"}


def absolute(path: str, base_dir: Path) -> str:
    """``path`` with ``~`` expanded; a relative one joined to ``base_dir`` and normalized (an
    absolute one is left as written). A trailing ``/`` is kept: in a URI prefix it means
    "inside this folder". An empty path stays empty, for the backend to refuse."""
    expanded = os.path.expanduser(path)
    if not expanded or os.path.isabs(expanded):
        return expanded
    joined = os.path.normpath(os.path.join(base_dir, expanded))
    return joined + "/" if path.endswith("/") and not joined.endswith("/") else joined


def _uri(uri: str, scheme: str, base_dir: Path) -> str:
    prefix = _URI_PREFIXES.get(scheme)
    if prefix is None:
        return uri
    if scheme == "file" and "://" not in uri:
        return absolute(uri, base_dir)
    path = uri[len(prefix) :]
    if scheme == "file" and path.lower().startswith("localhost/"):
        path = path[len("localhost") :]  # file://localhost/abs is file:///abs
    return prefix + absolute(path, base_dir)


def resolve_tier_paths(uri: str, scheme: str, options: dict[str, Any], base_dir: Path) -> str:
    """The tier's URI with its local path made absolute; path-valued ``options`` are made
    absolute in place. Values of other types are left for the type checks to report."""
    for name in _PATH_OPTIONS.get(scheme, ()):
        value = options.get(name)
        if isinstance(value, str):
            options[name] = absolute(value, base_dir)
        elif isinstance(value, list):
            options[name] = [absolute(v, base_dir) if isinstance(v, str) else v for v in value]
    return _uri(uri, scheme, base_dir)
