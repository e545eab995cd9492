"""`BodyBuffer`, the one-buffer receiver of bodies of known length, as Azure's gets use it."""

from __future__ import annotations

import os

import pytest

from asyncbitstore.raw._net.buffers import GROWTH, BodyBuffer, Overflow
from asyncbitstore.retry import is_transient


def test_pieces_fill_one_buffer_of_the_announced_size() -> None:
    body = os.urandom(GROWTH + 12345)  # past one growth step
    sink = BodyBuffer(len(body))
    for start in range(0, len(body), 1 << 20):
        assert sink.write(body[start : start + (1 << 20)]) == len(body[start : start + (1 << 20)])
    assert sink.missing == 0
    assert sink.value() == body


def test_a_write_past_the_announced_size_is_a_transient_overflow_and_keeps_nothing() -> None:
    sink = BodyBuffer(10)
    sink.write(b"12345678")
    with pytest.raises(Overflow, match="1 bytes more than the 10 announced") as caught:
        sink.write(b"abc")
    assert is_transient(caught.value)
    assert sink.missing == 2
    sink.write(b"90")
    assert sink.value() == b"1234567890"


def test_an_empty_body_needs_no_buffer() -> None:
    sink = BodyBuffer(0)
    assert sink.missing == 0
    assert sink.value() == b""
    with pytest.raises(Overflow):
        sink.write(b"x")
