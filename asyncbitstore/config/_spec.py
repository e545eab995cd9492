"""The small shared pieces of the configuration: option types, secret names, a checked tier, and
the `Failer` that turns a problem into a `ConfigError`.

Both `_backends` (the backends' options and builders) and `_check` (checking a parsed file)
import this module, and it imports neither, so the three form no loop.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

__all__ = [
    "BOOL", "INT", "LIST", "NUMBER", "RETRY_OPTIONS", "SECRET_OPTIONS", "STR", "TABLE",
    "ErrorType", "Failer", "TierSpec", "scheme_of",
]  # fmt: skip

INT: tuple[type, ...] = (int,)
NUMBER: tuple[type, ...] = (int, float)
BOOL: tuple[type, ...] = (bool,)
STR: tuple[type, ...] = (str,)
TABLE: tuple[type, ...] = (dict,)
LIST: tuple[type, ...] = (list,)

#: Options whose values are credentials: never shown, never quoted in an error.
SECRET_OPTIONS = frozenset(
    {"secret_access_key", "session_token", "password", "passphrase", "credentials"}
)
#: Keys of a `retry = {...}` table (see `asyncbitstore.retry.Retry`).
RETRY_OPTIONS: Mapping[str, tuple[type, ...]] = {"attempts": INT, "base": NUMBER, "cap": NUMBER}


def scheme_of(uri: str) -> str:
    """`"s3"` for `s3://...`; `"file"` for a plain path."""
    head, sep, _ = uri.partition("://")
    return head.lower() if sep else "file"


@dataclass
class TierSpec:
    """One checked `[[tier]]`: values with `${NAME}` replaced, and as written."""

    index: int
    role: str
    label: str
    uri: str | None = None
    api: str | None = None
    scheme: str | None = None
    options: dict[str, Any] = field(default_factory=dict)
    written: Mapping[str, Any] = field(default_factory=dict)


class ErrorType(Protocol):
    """What `Failer` makes its errors with: `ConfigError`, or a class called the same way."""

    def __call__(
        self, message: str, *, origin: str, tier: int | None, option: str | None
    ) -> Exception: ...


class Failer:
    """Makes error messages: `<file>: tier N (<uri>): <problem>; <what to do>`.

    Args:
        error: the exception class (`ConfigError`).
        origin: the file, or `"configuration"` for a mapping.
        tier: the tier at fault, or `None` for the file or `[chain]`.
    """

    def __init__(self, error: ErrorType, origin: str, tier: TierSpec | None = None) -> None:
        self.error = error
        self.origin = origin
        self.tier = tier

    def at(self, tier: TierSpec) -> Failer:
        """The same, for `tier`."""
        return Failer(self.error, self.origin, tier)

    def __call__(self, problem: str, option: str | None, todo: str | None) -> Exception:
        """The error for `problem` with `option` at fault, saying `todo`; raise it."""
        where = self.origin
        if self.tier is not None:
            where += f": tier {self.tier.index} ({self.tier.label})"
        message = f"{where}: {problem}" + (f"; {todo}" if todo else "")
        index = None if self.tier is None else self.tier.index
        return self.error(message, origin=self.origin, tier=index, option=option)
