"""The numeric argument checks of ``asyncbitstore._core.checks``."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pytest

from asyncbitstore._core.checks import (
    non_negative_int,
    non_negative_number,
    positive_int,
    positive_number,
)

Check = Callable[..., Any]


@pytest.mark.parametrize(
    ("check", "good", "expected"),
    [
        (positive_int, 1, 1),
        (positive_int, 2**70, 2**70),
        (non_negative_int, 0, 0),
        (non_negative_int, 5, 5),
        (positive_number, 1, 1.0),
        (positive_number, 0.25, 0.25),
        (positive_number, math.inf, math.inf),
        (non_negative_number, 0, 0.0),
        (non_negative_number, 2.5, 2.5),
    ],
)
def test_good_values_come_back(check: Check, good: object, expected: object) -> None:
    result = check("limit", good)
    assert result == expected
    assert type(result) is type(expected)


@pytest.mark.parametrize(
    ("check", "bad"),
    [
        (positive_int, True),
        (positive_int, False),
        (positive_int, 0),
        (positive_int, -1),
        (positive_int, 1.0),
        (positive_int, "3"),
        (positive_int, None),
        (non_negative_int, True),
        (non_negative_int, -1),
        (non_negative_int, 0.0),
        (non_negative_int, "0"),
        (non_negative_int, None),
        (positive_number, True),
        (positive_number, 0),
        (positive_number, 0.0),
        (positive_number, -0.5),
        (positive_number, math.nan),
        (positive_number, "1"),
        (positive_number, None),
        (non_negative_number, False),
        (non_negative_number, -1),
        (non_negative_number, -math.inf),
        (non_negative_number, math.nan),
        (non_negative_number, b"1"),
    ],
)
def test_bad_values_raise_value_error_naming_the_parameter(check: Check, bad: object) -> None:
    with pytest.raises(ValueError, match=r"^max_things must be .*, not ") as caught:
        check("max_things", bad)
    assert repr(bad) in str(caught.value)


@pytest.mark.parametrize(
    ("check", "words"),
    [
        (positive_int, "a positive int"),
        (non_negative_int, "a non-negative int"),
        (positive_number, "a positive number"),
        (non_negative_number, "a non-negative number"),
    ],
)
def test_messages_say_what_is_expected(check: Check, words: str) -> None:
    with pytest.raises(ValueError, match=f"^size must be {words}, not -3$"):
        check("size", -3)
    with pytest.raises(ValueError, match=f"^size must be {words} or None, not -3$"):
        check("size", -3, allow_none=True)


@pytest.mark.parametrize(
    "check", [positive_int, non_negative_int, positive_number, non_negative_number]
)
def test_none_only_with_allow_none(check: Check) -> None:
    assert check("timeout", None, allow_none=True) is None
    with pytest.raises(ValueError, match="timeout"):
        check("timeout", None)


@pytest.mark.parametrize(
    ("check", "wrong_type", "out_of_range"),
    [
        (positive_int, "1", 0),
        (non_negative_int, 1.5, -1),
        (positive_number, "1", 0),
        (non_negative_number, [], -1),
    ],
)
def test_type_error_for_the_wrong_type_only(
    check: Check, wrong_type: object, out_of_range: object
) -> None:
    with pytest.raises(TypeError, match="max_connections"):
        check("max_connections", wrong_type, type_error=True)
    with pytest.raises(TypeError, match="max_connections"):
        check("max_connections", True, type_error=True)  # a bool is the wrong type
    with pytest.raises(ValueError, match="max_connections"):
        check("max_connections", out_of_range, type_error=True)
