"""The backends a configuration can name: each URI scheme's options and how its store is built.

Kept apart from :mod:`asyncbitstore.config`, which reads, checks and assembles a chain; the two
together are the only place where strings become classes. Backends whose SDK is an optional
extra are imported only when a tier names them.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

from ..raw.file import FileRaw
from ..raw.memory import MemoryRaw
from ..retry import Retry
from ..store import Store

if TYPE_CHECKING:
    from ._check import Failer, TierSpec

__all__ = [
    "BACKENDS", "RETRY_OPTIONS", "SECRET_OPTIONS", "Backend", "api_store", "raw_store", "scheme_of",
]  # fmt: skip

INT: tuple[type, ...] = (int,)
NUMBER: tuple[type, ...] = (int, float)
BOOL: tuple[type, ...] = (bool,)
STR: tuple[type, ...] = (str,)
TABLE: tuple[type, ...] = (dict,)

#: Options whose values are credentials: never shown, never quoted in an error.
SECRET_OPTIONS = frozenset({"secret_access_key", "session_token", "password", "credentials"})
#: Keys of a ``retry = {...}`` table (see :class:`~asyncbitstore.retry.Retry`).
RETRY_OPTIONS: Mapping[str, tuple[type, ...]] = {"attempts": INT, "base": NUMBER, "cap": NUMBER}

_NETWORK = {"max_connections": INT, "request_timeout": NUMBER, "retry": TABLE}

Builder = Callable[[str, dict[str, Any], bool], tuple[Store, str]]


@dataclass(frozen=True)
class Backend:
    """One URI scheme: the raw store class behind it, its pip extra and its options."""

    class_name: str
    extra: str | None
    options: Mapping[str, tuple[type, ...]]
    build: Builder


def scheme_of(uri: str) -> str:
    """``"s3"`` for ``s3://...``; ``"file"`` for a plain path."""
    head, sep, _ = uri.partition("://")
    return head.lower() if sep else "file"


def _lazy_class(name: str, extra: str) -> Any:
    """A backend class from the package root, whose ImportError names the extra to install."""
    try:
        return getattr(importlib.import_module("asyncbitstore"), name)
    except ImportError as exc:
        text = str(exc)
        if "pip install" not in text:
            text += f"; pip install 'asyncbitstore[{extra}]'"
        raise ImportError(text) from exc


def _network(options: dict[str, Any]) -> dict[str, Any]:
    """Constructor keywords shared by the network backends, only for options given."""
    kwargs: dict[str, Any] = {}
    if "max_connections" in options:
        kwargs["max_connections"] = options["max_connections"]
    if "request_timeout" in options:
        kwargs["timeout"] = options["request_timeout"]
    if "retry" in options:
        kwargs["retry"] = Retry(**options["retry"])
    return kwargs


def _file(uri: str, options: dict[str, Any], plain: bool) -> tuple[Store, str]:
    path = uri[len("file://") :] if uri.lower().startswith("file://") else uri
    if not os.path.isabs(path):
        raise ValueError("a file URI must be an absolute path, like file:///var/cache/blobs/")
    kwargs = {k: options[k] for k in ("fsync", "threads") if k in options}
    root = os.path.normpath(path) if plain else None
    return FileRaw(root, **kwargs), path


def _memory(uri: str, options: dict[str, Any], plain: bool) -> tuple[Store, str]:
    return MemoryRaw(max_bytes=options.get("max_bytes")), uri


def _s3(uri: str, options: dict[str, Any], plain: bool) -> tuple[Store, str]:
    cls = _lazy_class("S3Raw", "s3")
    keys = {
        "aws_access_key_id": options.get("access_key_id"),
        "aws_secret_access_key": options.get("secret_access_key"),
        "aws_session_token": options.get("session_token"),
        "profile_name": options.get("profile"),
    }
    credentials: Any = {k: v for k, v in keys.items() if v is not None} or None
    if options.get("anonymous"):
        if credentials:
            raise ValueError("anonymous = true takes no profile or keys; remove one or the other")
        credentials = "anonymous"
    kwargs = _network(options)
    for option, keyword in (("endpoint", "endpoint_url"), ("region", "region")):
        if option in options:
            kwargs[keyword] = options[option]
    kwargs.update({k: options[k] for k in ("part_size", "verify_etag") if k in options})
    return cls(credentials, **kwargs), uri


def _gs(uri: str, options: dict[str, Any], plain: bool) -> tuple[Store, str]:
    cls = _lazy_class("GSRaw", "gcs")
    kwargs = _network(options)
    if "endpoint" in options:
        kwargs["api_root"] = options["endpoint"]
    kwargs.update({k: options[k] for k in ("verify_md5", "chunk_size") if k in options})
    if options.get("anonymous"):
        if "credentials" in options:
            raise ValueError("anonymous = true takes no credentials; remove one or the other")
        return cls.anonymous(**kwargs), uri
    return cls(options.get("credentials"), **kwargs), uri


def _http(uri: str, options: dict[str, Any], plain: bool) -> tuple[Store, str]:
    cls = _lazy_class("HTTPRaw", "http")
    kwargs = _network(options)
    kwargs.update({k: options[k] for k in ("headers", "listing") if k in options})
    return cls(**kwargs), uri


