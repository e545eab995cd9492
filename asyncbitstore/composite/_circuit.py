"""A circuit breaker per tier: stop asking a tier that keeps failing, then probe it again.

closed     calls go through; ``threshold`` failures in a row open the circuit.
open       calls are refused at once ([`CircuitOpen`][asyncbitstore.errors.CircuitOpen]) for
``cooldown`` seconds.
half-open  after the cool-down one call goes through as a probe: success closes the circuit,
           failure opens it for another cool-down. Other calls are refused while it runs. A
           probe that ends with no answer (cancelled) also opens it for another cool-down, so
           the tier is probed again later rather than skipped for good.

Misses ("not there") are answers, not failures: only errors and timeouts count.
"""

from __future__ import annotations

import time

from .._core.checks import positive_int, positive_number

# CircuitOpen lives in errors now; imported here so that code naming this module keeps working.
from ..errors import CircuitOpen

__all__ = ["CircuitBreaker", "CircuitOpen"]


class CircuitBreaker:
    """Failure counting and state for one tier.

    Args:
        threshold: failures in a row that open the circuit.
        cooldown: seconds the circuit stays open before a probe is allowed.
    """

    __slots__ = ("_opened_at", "_probing", "cooldown", "failures", "opened", "threshold")

    def __init__(self, threshold: int = 5, cooldown: float = 10.0) -> None:
        self.threshold = positive_int("circuit threshold", threshold)
        self.cooldown = positive_number("circuit cooldown", cooldown)
        self.failures = 0
        self.opened = 0  # how many times the circuit opened
        self._opened_at: float | None = None
        self._probing = False

    @property
    def state(self) -> str:
        """``"closed"``, ``"open"`` or ``"half-open"``."""
        if self._opened_at is None:
            return "closed"
        if self._probing or time.monotonic() - self._opened_at >= self.cooldown:
            return "half-open"
        return "open"

    @property
    def closed(self) -> bool:
        """Whether the circuit is closed (cheaper than reading `state`)."""
        return self._opened_at is None

    def allow(self) -> bool:
        """Whether a call may go through now (claims the probe when half-open)."""
        if self._opened_at is None:
            return True
        if self._probing or time.monotonic() - self._opened_at < self.cooldown:
            return False
        self._probing = True
        return True

    @property
    def probing(self) -> bool:
        """Whether a probe call is in flight."""
        return self._probing

    def released(self) -> None:
        """The probe ended with no answer (it was cancelled): probe again after a cool-down.

        Not counted as a failure, nor as the circuit opening again.
        """
        if self._probing:
            self._probing = False
            self._opened_at = time.monotonic()

    def succeeded(self) -> None:
        """The tier answered (a hit or a miss)."""
        self.failures = 0
        self._opened_at = None
        self._probing = False

    def failed(self) -> None:
        """The tier failed (an error or a timeout)."""
        self.failures += 1
        if self._probing or (self._opened_at is None and self.failures >= self.threshold):
            self._opened_at = time.monotonic()
            self.opened += 1
        self._probing = False
