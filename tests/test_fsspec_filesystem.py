"""`BitstoreFileSystem` itself: configuration files, paths, ranges, writes and event loops."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

fsspec = pytest.importorskip("fsspec")
from fsspec.asyn import sync  # noqa: E402

from asyncbitstore import MemoryRaw  # noqa: E402
from asyncbitstore.composite import Composite  # noqa: E402
from asyncbitstore.fsspec import BitstoreFileSystem  # noqa: E402
from asyncbitstore.named import PrefixStore  # noqa: E402

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

DATA = bytes(range(256)) * 40


def named() -> Composite:
    chain = Composite()
    chain.append_source(PrefixStore(MemoryRaw(), "mem://fs-tests/"), write=True)
    return chain


def test_the_entry_point_names_the_class() -> None:
    project = tomllib.loads(Path("pyproject.toml").read_text())
    spec = project["project"]["entry-points"]["fsspec.specs"]["bitstore"]
    assert spec == "asyncbitstore.fsspec:BitstoreFileSystem"
    assert fsspec.get_filesystem_class("bitstore") is BitstoreFileSystem


def test_open_with_a_configuration_file(tmp_path: Path) -> None:
    (tmp_path / "src" / "img").mkdir(parents=True)
    (tmp_path / "src" / "img" / "1.png").write_bytes(DATA)
    config = tmp_path / "bitstore.toml"
    config.write_text(
        f'[chain]\nkind = "named"\n\n[[tier]]\nrole = "cache"\nuri = "mem://cfg-hot/"\n\n'
        f'[[tier]]\nrole = "source"\nuri = "{tmp_path}/src/"\ncache_result = true\n'
    )
    with fsspec.open("bitstore://img/1.png", config=str(config)) as f:
        assert f.read() == DATA
    fs = fsspec.filesystem("bitstore", config=str(config))
    assert fs.ls("img", detail=False) == ["img/1.png"]
    assert fs.info("img/1.png")["size"] == len(DATA)
    assert fs.info("img")["type"] == "directory"
    sync(fs.loop, fs.store.aclose)


def test_store_and_config_are_exclusive() -> None:
    with pytest.raises(TypeError, match="exactly one of store="):
        BitstoreFileSystem()


def test_ranges_follow_fsspec_offsets() -> None:
    fs = BitstoreFileSystem(store=named())
    fs.pipe_file("r/blob", DATA)
    assert fs.cat_file("r/blob", start=10, end=20) == DATA[10:20]
    assert fs.cat_file("r/blob", start=-10) == DATA[-10:]
    assert fs.cat_file("r/blob", start=5, end=-5) == DATA[5:-5]
    assert fs.cat_file("r/blob", start=len(DATA) + 5, end=len(DATA) + 9) == b""
    assert fs.cat_file("r/blob", start=20, end=10) == b""
    assert fs.cat_ranges(["r/blob", "r/blob"], [0, 100], [4, 104]) == [DATA[0:4], DATA[100:104]]
    with fs.open("r/blob", "rb", block_size=1000, cache_type="blockcache") as f:
        f.seek(3000)
        assert f.read(1500) == DATA[3000:4500]


def test_a_missing_object_is_file_not_found() -> None:
    fs = BitstoreFileSystem(store=named())
    with pytest.raises(FileNotFoundError):
        fs.cat_file("nothing/here")
    with pytest.raises(FileNotFoundError):
        fs.info("nothing/here")
    assert not fs.exists("nothing/here")


def test_a_large_write_streams_and_an_error_stores_nothing() -> None:
    fs = BitstoreFileSystem(store=named())
    with fs.open("w/big", "wb", block_size=1 << 16) as f:
        for _ in range(20):
            f.write(DATA)
    assert fs.cat_file("w/big") == DATA * 20
    with pytest.raises(RuntimeError), fs.open("w/broken", "wb", block_size=1 << 16) as f:
        f.write(DATA * 20)
        raise RuntimeError("the writer failed")
    assert not fs.exists("w/broken")


def test_append_is_refused() -> None:
    fs = BitstoreFileSystem(store=named())
    with pytest.raises(NotImplementedError, match="appended"):
        fs.open("a/b", "ab")


def test_mirror_keys_are_full_uris() -> None:
    fs = BitstoreFileSystem(store=MemoryRaw())
    fs.pipe_file("bitstore://mem://mirror-test/dir/a.txt", b"a")
    assert fs.cat_file("mem://mirror-test/dir/a.txt") == b"a"
    assert fs.ls("mem://mirror-test/dir", detail=False) == ["mem://mirror-test/dir/a.txt"]
    assert fs.find("mem://mirror-test") == ["mem://mirror-test/dir/a.txt"]


async def test_asynchronous_use_inside_the_application_loop() -> None:
    chain = named()
    fs = BitstoreFileSystem(store=chain, asynchronous=True)
    await fs._pipe_file("async/x", DATA)
    assert await fs._cat_file("async/x", start=1, end=3) == DATA[1:3]
    assert (await fs._info("async/x"))["size"] == len(DATA)
    assert await fs._find("async") == ["async/x"]
    await chain.aclose()
