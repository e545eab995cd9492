"""Whether a tier is failing: its failures are logged when they start and when they stop.

A tier that is down fails every key asked of it; one line per key would bury everything else
in the log. So each tier keeps one state, failing or healthy: the first failure logs a WARNING,
the first answer after failures logs an INFO line with how many there were, and each failure
in between is logged at DEBUG only. Its circuit breaker opening and closing are logged at INFO
(a failing tier has been warned about already).
"""

from __future__ import annotations

import logging

__all__ = ["TierHealth", "explain", "logger"]

logger = logging.getLogger("asyncbitstore.composite")


def explain(exc: BaseException) -> str:
    """``Type: message`` of an exception (just the type when the message is empty)."""
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class TierHealth:
    """The failing or healthy state of one tier, and the log lines of its changes.

    Args:
        chain: the chain's name, which starts every line.
        tier: the tier's name.
    """

    __slots__ = ("chain", "failing", "failures", "tier")

    def __init__(self, chain: str, tier: str) -> None:
        self.chain = chain
        self.tier = tier
        self.failing = False
        self.failures = 0  # since the tier last answered

    def failed(self, what: str, key: str, exc: BaseException) -> None:
        """A call on the tier (``what``, for ``key``) failed with ``exc``."""
        self.failures += 1
        if self.failing:
            logger.debug(
                "%s: tier %s: %s of %s failed: %s", self.chain, self.tier, what, key, explain(exc)
            )
            return
        self.failing = True
        logger.warning(
            "%s: tier %s is failing (%s of %s: %s); it is skipped for the keys it fails, and "
            "its further failures are logged at DEBUG until it answers again",
            self.chain,
            self.tier,
            what,
            key,
            explain(exc),
        )

    def answered(self) -> None:
        """The tier answered a call (a miss is an answer too)."""
        if self.failing:
            self.failing = False
            logger.info(
                "%s: tier %s answers again after %d failures", self.chain, self.tier, self.failures
            )
        self.failures = 0

    def circuit_opened(self, failures: int, cooldown: float, again: bool) -> None:
        """The tier's circuit breaker opened (``again``: after a failed probe)."""
        if again:
            logger.debug("%s: tier %s: probe failed; circuit open again", self.chain, self.tier)
            return
        logger.info(
            "%s: tier %s: circuit opened after %d failures in a row; the tier is skipped for "
            "%g s, then probed",
            self.chain,
            self.tier,
            failures,
            cooldown,
        )

    def circuit_closed(self) -> None:
        """The tier's circuit breaker closed again."""
        logger.info("%s: tier %s: circuit closed; the tier is asked again", self.chain, self.tier)
