"""Compression: MB/s and size ratio per codec through a FileRaw tier, beside the codec alone.

Three kinds of data, 8 blobs of 512 KiB each: JSON documents, English-like text, and random
bytes (standing for data that is already compressed: images, archives). For every codec, each
blob is ``put(..., compress=codec)`` into a FileRaw folder and read back with ``get`` (which
decodes it); the baseline is the same library called directly in the same run (compress, then
decompress, no store). "overhead" is the store's put+get time over the direct codec's time:
what the frame, the file writes and reads and the event loop add; "vs codec+I/O" divides it by
the codec's time plus plain FileRaw put+get of the same blobs (the "none" rows), which leaves
what compression inside the store adds beyond doing both steps separately.

Run: python benchmarks/compression.py [--rounds N] [--json out.json]
"""

from __future__ import annotations

import asyncio
import json
import random
import statistics
import tempfile
import time
import zlib
from collections.abc import Callable
from typing import Any

import brotli  # type: ignore[import-untyped]
import zstandard
from _common import arguments

from asyncbitstore import FileRaw

BLOBS = 8
SIZE = 512 << 10
WORDS = (  # noqa: SIM905 - a paragraph reads better than a long list
    "the of and to in a is that for it as was with be by on not he I this are or his from at "
    "which but have an they you were her she there would their we him been has when who will "
    "more no if out so said what up its about into than them can only other new some could time "
    "these two may then do first any my now such like our over man me even most made after also "
    "did many before must through back years where much your way well down should because each "
    "just those people how too little state good very make world still own see men work long "
    "storage cache blob tier bucket object request latency throughput compression stream"
).split()

Codec = tuple[Callable[[bytes], bytes], Callable[[bytes], bytes]]


def json_documents(rng: random.Random) -> bytes:
    rows, size = [], 0
    while size < SIZE:
        row = {
            "id": rng.randrange(10**9),
            "user": f"user{rng.randrange(5000)}",
            "tags": rng.sample(WORDS, 3),
            "score": round(rng.random() * 100, 3),
            "active": rng.random() < 0.5,
            "comment": " ".join(rng.choices(WORDS, k=rng.randrange(5, 25))),
        }
        rows.append(row)
        size += 160
    return json.dumps(rows).encode()[:SIZE]


def english_text(rng: random.Random) -> bytes:
    weights = [1 / (rank + 1) for rank in range(len(WORDS))]  # Zipf-like word frequencies
    sentences = []
    total = 0
    while total < SIZE:
        words = rng.choices(WORDS, weights, k=rng.randrange(6, 20))
        sentence = " ".join(words).capitalize() + rng.choice([". ", ". ", "? ", "! ", ".\n\n"])
        sentences.append(sentence)
        total += len(sentence)
    return "".join(sentences).encode()[:SIZE]


def random_bytes(rng: random.Random) -> bytes:
    return rng.randbytes(SIZE)


def direct_codecs() -> dict[str, Codec]:
    """Each codec called directly, at the level the store uses by default."""
    gzip_level, br_quality, zstd_level = 6, 5, 3

    def gzip_compress(data: bytes) -> bytes:
        deflate = zlib.compressobj(gzip_level, zlib.DEFLATED, 31)
        return deflate.compress(data) + deflate.flush()

    return {
        "gzip": (gzip_compress, lambda payload: zlib.decompress(payload, 31)),
        "br": (lambda data: brotli.compress(data, quality=br_quality), brotli.decompress),
        "zstd": (
            zstandard.ZstdCompressor(level=zstd_level).compress,
            lambda payload: zstandard.ZstdDecompressor().decompressobj().decompress(payload),
        ),
    }


