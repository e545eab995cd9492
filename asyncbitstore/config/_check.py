"""Checking a parsed configuration: known options, types, ``${NAME}`` references, masking.

Every problem becomes one ``ConfigError`` through a `Failer` (see `_spec`), which knows the file
and the tier; callers ``raise fail(problem, option, what_to_do)``.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .._core.redact import MASK, redact
from ..raw import BY_SCHEME, schemes_text
from ._backends import OPTIONS
from ._named import NAMED_OPTIONS, check_named
from ._paths import resolve_tier_paths
from ._spec import (
    BOOL,
    INT,
    NUMBER,
    RETRY_OPTIONS,
    SECRET_OPTIONS,
    STR,
    TABLE,
    Failer,
    TierSpec,
    scheme_of,
)

CHAIN_OPTIONS = {
    "kind": STR,
    "algorithm": STR,
    "name": STR,
    "negative_ttl": NUMBER,
    "max_pending_fills": INT,
    "fill_ranges_below": INT,
    "operation_timeout": NUMBER,
    "max_negative_entries": INT,
    "circuit_threshold": INT,
    "circuit_cooldown": NUMBER,
}
TIER_OPTIONS = {
    "role": STR,
    "name": STR,
    "uri": STR,
    "api": STR,
    "options": TABLE,
    "timeout": NUMBER,
    "cache_result": BOOL,
    "write": BOOL,
    "read": BOOL,
    "verify": BOOL,
    "max_size": INT,
    **NAMED_OPTIONS,
}
#: The chain kinds: keyed ones (digests), named keys, and full URIs.
KINDS = ("sha1", "hash", "named", "plain")
_ROLE_OF = {"cache_result": "source", "write": "source", "read": "cache"}
_API_TIER = {"role", "name", "api", "options", "timeout", "cache_result", "write", "max_size"}
_ALIASES = {"kind": "role", "type": "role", "url": "uri", "prefix": "uri", "path": "uri"}
_ALIASES |= {"endpoint_url": "endpoint", "api_root": "endpoint", "tiers": "tier"}
_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
_SECRET_WORDS = (
    "secret", "token", "password", "passwd", "credential", "auth", "key", "connection_string",
)  # fmt: skip
_SCHEMES = schemes_text() + ", or a path"


def _expand(value: Any, env: Mapping[str, str], fail: Failer, option: str) -> Any:
    """``value`` with ``${NAME}`` and ``${NAME:-default}`` replaced, in nested values too."""
    if isinstance(value, dict):
        return {k: _expand(v, env, fail, option) for k, v in value.items()}
    if isinstance(value, list):
        return [_expand(v, env, fail, option) for v in value]
    if not isinstance(value, str):
        return value

    def replace(match: re.Match[str]) -> str:
        name, default = match[1], match[2]
        if name in env:
            return env[name]
        if default is not None:
            return default
        raise fail(
            f"option {option!r} refers to ${{{name}}}, which is not set",
            option,
            f"export {name}, or give a default as ${{{name}:-value}}",
        )

    return _REF.sub(replace, value)


def _unknown(name: str, allowed: set[str], fail: Failer, context: str) -> Exception:
    hint = _ALIASES.get(name) if _ALIASES.get(name) in allowed else None
    close = difflib.get_close_matches(name, sorted(allowed), n=1)
    if hint or close:
        todo = f"did you mean {hint or close[0]!r}?"
    else:
        todo = f"valid options here: {', '.join(sorted(allowed))}"
    owners = sorted(scheme for scheme, options in OPTIONS.items() if name in options)
    if owners and not hint:
        todo = f"it applies to {', '.join(s + '://' for s in owners)} tiers only"
    return fail(f"unknown option {name!r} {context}", name, todo)


def _check_types(
    values: Mapping[str, Any], types: Mapping[str, tuple[type, ...]], fail: Failer, where: str
) -> None:
    allowed = set(types)
    for name, value in values.items():
        if name not in allowed:
            raise _unknown(name, allowed, fail, where)
        expected = types[name]
        if (isinstance(value, bool) and bool not in expected) or not isinstance(value, expected):
            shown = type(value).__name__ if _is_secret(name) else repr(value)
            kinds = " or ".join(_TYPE_NAMES[t] for t in expected)
            raise fail(f"option {name!r} must be {kinds}, not {shown}", name, "fix its value")


_TYPE_NAMES = {int: "an integer", float: "a number", bool: "true or false", str: "a string"}
_TYPE_NAMES[dict] = "a table"
_TYPE_NAMES[list] = "a list"


def _check_chain(data: Any, fail: Failer, env: Mapping[str, str]) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise fail("[chain] must be a table", "chain", 'write it as [chain] with kind = "sha1"')
    chain = {k: _expand(v, env, fail, k) for k, v in data.items()}
    _check_types(chain, CHAIN_OPTIONS, fail, "in [chain]")
    kind, algorithm = chain.get("kind"), chain.get("algorithm")
    if kind is None:
        kind = chain["kind"] = "sha1" if algorithm in (None, "sha1") else "hash"
    if kind not in KINDS:
        raise fail(
            f"[chain] kind {kind!r} is unknown", "kind", 'use "sha1", "hash", "named" or "plain"'
        )
    if algorithm is not None and (
        kind in ("plain", "named") or (kind == "sha1" and algorithm != "sha1")
    ):
        raise fail(
            f"[chain] algorithm = {algorithm!r} does not fit kind = {kind!r}",
            "algorithm",
            'use kind = "hash" with an algorithm, or remove algorithm',
        )
    return chain


def check_config(
    data: Mapping[str, Any], fail: Failer, base_dir: Path, env: Mapping[str, str]
) -> tuple[dict[str, Any], list[TierSpec]]:
    """The checked ``[chain]`` table and tiers of a parsed configuration."""
    for name in data:
        if name not in ("chain", "tier"):
            raise _unknown(name, {"chain", "tier"}, fail, "at the top level")
    chain = _check_chain(data.get("chain", {}), fail, env)
    tiers = data.get("tier")
    if not isinstance(tiers, list) or not tiers:
        raise fail("no tiers", "tier", 'add a [[tier]] table with role = "source" and a uri')
    kind = chain["kind"]
    checked = [
        _check_tier(index, tier, fail, base_dir, env, kind) for index, tier in enumerate(tiers, 1)
    ]
    _check_names(checked, fail)
    return chain, checked


def _check_names(tiers: list[TierSpec], fail: Failer) -> None:
    """Tier names, where given, are non-empty and each used once."""
    named: dict[str, int] = {}
    for tier in tiers:
        name = tier.options.get("name")
        if name is None:
            continue
        if not name:
            raise fail.at(tier)(
                "name must not be empty", "name", "give the tier a name, or leave name out"
            )
        if name in named:
            raise fail.at(tier)(
                f"name {name!r} is already the name of tier {named[name]}",
                "name",
                "give each tier its own name",
            )
        named[name] = tier.index


def _label(written: Mapping[str, Any]) -> str:
    for key in ("uri", "api"):
        if isinstance(written.get(key), str):
            return redact(written[key])
    return "no uri"


def _check_tier(
    index: int,
    written: Any,
    fail: Failer,
    base_dir: Path,
    env: Mapping[str, str],
    kind: str,
) -> TierSpec:
    if not isinstance(written, dict):
        raise fail(f"tier {index} is not a table", "tier", "write each tier as [[tier]]")
    tier = TierSpec(index, "", _label(written), written=written)
    fail = fail.at(tier)
    if "role" not in written or not {"uri", "api"} & set(written):  # likely misspelt: say so
        every = set(TIER_OPTIONS).union(*OPTIONS.values())
        for name in written:
            if name not in every:
                raise _unknown(name, every, fail, "in a tier")
    values = {k: _expand(v, env, fail, k) for k, v in written.items()}
    role = values.pop("role", None)
    if role not in ("cache", "source"):
        shown = "no role" if role is None else f"unknown role {role!r}"
        raise fail(shown, "role", 'set role = "cache" or role = "source"')
    tier.role = role
    tier.uri, tier.api = values.pop("uri", None), values.pop("api", None)
    if (tier.uri is None) == (tier.api is None):
        raise fail("a tier needs a uri or an api, and not both", "uri", "give exactly one")
    if tier.api is not None:
        _check_types({"api": tier.api, **values}, _api_types(), fail, "for an api tier")
    else:
        _check_uri_tier(tier, values, fail, base_dir, kind)
    check_named(tier, values, fail, kind)
    for option, wanted in _ROLE_OF.items():
        if option in values and wanted != role:
            raise fail(f"option {option!r} applies to {wanted}s", option, "remove it here")
    tier.options = values
    return tier


def _api_types() -> dict[str, tuple[type, ...]]:
    return {k: v for k, v in TIER_OPTIONS.items() if k in _API_TIER}


def _check_uri_tier(
    tier: TierSpec, values: dict[str, Any], fail: Failer, base_dir: Path, kind: str
) -> None:
    if not isinstance(tier.uri, str) or not tier.uri:
        raise fail("uri must be a non-empty string", "uri", f"use {_SCHEMES}")
    scheme = tier.scheme = scheme_of(tier.uri)
    if scheme not in BY_SCHEME:
        raise fail(f"unknown URI scheme {scheme + '://'!r}", "uri", f"use {_SCHEMES}")
    types = {k: v for k, v in TIER_OPTIONS.items() if k not in ("api", "options", "uri")}
    _check_types(values, {**types, **OPTIONS[scheme]}, fail, f"for {scheme}:// tiers")
    _check_tables(values, fail)
    tier.uri = resolve_tier_paths(tier.uri, scheme, values, base_dir)
    if "verify" in values and kind not in ("sha1", "hash"):
        raise fail("verify needs keyed blobs", "verify", 'use [chain] kind = "sha1" or "hash"')
    bounds_cache = kind != "plain" or values.get("mirror") is True
    if "max_bytes" in values and scheme == "file" and not (bounds_cache and tier.role == "cache"):
        raise fail(
            "max_bytes on a file:// tier bounds a cache of a keyed or named chain, or a mirror",
            "max_bytes",
            'remove it, or make this a cache of a kind = "sha1", "hash" or "named" chain '
            "(or a mirror = true cache)",
        )


def _check_tables(values: dict[str, Any], fail: Failer) -> None:
    if "retry" in values:
        _check_types(values["retry"], RETRY_OPTIONS, fail, "in retry")
    headers = values.get("headers", {})
    if not all(isinstance(v, str) for v in headers.values()):
        raise fail("header values must be strings", "headers", "quote them")


def bare_tier(uri: str, scheme: str, fail: Failer) -> TierSpec:
    """A tier with no options for ``uri``, for a store that no configured tier covers."""
    if scheme not in BY_SCHEME:
        raise fail(f"unknown URI scheme in {redact(uri)!r}", "uri", f"use {_SCHEMES}")
    return TierSpec(0, "source", redact(uri), uri=uri, scheme=scheme)


def _is_secret(name: str) -> bool:
    lowered = name.lower()
    return name in SECRET_OPTIONS or any(word in lowered for word in _SECRET_WORDS)


def _masked(value: Any) -> Any:
    """``***`` for a secret, unless it is a ``${NAME}`` reference (which tells nothing)."""
    return value if isinstance(value, str) and _REF.fullmatch(value) else MASK


def _mask(name: str, value: Any) -> Any:
    if isinstance(value, dict):
        if name in ("headers", "credentials"):
            return {k: _masked(v) for k, v in value.items()}
        return {k: _mask(k, v) for k, v in value.items()}
    if _is_secret(name):
        return _masked(value)
    return redact(value) if isinstance(value, str) else value


def describe(origin: str, chain: Mapping[str, Any], tiers: list[TierSpec]) -> dict[str, Any]:
    """The configuration as written, secrets masked, with the chain's kind filled in."""
    shown_tiers = []
    for tier in tiers:
        shown = {"tier": tier.index, "role": tier.role}
        shown.update({k: _mask(k, v) for k, v in tier.written.items() if k != "role"})
        shown_tiers.append(shown)
    return {"origin": origin, "chain": dict(chain), "tiers": shown_tiers}
