"""The retry policy shared by every network backend, and the "is this transient?" question.

Only transient failures are retried: connection errors, timeouts, HTTP 5xx and throttling
(429, S3's ``SlowDown``). Anything else (not found, forbidden, bad request) fails at once.
Waits grow exponentially, each drawn at random from the upper half of its window, so that many
clients retrying together spread out.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import TypeVar

__all__ = ["Retry", "TransientError", "is_transient", "is_transient_status"]

logger = logging.getLogger("asyncbitstore.retry")

R = TypeVar("R")

THROTTLING_CODES = frozenset(
    {
        "SlowDown",
        "Throttling",
        "ThrottlingException",
        "RequestLimitExceeded",
        "TooManyRequests",
        "RequestThrottled",
        "ServiceUnavailable",
        "InternalError",
        "RequestTimeout",
    }
)


class TransientError(Exception):
    """Raised by backends for a failure worth retrying (carries an optional HTTP status)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


def is_transient_status(status: int) -> bool:
    """Whether an HTTP status means "try again": 5xx, 429, and 408."""
    return status >= 500 or status in (408, 429)


def is_transient(exc: BaseException) -> bool:
    """Whether ``exc`` is a failure that may succeed when retried."""
    if isinstance(exc, TransientError):
        return True
    if isinstance(exc, (asyncio.TimeoutError, TimeoutError, ConnectionError)):
        return True
    status = getattr(exc, "status", None)
    if isinstance(status, int):
        return is_transient_status(status)
    # aiohttp's connection and payload errors, without importing aiohttp here.
    names = {cls.__name__ for cls in type(exc).__mro__}
    return bool(names & {"ClientConnectionError", "ClientPayloadError", "ServerDisconnectedError"})


@dataclass(frozen=True)
class Retry:
    """Exponential random-window backoff.

    Attributes:
        attempts: calls in all, the first included (1 disables retries). Default 7.
        base: the first window, in seconds. Default 0.5.
        cap: no wait exceeds this, in seconds. Default 60.
    """

    attempts: int = 7
    base: float = 0.5
    cap: float = 60.0

    def __post_init__(self) -> None:
        if (
            isinstance(self.attempts, bool)
            or not isinstance(self.attempts, int)
            or self.attempts < 1
        ):
            raise ValueError(f"Retry.attempts must be an int >= 1, not {self.attempts!r}")
        if not isinstance(self.base, (int, float)) or self.base < 0:
            raise ValueError(f"Retry.base must be a number >= 0, not {self.base!r}")
        if not isinstance(self.cap, (int, float)) or self.cap < self.base:
            raise ValueError(f"Retry.cap must be a number >= base, not {self.cap!r}")

    def delays(self, rng: random.Random | None = None) -> Iterator[float]:
        """The waits between attempts (``attempts - 1`` of them)."""
        draw = (rng or random).uniform
        for retry in range(self.attempts - 1):
            window = min(self.cap, self.base * (2**retry))
            yield draw(window / 2, window)

    async def call(
        self,
        fn: Callable[[], Awaitable[R]],
        *,
        transient: Callable[[BaseException], bool] = is_transient,
        what: str = "request",
    ) -> R:
        """``await fn()``, retrying transient failures; the last failure propagates."""
        delays = self.delays()
        while True:
            try:
                return await fn()
            except Exception as exc:
                if not transient(exc):
                    raise
                delay = next(delays, None)
                if delay is None:
                    raise
                logger.debug("%s failed (%s); retrying in %.2f s", what, type(exc).__name__, delay)
                await asyncio.sleep(delay)
