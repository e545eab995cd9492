"""Contract target for ``SFTPRaw`` against a real OpenSSH sshd on 127.0.0.1.

Each test gets a fresh folder on the server (a temp folder on this machine) as the store's root.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.sshd import SSHServer, running_sshd

from .target import Target

TARGETS = ["sftp"]


@pytest.fixture(scope="session")
def contract_sshd() -> Iterator[SSHServer]:
    """The sshd of the contract suite (helper fixtures need the contract_ prefix too)."""
    yield from running_sshd()


@pytest.fixture
async def contract_sftp(contract_sshd: SSHServer, tmp_path: Path) -> AsyncIterator[Target]:
    from asyncbitstore.raw.sftp import SFTPRaw

    server = contract_sshd
    async with SFTPRaw(
        server.sftp_url(f"{tmp_path}/root"),
        known_hosts=str(server.known_hosts),
        client_keys=[str(server.client_key)],
        options={"agent_path": None, "config": []},
    ) as store:
        base = store.base
        yield Target(
            store,
            lambda n: f"{base}blobs/{n}",
            f"{base}blobs/",
            invalid=[
                "",
                base,
                base + "blobs/",
                base + "a//b",
                base + "a/../b",
                base + "./b",
                base + ".abstmp-123",
                base + "a\x00b",
                f"sftp://other@127.0.0.1:{server.port}{tmp_path}/root/x",
                f"sftp://{server.user}@127.0.0.1{tmp_path}/root/x",
                f"{store.authority}{tmp_path}/elsewhere",
                "s3://bucket/key",
            ],
        )
