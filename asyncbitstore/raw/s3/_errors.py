"""How S3, botocore and aiohttp failures become asyncbitstore errors: `translate`, alone.

=================================================  ===========================================
failure                                            becomes
=================================================  ===========================================
``NoSuchKey``, HTTP 404 (HEAD has no body)
[`NotFoundInStore`][asyncbitstore.errors.NotFoundInStore]
``NoSuchBucket``                                   `BucketNotFound` naming the bucket
HTTP 416, ``InvalidRange``
[`InvalidRange`][asyncbitstore.errors.InvalidRange]
HTTP 401/403, bad keys or signature, expired token
[`StoreNotAvailable`][asyncbitstore.errors.StoreNotAvailable] with the reason
throttling, 5xx, 408, 429
[`TransientError`][asyncbitstore.retry.TransientError] (retried)
connection errors, timeouts, truncated bodies
[`TransientError`][asyncbitstore.retry.TransientError] (retried)
missing or unusable credentials, other botocore
[`StoreNotAvailable`][asyncbitstore.errors.StoreNotAvailable]
=================================================  ===========================================

A [`TransientError`][asyncbitstore.retry.TransientError] still standing when the retries run out
becomes
[`StoreNotAvailable`][asyncbitstore.errors.StoreNotAvailable]
([`StoreTimeout`][asyncbitstore.errors.StoreTimeout] for timeouts) through `exhausted`.
Messages never carry secrets: the server never sees the secret key, and any configured secret
that might be echoed back (a session token) is scrubbed from the text.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

import aiohttp
from botocore import exceptions as boto

from ..._core.redact import ForeignError, scrub
from ...errors import (
    AlreadyExists,
    BitstoreError,
    BucketNotFound,
    InvalidRange,
    NotFoundInStore,
    StoreNotAvailable,
    StoreTimeout,
)
from ...retry import THROTTLING_CODES, TransientError, is_transient_status

__all__ = [
    "BAD_CREDENTIAL_CODES", "S3Timeout", "error_code", "exhausted", "is_bad_credentials",
    "translate",
]  # fmt: skip

_NOT_FOUND_CODES = frozenset({"NoSuchKey", "404", "NotFound", "NoSuchVersion"})
#: Codes meaning "these credentials are wrong" (as opposed to "not allowed to do this").
BAD_CREDENTIAL_CODES = frozenset({
    "InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken", "InvalidToken",
    "TokenRefreshRequired", "InvalidClientTokenId", "AuthorizationHeaderMalformed",
})  # fmt: skip
_DENIED_CODES = BAD_CREDENTIAL_CODES | {"AccessDenied", "AllAccessDisabled", "AccountProblem"}
_CREDENTIAL_ERRORS = (
    boto.NoCredentialsError,
    boto.PartialCredentialsError,
    boto.ProfileNotFound,
    boto.CredentialRetrievalError,
)
_CONNECTION_ERRORS = (
    boto.ConnectionError,  # EndpointConnectionError, ConnectTimeoutError, SSL and proxy errors
    boto.HTTPClientError,  # ConnectionClosedError, ReadTimeoutError, ResponseStreamingError
    boto.IncompleteReadError,
    aiohttp.ClientError,
    ConnectionError,
)


class S3Timeout(TransientError):
    """A request attempt that ran out of time (becomes
    [`StoreTimeout`][asyncbitstore.errors.StoreTimeout] if it persists)."""


def error_code(exc: BaseException | None) -> tuple[str, int | None]:
    """The S3 error code and HTTP status of a ``ClientError`` or of its stand-in (a chained
    cause, see ``_redact.stand_in``); ``""`` and None otherwise."""
    if isinstance(exc, ForeignError):
        return exc.code or "", exc.status
    response: Any = getattr(exc, "response", None)
    if not isinstance(response, dict):
        return "", None
    code = str(response.get("Error", {}).get("Code", ""))
    status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return code, status if isinstance(status, int) else None


def is_bad_credentials(exc: BaseException | None) -> bool:
    """Whether ``exc`` (a cause) says the credentials are wrong or missing, not just refused."""
    if isinstance(exc, _CREDENTIAL_ERRORS):
        return True
    return exc is not None and error_code(exc)[0] in BAD_CREDENTIAL_CODES


def translate(
    store: object,
    exc: BaseException,
    *,
    uri: str | None,
    bucket: str,
    secrets: Iterable[str] = (),
) -> BaseException:
    """Our exception for ``exc``, raised while serving ``uri`` (``exc`` itself if not ours)."""
    if isinstance(exc, (BitstoreError, TransientError)):
        return exc
    if isinstance(exc, boto.ClientError):
        return _client_error(store, exc, uri=uri, bucket=bucket, secrets=secrets)
    if isinstance(exc, (asyncio.TimeoutError, boto.ReadTimeoutError, boto.ConnectTimeoutError)):
        return S3Timeout(f"timed out ({type(exc).__name__})")
    if isinstance(exc, _CONNECTION_ERRORS):
        return TransientError(f"{type(exc).__name__}: {scrub(str(exc), secrets)}")
    if isinstance(exc, _CREDENTIAL_ERRORS):
        reason = f"no usable credentials ({type(exc).__name__}: {scrub(str(exc), secrets)})"
        return StoreNotAvailable(store, reason, uri=uri)
    if isinstance(exc, boto.BotoCoreError):
        return StoreNotAvailable(
            store, f"{type(exc).__name__}: {scrub(str(exc), secrets)}", uri=uri
        )
    return exc


def _client_error(
    store: object, exc: boto.ClientError, *, uri: str | None, bucket: str, secrets: Iterable[str]
) -> BaseException:
    code, status = error_code(exc)
    message = scrub(str(exc.response.get("Error", {}).get("Message", "")), secrets)
    detail = f"{code or 'error'} (HTTP {status}){': ' + message if message else ''}"
    if code == "PreconditionFailed" or status == 412:  # only writes send conditions that fail
        return AlreadyExists(store, uri or "")
    if code == "NoSuchBucket":
        return BucketNotFound(store, bucket, uri=uri)
    if code in _NOT_FOUND_CODES or status == 404:
        return NotFoundInStore(store, uri or "")
    if code == "InvalidRange" or status == 416:
        return InvalidRange(store, uri or "", -1, -1, f"the server refused the range: {detail}")
    if code in THROTTLING_CODES or (status is not None and is_transient_status(status)):
        return TransientError(detail, status)
    if code in _DENIED_CODES or status in (401, 403):
        return StoreNotAvailable(store, f"access denied: {detail}", uri=uri)
    return StoreNotAvailable(store, detail, uri=uri)


def exhausted(
    store: object, exc: TransientError, uri: str | None, attempts: int
) -> StoreNotAvailable:
    """The error for a transient failure that outlasted every retry."""
    tries = f"{attempts} attempt{'s' if attempts != 1 else ''}"
    if isinstance(exc, S3Timeout):
        return StoreTimeout(store, f"{exc} after {tries}", uri=uri)
    return StoreNotAvailable(store, f"{exc} (after {tries})", uri=uri)
