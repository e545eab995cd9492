"""Secrets stay secret: no credential in a repr, str, message, log record or stats table.

Each test gives a store recognisable fake secrets, drives its success and failure paths (through
the fault proxy, which can also play a careless server that quotes the request's headers back in
its error message) with every logger at DEBUG, collects all the text that came out, and searches
it for the secrets. TLS certificate checks are on by default: a self-signed server is refused.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import pickle
import traceback
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from asyncbitstore import (
    BitstoreError,
    FileRaw,
    GSRaw,
    HTTPRaw,
    NotFoundInStore,
    Retry,
    S3Raw,
    Sha1Cache,
    Sha1Composite,
    Sha1Store,
    Store,
    StoreNotAvailable,
)
from tests.faults import RESET, STATUS, FaultProxy
from tests.raw._gcs_faults import serving
from tests.servers import LOOPBACK, RedisServer, http_status
from tests.test_cli import ROOT, Bitstore
from tests.tls import self_signed

from .conftest import Origin, blob, sha1

pytestmark = pytest.mark.servers

AWS_SECRET = "FAKEsecretKEYf0r+asyncbitstore/test0001"
AWS_TOKEN = "FAKEsessionTOKENf0rasyncbitstore" + "Zq9" * 30
HTTP_AUTH = "Bearer FAKE-http-bearer-token-7a1c93"
GCS_ACCESS_TOKEN = "ya29.FAKE-gcs-access-token-0d5e11"
REDIS_PASSWORD = "FAKE-redis-password-f00d"
QUICK = Retry(attempts=2, base=0.001, cap=0.002)


class Seen:
    """Everything a user could be shown: reprs, messages, logs, stats, and full tracebacks.

    ``shown`` holds what the library itself writes (str and repr of stores and errors, log
    messages, stats); ``tracebacks`` what a printed traceback adds: the chained causes, whose
    messages come from the SDKs underneath.
    """

    def __init__(self) -> None:
        self.shown: list[str] = []
        self.tracebacks: list[str] = []

    def add(self, *things: object) -> None:
        for thing in things:
            if isinstance(thing, BaseException):
                self.shown += [str(thing), repr(thing)]
                self.tracebacks.append("".join(traceback.format_exception(thing)))
                if isinstance(thing, BitstoreError):
                    self.shown.append(str(pickle.loads(pickle.dumps(thing))))
            elif isinstance(thing, Store):
                self.shown += [repr(thing), str(thing), thing.name]
            else:
                self.shown.append(str(thing))

    async def outcome(self, call: Callable[[], Awaitable[Any]]) -> Any:
        """Run ``call``; keep its result's text or its exception's."""
        try:
            result = await call()
        except Exception as exc:
            self.add(exc)
            return exc
        self.add(result)
        return result

    def leaks(
        self,
        caplog: pytest.LogCaptureFixture,
        *secrets: str,
        tracebacks: bool = True,
    ) -> list[str]:
        """Where any of ``secrets`` appears, with some context."""
        assert len(caplog.records) > 0  # DEBUG logging was on and something was logged
        records = caplog.records
        texts = [*self.shown, *(f"{r.name}: {r.getMessage()}" for r in records)]
        if tracebacks:
            texts += self.tracebacks
            texts += [
                "".join(traceback.format_exception(r.exc_info[1]))
                for r in records
                if r.exc_info and r.exc_info[1] is not None
            ]
        return [
            f"{secret[:12]}... in: {text[max(0, at - 300) : at + 100]!r}"
            for secret in secrets
            for text in texts
            if (at := text.find(secret)) >= 0
        ]

    def assert_free_of(
        self,
        caplog: pytest.LogCaptureFixture,
        *secrets: str,
        tracebacks: bool = True,
    ) -> None:
        leaks = self.leaks(caplog, *secrets, tracebacks=tracebacks)
        assert not leaks, f"{len(leaks)} leaks:\n" + "\n".join(leaks[:3])


async def _drain(chunks: AsyncIterator[bytes]) -> bytes:
    return b"".join([c async for c in chunks])


@pytest.fixture
def seen(caplog: pytest.LogCaptureFixture) -> Iterator[Seen]:
    caplog.set_level(logging.DEBUG)  # the root logger: every library's debug output
    yield Seen()


async def _chain_outcomes(seen: Seen, tier: Store, key: str, tmp: Path) -> None:
    """A chain with ``tier`` as its source: its errors, warnings and stats table are shown."""
    chain = Sha1Composite()
    chain.append_cache(Sha1Cache(FileRaw(), f"{tmp}/cache/"))
    chain.append_source(tier, cache_result=True)
    async with chain:
        await seen.outcome(lambda: chain.get(key))
        await seen.outcome(lambda: chain.get_many([key, "0" * 40]))
        seen.add(chain, chain.stats.table(), json.dumps(chain.stats.as_dict()))


# -- S3 --------------------------------------------------------------------------------------------

S3_CREDENTIALS = {
    "aws_access_key_id": "AKIAFAKEACCESSKEY001",
    "aws_secret_access_key": AWS_SECRET,
    "aws_session_token": AWS_TOKEN,
}


async def _s3_paths(seen: Seen, origin: Origin, tmp: Path, *, echo: bool) -> FaultProxy:
    """Drive S3Raw (and a chain over it) through success and failure; ``echo``: the failing
    server quotes the request's headers, session token included, in its error messages."""
    data = blob(1)
    await origin.seed(f"k/{sha1(data)}", data)
    async with FaultProxy(origin.upstream) as proxy:
        store = S3Raw(S3_CREDENTIALS, endpoint_url=proxy.url, retry=QUICK)
        uri = origin.uri(proxy.url, "x")
        seen.add(store)
        async with store:
            await seen.outcome(lambda: store.put(uri, b"payload"))
            await seen.outcome(lambda: store.get(uri))
            await seen.outcome(lambda: store.get(uri + "-missing"))
            await seen.outcome(lambda: store.get("s3://no-such-bucket/k"))
            await seen.outcome(lambda: store.get_many([uri, uri + "-missing"]))
            await seen.outcome(lambda: _drain(store.stream(uri)))  # through botocore
            for status in (403, 503):
                proxy.inject(STATUS, status=status, echo_headers=echo)
                await seen.outcome(lambda: store.get(uri))
                await seen.outcome(lambda: store.put(uri, b"payload"))
                proxy.heal()
            proxy.inject(RESET)
            await seen.outcome(lambda: store.exists(uri))
            proxy.heal()
            raw = S3Raw(S3_CREDENTIALS, endpoint_url=proxy.url, retry=QUICK)
            proxy.inject(STATUS, status=500, echo_headers=echo)
            await _chain_outcomes(seen, Sha1Store(raw, origin.uri("", "k/")), sha1(data), tmp)
    assert any(AWS_TOKEN in r.headers.get("X-Amz-Security-Token", "") for r in proxy.requests)
    refused = S3Raw(S3_CREDENTIALS, endpoint_url="http://127.0.0.1:9", retry=QUICK)
    await seen.outcome(lambda: refused.get("s3://bucket/key"))
    await refused.aclose()
    return proxy


