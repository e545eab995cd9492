"""The freshness decision as a pure function, every case; and the record's own form."""

from __future__ import annotations

import itertools
from datetime import datetime, timezone

import pytest

from asyncbitstore.freshness import Action, CopyRecord, decide
from asyncbitstore.meta import ObjectMeta

META = ObjectMeta(size=3, etag='"e"', last_modified=datetime(2025, 1, 1, tzinfo=timezone.utc))
NOW = 1_000_000.0


def _expected(record: CopyRecord | None, ttl: float | None, revalidate: bool) -> Action:
    if ttl is None:
        return Action.SERVE
    if record is None:
        return Action.MISS
    age = NOW - record.fetched_at
    if 0 <= age < ttl:
        return Action.SERVE
    return Action.REVALIDATE if revalidate and record.meta is not None else Action.MISS


RECORDS = [None] + [
    CopyRecord(meta, NOW - age)
    for meta, age in itertools.product((META, None), (0.0, 5.0, 9.999, 10.0, 11.0, 1e9, -1.0))
]


@pytest.mark.parametrize("record", RECORDS)
@pytest.mark.parametrize("ttl", [None, 0.0, 10.0])
@pytest.mark.parametrize("revalidate", [False, True])
def test_every_case(record: CopyRecord | None, ttl: float | None, revalidate: bool) -> None:
    assert decide(record, ttl, revalidate, NOW) is _expected(record, ttl, revalidate)


def test_the_edges_read_as_documented() -> None:
    assert decide(None, None, True, NOW) is Action.SERVE  # no ttl: trusted, record or not
    assert decide(None, 10.0, True, NOW) is Action.MISS  # no record: stale, nothing to ask
    assert decide(CopyRecord(META, NOW - 9.0), 10.0, False, NOW) is Action.SERVE
    assert decide(CopyRecord(META, NOW - 10.0), 10.0, False, NOW) is Action.MISS
    assert decide(CopyRecord(META, NOW - 10.0), 10.0, True, NOW) is Action.REVALIDATE
    assert decide(CopyRecord(None, NOW - 10.0), 10.0, True, NOW) is Action.MISS  # no validator
    assert decide(CopyRecord(META, NOW + 5.0), 10.0, True, NOW) is Action.REVALIDATE  # future
    assert decide(CopyRecord(META, NOW), 0.0, False, NOW) is Action.MISS  # ttl 0: never fresh


@pytest.mark.parametrize("meta", [META, None, ObjectMeta(size=0, version="7", metadata={"a": "b"})])
def test_record_round_trip(meta: ObjectMeta | None) -> None:
    record = CopyRecord(meta, 12.5)
    assert CopyRecord.from_bytes(record.to_bytes()) == record


@pytest.mark.parametrize(
    "data",
    [b"", b"not json", b"[]", b'{"v": 2, "fetched_at": 1}', b'{"v": 1}',
     b'{"v":1,"fetched_at":true}', b'{"v":1,"fetched_at":1,"meta":{"size":-1}}',
     b'{"v":1,"fetched_at":1,"meta":{}}'],
)  # fmt: skip
def test_damaged_records_count_as_none(data: bytes) -> None:
    assert CopyRecord.from_bytes(data) is None
