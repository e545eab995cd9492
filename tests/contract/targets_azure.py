"""Contract target for AzureRaw on Azurite: a fresh container for every test."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest

from asyncbitstore import AzureRaw
from tests.servers import AzuriteServer

from .target import Target

TARGETS = ["azure"]


@pytest.fixture
async def contract_azure(azurite_server: AzuriteServer) -> AsyncIterator[Target]:
    container = f"contract-{uuid.uuid4().hex[:12]}"
    await asyncio.to_thread(azurite_server.create_container, container)
    async with AzureRaw(connection_string=azurite_server.connection_string) as store:
        yield Target(
            store,
            lambda n: f"az://{container}/blobs/{n}",
            f"az://{container}/blobs/",
            invalid=["az://", f"az://{container}", f"az://{container}/", "s3://bucket/key",
                     "az://UPPER/key", "az://ab/key", f"az://{container}/a\nb",
                     f"az://{container}/..", f"az://{container}/" + "x" * 1025, ""],
        )  # fmt: skip
