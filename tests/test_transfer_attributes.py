"""``transfer`` carries each blob's content type and user metadata (one ``head`` per blob)."""

from __future__ import annotations

from pathlib import Path

from asyncbitstore import FileRaw, MemoryRaw
from asyncbitstore.transfer import transfer


async def test_transfer_carries_content_type_and_metadata(tmp_path: Path) -> None:
    src, dst = MemoryRaw(), FileRaw()
    await src.put("mem://a/x", b"described", content_type="text/csv", metadata={"n": "1"})
    await src.put("mem://a/y", b"plain")
    result = await transfer(src, dst, "mem://a/", dst_prefix=f"{tmp_path}/")
    assert result.copied == 2
    meta = await dst.head(f"{tmp_path}/x")
    assert meta.content_type == "text/csv"
    assert dict(meta.metadata) == {"n": "1"}
    plain = await dst.head(f"{tmp_path}/y")
    assert plain.content_type is None and dict(plain.metadata) == {}


async def test_attributes_false_copies_the_bytes_only() -> None:
    src, dst = MemoryRaw(), MemoryRaw()
    await src.put("mem://a/x", b"described", content_type="text/csv", metadata={"n": "1"})
    await transfer(src, dst, ["mem://a/x"], attributes=False)
    meta = await dst.head("mem://a/x")
    assert await dst.get("mem://a/x") == b"described"
    assert meta.content_type is None and dict(meta.metadata) == {}
