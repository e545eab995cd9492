"""Credentials for ``S3Raw``: accepted forms, secrets, and choosing among several.

An entry is ``None`` (botocore's default chain), ``"anonymous"`` (unsigned requests) or a dict of
boto3.Session's keyword names. Given several, `open_accepted` tries them in order when a
client is created: each is checked with one cheap signed request (ListBuckets), and the first the
server does not reject as *unknown or wrongly signed* wins. A 403 for the listing itself means
the keys are good but not allowed to list, so that entry is accepted too. Any other failure
(an outage) propagates instead of skipping to the next entry: an outage is not a bad key.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, TypeAlias, Union

from ..._core.redact import stand_in
from ...errors import StoreNotAvailable
from ...store import Store
from ._client import Connection, Options
from ._connect import open_connection
from ._errors import error_code, is_bad_credentials, translate

__all__ = [
    "ANONYMOUS", "CREDENTIAL_KEYS", "Credential", "normalize_credentials", "open_accepted",
    "secrets_of",
]  # fmt: skip

logger = logging.getLogger("asyncbitstore.s3")

#: A credentials entry meaning "send unsigned requests" (public buckets).
ANONYMOUS = "anonymous"
#: The keys a credentials dict may hold (boto3.Session's names).
CREDENTIAL_KEYS = frozenset(
    {"aws_access_key_id", "aws_secret_access_key", "aws_session_token", "profile_name"}
)
Credential: TypeAlias = Union[Mapping[str, str], str, None]  # noqa: UP007 - runtime alias on 3.10


def normalize_credentials(credentials: object) -> tuple[Credential, ...]:
    """Validate ``credentials`` (one entry or a list of them) into a tuple of entries."""
    entries = list(credentials) if isinstance(credentials, (list, tuple)) else [credentials]
    if not entries:
        raise ValueError("credentials must not be an empty list")
    result: list[Credential] = []
    for entry in entries:
        if entry is None or entry == ANONYMOUS:
            result.append(entry)
        elif isinstance(entry, Mapping):
            unknown = sorted(set(entry) - CREDENTIAL_KEYS)
            if unknown:
                raise ValueError(
                    f"unknown credentials keys {unknown}; use {sorted(CREDENTIAL_KEYS)}"
                )
            if not all(isinstance(v, str) for v in entry.values()):
                raise TypeError("credentials values must be str")
            result.append(dict(entry))
        else:
            raise TypeError(
                "credentials must be None, a dict, 'anonymous', or a list of them, "
                f"not {type(entry).__name__}"
            )
    return tuple(result)


def secrets_of(credentials: Sequence[Credential]) -> tuple[str, ...]:
    """The values that must never appear in messages or logs."""
    return tuple(
        entry[key]
        for entry in credentials
        if isinstance(entry, Mapping)
        for key in ("aws_secret_access_key", "aws_session_token")
        if entry.get(key)
    )


async def open_accepted(
    store: Store,
    credentials: Sequence[Credential],
    options: Options,
    *,
    secrets: Sequence[str],
    request: Callable[..., Awaitable[Any]],
) -> Connection:
    """A connection with the first entry of ``credentials`` the server accepts.

    ``store`` names the store in errors; ``request`` is its request runner (retries, error
    translation), used to check an entry; ``secrets`` are masked in every message.

    A single entry is used without a check: its problems surface on the first real request.

    Raises:
        StoreNotAvailable: no entry was accepted (each refusal listed), or the server failed.
    """
    reasons: list[str] = []
    for index, credential in enumerate(credentials, 1):
        failure: tuple[BaseException, BaseException] | None = None
        try:
            connection = await open_connection(credential, options)
        except Exception as exc:
            mapped = translate(store, exc, uri=None, bucket="", secrets=secrets)
            if mapped is exc:
                raise
            if len(credentials) > 1 and is_bad_credentials(exc):
                reasons.append(f"#{index}: {mapped}")
                continue
            failure = (mapped, stand_in(exc, secrets))
        if failure is not None:  # raised outside the handler: the SDK error is not its context
            raise failure[0] from failure[1]
        if len(credentials) == 1 or credential == ANONYMOUS:
            return connection
        try:
            accepted = await _accepted(store, request, connection, index, reasons)
        except BaseException:
            await connection.close()
            raise
        if accepted:
            return connection
        await connection.close()
    raise StoreNotAvailable(store, "no credentials were accepted: " + "; ".join(reasons))


async def _accepted(
    store: Store,
    request: Callable[..., Awaitable[Any]],
    connection: Connection,
    index: int,
    reasons: list[str],
) -> bool:
    try:
        await request(
            None, "", "check credentials", lambda c: c.client.list_buckets(), connection=connection
        )
    except StoreNotAvailable as exc:
        if is_bad_credentials(exc.__cause__):
            logger.debug("%s: credentials #%d refused: %s", store.name, index, exc.reason)
            reasons.append(f"#{index}: {exc.reason}")
            return False
        if error_code(exc.__cause__ or exc)[1] not in (401, 403):
            raise
    return True
