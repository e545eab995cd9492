"""Symlinks planted inside a confined folder never lead a store outside it.

A ``FileRaw(root=...)`` and a bounded cache folder are the boundary: a symlink under them (a
folder in the middle of a path, or the blob's own name) must not let any method read, write,
list, size, delete or rename a file outside. Each test plants both kinds of link pointing at a
folder in ``tmp_path`` outside the boundary, runs one method through them, and checks that the
outside folder is exactly as it was (no file read, changed or created).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from asyncbitstore import FileRaw, InvalidURI, Sha1Cache
from asyncbitstore.bounded_cache import BoundedFileRaw
from asyncbitstore.errors import PathEscapesRoot
from asyncbitstore.local_path import local_path

from .conftest import files_under

SECRET = b"outside the root: must never be served"
NAME = "abcd" + "0" * 36  # a bounded-cache name: it lives in <folder>/ab/cd/<name>


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A folder outside every boundary, holding files a link may point at."""
    folder = tmp_path / "outside"
    (folder / "cd").mkdir(parents=True)
    (folder / "secret").write_bytes(SECRET)
    (folder / "cd" / NAME).write_bytes(SECRET)
    return folder


async def _chunks(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


async def _drain(chunks: AsyncIterator[bytes]) -> bytes:
    return b"".join([chunk async for chunk in chunks])


async def _listed(store: Any, prefix: str) -> list[str]:
    return [uri async for uri in store.list(prefix)]


async def _pinned(store: Any, uri: str) -> bytes:
    async with local_path(store, uri) as path:
        return path.read_bytes()


def _operations(store: Any, uri: str) -> dict[str, Callable[[], Awaitable[object]]]:
    """Every method of the store, each on ``uri``."""
    return {
        "get": lambda: store.get(uri),
        "get_range": lambda: store.get_range(uri, 2, 9),
        "stream": lambda: _drain(store.stream(uri)),
        "exists": lambda: store.exists(uri),
        "size": lambda: store.size(uri),
        "put": lambda: store.put(uri, b"overwritten"),
        "put_stream": lambda: store.put(uri, _chunks(b"over", b"written")),
        "delete": lambda: store.delete(uri),
        "local_path": lambda: _pinned(store, uri),
    }


_METHODS = list(_operations(None, ""))


# -- FileRaw(root=...) ---------------------------------------------------------------------------


@pytest.fixture
def root(tmp_path: Path, outside: Path) -> Path:
    """A root holding a folder link and a file link, both pointing outside."""
    folder = tmp_path / "root"
    folder.mkdir()
    (folder / "ok").write_bytes(b"inside")
    (folder / "dirlink").symlink_to(outside)
    (folder / "filelink").symlink_to(outside / "secret")
    (folder / "sub").mkdir()
    (folder / "sub" / "deeper").symlink_to(outside, target_is_directory=True)
    return folder


@pytest.mark.parametrize("method", _METHODS)
@pytest.mark.parametrize(
    "relative",
    ["dirlink/secret", "filelink", "sub/deeper/secret", "dirlink/new", "sub/deeper/cd/x"],
)
async def test_file_raw_with_a_root_never_reaches_through_a_symlink(
    root: Path, outside: Path, method: str, relative: str
) -> None:
    before = files_under(outside)
    store = FileRaw(root=root)
    uri = f"{root}/{relative}"
    try:
        await _operations(store, uri)[method]()
    except PathEscapesRoot as exc:
        assert isinstance(exc, InvalidURI)
        assert uri in str(exc) and "symlink" in str(exc) and str(root) in str(exc)
    else:
        # Only a method that replaces or removes the link itself (never its target) may succeed.
        assert (relative, method) in {
            ("filelink", "put"),
            ("filelink", "put_stream"),
            ("filelink", "delete"),
        }
        assert not (root / relative).is_symlink()
    finally:
        await store.aclose()
    assert files_under(outside) == before


async def test_file_raw_with_a_root_lists_nothing_through_a_symlink(
    root: Path, outside: Path
) -> None:
    store = FileRaw(root=root)
    assert await _listed(store, f"{root}/") == [f"{root}/ok"]
    assert await _listed(store, f"file://{root}/") == [f"file://{root}/ok"]
    for prefix in (f"{root}/dirlink/", f"{root}/dirlink/se", f"{root}/sub/deeper/"):
        with pytest.raises(PathEscapesRoot):
            await _listed(store, prefix)
    await store.aclose()


async def test_file_raw_without_a_root_still_follows_symlinks(root: Path) -> None:
    store = FileRaw()
    assert await store.get(f"{root}/dirlink/secret") == SECRET
    assert await store.get(f"{root}/filelink") == SECRET
    await store.aclose()


async def test_the_escape_error_pickles_and_names_the_path(root: Path) -> None:
    import pickle

    store = FileRaw(root=root)
    with pytest.raises(PathEscapesRoot) as caught:
        await store.get(f"{root}/dirlink/secret")
    copy = pickle.loads(pickle.dumps(caught.value))
    assert str(copy) == str(caught.value) and f"{root}/dirlink/secret" in str(copy)


# -- bounded cache folders -----------------------------------------------------------------------


@pytest.fixture
def cache_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "cache"
    folder.mkdir()
    return folder


def _plant(cache_folder: Path, outside: Path, kind: str) -> None:
    if kind == "folder link":  # <folder>/ab -> outside, so <folder>/ab/cd/<name> is outside
        (cache_folder / "ab").symlink_to(outside)
    else:  # <folder>/ab/cd/<name> -> outside/secret
        (cache_folder / "ab" / "cd").mkdir(parents=True)
        (cache_folder / "ab" / "cd" / NAME).symlink_to(outside / "secret")


@pytest.mark.parametrize("kind", ["folder link", "file link"])
@pytest.mark.parametrize("method", [*_METHODS, "get_many", "list"])
async def test_a_bounded_cache_never_reaches_through_a_symlink(
    cache_folder: Path, outside: Path, kind: str, method: str
) -> None:
    _plant(cache_folder, outside, kind)
    before = files_under(outside)
    cache = BoundedFileRaw(FileRaw(), f"{cache_folder}/", 1 << 20)
    uri = f"{cache_folder}/{NAME}"
    operations = _operations(cache, uri)
    operations["get_many"] = lambda: cache.get_many([uri])
    operations["list"] = lambda: _listed(cache, f"{cache_folder}/")
    try:
        result = await operations[method]()
    except PathEscapesRoot as exc:
        assert uri in str(exc) and "symlink" in str(exc)
    else:
        if method == "list":
            assert result == []
        else:  # replacing or removing the link itself (never its target) may succeed
            assert method in {"put", "put_stream", "delete"} and kind == "file link", result
            assert not (cache_folder / "ab" / "cd" / NAME).is_symlink()
    finally:
        await cache.aclose()
    assert files_under(outside) == before


async def test_a_rebuilt_index_neither_counts_nor_evicts_files_behind_links(
    cache_folder: Path, outside: Path
) -> None:
    for kind_folder in ("ab", "ef"):
        (cache_folder / kind_folder).symlink_to(outside)
    (outside / "gh").mkdir()
    (outside / "gh" / ("efgh" + "1" * 36)).write_bytes(SECRET)
    before = files_under(outside)
    cache = BoundedFileRaw(FileRaw(), f"{cache_folder}/", 100)  # no index yet: it scans
    assert await cache.usage() == (0, 0)
    await cache.put(f"{cache_folder}/wxyz" + "2" * 36, b"x" * 80)
    await cache.put(f"{cache_folder}/wxyy" + "3" * 36, b"y" * 80)  # evicts the first
    assert await cache.usage() == (80, 1)
    await cache.aclose()
    assert files_under(outside) == before


async def test_a_sha1_cache_with_a_bound_refuses_a_planted_link(
    cache_folder: Path, outside: Path
) -> None:
    (cache_folder / "ab").symlink_to(outside)
    cache = Sha1Cache(FileRaw(), f"{cache_folder}/", max_bytes=1 << 20)
    with pytest.raises(PathEscapesRoot):
        await cache.get(NAME)
    assert files_under(outside) == {"secret": SECRET, f"cd/{NAME}": SECRET}
