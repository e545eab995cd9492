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

from typing import Literal, overload

__all__ = ["non_negative_int", "non_negative_number", "positive_int", "positive_number"]


def _refuse(
    name: str, value: object, what: str, allow_none: bool, right_type: bool, type_error: bool
) -> Exception:
    expected = f"{what} or None" if allow_none else what
    error = TypeError if type_error and not right_type else ValueError
    return error(f"{name} must be {expected}, not {value!r}")


@overload
def positive_int(
    name: str, value: object, *, allow_none: Literal[False] = False, type_error: bool = False
) -> int: ...
@overload
def positive_int(
    name: str, value: object, *, allow_none: bool, type_error: bool = False
) -> int | None: ...
def positive_int(
    name: str, value: object, *, allow_none: bool = False, type_error: bool = False
) -> int | None:
    """``value`` if it is an int of at least 1 (or None, with ``allow_none``).

    Args:
        name: the parameter, as the error message should name it.
        value: the argument given.
        allow_none: accept ``None`` (meaning "no limit" or "the default" to the caller).
        type_error: raise ``TypeError`` for a value that is not an int at all.

    Raises:
        ValueError: ``value`` is a bool, not an int, or less than 1.
        TypeError: with ``type_error``, ``value`` is not an int (a bool is not).
    """
    if value is None and allow_none:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        if value >= 1:
            return value
        raise _refuse(name, value, "a positive int", allow_none, True, type_error)
    raise _refuse(name, value, "a positive int", allow_none, False, type_error)


@overload
def non_negative_int(
    name: str, value: object, *, allow_none: Literal[False] = False, type_error: bool = False
) -> int: ...
@overload
def non_negative_int(
    name: str, value: object, *, allow_none: bool, type_error: bool = False
) -> int | None: ...
def non_negative_int(
    name: str, value: object, *, allow_none: bool = False, type_error: bool = False
) -> int | None:
    """``value`` if it is an int of at least 0 (or None, with ``allow_none``).

    Args:
        name: the parameter, as the error message should name it.
        value: the argument given.
        allow_none: accept ``None``.
        type_error: raise ``TypeError`` for a value that is not an int at all.

    Raises:
        ValueError: ``value`` is a bool, not an int, or negative.
        TypeError: with ``type_error``, ``value`` is not an int (a bool is not).
    """
    if value is None and allow_none:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        if value >= 0:
            return value
        raise _refuse(name, value, "a non-negative int", allow_none, True, type_error)
    raise _refuse(name, value, "a non-negative int", allow_none, False, type_error)


@overload
def positive_number(
    name: str, value: object, *, allow_none: Literal[False] = False, type_error: bool = False
) -> float: ...
@overload
def positive_number(
    name: str, value: object, *, allow_none: bool, type_error: bool = False
) -> float | None: ...
def positive_number(
    name: str, value: object, *, allow_none: bool = False, type_error: bool = False
) -> float | None:
    """``value`` as a float if it is an int or float above 0 (or None, with ``allow_none``).

    NaN is refused; infinity is accepted (an unbounded duration).

    Args:
        name: the parameter, as the error message should name it.
        value: the argument given.
        allow_none: accept ``None`` (for a timeout: wait forever).
        type_error: raise ``TypeError`` for a value that is not a number at all.

    Raises:
        ValueError: ``value`` is a bool, not a number, NaN, zero or negative.
        TypeError: with ``type_error``, ``value`` is not a number (a bool is not).
    """
    if value is None and allow_none:
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if value > 0:  # false for NaN
            return float(value)
        raise _refuse(name, value, "a positive number", allow_none, True, type_error)
    raise _refuse(name, value, "a positive number", allow_none, False, type_error)


@overload
def non_negative_number(
    name: str, value: object, *, allow_none: Literal[False] = False, type_error: bool = False
) -> float: ...
@overload
def non_negative_number(
    name: str, value: object, *, allow_none: bool, type_error: bool = False
) -> float | None: ...
def non_negative_number(
    name: str, value: object, *, allow_none: bool = False, type_error: bool = False
) -> float | None:
    """``value`` as a float if it is an int or float of at least 0 (or None, with ``allow_none``).

    NaN is refused; infinity is accepted.

    Args:
        name: the parameter, as the error message should name it.
        value: the argument given.
        allow_none: accept ``None``.
        type_error: raise ``TypeError`` for a value that is not a number at all.

    Raises:
        ValueError: ``value`` is a bool, not a number, NaN or negative.
        TypeError: with ``type_error``, ``value`` is not a number (a bool is not).
    """
    if value is None and allow_none:
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if value >= 0:  # false for NaN
            return float(value)
        raise _refuse(name, value, "a non-negative number", allow_none, True, type_error)
    raise _refuse(name, value, "a non-negative number", allow_none, False, type_error)
