"""Checks of numeric arguments: counts, sizes, limits and durations.

Every function takes the parameter's name (as the caller wants it shown, for example
``"max_bytes"`` or ``"circuit cooldown"``) and the value, and returns the value when it is
acceptable. ``bool`` is refused wherever an int or a number is asked for, although Python
counts it as an int: ``True`` as a size or a limit is always a mistake.

A refused value raises ``ValueError`` whose message names the parameter, says what it must
be and shows the value given. With ``type_error=True``, a value that is not a number at all
raises ``TypeError`` instead (some constructors have always done so); a number out of range
still raises ``ValueError``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, Literal, TypeVar, overload

__all__ = ["non_negative_int", "non_negative_number", "positive_int", "positive_number"]

N = TypeVar("N", bound=float)


class _Check(Generic[N]):
    """One check: a value of ``types`` (never a bool) above ``least``, or equal to it when
    ``inclusive`` (NaN is neither).

    Calling it with ``(name, value, allow_none=..., type_error=...)`` returns the value
    (through ``convert``), or ``None`` when ``value`` is None and ``allow_none`` is set.

    Args:
        what: the values accepted, as the error message says it ("a positive int").
        types: the accepted types.
        least: the bound.
        inclusive: whether ``least`` itself is accepted.
        convert: what is returned for an accepted value.
        doc: the docstring of this check.
    """

    def __init__(
        self,
        what: str,
        types: tuple[type, ...],
        least: int,
        inclusive: bool,
        convert: Callable[[Any], N],
        doc: str,
    ) -> None:
        self.what = what
        self.types = types
        self.least = least
        self.inclusive = inclusive
        self.convert: Callable[[Any], N] = convert
        self.__doc__ = doc

    @overload
    def __call__(
        self,
        name: str,
        value: object,
        *,
        allow_none: Literal[False] = False,
        type_error: bool = False,
    ) -> N: ...
    @overload
    def __call__(
        self, name: str, value: object, *, allow_none: bool, type_error: bool = False
    ) -> N | None: ...
    def __call__(
        self, name: str, value: object, *, allow_none: bool = False, type_error: bool = False
    ) -> N | None:
        """``value`` if acceptable.

        Args:
            name: the parameter, as the error message should name it.
            value: the argument given.
            allow_none: accept ``None`` (meaning "no limit" or "the default" to the caller).
            type_error: raise ``TypeError`` for a value that is not of the right type at all.

        Raises:
            ValueError: ``value`` is a bool, of another type, or out of range.
            TypeError: with ``type_error``, ``value`` is not of the right type (a bool is not).
        """
        if value is None and allow_none:
            return None
        right_type = isinstance(value, self.types) and not isinstance(value, bool)
        if right_type:
            number: Any = value
            if number > self.least or (self.inclusive and number == self.least):
                return self.convert(number)
        expected = f"{self.what} or None" if allow_none else self.what
        error = TypeError if type_error and not right_type else ValueError
        raise error(f"{name} must be {expected}, not {value!r}")


def _same(value: int) -> int:
    return value


positive_int = _Check[int](
    "a positive int",
    (int,),
    1,
    True,
    _same,
    """``value`` if it is an int of at least 1 (or None, with ``allow_none``).""",
)

non_negative_int = _Check[int](
    "a non-negative int",
    (int,),
    0,
    True,
    _same,
    """``value`` if it is an int of at least 0 (or None, with ``allow_none``).""",
)

positive_number = _Check[float](
    "a positive number",
    (int, float),
    0,
    False,
    float,
    """``value`` as a float if it is an int or float above 0 (or None, with ``allow_none``).

    NaN is refused; infinity is accepted (an unbounded duration).
    """,
)

non_negative_number = _Check[float](
    "a non-negative number",
    (int, float),
    0,
    True,
    float,
    """``value`` as a float if it is an int or float of at least 0 (or None, with
    ``allow_none``).

    NaN is refused; infinity is accepted.
    """,
)