def _redis(uri: str, options: dict[str, Any], plain: bool) -> tuple[Store, str]:
    """``redis://[:password@]host:port/db/<key prefix>``: the database URL, then the prefix."""
    cls = _lazy_class("RedisRaw", "redis")
    parts = urlsplit(uri)
    db, _, rest = parts.path.lstrip("/").partition("/")
    netloc = parts.netloc
    if "password" in options:
        if "@" in netloc:
            raise ValueError("give the password in the URI or as password =, not both")
        netloc = f":{quote(options['password'], safe='')}@{netloc}"
    kwargs = _network(options)
    if "ttl" in options:
        kwargs["ttl"] = options["ttl"]
    raw = cls(f"{parts.scheme}://{netloc}/{db or '0'}", **kwargs)
    return raw, raw.base + rest


_DB_SUFFIXES = (".db", ".sqlite", ".sqlite3")


def _sqlite(uri: str, options: dict[str, Any], plain: bool) -> tuple[Store, str]:
    """``sqlite:///path/to/blobs.db/<key prefix>``: the database file ends at the first
    segment ending in .db, .sqlite or .sqlite3."""
    from ..raw.sqlite import SqliteRaw

    parts = uri[len("sqlite://") :].split("/")
    ends = [i for i, part in enumerate(parts) if part.lower().endswith(_DB_SUFFIXES)]
    if not ends or not parts[0] == "":
        raise ValueError(
            "a sqlite URI is sqlite:///absolute/path/blobs.db/<prefix> "
            "(the file's name ending in .db, .sqlite or .sqlite3)"
        )
    path = "/".join(parts[: ends[0] + 1])
    kwargs: dict[str, Any] = {
        k: options[k] for k in ("max_bytes", "fsync", "threads") if k in options
    }
    if "request_timeout" in options:
        kwargs["timeout"] = options["request_timeout"]
    raw = SqliteRaw(path, **kwargs)
    return raw, raw.base + "/".join(parts[ends[0] + 1 :])


_FILE = Backend("FileRaw", None, {"fsync": BOOL, "threads": INT, "max_bytes": INT}, _file)
_HTTP = Backend("HTTPRaw", "http", {**_NETWORK, "headers": TABLE, "listing": BOOL}, _http)
_REDIS = Backend("RedisRaw", "redis", {**_NETWORK, "password": STR, "ttl": NUMBER}, _redis)
_S3_OPTIONS = {
    **_NETWORK,
    "endpoint": STR,
    "region": STR,
    "profile": STR,
    "access_key_id": STR,
    "secret_access_key": STR,
    "session_token": STR,
    "anonymous": BOOL,
    "part_size": INT,
    "verify_etag": BOOL,
}
_GS_OPTIONS = {
    **_NETWORK,
    "endpoint": STR,
    "credentials": (str, dict),
    "anonymous": BOOL,
    "verify_md5": BOOL,
    "chunk_size": INT,
}

#: URI scheme -> backend. A plain absolute path counts as ``file``.
BACKENDS: Mapping[str, Backend] = {
    "file": _FILE,
    "mem": Backend("MemoryRaw", None, {"max_bytes": INT}, _memory),
    "s3": Backend("S3Raw", "s3", _S3_OPTIONS, _s3),
    "gs": Backend("GSRaw", "gcs", _GS_OPTIONS, _gs),
    "http": _HTTP,
    "https": _HTTP,
    "redis": _REDIS,
    "rediss": _REDIS,
    "sqlite": Backend(
        "SqliteRaw",
        None,
        {"max_bytes": INT, "fsync": BOOL, "threads": INT, "request_timeout": NUMBER},
        _sqlite,
    ),
}


def raw_store(
    tier: TierSpec, fail: Failer, *, plain: bool, uri: str | None = None
) -> tuple[Store, str]:
    """The raw store (and the URI prefix in it) a URI tier names."""
    assert tier.scheme is not None and tier.uri is not None
    backend = BACKENDS[tier.scheme]
    options = {k: v for k, v in tier.options.items() if k in backend.options}
    try:
        return backend.build(uri or tier.uri, options, plain)
    except ImportError as exc:
        raise fail(str(exc), None, None) from None
    except (TypeError, ValueError) as exc:
        raise fail(str(exc), None, "fix the tier's uri or options") from exc


def api_store(tier: TierSpec, fail: Failer) -> Store:
    """An instance of the ``module:Class`` an api tier names, made with its ``options``."""
    assert tier.api is not None
    module_name, _, class_name = tier.api.partition(":")
    if not module_name or not class_name:
        raise fail(f"api = {tier.api!r} is not module:Class", "api", 'write "package.module:Class"')
    try:
        cls = getattr(importlib.import_module(module_name), class_name)
    except ImportError as exc:
        raise fail(
            f"cannot import {module_name!r}: {exc}", "api", "install it or fix the path"
        ) from exc
    except AttributeError:
        raise fail(
            f"{module_name!r} has no {class_name!r}", "api", "check the class name"
        ) from None
    if not (isinstance(cls, type) and issubclass(cls, Store)):
        raise fail(f"{tier.api} is not a Store class", "api", "name a Store subclass")
    try:
        store: Store = cls(**tier.options.get("options", {}))
    except (TypeError, ValueError) as exc:
        raise fail(f"{class_name}(**options) failed: {exc}", "options", "fix options") from exc
    return store
