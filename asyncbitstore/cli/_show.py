"""``bitstore config show``: the configuration in use, resolved and masked, as TOML or JSON."""

from __future__ import annotations

import json
from typing import Any

from ..composite import Composite
from ..config import ChainConfig

__all__ = ["as_toml", "resolved"]


def resolved(config: ChainConfig) -> dict[str, Any]:
    """[`ChainConfig.describe`][asyncbitstore.config.ChainConfig.describe] plus what building it
    gives: classes and tier settings.

    Building touches no network (clients are made on first use), so this also checks that
    every tier can be built: a missing extra or a bad option is reported here.
    """
    shown = config.describe()
    chain: Composite = config.build()
    shown["chain"] = {"class": type(chain).__name__, "name": chain.name, **shown["chain"]}
    for described, tier in zip(shown["tiers"], chain.tiers, strict=True):
        described["store"] = tier.store.name
        described["name"] = tier.name  # given, or the default that stats and logs use
        described.setdefault("timeout", tier.timeout)
        if tier.is_cache:
            described.setdefault("read", tier.read)
        else:
            described.setdefault("cache_result", tier.cache_result)
            described.setdefault("write", tier.write)
    return shown


def _value(value: Any) -> str:
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{_key(k)} = {_value(v)}" for k, v in value.items()) + " }"
    if isinstance(value, list):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    if value is None:
        return '"none"'
    return json.dumps(value)  # strings, numbers and booleans read the same in TOML


def _key(key: str) -> str:
    return key if key.replace("_", "").replace("-", "").isalnum() else json.dumps(key)


def as_toml(shown: dict[str, Any]) -> str:
    """``shown`` as TOML that reads back (secrets aside), with the origin, the chain's class
    and each tier's store as comments."""
    chain = dict(shown["chain"])
    lines = [f"# from {shown['origin']}", f"[chain]  # {chain.pop('class')}"]
    lines += [f"{_key(k)} = {_value(v)}" for k, v in chain.items() if v is not None]
    for tier in shown["tiers"]:
        lines += ["", f"[[tier]]  # {tier['tier']}: {tier['store']}"]
        lines += [
            f"{_key(k)} = {_value(v)}"
            for k, v in tier.items()
            if k not in ("tier", "store") and v is not None
        ]
    return "\n".join(lines)
