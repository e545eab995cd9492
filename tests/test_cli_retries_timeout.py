"""``bitstore --retries N --timeout SECONDS``: they override the file for every tier, an
unreachable endpoint fails fast, and ``-v`` shows each retry on stderr."""

from __future__ import annotations

import asyncio
import os
import socket
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SECRET = "sEcReT-cli-retry-value-0123456789"
KEY = "4bc39c7d87318382feb3cc5a684c767fbd913968"

CONFIG = """
[[tier]]
role = "source"
uri = "s3://bucket/files/"
endpoint = "http://127.0.0.1:{port}"
region = "us-east-1"
access_key_id = "AKIAEXAMPLE"
secret_access_key = "{secret}"
retry = {{ attempts = 9, base = 0.2, cap = 0.4 }}
request_timeout = 60
timeout = 60
"""


@dataclass
class Run:
    code: int
    err: str
    seconds: float


async def bitstore(tmp_path: Path, port: int, *args: str) -> Run:
    (tmp_path / "bitstore.toml").write_text(CONFIG.format(port=port, secret=SECRET))
    env = {k: v for k, v in os.environ.items() if k != "BITSTORE_CONFIG"}
    for name in ("CACHE", "CONFIG", "STATE"):
        env[f"XDG_{name}_HOME"] = str(tmp_path / "user" / name.lower())
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    started = time.monotonic()
    process = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "asyncbitstore", "--no-progress", *args),
        cwd=tmp_path,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await asyncio.wait_for(process.communicate(), 100)
    assert process.returncode is not None
    return Run(process.returncode, err.decode(), time.monotonic() - started)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
async def silent_port() -> AsyncIterator[int]:
    """A port that accepts connections and never answers."""

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while await reader.read(65536):
                pass
        finally:
            writer.close()

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    try:
        yield int(server.sockets[0].getsockname()[1])
    finally:
        server.close()


async def test_an_unreachable_endpoint_fails_fast_and_verbose_shows_the_retries(
    tmp_path: Path,
) -> None:
    run = await bitstore(
        tmp_path, closed_port(), "-v", "--retries", "1", "--timeout", "2", "get", KEY
    )
    assert run.code == 3, run.err
    assert run.seconds < 15
    retries = [line for line in run.err.splitlines() if line.startswith("asyncbitstore.retry:")]
    assert any("attempt 1 of 2; retrying in" in line for line in retries), run.err
    assert any("attempt 2 of 2; giving up" in line for line in retries), run.err
    assert not any("of 9" in line for line in retries)  # the file's attempts are overridden
    assert SECRET not in run.err


async def test_without_verbose_the_retries_are_not_shown(tmp_path: Path) -> None:
    run = await bitstore(tmp_path, closed_port(), "--retries", "1", "get", KEY)
    assert run.code == 3
    assert "attempt 1 of" not in run.err
    assert run.err.count("\n") == 1, run.err  # the one error line


async def test_timeout_bounds_each_tier_however_long_the_file_allows(
    tmp_path: Path, silent_port: int
) -> None:
    run = await bitstore(tmp_path, silent_port, "--timeout", "1", "get", KEY)
    assert run.code == 3, run.err
    assert run.seconds < 15, run.err
    assert "within 1 s" in run.err


@pytest.mark.parametrize(
    "args",
    [
        ("--retries", "-1"),
        ("--retries", "two"),
        ("--timeout", "0"),
        ("--timeout", "-3"),
        ("--timeout", "nan"),
        ("--timeout", "soon"),
    ],
)
async def test_bad_values_are_usage_errors(tmp_path: Path, args: tuple[str, str]) -> None:
    run = await bitstore(tmp_path, closed_port(), *args, "get", KEY)
    assert run.code == 2
    assert f"Invalid value for '{args[0]}'" in run.err, run.err
    assert "Traceback" not in run.err