async def test_s3_never_shows_its_secret_key_or_session_token_even_in_debug_logs(
    s3_origin: Origin, seen: Seen, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    await _s3_paths(seen, s3_origin, tmp_path, echo=False)
    seen.assert_free_of(caplog, AWS_SECRET, AWS_TOKEN)
    # botocore did dump its signed requests, and the token was masked in them.
    dumps = [r.getMessage() for r in caplog.records if r.name.startswith("botocore")]
    assert any("x-amz-security-token:***" in text.lower() for text in dumps)


async def test_s3_messages_and_tracebacks_scrub_a_session_token_the_server_quoted_back(
    s3_origin: Origin, seen: Seen, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    proxy = await _s3_paths(seen, s3_origin, tmp_path, echo=True)
    assert proxy.faults > 0
    seen.assert_free_of(caplog, AWS_SECRET, AWS_TOKEN)


# -- GCS -------------------------------------------------------------------------------------------


def _private_key_pem() -> str:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


PEM = _private_key_pem()
GCS_SECRETS = (GCS_ACCESS_TOKEN, "PRIVATE KEY", *(ln for ln in PEM.splitlines() if "--" not in ln))


def _token_endpoint(grants: list[str], *, accept: bool) -> Callable[[web.Request], Any]:
    async def token(request: web.Request) -> web.Response:
        grants.append(await request.text())
        if not accept:
            return web.json_response({"error": "invalid_grant"}, status=401)
        body = {"access_token": GCS_ACCESS_TOKEN, "expires_in": 3600, "token_type": "Bearer"}
        return web.json_response(body)

    return token


async def _gcs_paths(
    seen: Seen, origin: Origin, tmp: Path, monkeypatch: pytest.MonkeyPatch, *, echo: bool
) -> None:
    """Drive GSRaw with a service account (a real RSA key, a local token endpoint) through
    success and failure; ``echo``: the failing server quotes the request's headers back."""
    data = blob(2)
    await origin.seed(f"k/{sha1(data)}", data)
    grants: list[str] = []
    async with (
        FaultProxy(origin.upstream) as proxy,
        serving("POST", "/token", _token_endpoint(grants, accept=True)) as good,
        serving("POST", "/token", _token_endpoint(grants, accept=False)) as bad,
    ):
        # Credentials send requests to the public API root: here, the emulator behind the proxy.
        monkeypatch.setattr("asyncbitstore.raw.gs._client.PUBLIC_API_ROOT", proxy.url)
        account = {"type": "service_account", "private_key": PEM, "client_email": "a@b.c",
                   "private_key_id": "1", "token_uri": f"{good}/token"}  # fmt: skip
        store = GSRaw(account, retry=QUICK)
        uri = origin.uri(proxy.url, "x")
        seen.add(store)
        async with store:
            await seen.outcome(lambda: store.put(uri, b"payload"))
            await seen.outcome(lambda: store.get(uri))
            await seen.outcome(lambda: store.get(uri + "-missing"))
            await seen.outcome(lambda: store.get("gs://no-such-bucket/k"))
            for status in (403, 503):
                proxy.inject(STATUS, status=status, echo_headers=echo)
                await seen.outcome(lambda: store.get(uri))
                proxy.heal()
            keyed = Sha1Store(store, origin.uri("", "k/"))
            proxy.inject(STATUS, status=500, echo_headers=echo)
            await _chain_outcomes(seen, keyed, sha1(data), tmp)
            proxy.heal()
        assert any(GCS_ACCESS_TOKEN in r.headers.get("Authorization", "") for r in proxy.requests)
        refused = GSRaw({**account, "token_uri": f"{bad}/token"}, retry=QUICK)
        await seen.outcome(lambda: refused.get(uri))
        await refused.aclose()
    assert len(grants) >= 2  # accepted, then refused


async def test_gcs_never_shows_its_private_key_or_access_token(
    gcs_origin: Origin,
    seen: Seen,
    caplog: pytest.LogCaptureFixture,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    await _gcs_paths(seen, gcs_origin, tmp_path, monkeypatch, echo=False)
    seen.assert_free_of(caplog, *GCS_SECRETS)


async def test_gcs_messages_scrub_an_access_token_the_server_quoted_back(
    gcs_origin: Origin,
    seen: Seen,
    caplog: pytest.LogCaptureFixture,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    await _gcs_paths(seen, gcs_origin, tmp_path, monkeypatch, echo=True)
    seen.assert_free_of(caplog, *GCS_SECRETS, tracebacks=False)


# -- HTTP ------------------------------------------------------------------------------------------


async def test_http_never_shows_its_authorization_header_or_url_password(
    http_origin: Origin, seen: Seen, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    await http_origin.seed("file", b"public")
    async with FaultProxy(http_origin.upstream) as proxy:
        store = HTTPRaw(headers={"Authorization": HTTP_AUTH}, retry=QUICK)
        seen.add(store)
        host = proxy.url.removeprefix("http://")
        async with store:
            await seen.outcome(lambda: store.get(f"{proxy.url}/file"))
            await seen.outcome(lambda: store.get(f"{proxy.url}/missing"))
            await seen.outcome(lambda: store.get(f"http://user:{REDIS_PASSWORD}@{host}/missing"))
            await seen.outcome(lambda: store.get(f"http://user:{REDIS_PASSWORD}@{host}/x#frag"))
            proxy.inject(STATUS, status=403, echo_headers=True)
            await seen.outcome(lambda: store.get(f"{proxy.url}/file"))
            proxy.heal()
            proxy.inject(STATUS, status=503, echo_headers=True)
            await seen.outcome(lambda: store.size(f"{proxy.url}/file"))
            proxy.heal()
            proxy.inject(RESET)
            await seen.outcome(lambda: store.get(f"http://user:{REDIS_PASSWORD}@{host}/file"))
            proxy.heal()
            await seen.outcome(lambda: store.get(f"http://user:{REDIS_PASSWORD}@127.0.0.1:9/x"))
    assert all(r.headers.get("Authorization") == HTTP_AUTH for r in proxy.requests[:2])
    seen.assert_free_of(caplog, HTTP_AUTH, REDIS_PASSWORD)


# -- Redis -----------------------------------------------------------------------------------------


class PasswordRedis(RedisServer):
    """A Redis server that wants a password."""

    def _command(self) -> list[str]:
        return [*super()._command(), "--requirepass", REDIS_PASSWORD]

    def _ready(self) -> bool:
        import socket

        try:
            with socket.create_connection((LOOPBACK, self.port), timeout=1) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(64).startswith((b"+PONG", b"-NOAUTH"))
        except OSError:
            return False


@pytest.fixture(scope="module")
def password_redis() -> Iterator[PasswordRedis]:
    with PasswordRedis() as server:
        yield server


async def test_redis_never_shows_its_password(
    password_redis: PasswordRedis, seen: Seen, caplog: pytest.LogCaptureFixture
) -> None:
    from asyncbitstore import RedisRaw

    port = password_redis.port
    good = RedisRaw(f"redis://:{REDIS_PASSWORD}@127.0.0.1:{port}/0", retry=QUICK)
    wrong = RedisRaw(f"redis://:{REDIS_PASSWORD}-wrong@127.0.0.1:{port}/0", retry=QUICK)
    none = RedisRaw(f"redis://127.0.0.1:{port}/0", retry=QUICK)
    down = RedisRaw(f"redis://:{REDIS_PASSWORD}@127.0.0.1:9/0", retry=QUICK, request_timeout=1)
    for store in (good, wrong, none, down):
        seen.add(store, store.uri_hint)
        async with store:
            await seen.outcome(lambda s=store: s.put(s.uri("k"), b"v"))
            await seen.outcome(lambda s=store: s.get(s.uri("k")))
            await seen.outcome(lambda s=store: s.get(s.uri("missing")))
            await seen.outcome(lambda s=store: s.get("redis://elsewhere:1/0/k"))
    assert await good.get(good.uri("k")) == b"v"
    await good.aclose()
    seen.assert_free_of(caplog, REDIS_PASSWORD)


@pytest.fixture
def bitstore(tmp_path: Path) -> Bitstore:
    """The ``bitstore`` command in a folder of its own (as in tests/test_cli.py)."""
    env = {k: v for k, v in os.environ.items() if k != "BITSTORE_CONFIG"}
    for name in ("CACHE", "CONFIG", "STATE"):
        env[f"XDG_{name}_HOME"] = str(tmp_path / "user" / name.lower())
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    home = tmp_path / "work"
    home.mkdir()
    return Bitstore(home, env)


@pytest.mark.parametrize(
    "verbose",
    ["-v", "-vv"],
)
async def test_the_bitstore_command_never_prints_a_secret(
    verbose: str,
    bitstore: Bitstore,
    s3_origin: Origin,
    http_origin: Origin,
    password_redis: PasswordRedis,
    seen: Seen,
    caplog: pytest.LogCaptureFixture,
) -> None:
    data = blob(3)
    await s3_origin.seed(f"k/{sha1(data)}", data)
    async with FaultProxy(s3_origin.upstream) as proxy:
        bitstore.config(f"""
[chain]
name = "secretive"

[[tier]]
role = "cache"
uri = "redis://127.0.0.1:{password_redis.port}/0/c/"
password = "{REDIS_PASSWORD}"

[[tier]]
role = "source"
uri = "{s3_origin.uri("", "k/")}"
endpoint = "{proxy.url}"
access_key_id = "AKIAFAKEACCESSKEY001"
secret_access_key = "{AWS_SECRET}"
session_token = "{AWS_TOKEN}"
retry = {{ attempts = 2, base = 0.001, cap = 0.002 }}
cache_result = true

[[tier]]
role = "source"
uri = "{http_origin.upstream}/k/"
headers = {{ Authorization = "{HTTP_AUTH}" }}
retry = {{ attempts = 2, base = 0.001, cap = 0.002 }}
""")
        runs = [
            await bitstore(verbose, "config", "show"),
            await bitstore(verbose, "get", sha1(data)),
            await bitstore(verbose, "--json", "get", "0" * 40),
            await bitstore(verbose, "exists", sha1(data), "0" * 40),
            await bitstore(verbose, "stats"),
        ]
        proxy.inject(STATUS, status=403)
        runs.append(await bitstore(verbose, "get", sha1(b"elsewhere")))
        runs.append(await bitstore(verbose, "--json", "get", sha1(b"elsewhere")))
    assert runs[1].out == data and runs[-1].code == 3, runs[-1].err
    for run in runs:
        seen.add(run.out.decode(errors="replace"), run.err)
    logging.getLogger("tests").debug("%d bitstore runs searched", len(runs))
    seen.assert_free_of(caplog, AWS_SECRET, AWS_TOKEN, HTTP_AUTH, REDIS_PASSWORD)


# -- TLS -------------------------------------------------------------------------------------------


@pytest.fixture
async def https_url(tmp_path: Path) -> AsyncIterator[tuple[str, list[str]]]:
    """An HTTPS server with a self-signed certificate; yields its URL and the paths asked."""
    asked: list[str] = []

    async def anything(request: web.Request) -> web.Response:
        asked.append(request.path)
        return web.Response(body=b"served over TLS")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", anything)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, LOOPBACK, 0, ssl_context=self_signed(tmp_path)[0])
    await site.start()
    port = runner.addresses[0][1]
    yield f"https://{LOOPBACK}:{port}", asked
    await runner.cleanup()


async def test_tls_certificates_are_checked_by_default(https_url: tuple[str, list[str]]) -> None:
    url, asked = https_url
    stores: list[tuple[Store, str]] = [
        (HTTPRaw(retry=QUICK), f"{url}/blob"),
        (S3Raw(endpoint_url=url, retry=QUICK), "s3://bucket/blob"),
        (GSRaw(api_root=url, retry=QUICK), "gs://bucket/blob"),
    ]
    for store, uri in stores:
        async with store:
            with pytest.raises(StoreNotAvailable) as caught:
                await store.get(uri)
            assert not isinstance(caught.value, NotFoundInStore)
    assert asked == []  # no request got past the handshake
    # The control: the server itself works, for a client told not to check.
    async with aiohttp.ClientSession() as session, session.get(f"{url}/x", ssl=False) as reply:
        assert await reply.read() == b"served over TLS"
    assert asked == ["/x"]
    assert await asyncio.to_thread(http_status, f"{url}/y") is None  # urllib checks too
