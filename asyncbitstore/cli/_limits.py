"""``--retries`` and ``--timeout``: limits the command puts on every tier, over the file's.

``--retries N`` is the number of retries after a failed first attempt (``0``: none), so each
network backend gets ``retry.attempts = N + 1``; the file's ``base`` and ``cap`` are kept.

``--timeout SECONDS`` is the time budget of one operation: the chain's ``operation_timeout``
(a read over all the tiers it asks, retries and their waits included), every tier's ``timeout``
(a write to one tier), and a cap on the backends' per-request limits, which also bound ``cp`` and
``sync`` (they use the backends without a chain).
"""

from __future__ import annotations

import math

import click

from .._core.deadline import check_timeout
from ..config import ChainConfig

__all__ = ["apply", "parse_timeout"]

#: The per-request time-limit keys of the backends; ``request_timeout`` is read first by all.
_REQUEST_LIMITS = ("request_timeout", "read_timeout", "lock_timeout")


def parse_timeout(ctx: click.Context, param: click.Parameter, value: str | None) -> float | None:
    """The ``--timeout`` value: a positive number of seconds (a usage error otherwise)."""
    if value is None:
        return None
    try:
        seconds = float(value)
        if math.isinf(seconds):
            return None  # no limit, as asked
        return check_timeout(seconds)
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is not a positive number of seconds; give one such as 30 or 2.5"
        ) from None


def apply(config: ChainConfig, *, retries: int | None, timeout: float | None) -> None:
    """Put ``retries`` and ``timeout`` (``None``: as the file says) on every tier of ``config``.

    Options a backend does not take (``retry`` on a file tier) are left out when its store is
    built, so they are set on every URI tier alike.
    """
    if timeout is not None:
        config.chain["operation_timeout"] = timeout
    for tier in config.tiers:
        options = tier.options
        if timeout is not None:
            options["timeout"] = timeout
        if tier.uri is None:  # an api tier: its class has no backend options
            continue
        if retries is not None:
            options["retry"] = {**options.get("retry", {}), "attempts": retries + 1}
        if timeout is not None:
            given = [options[key] for key in _REQUEST_LIMITS if key in options]
            options["request_timeout"] = min([timeout, *given])
