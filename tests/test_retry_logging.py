"""Each retry is logged at DEBUG on ``asyncbitstore.retry``: what failed, attempt n of m, the wait.

The endpoints are ports with nothing listening, so every attempt fails at once with a
connection error; the records must say so without quoting a credential.
"""

from __future__ import annotations

import logging
import re
import socket

import pytest

from asyncbitstore import Retry, StoreNotAvailable
from asyncbitstore.raw.http import HTTPRaw
from asyncbitstore.raw.s3 import S3Raw

FAST = Retry(attempts=3, base=0.01, cap=0.02)
SECRET = "sEcReT-retry-log-value-0123456789"


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _retry_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "asyncbitstore.retry"]


async def test_http_retries_are_logged_with_attempt_numbers(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="asyncbitstore.retry")
    url = f"http://127.0.0.1:{closed_port()}/blob"
    async with HTTPRaw(retry=FAST, headers={"Authorization": f"Bearer {SECRET}"}) as store:
        with pytest.raises(StoreNotAvailable):
            await store.get(url)
    lines = _retry_lines(caplog)
    assert len(lines) == 3, lines
    assert all(r.levelno == logging.DEBUG for r in caplog.records if r.name.endswith("retry"))
    assert re.search(r"attempt 1 of 3; retrying in 0\.0\d+ s", lines[0]), lines[0]
    assert "attempt 2 of 3; retrying in" in lines[1]
    assert "attempt 3 of 3; giving up" in lines[2]
    assert all("127.0.0.1" in line and "Connect" in line for line in lines), lines
    assert SECRET not in caplog.text


async def test_s3_retries_are_logged_without_the_secret_key(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="asyncbitstore.retry")
    credentials = {"aws_access_key_id": "AKIAEXAMPLE", "aws_secret_access_key": SECRET}
    store = S3Raw(
        credentials,
        endpoint_url=f"http://127.0.0.1:{closed_port()}",
        region="us-east-1",
        retry=FAST,
    )
    async with store:
        with pytest.raises(StoreNotAvailable):
            await store.get("s3://bucket/key")
    lines = _retry_lines(caplog)
    assert [line.split("; ")[-2] for line in lines] == [
        "attempt 1 of 3",
        "attempt 2 of 3",
        "attempt 3 of 3",
    ], lines
    assert SECRET not in caplog.text


async def test_a_call_that_succeeds_after_a_retry_logs_that_retry_only(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="asyncbitstore.retry")
    failures = [ConnectionResetError("peer went away")]

    async def flaky() -> str:
        if failures:
            raise failures.pop()
        return "ok"

    assert await FAST.call(flaky, what="probe") == "ok"
    (line,) = _retry_lines(caplog)
    assert line.startswith("probe failed (ConnectionResetError: peer went away); attempt 1 of 3")


async def test_credentials_in_a_failure_message_are_masked(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="asyncbitstore.retry")
    failures = [ConnectionError(f"cannot reach https://user:{SECRET}@example.test/x")]

    async def flaky() -> str:
        if failures:
            raise failures.pop()
        return "ok"

    assert await FAST.call(flaky, what="probe") == "ok"
    (line,) = _retry_lines(caplog)
    assert "https://***@example.test/x" in line
    assert SECRET not in caplog.text


async def test_redis_retries_are_logged_like_the_others(caplog: pytest.LogCaptureFixture) -> None:
    pytest.importorskip("redis")
    from asyncbitstore.raw.redis import RedisRaw

    caplog.set_level(logging.DEBUG, logger="asyncbitstore.retry")
    url = f"redis://:{SECRET}@127.0.0.1:{closed_port()}/0"
    async with RedisRaw(url, retry=FAST) as store:
        with pytest.raises(StoreNotAvailable):
            await store.get(store.base + "key")
    lines = _retry_lines(caplog)
    assert [line.split("; ")[-2] for line in lines] == [
        "attempt 1 of 3",
        "attempt 2 of 3",
        "attempt 3 of 3",
    ], lines
    assert SECRET not in caplog.text
