"""A URI (or key) argument turned into what a store works with, or the error saying why not."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from ..errors import InvalidURI, describe

__all__ = ["parse_uri"]

T = TypeVar("T")


def parse_uri(
    store: object, uri: object, parse: Callable[[str], T | None], hint: str, *, what: str = "a URI"
) -> T:
    """What ``parse`` makes of ``uri``, for ``store``.

    Args:
        store: the store asked, named in the errors.
        uri: the argument as given.
        parse: returns the parts of a valid str, else None.
        hint: the form ``store`` accepts, for `InvalidURI`.
        what: the argument as the ``TypeError`` names it.

    Raises:
        TypeError: ``uri`` is not a str.
        InvalidURI: ``parse`` returned None.
    """
    if not isinstance(uri, str):
        raise TypeError(f"{describe(store)}: {what} must be a str, not {type(uri).__name__}")
    parsed = parse(uri)
    if parsed is None:
        raise InvalidURI(store, uri, hint)
    return parsed
