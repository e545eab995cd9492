"""Keyword arguments that were renamed: the old name still works, and warns."""

from __future__ import annotations

import warnings
from typing import Any, TypeVar

__all__ = ["NOT_GIVEN", "renamed"]

T = TypeVar("T")


class _NotGiven:
    def __repr__(self) -> str:
        return "NOT_GIVEN"


#: The default of a deprecated keyword: tells "not passed" from any value, None included.
NOT_GIVEN: Any = _NotGiven()


def renamed(new_name: str, new: T, old_name: str, old: object, default: T) -> T:
    """The value of keyword ``new_name``, taking ``old_name`` (deprecated) when that was passed.

    Raises:
        TypeError: both names were passed.
    """
    if old is NOT_GIVEN:
        return new
    if new != default:
        raise TypeError(f"pass {new_name}= only: {old_name}= is its deprecated old name")
    warnings.warn(
        f"{old_name}= is deprecated here: pass {new_name}= (it bounds the same thing)",
        DeprecationWarning,
        stacklevel=3,
    )
    return old  # type: ignore[return-value]
