"""Retry: the backoff policy and which failures count as transient."""

from __future__ import annotations

import asyncio
import dataclasses
import random
import time
from typing import Any

import pytest

from asyncbitstore import Retry
from asyncbitstore.retry import TransientError, is_transient, is_transient_status

FAST = Retry(attempts=4, base=0.001, cap=0.002)


class HTTPError(Exception):
    def __init__(self, status: object) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status


class ClientConnectionError(Exception):
    """Named like aiohttp's, without importing aiohttp."""


class Flaky:
    """Fails with the given errors in turn, then returns ``"ok"``."""

    def __init__(self, *errors: BaseException) -> None:
        self.errors = list(errors)
        self.calls = 0

    async def __call__(self) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "ok"


def test_defaults() -> None:
    retry = Retry()
    assert (retry.attempts, retry.base, retry.cap) == (7, 0.5, 60.0)


def test_retry_is_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        Retry().attempts = 3  # type: ignore[misc]


@pytest.mark.parametrize(
    ("attempts", "base", "cap"),
    [(1, 0.5, 60.0), (7, 0.5, 60.0), (10, 0.1, 2.0), (12, 1, 1), (5, 0.0, 0.0)],
)
def test_delays_grow_exponentially_in_random_upper_half_windows(
    attempts: int, base: float, cap: float
) -> None:
    retry = Retry(attempts=attempts, base=base, cap=cap)
    delays = list(retry.delays(random.Random(42)))
    assert len(delays) == attempts - 1
    for index, delay in enumerate(delays):
        window = min(cap, base * 2**index)
        assert window / 2 <= delay <= window


def test_delays_are_repeatable_with_a_seeded_generator_and_spread_out() -> None:
    retry = Retry(attempts=7, base=1.0, cap=100.0)
    first = list(retry.delays(random.Random(7)))
    assert first == list(retry.delays(random.Random(7)))
    assert first != list(retry.delays(random.Random(8)))
    assert len({round(d, 9) for d in first}) == len(first)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"attempts": 0},
        {"attempts": -1},
        {"attempts": True},
        {"attempts": 2.0},
        {"base": -0.1},
        {"base": "1"},
        {"cap": -1.0},
        {"base": 2.0, "cap": 1.0},
        {"cap": None},
    ],
)
def test_invalid_settings_raise_value_error(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="Retry"):
        Retry(**kwargs)


@pytest.mark.parametrize(
    "error",
    [
        ConnectionError("reset"),
        ConnectionResetError("reset by peer"),
        TimeoutError("slow"),
        asyncio.TimeoutError(),
        TransientError("try again"),
        TransientError("throttled", status=429),
        HTTPError(503),
        HTTPError(500),
        HTTPError(429),
        HTTPError(408),
        ClientConnectionError("refused"),
    ],
    ids=repr,
)
async def test_call_retries_transient_errors_until_success(error: Exception) -> None:
    fn = Flaky(error, error)
    assert await FAST.call(fn) == "ok"
    assert fn.calls == 3
    assert is_transient(error)


@pytest.mark.parametrize(
    "error",
    [ValueError("bad"), KeyError("k"), HTTPError(403), HTTPError(404), HTTPError(400)],
    ids=repr,
)
async def test_call_does_not_retry_other_errors(error: Exception) -> None:
    fn = Flaky(error)
    with pytest.raises(type(error)) as caught:
        await FAST.call(fn)
    assert caught.value is error
    assert fn.calls == 1
    assert not is_transient(error)


async def test_call_gives_up_after_attempts_calls_and_raises_the_last_error() -> None:
    errors = [ConnectionError(f"failure {i}") for i in range(10)]
    fn = Flaky(*errors)
    with pytest.raises(ConnectionError) as caught:
        await FAST.call(fn)
    assert fn.calls == FAST.attempts
    assert caught.value is errors[FAST.attempts - 1]


async def test_one_attempt_means_no_retry() -> None:
    fn = Flaky(TimeoutError())
    with pytest.raises(TimeoutError):
        await Retry(attempts=1).call(fn)
    assert fn.calls == 1


async def test_call_waits_between_attempts() -> None:
    fn = Flaky(ConnectionError(), ConnectionError())
    start = time.perf_counter()
    assert await Retry(attempts=3, base=0.02, cap=1.0).call(fn) == "ok"
    # The two waits are drawn from [0.01, 0.02] and [0.02, 0.04].
    assert time.perf_counter() - start >= 0.03


async def test_call_does_not_retry_a_cancellation() -> None:
    fn = Flaky(asyncio.CancelledError())
    with pytest.raises(asyncio.CancelledError):
        await FAST.call(fn)
    assert fn.calls == 1


async def test_call_uses_a_custom_transient_predicate() -> None:
    fn = Flaky(ValueError("flaky for this caller"))
    assert await FAST.call(fn, transient=lambda exc: isinstance(exc, ValueError)) == "ok"
    assert fn.calls == 2
    fn = Flaky(ConnectionError())
    with pytest.raises(ConnectionError):
        await FAST.call(fn, transient=lambda exc: False)
    assert fn.calls == 1


@pytest.mark.parametrize("status", [500, 502, 503, 504, 599, 429, 408])
def test_transient_statuses(status: int) -> None:
    assert is_transient_status(status)


@pytest.mark.parametrize("status", [200, 204, 301, 400, 401, 403, 404, 409, 412, 416])
def test_non_transient_statuses(status: int) -> None:
    assert not is_transient_status(status)


def test_a_non_int_status_is_not_transient() -> None:
    assert not is_transient(HTTPError("503"))
    assert not is_transient(HTTPError(None))
