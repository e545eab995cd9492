"""What ``bitstore`` says and refuses: binary output to a terminal, a listing that matched
nothing, what ``stats --reset`` reset, and shell completion."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
from pathlib import Path

from tests.cli_local import Local

ROOT = Path(__file__).resolve().parent.parent


def command(local: Local, *args: str, tty: bool = False, **env: str) -> tuple[int, bytes, str]:
    """Run ``python -m asyncbitstore ARGS`` with stdout a pseudo-terminal when ``tty``."""
    environ = {k: v for k, v in os.environ.items() if k != "BITSTORE_CONFIG"}
    environ.update(env, BITSTORE_CONFIG=str(local.home / "bitstore.toml"))
    environ["XDG_STATE_HOME"] = str(local.home / "user" / "state")
    environ["PYTHONPATH"] = os.pathsep.join([str(ROOT), environ.get("PYTHONPATH", "")])
    leader, follower = pty.openpty() if tty else (None, None)
    try:
        done = subprocess.run(
            [sys.executable, "-m", "asyncbitstore", *args],
            cwd=local.home,
            env=environ,
            stdout=follower if tty else subprocess.PIPE,
            stderr=subprocess.PIPE,
            timeout=100,
            check=False,
        )
        out = done.stdout or b""
        if leader is not None:
            assert follower is not None
            os.close(follower)
            follower = None
            out = _drain(leader)
    finally:
        for fd in (leader, follower):
            if fd is not None:
                os.close(fd)
    return done.returncode, out, done.stderr.decode()


def _drain(fd: int) -> bytes:
    chunks = []
    while True:
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # the terminal's other end is closed: all is read
            return b"".join(chunks)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


def test_binary_output_to_a_terminal_is_refused_without_force(tmp_path: Path) -> None:
    local = Local(tmp_path)
    local.write_config()
    (key,) = local.store(b"\x00\x01binary")
    code, out, err = command(local, "get", key, tty=True)
    assert code == 2 and out == b""
    assert "-o FILE" in err and "--force" in err
    code, _, err = command(local, "cat", key, tty=True)
    assert code == 2 and "terminal" in err
    code, out, _ = command(local, "get", key, "-f", tty=True)
    assert code == 0 and b"binary" in out
    code, out, _ = command(local, "get", key)  # a pipe is fine
    assert (code, out) == (0, b"\x00\x01binary")


def test_ls_of_a_prefix_that_matches_nothing_says_so_and_exits_1(tmp_path: Path) -> None:
    local = Local(tmp_path)
    local.write_config()
    (key,) = local.store(b"listed")
    found = local.run("ls", key[:4])
    assert (found.exit_code, found.stdout) == (0, key + "\n")
    empty = local.run("ls", "ffff" if not key.startswith("ffff") else "0000")
    assert empty.exit_code == 1 and empty.stdout == ""
    assert "nothing stored under" in empty.stderr
    as_json = local.run("--json", "ls", "ffff" if not key.startswith("ffff") else "0000")
    assert as_json.exit_code == 1 and json.loads(as_json.stdout) == []
    assert "nothing stored under" in json.loads(as_json.stderr)["note"]


def test_stats_reset_says_which_file_and_how_many_tiers(tmp_path: Path) -> None:
    local = Local(tmp_path)
    local.write_config()
    (key,) = local.store(b"counted")
    assert local.run("get", key, "-o", "copy").exit_code == 0
    reset = local.run("stats", "--reset")
    assert reset.exit_code == 0
    assert reset.stdout.startswith("reset the figures of 2 tiers in ")
    path = reset.stdout.strip().rsplit(" in ", 1)[1]
    assert path.startswith(str(local.home / "user" / "state")) and not Path(path).exists()
    again = json.loads(local.run("--json", "stats", "--reset").stdout)
    assert again == {"reset": path, "tiers": 0}


def test_shell_completion_script_and_completions(tmp_path: Path) -> None:
    local = Local(tmp_path)
    local.write_config()
    code, out, _ = command(local, _BITSTORE_COMPLETE="bash_source")
    assert code == 0 and b"_bitstore_completion" in out and b"complete " in out
    code, out, _ = command(
        local,
        _BITSTORE_COMPLETE="bash_complete",
        COMP_WORDS="bitstore exists --js",
        COMP_CWORD="2",
    )
    assert code == 0 and b"--json" in out
