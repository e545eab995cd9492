"""A real OpenSSH ``sshd`` for the SFTP tests, and a TCP relay that can cut connections.

:class:`SSHServer` runs ``sshd -D -e -f CONFIG`` on a free 127.0.0.1 port with a host key and
an authorized client key generated into its own temp folder (nothing in ``~/.ssh`` is read or
written). Tests import the ``sshd_server`` fixture from here; it skips when
``/usr/sbin/sshd`` is absent (Debian package ``openssh-server``).

As root, sshd insists on its privilege-separation folder ``/run/sshd``, which the Debian
service creates at boot; the fixture creates it (empty, root-owned, 0755) when it is missing.
"""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import os
import signal
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pytest

from tests.servers import LOOPBACK, Server

SSHD = Path("/usr/sbin/sshd")
_CONFIG = """\
ListenAddress {address}
HostKey {workdir}/host_key
PidFile none
AuthorizedKeysFile {workdir}/authorized_keys
AllowUsers {user}
StrictModes no
UsePAM no
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
Subsystem sftp internal-sftp
LogLevel VERBOSE
"""


class SSHServer(Server):
    """sshd with its own host key, accepting one generated client key for the current user."""

    name: ClassVar[str] = "sshd"
    scheme: ClassVar[str] = "sftp"

    def __init__(self) -> None:
        super().__init__()
        self.user = getpass.getuser()

    @property
    def client_key(self) -> Path:
        """The private key the server accepts (unencrypted)."""
        return self.workdir / "client_key"

    @property
    def known_hosts(self) -> Path:
        """A known_hosts file naming this server's host key (for ``known_hosts=``)."""
        return self.workdir / "known_hosts"

    def sftp_url(self, folder: str = "") -> str:
        """``sftp://user@127.0.0.1:PORT/folder``."""
        return f"sftp://{self.user}@{LOOPBACK}:{self.port}{folder}"

    def _command(self) -> list[str]:
        import asyncssh  # the tests' dependency, only needed once sshd is there

        workdir = self.workdir
        host = asyncssh.generate_private_key("ssh-ed25519")
        client = asyncssh.generate_private_key("ssh-ed25519")
        host.write_private_key(str(workdir / "host_key"))
        client.write_private_key(str(self.client_key))
        os.chmod(workdir / "host_key", 0o600)
        os.chmod(self.client_key, 0o600)
        (workdir / "authorized_keys").write_bytes(client.export_public_key())
        self.known_hosts.write_bytes(
            f"[{LOOPBACK}]:{self.port} ".encode() + host.export_public_key()
        )
        config = workdir / "sshd_config"
        config.write_text(
            _CONFIG.format(address=f"{LOOPBACK}:{self.port}", workdir=workdir, user=self.user)
        )
        return [str(SSHD), "-D", "-e", "-f", str(config)]

    def _ready(self) -> bool:
        try:
            with socket.create_connection((LOOPBACK, self.port), timeout=1) as sock:
                return sock.recv(64).startswith(b"SSH-2.0-")
        except OSError:
            return False

    def session_pids(self) -> list[int]:
        """PIDs of the per-connection sshd processes (children of the listener)."""
        if self._process is None:
            return []
        found = []
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                with contextlib.suppress(OSError):
                    stat = Path(f"/proc/{entry}/stat").read_text()
                    if int(stat.rsplit(")", 1)[1].split()[1]) == self._process.pid:
                        found.append(int(entry))
        return found

    def stop(self) -> None:
        """Stop the listener and any session process it left (found by parent PID)."""
        sessions = self.session_pids()
        super().stop()
        for pid in sessions:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)


class Relay:
    """A TCP relay on 127.0.0.1 to ``port``, inside the test's loop; :meth:`cut` drops links."""

    def __init__(self, port: int) -> None:
        self.target = port
        self.port = 0
        self.accepted = 0
        self._server: asyncio.Server | None = None
        self._links: set[asyncio.StreamWriter] = set()

    async def start(self) -> Relay:
        self._server = await asyncio.start_server(self._serve, LOOPBACK, 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        up_reader, up_writer = await asyncio.open_connection(LOOPBACK, self.target)
        self._links |= {writer, up_writer}
        await asyncio.gather(
            self._pipe(reader, up_writer), self._pipe(up_reader, writer), return_exceptions=True
        )

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(1 << 16):
                writer.write(data)
                await writer.drain()
        finally:
            self._links.discard(writer)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    def cut(self) -> None:
        """Drop every relayed connection at once (both sides see a reset)."""
        for writer in list(self._links):
            writer.transport.abort()

    async def close(self) -> None:
        self.cut()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()


def running_sshd() -> Iterator[SSHServer]:
    """Start an sshd for a fixture to yield; skips the test when sshd is not installed."""
    if not SSHD.is_file():
        pytest.skip(f"{SSHD} not found: install the Debian package openssh-server")
    if os.geteuid() == 0 and not os.path.isdir("/run/sshd"):
        os.makedirs("/run/sshd", mode=0o755, exist_ok=True)
    with SSHServer() as server:
        yield server


@pytest.fixture(scope="session")
def sshd_server() -> Iterator[SSHServer]:
    """One sshd for the session (import this fixture into a test module to use it)."""
    yield from running_sshd()
