"""Tier chains described in TOML: reading, checking and building them, and finding the file.

A configuration is a ``[chain]`` table and an ordered list of ``[[tier]]`` tables:

    [chain]
    kind = "sha1"  # "sha1", "hash" (with algorithm = ...), "named" or "plain"

    [[tier]]
    role = "cache"
    name = "local"  # the tier's name in stats, logs and metrics (default: "HashCache(FileRaw)")
    uri = "file:///var/cache/blobs/"
    max_bytes = 50_000_000_000

    [[tier]]
    role = "source"
    uri = "s3://bucket/files/"
    region = "eu-west-1"
    secret_access_key = "${AWS_SECRET_ACCESS_KEY}"
    cache_result = true

Build it with [`build_chain`][asyncbitstore.config.build_chain] or
``Sha1Composite.from_config(path_or_dict)``. Every problem
is one [`ConfigError`][asyncbitstore.config.ConfigError] naming the file, the tier (numbered from
1, with its URI), the
option, and what to do. ``${NAME}`` (or ``${NAME:-default}``) in a string is replaced by an
environment variable, so credentials need not be written in the file; values of secret options
never appear in errors or in [`ChainConfig.describe`][asyncbitstore.config.ChainConfig.describe].

A relative local path in a file (``uri = "cache/"``, ``file://blobs/``,
``sqlite://blobs.db/``, an SFTP ``known_hosts`` or ``client_keys``, a GCS ``credentials`` file)
is taken from the file's folder, however the file itself was named; in a mapping, from the
working folder when it is loaded. Remote URIs are used as written.

Without an explicit file, [`find_config_file`][asyncbitstore.config.find_config_file] looks at
``$BITSTORE_CONFIG``, then
``./bitstore.toml``, then ``bitstore.toml`` in the user config folder; with none of them,
[`default_config`][asyncbitstore.config.default_config] describes a writable file store in the user
cache folder.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

from ..composite import Composite, HashComposite, Sha1Composite
from ..errors import ConfigError
from ..hashing import HashCache, HashStore
from ..store import Store
from ..wrappers import Small
from . import _backends as backends
from . import _check as check
from ._named import named_store
from ._reach import Built, check_reach
from ._spec import Failer, TierSpec, scheme_of

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib  # type: ignore[import-not-found, unused-ignore]

__all__ = [
    "CONFIG_NAME",
    "ChainConfig",
    "ConfigError",
    "build_chain",
    "default_config",
    "find_config_file",
    "load_config",
]

#: The file name looked for in the working folder and in the user config folder.
CONFIG_NAME = "bitstore.toml"

C = TypeVar("C", bound=Composite)
Source = str | os.PathLike[str] | Mapping[str, Any] | None

_KINDS: dict[str, type[Composite]] = {
    "sha1": Sha1Composite,
    "hash": HashComposite,
    "named": Composite,
    "plain": Composite,
}


def _user_dir(kind: str) -> Path:
    try:
        import platformdirs
    except ModuleNotFoundError:
        raise ConfigError(
            "finding the default configuration needs platformdirs: "
            "pip install 'asyncbitstore[cli]', or pass a configuration explicitly",
            origin="default configuration",
        ) from None
    return Path(getattr(platformdirs, f"user_{kind}_dir")("asyncbitstore"))


def find_config_file(env: Mapping[str, str] | None = None) -> Path | None:
    """The configuration file to use: ``$BITSTORE_CONFIG``, ``./bitstore.toml``, or the user's.

    Raises:
        ConfigError: ``$BITSTORE_CONFIG`` names a file that does not exist.
    """
    env = os.environ if env is None else env
    named = env.get("BITSTORE_CONFIG")
    if named:
        path = Path(named).expanduser()
        if not path.is_file():
            raise ConfigError(
                f"{path}: BITSTORE_CONFIG names no file; create it, or unset BITSTORE_CONFIG",
                origin=str(path),
            )
        return path
    for path in (Path(CONFIG_NAME), _user_dir("config") / CONFIG_NAME):
        if path.is_file():
            return path
    return None


def default_config() -> dict[str, Any]:
    """The chain used when no file is found: a writable SHA-1 file store in the user cache."""
    folder = _user_dir("cache") / "blobs"
    return {
        "chain": {"kind": "sha1", "name": "bitstore"},
        "tier": [{"role": "source", "uri": folder.as_uri() + "/", "write": True}],
    }


def _read_file(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as file:
            data: dict[str, Any] = tomllib.load(file)
            return data
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(
            f"{path}: not valid TOML: {exc}; fix the syntax there", origin=str(path)
        ) from None
    except OSError as exc:
        raise ConfigError(
            f"{path}: cannot read it: {exc.strerror or exc}; check the path and its permissions",
            origin=str(path),
        ) from None


def load_config(source: Source = None, *, env: Mapping[str, str] | None = None) -> ChainConfig:
    """Read and check a configuration.

    Args:
        source: a TOML file's path, an already parsed mapping, or ``None`` for the default
            location (see [`find_config_file`][asyncbitstore.config.find_config_file]) or, failing
            that, [`default_config`][asyncbitstore.config.default_config].
        env: the variables ``${NAME}`` refers to (default: ``os.environ``).

    Raises:
        ConfigError: the file is missing or malformed, or an option is wrong.
    """
    env = os.environ if env is None else env
    if source is None:
        found = find_config_file(env)
        if found is None:
            return ChainConfig(default_config(), origin="default configuration", env=env)
        source = found
    if isinstance(source, Mapping):
        return ChainConfig(source, origin="configuration", base_dir=Path.cwd(), env=env)
    if not isinstance(source, (str, os.PathLike)):
        raise TypeError(f"a configuration is a path or a mapping, not {type(source).__name__}")
    path = Path(source).expanduser()
    if not path.is_file():
        raise ConfigError(f"{path}: no such configuration file; check the path", origin=str(path))
    # Relative paths in the file are the file's folder's, wherever it was named from.
    base_dir = path.resolve().parent
    return ChainConfig(_read_file(path), origin=str(path), base_dir=base_dir, env=env)


class ChainConfig:
    """A checked configuration: [`build`][asyncbitstore.config.ChainConfig.build] makes the chain,
    [`describe`][asyncbitstore.config.ChainConfig.describe] shows it.

    Args:
        data: the parsed TOML (``[chain]`` and ``[[tier]]``).
        origin: where it came from, for messages.
        base_dir: the folder relative file paths are taken from (default: the working folder).
        env: the variables ``${NAME}`` refers to (default: ``os.environ``).
    """

    def __init__(
        self,
        data: Mapping[str, Any],
        *,
        origin: str,
        base_dir: Path | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.origin = origin
        self.data = data
        fail = Failer(ConfigError, origin)
        base_dir = Path.cwd() if base_dir is None else base_dir.absolute()
        self.chain, self.tiers = check.check_config(
            data, fail, base_dir, os.environ if env is None else env
        )

    def _fail(self, tier: TierSpec | None = None) -> Failer:
        return Failer(ConfigError, self.origin, tier)

    def chain_class(self, cls: type[C] | None = None) -> type[C]:
        """The composite class the ``[chain]`` table asks for, checked against ``cls``."""
        chosen = _KINDS[self.chain.get("kind", "sha1")]
        if cls is None or issubclass(chosen, cls):
            return chosen  # type: ignore[return-value]
        if issubclass(cls, chosen) and cls not in _KINDS.values():
            return cls  # a user's subclass of the kind's class
        raise self._fail()(
            f"[chain] kind = {self.chain.get('kind', 'sha1')!r} makes a {chosen.__name__}, "
            f"which {cls.__name__}.from_config cannot return",
            "kind",
            f"set kind to match, or call {chosen.__name__}.from_config",
        )

    def build(self, cls: type[C] | None = None) -> C:
        """The chain, with every tier appended in order.

        Raises:
            ConfigError: a tier cannot be built (bad URI, options the backend refuses, a
                missing extra, an API class that cannot be imported).
        """
        target = self.chain_class(cls)
        options = {k: v for k, v in self.chain.items() if k not in ("kind", "algorithm")}
        if options.get("circuit_threshold") == 0:
            options["circuit_threshold"] = None  # TOML has no null: 0 means never skip a tier
        if issubclass(target, HashComposite) and not issubclass(target, Sha1Composite):
            options["algorithm"] = self.chain.get("algorithm", "sha256")
        try:
            chain = target(**options)
        except (TypeError, ValueError) as exc:
            raise self._fail()(str(exc), None, "fix the [chain] table") from exc
        built: list[Built] = [(tier, *self._tier_store(chain, tier)) for tier in self.tiers]
        if self.chain.get("kind") == "plain":
            check_reach(built, self._fail())
        for tier, store, _ in built:
            self._append(chain, tier, store)
        return chain

    def _append(self, chain: Composite, tier: TierSpec, store: Store) -> None:
        extra = {k: tier.options[k] for k in ("name", "timeout") if k in tier.options}
        try:
            if tier.role == "cache":
                chain.append_cache(store, read=tier.options.get("read", True), **extra)
            else:
                chain.append_source(
                    store,
                    cache_result=tier.options.get("cache_result", False),
                    write=tier.options.get("write", False),
                    **extra,
                )
        except (TypeError, ValueError) as exc:
            raise self._fail(tier)(str(exc), None, "make the tier fit the chain") from exc

    def _tier_store(self, chain: Composite, tier: TierSpec) -> tuple[Store, str | None]:
        """The tier's store, and its URI prefix (None for an api tier)."""
        fail = self._fail(tier)
        if tier.api is not None:
            return backends.api_store(tier, fail), None
        keyed = isinstance(chain, HashComposite)
        named = self.chain.get("kind") == "named" or tier.options.get("mirror") is True
        raw, prefix = backends.raw_store(tier, fail, plain=not (keyed or named))
        store: Store = raw
        if keyed:
            store = self._keyed(chain, tier, raw, prefix)  # type: ignore[arg-type]
        elif named:
            store = named_store(tier, raw, prefix, fail)
        return self._small(tier, store), prefix

    @staticmethod
    def _small(tier: TierSpec, store: Store) -> Store:
        return Small(store, tier.options["max_size"]) if "max_size" in tier.options else store

    def _keyed(self, chain: HashComposite, tier: TierSpec, raw: Store, prefix: str) -> Store:
        verify = tier.options.get("verify", False)
        bound = tier.options.get("max_bytes") if tier.scheme == "file" else None
        try:
            if tier.role == "cache":
                return HashCache(raw, prefix, verify, algorithm=chain.algorithm, max_bytes=bound)
            return HashStore(raw, prefix, verify, algorithm=chain.algorithm)
        except (TypeError, ValueError) as exc:
            raise self._fail(tier)(
                str(exc), "uri", "give a URI prefix this backend accepts"
            ) from exc

    def raw_store(self, uri: str) -> Store:
        """A raw store for ``uri`` (for copies), with the backend options of the tier whose URI
        prefix it falls under, else of the first tier of its scheme, else none.

        Raises:
            ConfigError: no backend serves ``uri``'s scheme, or the store cannot be built.
        """
        scheme = scheme_of(uri)
        matches = [t for t in self.tiers if t.uri is not None and uri.startswith(t.uri.rstrip("/"))]
        tier = max(matches, key=lambda t: len(t.uri or ""), default=None)
        if tier is None or tier.scheme != scheme:  # else a tier of that scheme: its endpoint
            tier = next((t for t in self.tiers if t.scheme == scheme), None)
        if tier is None:
            tier = check.bare_tier(uri, scheme, self._fail())
        raw, _ = backends.raw_store(tier, self._fail(tier), plain=False, uri=uri)
        return raw

    def describe(self) -> dict[str, Any]:
        """The configuration as plain values: secrets masked, ``${NAME}`` references kept."""
        return check.describe(self.origin, self.chain, self.tiers)


def build_chain(
    source: Source = None, *, cls: type[C] | None = None, env: Mapping[str, str] | None = None
) -> C:
    """The chain a configuration describes (see [`load_config`][asyncbitstore.config.load_config]
    for ``source``).

    Args:
        cls: the composite class expected; a file of another kind is a
            [`ConfigError`][asyncbitstore.config.ConfigError].
            By default the file's ``[chain] kind`` decides (``"sha1"`` when absent).
    """
    return load_config(source, env=env).build(cls)
