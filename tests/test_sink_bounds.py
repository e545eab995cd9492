"""`Sink`, the one-buffer receiver of bodies of known length (HTTP/1.1 pool, Azure gets)."""

from __future__ import annotations

import os

import pytest

from asyncbitstore.raw._net.sink import GROWTH, Overflow, Sink
from asyncbitstore.retry import is_transient


def test_pieces_fill_one_buffer_of_the_announced_size() -> None:
    body = os.urandom(GROWTH + 12345)  # past one growth step
    sink = Sink(len(body))
    for start in range(0, len(body), 1 << 20):
        assert sink.write(body[start : start + (1 << 20)]) == len(body[start : start + (1 << 20)])
    assert sink.missing == 0
    assert sink.value() == body


def test_a_write_past_the_announced_size_is_a_transient_overflow_and_keeps_nothing() -> None:
    sink = Sink(10)
    sink.write(b"12345678")
    with pytest.raises(Overflow, match="past its announced 10 bytes") as caught:
        sink.write(b"abc")
    assert is_transient(caught.value)
    assert sink.missing == 2
    sink.write(b"90")
    assert sink.value() == b"1234567890"


def test_an_empty_body_needs_no_buffer() -> None:
    sink = Sink(0)
    assert sink.missing == 0
    assert sink.value() == b""
    with pytest.raises(Overflow):
        sink.write(b"x")
