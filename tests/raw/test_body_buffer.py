"""`BodyBuffer`: a body of announced length filled in order and handed over whole."""

from __future__ import annotations

import pytest

from asyncbitstore.raw._net.buffers import GROWTH, BodyBuffer


def test_pieces_across_a_growth_step_give_the_body_exactly() -> None:
    size = GROWTH + 12345
    body = bytes(range(256)) * (size // 256) + b"t" * (size % 256)
    buffer = BodyBuffer(size)
    for at in range(0, size, 1 << 20):
        buffer.write(body[at : at + (1 << 20)])
    assert buffer.missing == 0
    value = buffer.value()
    assert type(value) is bytes and value == body


def test_reads_into_the_rest_count_as_written() -> None:
    buffer = BodyBuffer(10)
    view = buffer.rest(4)
    view[:] = b"abcd"
    buffer.received(4)
    buffer.write(b"efghij")
    assert buffer.value() == b"abcdefghij"


def test_more_bytes_than_announced_are_refused() -> None:
    buffer = BodyBuffer(3)
    buffer.write(b"ab")
    with pytest.raises(ValueError, match="1 bytes more than the 3 announced"):
        buffer.write(b"cd")


def test_an_empty_body_is_empty_bytes() -> None:
    buffer = BodyBuffer(0)
    buffer.write(b"")
    assert buffer.missing == 0 and buffer.value() == b""
