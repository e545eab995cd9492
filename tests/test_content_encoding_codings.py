"""Parsing ``Content-Encoding`` values and decoding them, without a server."""

from __future__ import annotations

import gzip
import os
import zlib
from collections.abc import AsyncIterator

import pytest

from asyncbitstore.compression.content_encoding import (
    UnknownCoding,
    codings,
    decode_content,
    decode_content_stream,
    transport_only,
)
from asyncbitstore.errors import InvalidDataFound, StoreNotAvailable

DATA = os.urandom(5000) * 3


@pytest.mark.parametrize(
    ("value", "names"),
    [
        (None, ()),
        ("", ()),
        ("identity", ()),
        ("GZIP", ("gzip",)),
        (" x-gzip ", ("gzip",)),
        ("gzip, identity, br", ("gzip", "br")),
        ("deflate,zstd", ("deflate", "zstd")),
    ],
)
def test_codings_names_what_was_applied_in_order(value: str | None, names: tuple[str, ...]) -> None:
    assert codings(value) == names


@pytest.mark.parametrize("value", ["compress", "gzip, lzma", "aes128gcm"])
def test_codings_refuses_what_it_cannot_decode(value: str) -> None:
    with pytest.raises(UnknownCoding):
        codings(value)


def test_transport_only_is_an_encoding_the_stored_form_does_not_have() -> None:
    assert transport_only("gzip", "identity") == "gzip"
    assert transport_only("gzip", "gzip") is None
    assert transport_only("gzip", None) is None  # nothing says how it is stored
    assert transport_only(None, "gzip") is None


async def _one_byte_at_a_time(data: bytes) -> AsyncIterator[bytes]:
    for index in range(len(data)):
        yield data[index : index + 1]


@pytest.mark.parametrize("wbits", [15, -15])
async def test_deflate_decodes_fed_a_byte_at_a_time(wbits: int) -> None:
    squeeze = zlib.compressobj(6, zlib.DEFLATED, wbits)
    body = squeeze.compress(DATA) + squeeze.flush()
    chunks = decode_content_stream("store", "uri", _one_byte_at_a_time(body), "deflate", 1000)
    out = [chunk async for chunk in chunks]
    assert b"".join(out) == DATA
    assert max(map(len, out)) <= 1000


async def test_a_truncated_body_raises_and_an_empty_one_is_empty_data() -> None:
    with pytest.raises(InvalidDataFound, match="truncated"):
        await decode_content("store", "uri", gzip.compress(DATA)[:-8], "gzip", 1 << 30, "b")
    with pytest.raises(InvalidDataFound, match="deflate"):
        await decode_content("store", "uri", b"\x78", "deflate", 1 << 30, "b")
    for encoding in ("gzip", "deflate", "br, zstd"):
        assert await decode_content("store", "uri", b"", encoding, 1 << 30, "b") == b""
        chunks = decode_content_stream("store", "uri", _one_byte_at_a_time(b""), encoding, 10)
        assert [chunk async for chunk in chunks] == []


async def test_the_bound_counts_the_decoded_bytes() -> None:
    body = gzip.compress(DATA)
    assert await decode_content("store", "uri", body, "gzip", len(DATA), "bound") == DATA
    with pytest.raises(StoreNotAvailable, match=f"bound={len(DATA) - 1}"):
        await decode_content("store", "uri", body, "gzip", len(DATA) - 1, "bound")
