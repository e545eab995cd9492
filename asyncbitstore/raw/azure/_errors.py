"""How azure-core, the Blob service and aiohttp failures become asyncbitstore errors.

=================================================  ===========================================
failure                                            becomes
=================================================  ===========================================
``ContainerNotFound``                              `BucketNotFound` (kind ``container``)
``BlobNotFound``, other HTTP 404                   `NotFoundInStore`
HTTP 416, ``InvalidRange``                         `InvalidRange`
HTTP 401/403, bad key or SAS                       `StoreNotAvailable` ("access denied")
5xx, 408, 429, ``ServerBusy``, a blob changed      `TransientError` (retried)
while it was read, connection errors, timeouts
HTTP 412 or 404 (not ``ContainerNotFound``) of a   `ObjectChanged` (not retried)
read pinned to an ETag
anything else from azure-core                      `StoreNotAvailable`
=================================================  ===========================================

A `TransientError` that outlasts the retries becomes `StoreNotAvailable` (`StoreTimeout` for
timeouts) through `exhausted`. Every message is scrubbed of the store's secrets (account key,
SAS token, connection string): the service may quote a request back, and azure-core puts
request URLs (with their SAS query) into some messages.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable, Iterator

import aiohttp
from azure.core import exceptions as az

from ..._core.redact import scrub
from ...errors import (
    AlreadyExists,
    BitstoreError,
    BucketNotFound,
    InvalidRange,
    NotFoundInStore,
    ObjectChanged,
    StoreNotAvailable,
    StoreTimeout,
)
from ...retry import TransientError, is_transient_status

__all__ = ["AzureTimeout", "exhausted", "translate"]

_BUSY_CODES = frozenset({"ServerBusy", "OperationTimedOut", "InternalError"})
_MAX_DETAIL = 300


class AzureTimeout(TransientError):
    """A request attempt that ran out of time (becomes `StoreTimeout` if it persists)."""


def _detail(exc: BaseException, secrets: Iterable[str]) -> str:
    """The first line of the SDK's message, scrubbed and cut to a bound."""
    lines = scrub(str(exc), secrets).strip().splitlines()
    text = lines[0] if lines else type(exc).__name__
    return text if len(text) <= _MAX_DETAIL else text[: _MAX_DETAIL - 3] + "..."


def translate(
    store: object,
    exc: BaseException,
    uri: str,
    container: str,
    secrets: Iterable[str] = (),
    pinned: str | None = None,
) -> BaseException:
    """Our exception for ``exc``, raised while serving ``uri`` (``exc`` itself if not ours).

    ``pinned`` is the ETag a read was conditioned on (``If-Match``): its failed condition, or
    a missing blob, means that version is gone.
    """
    if isinstance(exc, (BitstoreError, TransientError)):
        return exc
    if pinned is not None and _version_gone(exc):
        return ObjectChanged(store, uri, pinned)
    if isinstance(exc, (az.ServiceRequestTimeoutError, az.ServiceResponseTimeoutError)):
        return AzureTimeout(f"timed out ({type(exc).__name__})")
    if isinstance(exc, asyncio.TimeoutError):
        return AzureTimeout("timed out")
    if isinstance(exc, az.ResourceModifiedError):
        return TransientError("the blob changed while it was read")
    if isinstance(exc, az.HttpResponseError) and exc.status_code is not None:
        return _status_error(store, exc, uri, container, secrets)
    if isinstance(exc, (az.ServiceRequestError, az.ServiceResponseError, az.IncompleteReadError)):
        return TransientError(f"{type(exc).__name__}: {_detail(exc, secrets)}")
    if isinstance(exc, (aiohttp.ClientError, ConnectionError)):
        return TransientError(f"{type(exc).__name__}: {_detail(exc, secrets)}")
    if isinstance(exc, az.ClientAuthenticationError):
        return StoreNotAvailable(store, f"access denied: {_detail(exc, secrets)}", uri=uri)
    if isinstance(exc, az.AzureError):
        return StoreNotAvailable(store, f"{type(exc).__name__}: {_detail(exc, secrets)}", uri=uri)
    return exc


def _status_error(
    store: object, exc: az.HttpResponseError, uri: str, container: str, secrets: Iterable[str]
) -> BaseException:
    status, code = int(exc.status_code or 0), str(getattr(exc, "error_code", None) or "")
    detail = f"{code or 'error'} (HTTP {status}): {_detail(exc, secrets)}"
    if code == "ContainerNotFound":
        return BucketNotFound(store, container, uri=uri, kind="container")
    if status == 404:
        return NotFoundInStore(store, uri)
    if status == 416 or code == "InvalidRange":
        return InvalidRange(store, uri, -1, -1, f"the server refused the range: {detail}")
    if code in _BUSY_CODES or is_transient_status(status):
        return TransientError(detail, status)
    if status in (401, 403) or isinstance(exc, az.ClientAuthenticationError):
        return StoreNotAvailable(store, f"access denied: {detail}", uri=uri)
    return StoreNotAvailable(store, detail, uri=uri)


def _version_gone(exc: BaseException) -> bool:
    """Whether ``exc`` answers a conditional read with "not that version" (412), or "no blob"."""
    if not isinstance(exc, az.HttpResponseError) or exc.status_code is None:
        return False
    code = str(getattr(exc, "error_code", None) or "")
    return exc.status_code == 412 or (exc.status_code == 404 and code != "ContainerNotFound")


def exhausted(store: object, exc: TransientError, uri: str, attempts: int) -> StoreNotAvailable:
    """The error for a transient failure that outlasted every retry."""
    tries = f"{attempts} attempt{'s' if attempts != 1 else ''}"
    if isinstance(exc, AzureTimeout):
        return StoreTimeout(store, f"{exc} after {tries}", uri=uri)
    return StoreNotAvailable(store, f"{exc} (after {tries})", uri=uri)


@contextlib.contextmanager
def taken_as_exists(store: object, uri: str) -> Iterator[None]:
    """Around a create: the server's "a blob is already there" as `AlreadyExists`."""
    try:
        yield
    except az.ResourceExistsError:
        raise AlreadyExists(store, uri) from None
