"""V4 signed URLs for ``GSRaw``, signed with a service account's private key (RSA-SHA256).

The signature is computed here, with the ``cryptography`` package (a dependency of
gcloud-aio-storage, so installed with the ``gcs`` extra); nothing is sent to Google. Only a
service-account key can sign this way: user credentials from ``gcloud auth``, metadata-server
credentials and anonymous stores cannot (signing through the IAM ``signBlob`` API is not
implemented), and ``sign`` says so with ``NotImplementedError``.
"""

from __future__ import annotations

import binascii
import hashlib
import os
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any
from urllib.parse import quote, urlsplit

from ._key_file import read_key_file

__all__ = ["SIGNING_HOST", "load_signer", "signed_url"]

#: Where signed URLs point (the XML API host), unless the store talks to an emulator.
SIGNING_HOST = "https://storage.googleapis.com"
_ALGORITHM = "GOOG4-RSA-SHA256"


class Signer:
    """A service account's e-mail address and private key (never shown in a repr)."""

    def __init__(self, email: str, key: Any) -> None:
        self.email = email
        self._key = key

    def __repr__(self) -> str:
        return f"<Signer {self.email}>"

    def sign(self, message: bytes) -> bytes:
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding

        signature: bytes = self._key.sign(message, padding.PKCS1v15(), hashes.SHA256())
        return signature


def load_signer(store_name: str, credentials: object) -> Signer:
    """The signer of a service-account key given as a dict or a JSON file path (blocking).

    ``None`` (Application Default Credentials) uses the file that
    ``GOOGLE_APPLICATION_CREDENTIALS`` names, if any.

    Raises:
        NotImplementedError: credentials that hold no service-account key.
        ImportError: the ``cryptography`` package is missing.
    """
    info = _key_info(store_name, credentials)
    try:
        from cryptography.hazmat.primitives.serialization import load_pem_private_key
    except ModuleNotFoundError as missing:
        raise ImportError(
            "signing GCS URLs needs the cryptography package: pip install 'asyncbitstore[gcs]'"
        ) from missing
    email, pem = info.get("client_email"), info.get("private_key")
    if not isinstance(email, str) or not isinstance(pem, str):
        raise NotImplementedError(
            f"{store_name} cannot sign URLs: its service-account key lacks client_email or "
            "private_key"
        )
    try:
        key = load_pem_private_key(pem.encode(), password=None)
    except (ValueError, TypeError):
        raise NotImplementedError(
            f"{store_name} cannot sign URLs: the service account's private_key is unreadable"
        ) from None
    return Signer(email, key)


def _key_info(store_name: str, credentials: object) -> Mapping[str, Any]:
    if credentials is None:
        credentials = os.environ.get("GOOGLE_APPLICATION_CREDENTIALS") or None
    if credentials is None:
        raise NotImplementedError(
            f"{store_name} cannot sign URLs without a service-account key: pass one as "
            "credentials= (file path or dict) or set GOOGLE_APPLICATION_CREDENTIALS"
        )
    if isinstance(credentials, Mapping):
        info: object = credentials
    else:

        def unreadable(path: str, reason: str) -> NotImplementedError:
            return NotImplementedError(
                f"{store_name} cannot sign URLs: credentials file {path!r} is unreadable ({reason})"
            )

        _, info = read_key_file(credentials, unreadable)
    if not isinstance(info, Mapping) or info.get("type") != "service_account":
        raise NotImplementedError(
            f"{store_name} cannot sign URLs: only a service-account key can sign (these "
            "credentials are of another type)"
        )
    return info


def signed_url(
    signer: Signer,
    base: str,
    bucket: str,
    name: str,
    method: str,
    expires_in: int,
    now: datetime | None = None,
) -> str:
    """The V4 signed URL of ``bucket``/``name`` under ``base`` (path style)."""
    when = (now or datetime.now(timezone.utc)).astimezone(timezone.utc)
    stamp, day = when.strftime("%Y%m%dT%H%M%SZ"), when.strftime("%Y%m%d")
    scope = f"{day}/auto/storage/goog4_request"
    host = urlsplit(base).netloc
    path = f"/{bucket}/{quote(name, safe='/~')}"
    params = {
        "X-Goog-Algorithm": _ALGORITHM,
        "X-Goog-Credential": f"{signer.email}/{scope}",
        "X-Goog-Date": stamp,
        "X-Goog-Expires": str(expires_in),
        "X-Goog-SignedHeaders": "host",
    }
    query = "&".join(
        f"{quote(k, safe='~')}={quote(v, safe='~')}" for k, v in sorted(params.items())
    )
    canonical = "\n".join([method, path, query, f"host:{host}", "", "host", "UNSIGNED-PAYLOAD"])
    digest = hashlib.sha256(canonical.encode()).hexdigest()
    to_sign = "\n".join([_ALGORITHM, stamp, scope, digest]).encode()
    signature = binascii.hexlify(signer.sign(to_sign)).decode()
    return f"{base.rstrip('/')}{path}?{query}&X-Goog-Signature={signature}"
