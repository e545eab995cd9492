"""AWS Signature Version 4 for the S3 hot path: request URLs, canonical URIs, and signing.

Only what the hot path sends is covered: requests on an object without a query string, or on
a bucket with one (a listing), whose signed headers are ``host``, ``x-amz-*`` and, when present,
``range``, ``content-md5`` and ``content-length``.
The derived signing key depends only on the secret, the day, the region and the service, so
it is computed once per day (the last one is kept).

URI encoding is where hand-made signers break. S3 signs the path as sent, encoded once:
each byte outside RFC 3986's unreserved set (``A-Za-z0-9-._~``) and ``/`` becomes ``%XX``
with upper-case hex, from the key's UTF-8 bytes. The same string is sent on the wire (aiohttp
is told the URL is already encoded), so what is signed is what the server sees.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import quote, unquote, urlsplit

__all__ = [
    "EMPTY_SHA256", "UNSIGNED_PAYLOAD", "Signer", "Target", "bucket_target", "canonical_query",
    "quote_key", "target",
]  # fmt: skip

EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
_ALGORITHM = "AWS4-HMAC-SHA256"
# Bucket names usable as a DNS label: botocore's rule for virtual-host addressing.
_DNS_BUCKET = re.compile(r"[a-z0-9][a-z0-9-]{1,61}[a-z0-9]")
_DEFAULT_PORTS = {"http": 80, "https": 443}


def quote_key(key: str) -> str:
    """``key`` encoded for an S3 path: RFC 3986 unreserved characters and ``/`` kept."""
    return quote(key, safe="/~")


@dataclass(frozen=True)
class Target:
    """Where one object lives: the URL to request and what its signature covers.

    Attributes:
        url: scheme, host, encoded path and query (sent as is, never re-encoded).
        host: the ``Host`` header, port included unless it is the scheme's default.
        path: the canonical URI (the encoded path).
        query: the canonical query string (see `canonical_query`), ``""`` for none.
    """

    url: str
    host: str
    path: str
    query: str = ""

    @property
    def request_path(self) -> str:
        """What the request line names: the path, and the query if there is one."""
        return f"{self.path}?{self.query}" if self.query else self.path


def canonical_query(params: Mapping[str, str]) -> str:
    """``params`` as a query string that is sent and signed alike: sorted by name, names
    and values encoded keeping only RFC 3986 unreserved characters."""
    return "&".join(
        f"{quote(name, safe='-_.~')}={quote(value, safe='-_.~')}"
        for name, value in sorted(params.items())
    )


def target(endpoint: str, bucket: str, key: str, *, path_style: bool) -> Target:
    """The URL of ``bucket``/``key`` on ``endpoint`` (e.g. ``https://s3.amazonaws.com``).

    Path-style (``endpoint/bucket/key``) when asked for or when the bucket is no DNS label
    (upper case, dots, underscores); virtual-host (``bucket.endpoint-host/key``) otherwise.
    """
    origin, netloc, root = _bucket_root(endpoint, bucket, path_style)
    path = f"{root.removesuffix('/')}/{quote_key(key)}"
    return Target(f"{origin}{path}", netloc, path)


def bucket_target(endpoint: str, bucket: str, query: str, *, path_style: bool) -> Target:
    """The URL of a request on ``bucket`` itself (``query`` from `canonical_query`), addressed
    as `target` addresses its objects: ``endpoint/bucket`` or ``bucket.endpoint-host/``."""
    origin, netloc, root = _bucket_root(endpoint, bucket, path_style)
    return Target(f"{origin}{root}?{query}", netloc, root, query)


def _bucket_root(endpoint: str, bucket: str, path_style: bool) -> tuple[str, str, str]:
    """(``scheme://host``, Host header, path of the bucket itself) for requests on ``bucket``:
    path-style ``base/bucket`` or, on the bucket's own host, ``base/``."""
    scheme, netloc, base = _split(endpoint)
    if path_style or not _DNS_BUCKET.fullmatch(bucket):
        return f"{scheme}://{netloc}", netloc, f"{base}/{bucket}"
    netloc = f"{bucket}.{netloc}"
    return f"{scheme}://{netloc}", netloc, f"{base}/"


@functools.lru_cache(maxsize=64)
def _split(endpoint: str) -> tuple[str, str, str]:
    """(scheme, Host header, base path) of an endpoint URL; a store has one or two."""
    parts = urlsplit(endpoint)
    scheme, host = parts.scheme, parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    if parts.port is not None and parts.port != _DEFAULT_PORTS.get(scheme):
        host = f"{host}:{parts.port}"
    # The endpoint's own path is encoded as keys are (once: escapes already there are kept).
    return scheme, host, quote_key(unquote(parts.path.rstrip("/")))


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.digest(key, text.encode(), "sha256")


class Signer:
    """Signs requests for one region and service, caching the day's signing key.

    Args:
        region: the signing region (e.g. ``us-east-1``).
        service: the signing name, ``s3``.
    """

    def __init__(self, region: str, service: str = "s3") -> None:
        self.region = region
        self.service = service
        self._cached: tuple[str, str, bytes] | None = None  # (secret, day, key)
        self._second = -1  # the whole second self._stamp was made for
        self._stamp = ""

    def __repr__(self) -> str:
        return f"Signer(region={self.region!r}, service={self.service!r})"

    def _key(self, secret: str, day: str) -> bytes:
        cached = self._cached
        if cached is not None and cached[0] == secret and cached[1] == day:
            return cached[2]
        key = _hmac(("AWS4" + secret).encode(), day)
        for part in (self.region, self.service, "aws4_request"):
            key = _hmac(key, part)
        self._cached = (secret, day, key)
        return key

    def sign(
        self,
        method: str,
        where: Target,
        headers: dict[str, str],
        *,
        access_key: str,
        secret_key: str,
        token: str | None = None,
        payload_hash: str = EMPTY_SHA256,
        now: float | None = None,
    ) -> dict[str, str]:
        """Add the date, payload hash, token and ``Authorization`` headers to ``headers``.

        ``headers`` may hold ``Range``, ``Content-MD5`` and ``Content-Length``; every header in
        it is signed. Returns ``headers``.
        """
        stamp = self._timestamp(time.time() if now is None else now)
        day = stamp[:8]
        headers["Host"] = where.host
        headers["X-Amz-Date"] = stamp
        headers["X-Amz-Content-SHA256"] = payload_hash
        if token:
            headers["X-Amz-Security-Token"] = token
        canonical = _canonical_headers(headers)
        names = ";".join(canonical)
        request = "\n".join(
            (method, where.path, where.query, *(f"{n}:{v}" for n, v in canonical.items()), "",
             names, payload_hash)
        )  # fmt: skip
        scope = f"{day}/{self.region}/{self.service}/aws4_request"
        digest = hashlib.sha256(request.encode()).hexdigest()
        to_sign = f"{_ALGORITHM}\n{stamp}\n{scope}\n{digest}"
        signature = _hmac(self._key(secret_key, day), to_sign).hex()
        headers["Authorization"] = (
            f"{_ALGORITHM} Credential={access_key}/{scope}, SignedHeaders={names}, "
            f"Signature={signature}"
        )
        return headers

    def _timestamp(self, now: float) -> str:
        """``YYYYMMDDTHHMMSSZ`` for ``now``, formatted once per second (requests come in bursts)."""
        second = int(now)
        if second != self._second:
            self._stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(second))
            self._second = second
        return self._stamp


def _canonical_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """Lower-cased names in sorted order, values trimmed and runs of spaces folded."""
    folded = {
        name.lower(): value.strip() if "  " not in value else " ".join(value.split())
        for name, value in headers.items()
    }
    return dict(sorted(folded.items()))
