"""In-process runs of the ``bitstore`` command (click's ``CliRunner``) against a chain of two
local folders, or a local cache in front of a tier at a closed port."""

from __future__ import annotations

import hashlib
import os
import socket
from dataclasses import dataclass
from pathlib import Path

from click.testing import CliRunner, Result

from asyncbitstore.cli import cli


def sha1(data: bytes) -> str:
    return hashlib.sha1(data).hexdigest()


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Local:
    """A cache folder in front of a source folder (or of an S3 tier nobody answers at)."""

    home: Path

    @property
    def cache(self) -> Path:
        return self.home / "cache"

    @property
    def source(self) -> Path:
        return self.home / "source"

    def write_config(self, *, down: bool = False) -> Path:
        source = (
            f'uri = "s3://bucket/files/"\nendpoint = "http://127.0.0.1:{closed_port()}"\n'
            "anonymous = true\nrequest_timeout = 5\nretry = { attempts = 1 }\n"
            if down
            else f'uri = "{self.source}/"\nwrite = true\n'
        )
        path = self.home / "bitstore.toml"
        path.write_text(
            f'[[tier]]\nrole = "cache"\nuri = "{self.cache}/"\n\n'
            f'[[tier]]\nrole = "source"\ncache_result = true\n{source}'
        )
        return path

    def store(self, *blobs: bytes, where: str = "source") -> list[str]:
        """Put ``blobs`` straight into the source (or cache) folder; return their keys."""
        folder = self.home / where
        folder.mkdir(exist_ok=True)
        for blob in blobs:
            (folder / sha1(blob)).write_bytes(blob)
        return [sha1(blob) for blob in blobs]

    def run(self, *args: str, stdin: str | bytes | None = None) -> Result:
        runner = CliRunner()
        env = {
            f"XDG_{name}_HOME": str(self.home / "user" / name.lower())
            for name in ("CACHE", "CONFIG", "STATE")
        }
        env["BITSTORE_CONFIG"] = str(self.home / "bitstore.toml")
        before = os.getcwd()
        os.chdir(self.home)  # keys files are named as given: keys.txt
        try:
            return runner.invoke(cli, list(args), input=stdin, env=env, catch_exceptions=False)
        finally:
            os.chdir(before)
