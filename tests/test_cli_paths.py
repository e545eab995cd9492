"""``bitstore`` arguments as people type them: local paths from the working folder (not the
configuration's), ``-`` for stdin and stdout, several sources, ``cp -r``, and errors that name
the argument at fault. Run through click's CliRunner against a file-store configuration."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from asyncbitstore.cli import cli

#: A named chain whose one source is the folder ``store/`` beside the configuration file.
NAMED_CHAIN = """
[chain]
kind = "named"

[[tier]]
role = "source"
uri = "store/"
write = true
"""


@dataclass
class Shell:
    """Runs ``bitstore`` in ``home`` (the working folder), with its configuration in ``conf``."""

    home: Path
    conf: Path

    def __call__(self, *args: str, stdin: bytes | None = None) -> Result:
        runner = CliRunner()
        return runner.invoke(cli, ["--no-progress", *args], input=stdin, catch_exceptions=False)

    async def run(self, *args: str, stdin: bytes | None = None) -> Result:
        """The same from a test that runs an event loop (the command runs its own)."""
        return await asyncio.to_thread(self, *args, stdin=stdin)

    def config(self, text: str) -> None:
        (self.conf / "bitstore.toml").write_text(text)


@pytest.fixture
def shell(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Shell]:
    home, conf = tmp_path / "work", tmp_path / "conf"
    home.mkdir()
    conf.mkdir()
    for name in ("CACHE", "CONFIG", "STATE"):
        monkeypatch.setenv(f"XDG_{name}_HOME", str(tmp_path / "user" / name.lower()))
    monkeypatch.setenv("BITSTORE_CONFIG", str(conf / "bitstore.toml"))
    monkeypatch.chdir(home)
    made = Shell(home, conf)
    made.config(NAMED_CHAIN)
    yield made


def test_relative_local_paths_are_taken_from_the_working_folder(shell: Shell) -> None:
    (shell.home / "a.txt").write_bytes(b"alpha")
    done = shell("cp", "a.txt", "copies/")
    assert done.exit_code == 0, done.stderr
    assert (shell.home / "copies" / "a.txt").read_bytes() == b"alpha"
    assert not (shell.conf / "copies").exists()
    again = shell("cp", "copies/a.txt", "b.txt")
    assert (again.exit_code, (shell.home / "b.txt").read_bytes()) == (0, b"alpha")


def test_a_missing_source_is_named_and_no_tier_is_blamed(shell: Shell) -> None:
    missing = shell("cp", "nope.txt", "out/")
    assert missing.exit_code == 1
    assert missing.stderr.startswith("bitstore: error: SOURCE 'nope.txt': ")
    assert "tier" not in missing.stderr
    unknown = shell("cp", "foo://bucket/x", "out/")
    assert unknown.exit_code == 2
    assert "SOURCE 'foo://bucket/x': unknown scheme 'foo://'" in unknown.stderr
    assert "s3://" in unknown.stderr and "tier" not in unknown.stderr
    bad_target = shell("cp", "-", "bar://x", stdin=b"data")
    assert bad_target.exit_code == 2 and "TARGET 'bar://x'" in bad_target.stderr


def test_dash_is_stdin_as_the_source_and_stdout_as_the_target(shell: Shell) -> None:
    put = shell("cp", "-", "in/k.bin", stdin=b"from stdin")
    assert put.exit_code == 0, put.stderr
    assert (shell.home / "in" / "k.bin").read_bytes() == b"from stdin"
    out = shell("cp", "in/k.bin", "-")
    assert (out.exit_code, out.stdout_bytes) == (0, b"from stdin")
    folder = shell("cp", "-", "in/", stdin=b"x")
    assert folder.exit_code == 2 and "stdin has no name" in folder.stderr
    recursive = shell("cp", "-r", "in/", "-")
    assert recursive.exit_code == 2


def test_several_sources_go_into_a_folder(shell: Shell) -> None:
    for name in ("one", "two"):
        (shell.home / name).write_bytes(name.encode())
    (shell.home / "dest").mkdir()
    into = shell("cp", "one", "two", "dest")  # an existing folder needs no trailing /
    assert into.exit_code == 0, into.stderr
    assert into.stdout == "2 copied, 0 skipped, 0 failed, 6 bytes\n"
    assert sorted(os.listdir(shell.home / "dest")) == ["one", "two"]
    not_folder = shell("cp", "one", "two", "newname")
    assert not_folder.exit_code == 2
    assert "TARGET 'newname': several blobs go into a prefix" in not_folder.stderr
    assert not (shell.home / "newname").exists()


def test_cp_r_copies_a_local_folder_without_its_trailing_slash(shell: Shell) -> None:
    (shell.home / "data" / "sub").mkdir(parents=True)
    (shell.home / "data" / "a").write_bytes(b"A")
    (shell.home / "data" / "sub" / "b").write_bytes(b"BB")
    done = shell("cp", "-r", "data", "backup")
    assert done.exit_code == 0, done.stderr
    assert (shell.home / "backup" / "a").read_bytes() == b"A"
    assert (shell.home / "backup" / "sub" / "b").read_bytes() == b"BB"
    synced = shell("--json", "sync", "data", "backup")
    assert synced.exit_code == 0, synced.stderr
    assert '"skipped": 2' in synced.stdout
