"""`fill_ranges_below` in a configuration's `[chain]` table reaches the chain."""

from __future__ import annotations

import pytest

from asyncbitstore import Composite
from asyncbitstore.errors import ConfigError


def _config(value: object) -> dict[str, object]:
    return {
        "chain": {"kind": "plain", "fill_ranges_below": value},
        "tier": [{"role": "source", "uri": "mem://blobs/"}],
    }


@pytest.mark.parametrize("value", [0, 1024])
def test_the_option_reaches_the_chain(value: int) -> None:
    chain = Composite.from_config(_config(value))
    assert chain.fill_ranges_below == value


def test_a_wrong_type_is_a_located_error() -> None:
    with pytest.raises(ConfigError, match="fill_ranges_below"):
        Composite.from_config(_config("64 MiB"))