async def store_round(
    store: FileRaw, folder: str, codec: str | None, blobs: list[bytes]
) -> tuple[float, float, int]:
    """(put seconds, get seconds, stored bytes) for every blob through ``store``."""
    uris = [f"{folder}/{codec}/{i}" for i in range(len(blobs))]
    started = time.perf_counter()
    for uri, blob in zip(uris, blobs, strict=True):
        await store.put(uri, blob, compress=codec)
    put = time.perf_counter() - started
    started = time.perf_counter()
    for uri, blob in zip(uris, blobs, strict=True):
        if await store.get(uri) != blob:
            raise AssertionError(f"{codec}: round trip changed {uri}")
    get = time.perf_counter() - started
    stored = sum([await store.size(uri) for uri in uris])
    return put, get, stored


def direct_round(codec: Codec, blobs: list[bytes]) -> tuple[float, float]:
    compress, decompress = codec
    started = time.perf_counter()
    payloads = [compress(blob) for blob in blobs]
    middle = time.perf_counter()
    for payload, blob in zip(payloads, blobs, strict=True):
        if decompress(payload) != blob:
            raise AssertionError("direct round trip changed a blob")
    return middle - started, time.perf_counter() - middle


async def main() -> None:
    args = arguments(__doc__ or "")
    rng = random.Random(20260101)
    kinds = {
        "json": [json_documents(rng) for _ in range(BLOBS)],
        "text": [english_text(rng) for _ in range(BLOBS)],
        "random": [random_bytes(rng) for _ in range(BLOBS)],
    }
    direct = direct_codecs()
    megabytes = BLOBS * SIZE / 1e6
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as folder:
        store = FileRaw()
        for kind, blobs in kinds.items():
            plain = 0.0  # seconds of plain put+get, from the "none" row
            for codec in (None, "gzip", "br", "zstd"):
                timings: dict[str, list[float]] = {"put": [], "get": [], "cput": [], "cget": []}
                stored = 0
                for _ in range(args.rounds):
                    put, get, stored = await store_round(store, f"{folder}/{kind}", codec, blobs)
                    timings["put"].append(put)
                    timings["get"].append(get)
                    if codec is not None:
                        compress, decompress = direct_round(direct[codec], blobs)
                        timings["cput"].append(compress)
                        timings["cget"].append(decompress)
                med = {
                    name: statistics.median(values) for name, values in timings.items() if values
                }
                both = med["put"] + med["get"]
                codec_time = med["cput"] + med["cget"] if codec else None
                plain = both if codec is None else plain
                row = {
                    "data": kind,
                    "codec": codec or "none",
                    "ratio": stored / (BLOBS * SIZE),
                    "put_mb_s": megabytes / med["put"],
                    "get_mb_s": megabytes / med["get"],
                    "direct_compress_mb_s": megabytes / med["cput"] if codec else None,
                    "direct_decompress_mb_s": megabytes / med["cget"] if codec else None,
                    "overhead": both / codec_time if codec_time else None,
                    "overhead_vs_codec_and_io": both / (codec_time + plain) if codec_time else None,
                }
                rows.append(row)
        await store.aclose()
    title = (
        f"compression through FileRaw: {BLOBS} blobs × {SIZE >> 10} KiB per data kind, "
        f"{args.rounds} rounds, medians (MB/s of original bytes)"
    )
    print(title)
    header = (
        "data",
        "codec",
        "stored/orig",
        "put MB/s",
        "get MB/s",
        "codec c MB/s",
        "codec d MB/s",
        "overhead",
        "vs codec+I/O",
    )
    print(f"{header[0]:<8}{header[1]:<7}" + "".join(f"{h:>14}" for h in header[2:]))
    for row in rows:

        def cell(value: Any, form: str) -> str:
            return f"{'-' if value is None else format(value, form):>14}"

        print(
            f"{row['data']:<8}{row['codec']:<7}"
            + cell(row["ratio"], ".3f")
            + cell(row["put_mb_s"], ".1f")
            + cell(row["get_mb_s"], ".1f")
            + cell(row["direct_compress_mb_s"], ".1f")
            + cell(row["direct_decompress_mb_s"], ".1f")
            + cell(row["overhead"], ".2f")
            + cell(row["overhead_vs_codec_and_io"], ".2f")
        )
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"title": title, "rows": rows}, indent=2))


if __name__ == "__main__":
    asyncio.run(main())
