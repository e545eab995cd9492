"""Keys read from a pipe are waited for off the event loop: a line's outcome is reported while
the writer is still writing."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from tests.cli_local import Local

ROOT = Path(__file__).resolve().parent.parent


async def test_a_missing_key_is_reported_before_stdin_ends(tmp_path: Path) -> None:
    local = Local(tmp_path)
    local.write_config()
    env = {k: v for k, v in os.environ.items() if k != "BITSTORE_CONFIG"}
    env["XDG_STATE_HOME"] = str(tmp_path / "state")
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    process = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "asyncbitstore", "--config", str(tmp_path / "bitstore.toml")),
        *("warm", "-"),
        cwd=tmp_path,
        env=env,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert process.stdin is not None and process.stderr is not None
    try:
        process.stdin.write(b"0" * 40 + b"\n")
        await process.stdin.drain()
        line = await asyncio.wait_for(process.stderr.readline(), 60)  # stdin is still open
        assert line.startswith(b"stdin:1: ")
        process.stdin.close()
        assert await asyncio.wait_for(process.wait(), 60) == 1
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
