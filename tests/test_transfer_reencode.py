"""``transfer(reencode=...)``: copying as stored, re-compressing, decompressing, streaming."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import brotli
import zstandard

from asyncbitstore import FileRaw, MemoryRaw, S3Raw, transfer
from asyncbitstore.compression.codecs import HEADER_SIZE, MAGIC

from .contract.targets_s3 import fresh_bucket

DOCS = {f"doc{i}": (b'{"n": %d, "text": "%s"}' % (i, b"lorem ipsum " * 500)) for i in range(5)}


async def test_file_blobs_stored_gzip_arrive_in_s3_as_zstd_and_back_as_brotli(
    tmp_path: Path, moto_server: Any
) -> None:
    files = FileRaw()
    for name, data in DOCS.items():
        await files.put(f"{tmp_path}/src/{name}", data, compress="gzip")
    async with (
        fresh_bucket(moto_server.url) as (bucket, admin),
        S3Raw(endpoint_url=moto_server.url) as s3,
    ):
        result = await transfer(
            files, s3, f"{tmp_path}/src/", dst_prefix=f"s3://{bucket}/z/", reencode="zstd",
            level=9, chunk_size=4096,
        )  # fmt: skip
        assert (result.copied, result.failed) == (len(DOCS), 0)
        assert result.bytes == sum(map(len, DOCS.values()))  # decoded bytes streamed
        for name, data in DOCS.items():
            body = await (await admin.get_object(Bucket=bucket, Key=f"z/{name}"))["Body"].read()
            assert body[:HEADER_SIZE] == MAGIC + bytes([1, 3])
            unzstd = zstandard.ZstdDecompressor().decompressobj()
            assert unzstd.decompress(body[HEADER_SIZE:]) == data
            assert await s3.get(f"s3://{bucket}/z/{name}") == data

        back = await transfer(
            s3, files, f"s3://{bucket}/z/", dst_prefix=f"{tmp_path}/br/", reencode="br"
        )
        assert back.copied == len(DOCS)
        for name, data in DOCS.items():
            stored = await files.get(f"{tmp_path}/br/{name}", stored=True)
            assert brotli.decompress(stored[HEADER_SIZE:]) == data
    await files.aclose()


async def test_reencode_none_copies_the_stored_form_byte_for_byte() -> None:
    src, dst = MemoryRaw(), MemoryRaw()
    await src.put("mem://s/a", DOCS["doc0"], compress="br", level=11)
    await src.put("mem://s/b", DOCS["doc1"])
    result = await transfer(src, dst, "mem://s/", dst_prefix="mem://d/")
    assert result.copied == 2
    assert await dst.get("mem://d/a", stored=True) == await src.get("mem://s/a", stored=True)
    assert result.bytes == len(await src.get("mem://s/a", stored=True)) + len(DOCS["doc1"])
    assert await dst.get("mem://d/a") == DOCS["doc0"]
    assert await dst.get("mem://d/b", stored=True) == DOCS["doc1"]


async def test_reencode_false_or_none_string_stores_the_data_decompressed() -> None:
    src, dst = MemoryRaw(), MemoryRaw()
    await src.put("mem://s/a", DOCS["doc2"], compress="zstd")
    for reencode, prefix in ((False, "mem://f/"), ("none", "mem://n/")):
        result = await transfer(src, dst, "mem://s/", dst_prefix=prefix, reencode=reencode)
        assert result.copied == 1
        assert await dst.get(prefix + "a", stored=True) == DOCS["doc2"]


async def test_skip_by_digest_sees_the_same_data_across_encodings() -> None:
    src, dst = MemoryRaw(), MemoryRaw()
    await src.put("mem://s/a", DOCS["doc3"], compress="gzip")
    await dst.put("mem://s/a", DOCS["doc3"], compress="zstd")
    result = await transfer(src, dst, "mem://s/", skip_existing="digest")
    assert (result.copied, result.skipped) == (1, 0)  # sizes differ: "digest" compares sizes first
    await dst.put("mem://s/a", DOCS["doc3"], compress="gzip")
    result = await transfer(src, dst, "mem://s/", skip_existing="digest")
    assert (result.copied, result.skipped) == (0, 1)
