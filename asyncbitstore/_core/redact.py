"""Keeping credentials out of text: messages, chained causes and SDK log records.

One owner for redaction: `scrub` cleans a piece of text, `stand_in` replaces an
SDK exception by a secret-free copy to chain under one of ours (a printed traceback shows the
cause's message, and tools that pickle exception chains, such as tblib, carry every attribute),
`scrub_cause` cleans an exception's arguments in place, and `guard_sdk_logs` puts a
filter on an SDK's loggers, so that a user who turns DEBUG logging on does not find a session
token in the request dumps those SDKs write.

A translation point raises ``error from stand_in(exc)`` *after* its ``except`` block: raised
inside it, the error would also get the original SDK exception as its ``__context__``, which
tblib pickles even though a traceback does not show it.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from typing import Any

__all__ = ["MASK", "ForeignError", "guard_sdk_logs", "redact", "scrub", "scrub_cause", "stand_in"]

MASK = "***"
#: Values shorter than this are not searched for in SDK log records (see guard_sdk_logs).
MIN_LOGGED_SECRET = 16
#: A stand-in keeps this much of the original message, and this many links of its chain.
MAX_CAUSE_TEXT = 2000
MAX_CAUSE_DEPTH = 8

# user:password@ in any URL, and header values that carry a credential, however quoted.
_USERINFO = re.compile(r"([a-zA-Z][a-zA-Z0-9+.-]*://)[^/@\s'\"]*@")
_CREDENTIAL_HEADER = re.compile(
    r"((?:x-amz-security-token|x-goog-iam-authorization-token|authorization)['\"]?\s*[:=]\s*"
    r"(?-i:b)?['\"]?)(?:(?:bearer|basic|aws4-hmac-sha256)\s+)?[^\s'\",;}]+",
    re.IGNORECASE,
)


_URI_USERINFO = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*://)[^/@]*@")


def redact(uri: str) -> str:
    """``uri`` with any ``user:password@`` part masked, safe for messages and logs."""
    return _URI_USERINFO.sub(r"\1" + MASK + "@", uri)


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


class ForeignError(Exception):
    """A secret-free stand-in for another library's exception in the chain of one of ours.

    It keeps the original type's qualified name (``kind``), its message with credentials masked
    and cut to a bound, and, where the original had them, its HTTP ``status`` and error ``code``
    (plain values). Nothing else survives: no response, request info or headers, so it pickles
    with plain pickle and with tblib's reducers and carries nothing a server quoted back.

    Attributes:
        kind: ``module.QualName`` of the exception it stands for.
        message: the masked message.
        status: the HTTP status, or None.
        code: the service's error code (S3's ``AccessDenied``, say), or None.
    """

    def __init__(
        self, kind: str, message: str, status: int | None = None, code: str | None = None
    ) -> None:
        super().__init__(kind, message, status, code)
        self.kind = kind
        self.message = message
        self.status = status
        self.code = code

    def __str__(self) -> str:
        return f"{self.kind}: {self.message}" if self.message else self.kind


def stand_in(exc: BaseException, secrets: Iterable[str] = ()) -> ForeignError:
    """A `ForeignError` for ``exc``, its cause and context replaced the same way.

    The original traceback is kept (it shows where the failure began; tblib pickles only code
    locations from it, no local variables). Links past ``MAX_CAUSE_DEPTH`` are dropped.
    """
    return _stand_in(exc, tuple(secrets), MAX_CAUSE_DEPTH)


def _stand_in(exc: BaseException, secrets: tuple[str, ...], depth: int) -> ForeignError:
    kind = f"{type(exc).__module__}.{type(exc).__qualname__}"
    message = scrub(str(exc), secrets)
    if len(message) > MAX_CAUSE_TEXT:
        message = message[: MAX_CAUSE_TEXT - 3] + "..."
    status, code = _status_and_code(exc)
    copy = ForeignError(kind, message, status, None if code is None else scrub(code, secrets))
    copy.__traceback__ = exc.__traceback__
    if depth > 1:
        if exc.__cause__ is not None:
            copy.__cause__ = _stand_in(exc.__cause__, secrets, depth - 1)
        if exc.__context__ is not None and not exc.__suppress_context__:
            copy.__context__ = _stand_in(exc.__context__, secrets, depth - 1)
    copy.__suppress_context__ = exc.__suppress_context__
    return copy


def _status_and_code(exc: BaseException) -> tuple[int | None, str | None]:
    """``status`` (aiohttp's, ours), else the HTTP status and code of a botocore response."""
    status, code = getattr(exc, "status", None), None
    response: Any = getattr(exc, "response", None)
    if isinstance(response, dict):
        error, metadata = response.get("Error", {}), response.get("ResponseMetadata", {})
        code = error.get("Code") if isinstance(error, dict) else None
        status = metadata.get("HTTPStatusCode") if isinstance(metadata, dict) else None
    return (
        status if isinstance(status, int) and not isinstance(status, bool) else None,
        code[:200] if isinstance(code, str) else None,
    )


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
