"""Errors pickle whole, chain included, and carry no secret, even under tblib's reducers.

tblib's reducers (which importing Dask's ``distributed`` installs) pickle an exception's
``__cause__`` and ``__context__`` with it, attributes and all. A backend error chained to an SDK
exception would then carry whatever that exception holds: botocore's parsed response (a server
may quote the session token back in it) or aiohttp's request info and headers (which do not
pickle at all). Each test drives a store against a scripted server on 127.0.0.1, then pickles
the error it raised with and without those reducers and searches every byte for the secrets.
"""

from __future__ import annotations

import pickle
import traceback
from typing import Any

import pytest

from asyncbitstore import BitstoreError, GSRaw, HTTPRaw, Retry, S3Raw, Store
from tests.hostile import Scripted
from tests.raw.test_gcs import tblib_reducers

AWS_SECRET = "FAKEsecretKEYf0r+pickled/errors0001"
AWS_TOKEN = "FAKEsessionTOKENpickledErrors" + "Xy7" * 20
HTTP_TOKEN = "FAKE-http-bearer-pickled-51c0de"
QUICK = Retry(attempts=2, base=0.001, cap=0.002)
CREDENTIALS = {
    "aws_access_key_id": "AKIAFAKEPICKLED00001",
    "aws_secret_access_key": AWS_SECRET,
    "aws_session_token": AWS_TOKEN,
}


def _headers(head: bytes) -> dict[str, str]:
    lines = head.decode("latin-1").split("\r\n")[1:]
    return {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines)}


async def _quote_back(server: Scripted, reader: Any, writer: Any, n: int) -> None:
    """A careless S3: a 403 whose XML body and headers quote the request's credentials."""
    while head := await server.head(reader):
        sent = _headers(head)
        token, auth = sent.get("x-amz-security-token", ""), sent.get("authorization", "")
        body = (
            "<?xml version='1.0' encoding='UTF-8'?><Error><Code>AccessDenied</Code>"
            f"<Message>denied for {token} signed {auth}</Message><Token>{token}</Token>"
            f"<Authorization>{auth}</Authorization></Error>"
        ).encode()
        writer.write(
            f"HTTP/1.1 403 Forbidden\r\nContent-Type: application/xml\r\n"
            f"X-Echo-Token: {token}\r\nContent-Length: {len(body)}\r\n\r\n".encode()
            + (b"" if head.startswith(b"HEAD") else body)
        )


async def _garbled(server: Scripted, reader: Any, writer: Any, n: int) -> None:
    """Answers every request with a status line no HTTP client can parse."""
    while await server.head(reader):
        writer.write(b"HTTP/1.1 2x0 WHAT\r\nContent-Length: 0\r\n\r\n")


def _texts(error: BaseException) -> list[bytes]:
    """Everything an error can be turned into: text, and pickles with and without tblib."""
    assert isinstance(error, BitstoreError), repr(error)
    shown = [str(error), repr(error), "".join(traceback.format_exception(error))]
    pickles = [pickle.dumps(error)]
    with tblib_reducers():
        whole = pickle.dumps(error)
        back = pickle.loads(whole)
        shown.append("".join(traceback.format_exception(back)))
    assert type(back) is type(error) and str(back) == str(error)
    return [text.encode() for text in shown] + pickles + [whole]


def _assert_clean(error: BaseException, *secrets: str) -> None:
    for blob in _texts(error):
        for secret in secrets:
            at = blob.find(secret.encode())
            assert at < 0, f"{secret[:10]}... in {blob[max(0, at - 200) : at + 40]!r}"


async def _failure(store: Store, call: Any) -> BaseException:
    async with store:
        with pytest.raises(BitstoreError) as caught:
            await call()
    return caught.value


@pytest.mark.parametrize("fast_path", [True, False], ids=["fast-path", "botocore"])
async def test_an_s3_error_quoting_the_session_token_pickles_without_it(fast_path: bool) -> None:
    async with Scripted(_quote_back) as server:
        store = S3Raw(
            CREDENTIALS, endpoint_url=f"http://{server.authority}", region="us-east-1",
            retry=QUICK, fast_path=fast_path,
        )  # fmt: skip
        error = await _failure(store, lambda: store.get("s3://bucket/key"))
    assert any(AWS_TOKEN.encode() in head for head in server.requests)
    assert "access denied" in str(error) and "AccessDenied" in str(error)
    _assert_clean(error, AWS_TOKEN, AWS_SECRET)


async def test_an_unparsable_s3_answer_on_the_fast_paths_aiohttp_session_pickles() -> None:
    async with Scripted(_garbled) as server:
        store = S3Raw(
            CREDENTIALS, endpoint_url=f"http://{server.authority}", region="us-east-1", retry=QUICK
        )
        error = await _failure(store, lambda: store.size("s3://bucket/key"))  # HEAD: aiohttp
    assert server.requests and server.requests[0].startswith(b"HEAD ")
    _assert_clean(error, AWS_TOKEN, AWS_SECRET)


@pytest.mark.parametrize("call", ["size", "get"])
async def test_gcs_errors_from_aiohttp_pickle_with_their_chain(call: str) -> None:
    async def refusing(server: Scripted, reader: Any, writer: Any, n: int) -> None:
        while head := await server.head(reader):
            if b"alt=media" in head.split(b"\r\n")[0]:
                writer.write(b"HTTP/1.1 2x0 WHAT\r\nContent-Length: 0\r\n\r\n")
                continue
            body = b'{"error": {"code": 403, "message": "no"}}'
            writer.write(
                b"HTTP/1.1 403 Forbidden\r\nContent-Type: application/json\r\n"
                + f"Content-Length: {len(body)}\r\n\r\n".encode()
                + body
            )

    async with Scripted(refusing) as server:
        store = GSRaw(api_root=f"http://{server.authority}", retry=QUICK)
        error = await _failure(store, lambda: getattr(store, call)("gs://bucket/key"))
    _assert_clean(error)


async def test_http_errors_from_aiohttp_pickle_with_their_chain_and_no_header() -> None:
    async with Scripted(_garbled) as server:
        store = HTTPRaw(headers={"Authorization": f"Bearer {HTTP_TOKEN}"}, retry=QUICK)
        error = await _failure(store, lambda: store.get(f"http://{server.authority}/blob"))
    assert server.requests
    _assert_clean(error, HTTP_TOKEN)
