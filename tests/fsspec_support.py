"""Fixtures shared by the fsspec tests: fsspec's tests are plain functions run on its loop."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fsspec.asyn import get_loop, sync

from tests.contract.targets_s3 import fresh_bucket


@pytest.fixture(scope="module")
def bucket(moto_server: Any) -> Iterator[str]:
    """One bucket on moto for the module, made and dropped on fsspec's loop."""
    loop = get_loop()
    opened = fresh_bucket(moto_server.url)
    name, _ = sync(loop, opened.__aenter__)
    yield name
    sync(loop, opened.__aexit__, None, None, None)
