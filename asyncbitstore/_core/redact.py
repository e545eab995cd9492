"""Keeping credentials out of text: messages, chained causes and SDK log records.

One owner for redaction: :func:`scrub` cleans a piece of text, :func:`scrub_cause` cleans an
SDK exception before it is chained under one of ours (a printed traceback shows the cause's
message too), and :func:`guard_sdk_logs` puts a filter on an SDK's loggers, so that a user who
turns DEBUG logging on does not find a session token in the request dumps those SDKs write.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable

__all__ = ["guard_sdk_logs", "scrub", "scrub_cause"]

MASK = "***"
#: Values shorter than this are not searched for in SDK log records (see guard_sdk_logs).
MIN_LOGGED_SECRET = 16

# user:password@ in any URL, and header values that carry a credential, however quoted.
_USERINFO = re.compile(r"([a-zA-Z][a-zA-Z0-9+.-]*://)[^/@\s'\"]*@")
_CREDENTIAL_HEADER = re.compile(
    r"((?:x-amz-security-token|x-goog-iam-authorization-token|authorization)['\"]?\s*[:=]\s*"
    r"(?-i:b)?['\"]?)(?:(?:bearer|basic|aws4-hmac-sha256)\s+)?[^\s'\",;}]+",
    re.IGNORECASE,
)


def scrub(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with URL credentials, credential headers and each given secret masked."""
    text = _USERINFO.sub(r"\1" + MASK + "@", text)
    text = _CREDENTIAL_HEADER.sub(r"\1" + MASK, text)
    for secret in secrets:
        if secret:
            text = text.replace(secret, MASK)
    return text


def scrub_cause(exc: BaseException, secrets: Iterable[str] = ()) -> BaseException:
    """``exc`` with its string arguments scrubbed in place, ready to be chained as a cause."""
    secrets = tuple(secrets)
    exc.args = tuple(scrub(a, secrets) if isinstance(a, str) else a for a in exc.args)
    return exc


class _LogScrubber(logging.Filter):
    """Rewrites a record's message when it would show a credential (always lets it through)."""

    def __init__(self) -> None:
        super().__init__()
        self.secrets: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record is the logging module's to report
            return True
        cleaned = scrub(message, self.secrets)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


_scrubber = _LogScrubber()


def guard_sdk_logs(prefixes: tuple[str, ...], secrets: Iterable[str] = ()) -> None:
    """Put the scrubbing filter on every existing logger under ``prefixes``.

    A logger's filters see only the records logged to it directly, not those its children
    propagate, so each module logger gets the filter. Call it once the SDK's modules are
    imported (after its client is created); calling it again is cheap and adds no duplicates.
    The filter costs nothing while DEBUG is off: the SDK makes no record then.
    """
    # The filter serves every store in the process: a short value ("x" in a test) would mask
    # that text in every record. Real keys and tokens are long; headers are masked by name.
    _scrubber.secrets.update(s for s in secrets if len(s) >= MIN_LOGGED_SECRET)
    names = [name for name in logging.root.manager.loggerDict if name.startswith(prefixes)]
    for name in (*prefixes, *names):
        logger = logging.getLogger(name)
        if _scrubber not in logger.filters:
            logger.addFilter(_scrubber)
