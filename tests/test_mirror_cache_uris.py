"""`MirrorCache`: any full URI of a known scheme is kept inside the root, reversibly."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from asyncbitstore import FileRaw, InvalidURI, MemoryRaw, MirrorCache
from asyncbitstore.named import key_problem
from asyncbitstore.named._mirror import key_of, uri_of

PLAIN = [
    ("s3://b/k", "s3/b/k"),
    ("gs://b/dir/k.png", "gs/b/dir/k.png"),
    ("https://host:8443/a/b", "https/host~3A8443/a/b"),
    ("file:///x/y", "file/x/y"),
    ("mem://m/a", "mem/m/a"),
    ("s3://b/year=2024/part-0.parquet", "s3/b/year=2024/part-0.parquet"),
]

NASTY = [
    "s3://b/../../etc/passwd",
    "s3://b/./k",
    "s3://b/..",
    "s3://b//k",
    "s3://b/k/",
    "s3://b/",
    "https://h/p?q=1&r=../../x",
    "https://h/p#frag/../..",
    "https://h/%2e%2e/%2f/etc",
    "https://user:secret@h/p",
    "https://[::1]:8443/a",
    "s3://b/a\x00b",
    "s3://b/line\nbreak\r\t\x7f",
    "s3://b/.abstmp-123",
    "s3://b/.abs-index.sqlite",
    "s3://b/~7E~",
    "s3://b/~",
    "s3://b/ünïcödé/名前",
    "s3://b/back\\slash/..\\..\\x",
    "s3://b/" + "x" * 300,
    "s3://b/" + "y" * 199 + ".",
    "s3://b/" + "é" * 60,
    "s3://b/" + "a" * 190 + "\u0800" * 10,  # a character's escapes across a piece boundary
    "file:////double",
    "file:///..",
    "redis://h:6379/0/k",
    "sqlite:///tmp/db.sqlite/k",
    "sftp://u@h:22/p",
    "s3://b/\ud800",
]


@pytest.mark.parametrize(("uri", "key"), PLAIN)
def test_plain_uris_are_kept_under_scheme_and_path(uri: str, key: str) -> None:
    assert key_of(uri) == key
    assert uri_of(key) == uri


@pytest.mark.parametrize("uri", NASTY)
def test_nasty_uris_become_safe_relative_keys_and_come_back(uri: str) -> None:
    key = key_of(uri)
    assert key is not None
    assert key_problem(key) is None
    assert key.isascii()
    for segment in key.split("/"):
        assert not segment.startswith(".") and len(segment) <= 200
        assert all(c.isalnum() or c in "-_.=+,@~" for c in segment)
    assert uri_of(key) == uri


@pytest.mark.parametrize("uri", ["", "s3:/b/k", "S3://b/k", "ftp://h/x", "/abs/path", "file://rel"])
def test_not_a_full_uri_of_a_known_scheme(uri: str) -> None:
    assert key_of(uri) is None
    assert not MirrorCache(MemoryRaw(), "mem://m/").is_valid(uri)


def test_a_uri_too_long_to_keep_is_not_the_caches() -> None:
    cache = MirrorCache(MemoryRaw(), "mem://m/")
    assert cache.is_valid("s3://b/" + "k" * 1000)
    assert not cache.is_valid("s3://b/" + "%" * 400)  # each % is three characters kept
    assert cache.declines("s3://b/" + "%" * 400, 1)


@given(st.text(min_size=1).map(lambda path: "s3://bucket/" + path))
@settings(max_examples=300)
def test_any_s3_uri_round_trips(uri: str) -> None:
    key = key_of(uri)
    if key is not None:
        assert key_problem(key) is None
        assert uri_of(key) == uri


async def test_nasty_uris_stay_inside_a_jailed_root_and_list_back(tmp_path: Path) -> None:
    # One root per URI: on files, "s3://b/.." (a file) and "s3://b/../x" (a folder of that
    # name) cannot both be kept, as a file system has no file and folder of one name.
    jail = tmp_path / "jail"
    (tmp_path / "outside").mkdir()
    for index, uri in enumerate(NASTY):
        async with MirrorCache(FileRaw(root=jail), f"{jail}/m{index}/") as cache:
            await cache.put_or_raise(uri, f"blob {index}".encode())
            assert await cache.get(uri) == f"blob {index}".encode()
            assert [u async for u in cache.list()] == [uri]
    files = [Path(d, f) for d, _, fs in os.walk(tmp_path) for f in fs]
    assert len(files) == len(NASTY)
    assert all(f.relative_to(jail).parts[0].startswith("m") for f in files)


async def test_a_mirror_lists_uris_by_scheme_prefix() -> None:
    cache = MirrorCache(MemoryRaw(), "mem://m/")
    for uri in NASTY:
        await cache.put_or_raise(uri, b"x")
    assert sorted([u async for u in cache.list()]) == sorted(NASTY)
    https = sorted(u for u in NASTY if u.startswith("https://h/"))
    assert [u async for u in cache.list("https://h/")] == https


async def test_a_file_and_a_folder_of_one_name_cannot_both_be_kept_on_files(
    tmp_path: Path,
) -> None:
    async with MirrorCache(FileRaw(), f"{tmp_path}/m/") as cache:
        await cache.put("s3://b/a/x", b"inner")
        await cache.put("s3://b/a", b"outer")  # a cache put: counted, not raised
        assert cache.put_failures == 1
        assert await cache.get("s3://b/a/x") == b"inner"


async def test_a_bounded_mirror_on_files_keeps_uris_as_flat_names(tmp_path: Path) -> None:
    async with MirrorCache(FileRaw(), f"{tmp_path}/m/", max_bytes=10_000) as cache:
        for uri in NASTY[:10]:
            await cache.put_or_raise(uri, b"x")
        assert sorted([u async for u in cache.list()]) == sorted(NASTY[:10])


async def test_a_mirror_refuses_other_names_with_a_hint() -> None:
    cache = MirrorCache(MemoryRaw(), "mem://m/")
    with pytest.raises(InvalidURI, match="full URI of a known scheme"):
        await cache.get("img/1.png")
