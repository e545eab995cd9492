"""GSRaw: `copy` on the server (rewrite, with its continuation tokens) and V4 signed URLs.

fake-gcs-server finishes every rewrite in one call, so the ``rewriteToken`` loop is driven by a
scripted server. fake-gcs-server does not check signatures either: the signature is checked
here with the public half of a key made for the test, and the emulator only shows that the
URL's path names the object.
"""

from __future__ import annotations

import asyncio
import binascii
import hashlib
import json
import re
import urllib.request
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from asyncbitstore import BucketNotFound, GSRaw, NotFoundInStore, Retry, StoreNotAvailable
from asyncbitstore.raw.gs import _copy as gs_copy

from .hostile import Scripted, ok

_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))
_EMAIL = "signer@project.iam.gserviceaccount.com"


class NoBytesThrough(GSRaw):
    """A GSRaw that fails any read of an object's bytes: a copy must not need one."""

    async def _get_stored(self, uri: str) -> bytes:
        raise AssertionError("the copy read the object through the client")

    def _stream_stored(self, uri: str, chunk_size: int) -> AsyncIterator[bytes]:
        raise AssertionError("the copy streamed the object through the client")


@pytest.fixture(scope="module")
def key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _service_account(key: rsa.RSAPrivateKey) -> dict[str, str]:
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    return {"type": "service_account", "client_email": _EMAIL, "private_key": pem}


@pytest.mark.servers
async def test_copy_happens_on_the_server(gcs_server: Any) -> None:
    gcs_server.create_bucket("copies")
    async with (
        NoBytesThrough(api_root=gcs_server.url) as store,
        GSRaw(api_root=gcs_server.url) as plain,
    ):
        await plain.put("gs://copies/a", b"payload", compress="gzip")
        await store.copy("gs://copies/a", "gs://copies/b/c")
        assert await plain.get("gs://copies/b/c") == b"payload"
        with pytest.raises(NotFoundInStore):
            await store.copy("gs://copies/missing", "gs://copies/d")
        with pytest.raises(BucketNotFound):
            await store.copy("gs://copies/a", "gs://no-such-bucket-here/a")


def _rewrite_server(answers: list[dict[str, Any]]) -> Scripted:
    async def handler(server: Scripted, reader: Any, writer: Any, n: int) -> None:
        while head := await server.head(reader):
            length = re.search(rb"(?i)content-length: *(\d+)", head)
            await reader.readexactly(int(length[1]) if length else 0)
            answer = answers.pop(0) if answers else {"done": False, "rewriteToken": "again"}
            writer.write(ok(json.dumps(answer).encode(), "Content-Type: application/json\r\n"))
            await writer.drain()

    return Scripted(handler)


async def test_copy_follows_rewrite_tokens_until_done() -> None:
    answers = [
        {"done": False, "rewriteToken": "first/token"},
        {"done": False, "rewriteToken": "second"},
        {"done": True, "resource": {"name": "b"}},
    ]
    async with (
        _rewrite_server(answers) as server,
        GSRaw(api_root=f"http://{server.authority}") as store,
    ):
        await store.copy("gs://bkt/a b", "gs://other/b")
    lines = [head.split(b"\r\n")[0].decode() for head in server.requests]
    assert lines == [
        "POST /storage/v1/b/bkt/o/a%20b/rewriteTo/b/other/o/b HTTP/1.1",
        "POST /storage/v1/b/bkt/o/a%20b/rewriteTo/b/other/o/b?rewriteToken=first/token HTTP/1.1",
        "POST /storage/v1/b/bkt/o/a%20b/rewriteTo/b/other/o/b?rewriteToken=second HTTP/1.1",
    ]


async def test_a_rewrite_answer_without_token_fails_the_copy() -> None:
    async with (
        _rewrite_server([{"done": False}]) as server,
        GSRaw(api_root=f"http://{server.authority}", retry=Retry(attempts=1)) as store,
    ):
        with pytest.raises(StoreNotAvailable):
            await store.copy("gs://bkt/a", "gs://bkt/b")


