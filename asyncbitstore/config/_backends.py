"""What a configuration can say about each backend: its options and how its store is built.

Which backends exist (their URI schemes, classes and pip extras) is `asyncbitstore.raw`'s to
say; this module adds, for each of them, the options a tier may give and the function that
turns a URI and those options into a store. Backend classes are imported only when a tier names
them, through `asyncbitstore.raw.Backend.load`.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import quote, urlsplit

from ..raw import BACKENDS, BY_SCHEME
from ..retry import Retry
from ..store import Store
from ._spec import BOOL, INT, LIST, NUMBER, STR, TABLE, Failer, TierSpec

__all__ = ["OPTIONS", "api_store", "raw_store"]

_NETWORK = {"max_connections": INT, "retry": TABLE}
#: The options of backends that move one object as several requests.
_PARALLEL = {"max_concurrency": INT, "parallel_threshold": INT}

Builder = Callable[[str, dict[str, Any], bool], tuple[Store, str]]


def _load(scheme: str) -> Any:
    """The class serving `scheme`; its ImportError names the extra to install."""
    backend = BY_SCHEME[scheme]
    try:
        return backend.load()
    except ImportError as exc:
        text = str(exc)
        if backend.extra is None or "pip install" in text:
            raise
        raise ImportError(f"{text}; pip install 'asyncbitstore[{backend.extra}]'") from exc


def _network(options: dict[str, Any], limit: str) -> dict[str, Any]:
    """Constructor keywords shared by the network backends, only for options given; the time
    limit goes to the backend's keyword ``limit``."""
    kwargs: dict[str, Any] = _time_limit(options, limit)
    if "max_connections" in options:
        kwargs["max_connections"] = options["max_connections"]
    if "retry" in options:
        kwargs["retry"] = Retry(**options["retry"])
    kwargs.update({k: options[k] for k in _PARALLEL if k in options})
    return kwargs


def _time_limit(options: dict[str, Any], limit: str) -> dict[str, Any]:
    """``{limit: value}`` for the tier's time limit, if it gives one.

    ``request_timeout`` was once the key of every backend; where a backend's limit has another
    name (``read_timeout``, ``lock_timeout``), that old key is still read as the limit.
    """
    for key in _TIME_LIMITS:
        if key in options:
            return {limit: options[key]}
    return {}


#: The time-limit keys a tier may give; each backend accepts the one(s) in its option table.
_TIME_LIMITS = ("request_timeout", "read_timeout", "lock_timeout")


def _file(uri: str, options: dict[str, Any], plain: bool) -> tuple[Store, str]:
    path = uri[len("file://") :] if uri.lower().startswith("file://") else uri
    if not os.path.isabs(path):
        raise ValueError("a file URI must be an absolute path, like file:///var/cache/blobs/")
    kwargs = {k: options[k] for k in ("fsync", "threads") if k in options}
    root = os.path.normpath(path) if plain else None
    return _load("file")(root, **kwargs), path


def _memory(uri: str, options: dict[str, Any], plain: bool) -> tuple[Store, str]:
    return _load("mem")(max_bytes=options.get("max_bytes")), uri


def _s3(uri: str, options: dict[str, Any], plain: bool) -> tuple[Store, str]:
    cls = _load("s3")
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
    kwargs = _network(options, "request_timeout")
    for option, keyword in (("endpoint", "endpoint_url"), ("region", "region")):
        if option in options:
            kwargs[keyword] = options[option]
    passed = ("part_size", "verify_etag", "verify_checksums")
    kwargs.update({k: options[k] for k in passed if k in options})
    return cls(credentials, **kwargs), uri


def _gs(uri: str, options: dict[str, Any], plain: bool) -> tuple[Store, str]:
    cls = _load("gs")
    kwargs = _network(options, "read_timeout")
    if "endpoint" in options:
        kwargs["api_root"] = options["endpoint"]
    passed = ("verify_md5", "verify_checksums", "chunk_size")
    kwargs.update({k: options[k] for k in passed if k in options})
    if options.get("anonymous"):
        if "credentials" in options:
            raise ValueError("anonymous = true takes no credentials; remove one or the other")
        return cls.anonymous(**kwargs), uri
    return cls(options.get("credentials"), **kwargs), uri


def _azure(uri: str, options: dict[str, Any], plain: bool) -> tuple[Store, str]:
    cls = _load("az")
    kwargs = _network(options, "read_timeout")
    passed = ("account_url", "connection_string", "verify_checksums", "block_size")
    kwargs.update({k: options[k] for k in passed if k in options})
    return cls(options.get("credential"), **kwargs), uri


def _http(uri: str, options: dict[str, Any], plain: bool) -> tuple[Store, str]:
    cls = _load("http")
    kwargs = _network(options, "read_timeout")
    kwargs.update({k: options[k] for k in ("headers", "listing") if k in options})
    return cls(**kwargs), uri


def _redis(uri: str, options: dict[str, Any], plain: bool) -> tuple[Store, str]:
    """``redis://[:password@]host:port/db/<key prefix>``: the database URL, then the prefix."""
    cls = _load("redis")
    parts = urlsplit(uri)
    db, _, rest = parts.path.lstrip("/").partition("/")
    netloc = parts.netloc
    if "password" in options:
        if "@" in netloc:
            raise ValueError("give the password in the URI or as password =, not both")
        netloc = f":{quote(options['password'], safe='')}@{netloc}"
    kwargs = _network(options, "request_timeout")
    if "ttl" in options:
        kwargs["ttl"] = options["ttl"]
    raw = cls(f"{parts.scheme}://{netloc}/{db or '0'}", **kwargs)
    return raw, raw.base + rest


