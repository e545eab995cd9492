"""`SyncStore.get_ranges`: the blocking face reads many ranges of one blob in one call."""

from __future__ import annotations

import os

import pytest

from asyncbitstore import InvalidRange, MemoryRaw
from asyncbitstore.sync import SyncStore


def test_many_ranges_come_back_in_the_order_asked() -> None:
    blob = os.urandom(10_000)
    with SyncStore(MemoryRaw()) as store:
        store.put("mem://t/blob", blob)
        asked = [(9_000, 9_500), (0, 10), (10, 20), (5_000, 5_000)]
        assert store.get_ranges("mem://t/blob", asked) == [blob[a:b] for a, b in asked]
        with pytest.raises(InvalidRange, match=r"ranges\[1\]"):
            store.get_ranges("mem://t/blob", [(0, 1), (5, 2)])
