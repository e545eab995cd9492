"""``write(data)``: a ``str`` is refused (never read as a file's name); a path must be a PathLike.

A web handler that passes a request's text to ``write`` must not be able to upload a local file
by naming it, nor crash with ``FileNotFoundError`` on ordinary text.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from asyncbitstore import FileRaw, HashStore, MemoryRaw, Sha1Composite, Sha1Store

DATA = b"the contents of a local file\n"
KEY = hashlib.sha1(DATA).hexdigest()


def _chain(tmp_path: Path) -> Sha1Composite:
    chain = Sha1Composite()
    chain.append_source(Sha1Store(FileRaw(), f"{tmp_path}/blobs/"), write=True)
    return chain


def _stored(tmp_path: Path) -> list[str]:
    folder = tmp_path / "blobs"
    return sorted(p.name for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


@pytest.mark.parametrize("make", ["keyed", "hash", "chain"])
async def test_a_str_naming_a_local_file_is_refused_and_nothing_is_stored(
    tmp_path: Path, make: str
) -> None:
    secret = tmp_path / "hostname"
    secret.write_bytes(DATA)
    store = {
        "keyed": lambda: Sha1Store(FileRaw(), f"{tmp_path}/blobs/"),
        "hash": lambda: HashStore(FileRaw(), f"{tmp_path}/blobs/", algorithm="sha256"),
        "chain": lambda: _chain(tmp_path),
    }[make]()
    async with store:
        with pytest.raises(TypeError) as caught:
            await store.write(str(secret))  # type: ignore[attr-defined]
    message = str(caught.value)
    assert "bytes" in message and "pathlib.Path" in message
    assert _stored(tmp_path) == []


async def test_plain_text_is_a_type_error_not_a_missing_file(tmp_path: Path) -> None:
    async with Sha1Store(MemoryRaw(), "mem://t/") as store:
        with pytest.raises(TypeError, match=r"encode\(\)"):
            await store.write("abc")  # type: ignore[arg-type]
    async with _chain(tmp_path) as chain:
        with pytest.raises(TypeError, match=r"pathlib\.Path"):
            await chain.write("abc")  # type: ignore[arg-type]


async def test_a_pathlib_path_still_uploads_the_file(tmp_path: Path) -> None:
    source = tmp_path / "input.bin"
    source.write_bytes(DATA)
    async with _chain(tmp_path) as chain:
        assert await chain.write(source) == KEY
        assert await chain.get(KEY) == DATA
