"""The retry policy shared by every network backend, and the "is this transient?" question.

Only transient failures are retried: connection errors, timeouts, HTTP 5xx and throttling
(429, S3's ``SlowDown``). Anything else (not found, forbidden, bad request) fails at once.
Waits grow exponentially, each drawn at random from the upper half of its window, so that many
clients retrying together spread out.

Every retry is logged at DEBUG on the ``asyncbitstore.retry`` logger (what failed, the error's
type and the first line of its message, attempt n of m, the wait), and so is the last failed
attempt; raise that logger's level to see them (``bitstore -v`` does).
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

#: A logged error message is cut to this many characters (its first line only).
MAX_LOGGED_MESSAGE = 200

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
        """``await fn()``, retrying transient failures; the last failure propagates.

        Each transient failure is logged at DEBUG (see the module's notes), ``what`` naming
        the call in the record.
        """
        delays = self.delays()
        attempt = 0
        while True:
            attempt += 1
            try:
                return await fn()
            except Exception as exc:
                if not transient(exc):
                    raise
                delay = next(delays, None)
                self.log_failure(what, exc, attempt, delay)
                if delay is None:
                    raise
                await asyncio.sleep(delay)

    def log_failure(self, what: str, exc: BaseException, attempt: int, delay: float | None) -> None:
        """Log (DEBUG) that ``what`` failed with ``exc`` on ``attempt``, and the wait before
        the next attempt (``None``: no attempt is left).

        For retry loops of their own (resumed streams, say), so that every retry of the
        package reads alike.
        """
        if not logger.isEnabledFor(logging.DEBUG):
            return
        then = "giving up" if delay is None else f"retrying in {delay:.2f} s"
        logger.debug(
            "%s failed (%s); attempt %d of %d; %s",
            what,
            _short(exc),
            attempt,
            self.attempts,
            then,
        )


def _short(exc: BaseException) -> str:
    """``Type: first line of the message``, cut to a bound (``Type`` alone when it is empty)."""
    lines = str(exc).strip().splitlines()
    message = lines[0] if lines else ""
    if len(message) > MAX_LOGGED_MESSAGE:
        message = message[: MAX_LOGGED_MESSAGE - 3] + "..."
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__