async def test_a_rewrite_that_never_ends_is_given_up(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(gs_copy, "MAX_REWRITE_CALLS", 5)
    async with (
        _rewrite_server([]) as server,
        GSRaw(api_root=f"http://{server.authority}") as store,
    ):
        with pytest.raises(StoreNotAvailable, match="did not finish in 5 calls"):
            await store.copy("gs://bkt/a", "gs://bkt/b")
    assert len(server.requests) == 5


def _check_signature(url: str, key: rsa.RSAPrivateKey, method: str) -> dict[str, str]:
    """Rebuild what Google checks from the URL, and verify the signature with the public key."""
    parts = urlsplit(url)
    pairs = parse_qsl(parts.query)
    signature = dict(pairs).pop("X-Goog-Signature")
    query = "&".join(
        f"{quote(k, safe='~')}={quote(v, safe='~')}"
        for k, v in sorted(pairs)
        if k != "X-Goog-Signature"
    )
    canonical = "\n".join(
        [method, parts.path, query, f"host:{parts.netloc}", "", "host", "UNSIGNED-PAYLOAD"]
    )
    params = dict(pairs)
    scope = params["X-Goog-Credential"].split("/", 1)[1]
    to_sign = "\n".join(
        [
            "GOOG4-RSA-SHA256",
            params["X-Goog-Date"],
            scope,
            hashlib.sha256(canonical.encode()).hexdigest(),
        ]
    )
    key.public_key().verify(
        binascii.unhexlify(signature), to_sign.encode(), padding.PKCS1v15(), hashes.SHA256()
    )
    return params


async def test_signed_urls_carry_a_valid_v4_signature(key: rsa.RSAPrivateKey) -> None:
    store = GSRaw(_service_account(key))
    url = await store.sign("gs://bkt/dir/a file~.bin", method="put", expires_in=900)
    assert url.startswith("https://storage.googleapis.com/bkt/dir/a%20file~.bin?")
    params = _check_signature(url, key, "PUT")
    assert params["X-Goog-Algorithm"] == "GOOG4-RSA-SHA256"
    assert params["X-Goog-Expires"] == "900"
    assert params["X-Goog-SignedHeaders"] == "host"
    assert params["X-Goog-Credential"].startswith(_EMAIL + "/")
    assert params["X-Goog-Credential"].endswith("/auto/storage/goog4_request")
    assert "PRIVATE KEY" not in url
    with pytest.raises(InvalidSignature):  # a URL for another method does not verify
        _check_signature(url, key, "GET")


async def test_signing_reads_a_key_file_or_the_adc_variable(
    key: rsa.RSAPrivateKey, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "sa.json"
    path.write_text(json.dumps(_service_account(key)))
    _check_signature(await GSRaw(str(path)).sign("gs://bkt/k"), key, "GET")
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(path))
    _check_signature(await GSRaw().sign("gs://bkt/k", method="HEAD"), key, "HEAD")


@pytest.mark.servers
async def test_the_emulator_serves_a_signed_get(gcs_server: Any, key: rsa.RSAPrivateKey) -> None:
    """fake-gcs-server answers path-style object URLs only for the host storage.googleapis.com
    (and checks no signature): the URL's path and query, sent there, fetch the object."""
    gcs_server.create_bucket("signed")
    async with GSRaw(api_root=gcs_server.url) as emulated:
        await emulated.put("gs://signed/dir/a obj", b"signed bytes")
    url = await GSRaw(_service_account(key)).sign("gs://signed/dir/a obj", expires_in=60)
    parts = urlsplit(url)
    request = urllib.request.Request(
        f"{gcs_server.url}{parts.path}?{parts.query}", headers={"Host": parts.netloc}
    )

    def fetch() -> bytes:
        with _DIRECT.open(request, timeout=30) as answer:
            return answer.read()  # type: ignore[no-any-return]

    assert await asyncio.to_thread(fetch) == b"signed bytes"


@pytest.mark.parametrize(
    "credentials",
    [
        None,
        {"type": "authorized_user", "client_id": "x", "refresh_token": "secret-token"},
        {"type": "service_account", "client_email": _EMAIL},
    ],
)
async def test_credentials_that_cannot_sign_say_so(credentials: Any) -> None:
    with pytest.raises(NotImplementedError, match="cannot sign URLs") as caught:
        await GSRaw(credentials).sign("gs://bkt/k")
    assert "secret-token" not in str(caught.value)


async def test_an_anonymous_store_cannot_sign() -> None:
    with pytest.raises(NotImplementedError, match="anonymous"):
        await GSRaw.anonymous().sign("gs://bkt/k")


async def test_sign_checks_its_arguments(key: rsa.RSAPrivateKey) -> None:
    store = GSRaw(_service_account(key))
    with pytest.raises(ValueError, match="604800"):
        await store.sign("gs://bkt/k", expires_in=604801)
    with pytest.raises(ValueError, match="GET, PUT, HEAD, DELETE"):
        await store.sign("gs://bkt/k", method="PATCH")