_DB_SUFFIXES = (".db", ".sqlite", ".sqlite3")


def _sqlite(uri: str, options: dict[str, Any], plain: bool) -> tuple[Store, str]:
    """``sqlite:///path/to/blobs.db/<key prefix>``: the database file ends at the first
    segment ending in .db, .sqlite or .sqlite3."""
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
    kwargs.update(_time_limit(options, "lock_timeout"))
    raw = _load("sqlite")(path, **kwargs)
    return raw, raw.base + "/".join(parts[ends[0] + 1 :])


def _sftp(uri: str, options: dict[str, Any], plain: bool) -> tuple[Store, str]:
    """`sftp://[user@]host[:port]/folder/`: a plain chain's tier is confined to the folder;
    otherwise (keyed blobs under the folder, copies) the store serves the whole server."""
    cls = _load("sftp")
    kwargs: dict[str, Any] = {k: options[k] for k in ("password", "passphrase") if k in options}
    if "known_hosts" in options:
        kwargs["known_hosts"] = os.path.expanduser(options["known_hosts"])
    if "client_keys" in options:
        keys = options["client_keys"]
        paths = [keys] if isinstance(keys, str) else keys
        if not paths or not all(isinstance(path, str) for path in paths):
            raise ValueError("client_keys must be a key file's path or a list of paths")
        kwargs["client_keys"] = [os.path.expanduser(path) for path in paths]
    if "max_requests" in options:
        kwargs["max_requests"] = options["max_requests"]
    kwargs.update(_time_limit(options, "request_timeout"))
    if "retry" in options:
        kwargs["retry"] = Retry(**options["retry"])
    if "connect_options" in options:
        kwargs["options"] = options["connect_options"]
    raw = cls(uri, **kwargs)
    if plain:
        return raw, raw.base
    return cls(raw.authority, **kwargs), raw.base


#: Backend name (`asyncbitstore.raw.Backend.name`) -> its tier options and its builder.
_TABLE: Mapping[str, tuple[Mapping[str, tuple[type, ...]], Builder]] = {
    "file": ({"fsync": BOOL, "threads": INT, "max_bytes": INT}, _file),
    "mem": ({"max_bytes": INT}, _memory),
    "s3": (
        {
            **_NETWORK,
            "request_timeout": NUMBER,
            "endpoint": STR,
            "region": STR,
            "profile": STR,
            "access_key_id": STR,
            "secret_access_key": STR,
            "session_token": STR,
            "anonymous": BOOL,
            "part_size": INT,
            **_PARALLEL,
            "verify_etag": BOOL,
            "verify_checksums": BOOL,
        },
        _s3,
    ),
    "gs": (
        {
            **_NETWORK,
            "read_timeout": NUMBER,
            "request_timeout": NUMBER,  # the old name of read_timeout
            "endpoint": STR,
            "credentials": (str, dict),
            "anonymous": BOOL,
            "verify_md5": BOOL,
            "verify_checksums": BOOL,
            "chunk_size": INT,
            **_PARALLEL,
        },
        _gs,
    ),
    "az": (
        {
            **_NETWORK,
            "read_timeout": NUMBER,
            "account_url": STR,
            "connection_string": STR,
            "credential": STR,
            "verify_checksums": BOOL,
            "block_size": INT,
            **_PARALLEL,
        },
        _azure,
    ),
    "http": (
        {
            **_NETWORK,
            "read_timeout": NUMBER,
            "request_timeout": NUMBER,  # the old name of read_timeout
            "headers": TABLE,
            "listing": BOOL,
        },
        _http,
    ),
    "redis": ({**_NETWORK, "request_timeout": NUMBER, "password": STR, "ttl": NUMBER}, _redis),
    "sftp": (
        {
            "request_timeout": NUMBER,
            "retry": TABLE,
            "known_hosts": STR,
            "client_keys": STR + LIST,
            "passphrase": STR,
            "password": STR,
            "max_requests": INT,
            "connect_options": TABLE,
        },
        _sftp,
    ),
    "sqlite": (
        {
            "max_bytes": INT,
            "fsync": BOOL,
            "threads": INT,
            "lock_timeout": NUMBER,
            "request_timeout": NUMBER,  # the old name of lock_timeout
        },
        _sqlite,
    ),
}

#: URI scheme -> the options its tiers may give (every scheme of `asyncbitstore.raw.BACKENDS`).
OPTIONS: Mapping[str, Mapping[str, tuple[type, ...]]] = {
    scheme: _TABLE[backend.name][0] for backend in BACKENDS for scheme in backend.schemes
}


def raw_store(
    tier: TierSpec, fail: Failer, *, plain: bool, uri: str | None = None
) -> tuple[Store, str]:
    """The raw store (and the URI prefix in it) a URI tier names."""
    assert tier.scheme is not None and tier.uri is not None
    allowed, build = _TABLE[BY_SCHEME[tier.scheme].name]
    options = {k: v for k, v in tier.options.items() if k in allowed}
    try:
        return build(uri or tier.uri, options, plain)
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
