"""Bad input: random URIs and keys, for every store, answered with a result or our exception.

Hypothesis draws random text (unicode, NUL bytes, lone surrogates), path-traversal shapes
(``..``, ``.``, empty segments, temp-file names), very long keys and non-``str`` values. For each
the answer must be a result, a :class:`~asyncbitstore.errors.BitstoreError`, or ``TypeError``
for a non-``str``; never another exception, and never a file read or written outside the
``root`` of a ``FileRaw`` or the prefix of a keyed store (the temp tree is snapshotted around
each example).
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from asyncbitstore import (
    BitstoreError,
    Composite,
    FileRaw,
    GSRaw,
    HashStore,
    HTTPRaw,
    InvalidURI,
    MemoryRaw,
    Retry,
    S3Raw,
    Sha1Cache,
    Sha1Composite,
    Sha1Store,
    Store,
)
from tests.contract.targets_http import StaticServer
from tests.contract.targets_s3 import fresh_bucket

EXAMPLES = settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
NETWORK = settings(EXAMPLES, max_examples=60)
ONCE = Retry(attempts=1)
DEAD = "http://127.0.0.1:9"  # nothing listens there: a network call fails at once

# -- strategies ----------------------------------------------------------------------------------

_SEGMENTS = st.sampled_from(
    ["..", ".", "", "a", "b.c", ".abstmp-1", "\x00", "é", "%2e%2e", "..\\..", "~", " ", "\ud800"]
)
segments = st.lists(st.one_of(_SEGMENTS, st.text(max_size=6)), max_size=8).map("/".join)
long_names = st.builds(lambda n, c: c * n, st.integers(200, 5000), st.sampled_from("aé/."))
suffixes = st.one_of(st.text(max_size=40), segments, long_names)
not_str = st.one_of(
    st.none(), st.integers(), st.binary(max_size=8), st.lists(st.text(), max_size=2)
)


def uris(*bases: str) -> st.SearchStrategy[str]:
    """Random text, or one of ``bases`` followed by a random (often hostile) suffix."""
    anchored = st.builds(lambda base, rest: base + rest, st.sampled_from(bases), suffixes)
    return st.one_of(st.text(max_size=60), anchored) if bases else st.text(max_size=60)


# -- checking one answer -------------------------------------------------------------------------


async def _answer(call: Callable[[], Awaitable[Any]]) -> Any:
    """``await call()``; a BitstoreError is an answer too (returned, not raised)."""
    try:
        return await call()
    except BitstoreError as exc:
        return exc


async def _drain(chunks: AsyncIterator[bytes]) -> bytes:
    return b"".join([c async for c in chunks])


async def _every_method(store: Store, uri: str, *, write: bool) -> dict[str, Any]:
    """Call each method with ``uri``; only our exceptions may come out (see ``_answer``)."""
    valid = store.is_valid(uri)
    assert isinstance(valid, bool)
    answers = {
        "get": await _answer(lambda: store.get(uri)),
        "exists": await _answer(lambda: store.exists(uri)),
        "size": await _answer(lambda: store.size(uri)),
        "range": await _answer(lambda: store.get_range(uri, 0, 3)),
        "stream": await _answer(lambda: _drain(store.stream(uri))),
    }
    if write:
        answers["put"] = await _answer(lambda: store.put(uri, b"data"))
        answers["read back"] = await _answer(lambda: store.get(uri))
        answers["delete"] = await _answer(lambda: store.delete(uri))
    if not valid:  # a URI the store rejects is rejected by every method, before any I/O
        assert all(isinstance(a, InvalidURI) for a in answers.values()), answers
    elif write and not isinstance(answers["put"], BitstoreError):
        assert answers["read back"] == b"data"
    return answers


async def _refuses_non_str(store: Store, value: object) -> None:
    with pytest.raises(TypeError):
        store.is_valid(value)  # type: ignore[arg-type]
    for call in (store.get, store.exists, store.size, store.delete):
        with pytest.raises(TypeError):
            await call(value)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        await store.put(value, b"x")  # type: ignore[arg-type]


def _snapshot(folder: Path, skip: Path | None = None) -> dict[str, tuple[int, int]]:
    """``{path: (size, mtime_ns)}`` of every file and folder under ``folder`` (not ``skip``)."""
    found = {}
    for parent, dirs, files in os.walk(folder):
        if skip is not None:
            dirs[:] = [d for d in dirs if Path(parent, d) != skip]
        for name in dirs + files:
            stat = os.lstat(os.path.join(parent, name))
            found[os.path.join(parent, name)] = (stat.st_size, stat.st_mtime_ns)
    return found


def _inside(path: str, folder: Path) -> bool:
    return os.path.normpath(path).startswith(str(folder) + "/")


# -- local stores --------------------------------------------------------------------------------


@given(uri=uris("mem://", "mem://a/", "mem:///", "mem://a"))
@EXAMPLES
async def test_memory_raw_answers_any_uri(uri: str) -> None:
    async with MemoryRaw() as store:
        await _every_method(store, uri, write=True)
        assert all(key.startswith("mem://") for key in store._blobs)


@given(value=not_str)
@settings(EXAMPLES, max_examples=50)
async def test_every_store_refuses_a_uri_that_is_not_a_str_with_type_error(
    value: object, tmp_path: Path
) -> None:
    stores: list[Store] = [
        MemoryRaw(),
        FileRaw(),
        FileRaw(tmp_path),
        Sha1Store(MemoryRaw(), "mem://k/"),
        Sha1Composite(),
        S3Raw(endpoint_url=DEAD, retry=ONCE),
        GSRaw(api_root=DEAD, retry=ONCE),
        HTTPRaw(retry=ONCE),
    ]
    chain = Composite()
    chain.append_cache(MemoryRaw())
    stores.append(chain)
    for store in stores:
        await _refuses_non_str(store, value)
        await store.aclose()


@pytest.fixture
def sandbox(tmp_path: Path) -> tuple[Path, Path]:
    """``(tmp, root)``: a root folder inside a temp folder that also holds a canary file."""
    root = tmp_path / "root"
    root.mkdir()
    (tmp_path / "canary").write_bytes(b"outside the root")
    (root / "inside").write_bytes(b"inside the root")
    return tmp_path, root


@given(data=st.data())
@EXAMPLES
async def test_file_raw_with_a_root_never_touches_a_file_outside_it(
    sandbox: tuple[Path, Path], data: st.DataObject
) -> None:
    tmp, root = sandbox
    uri = data.draw(uris(f"{root}/", f"file://{root}/", f"{root}", f"{tmp}/", "/"))
    before = _snapshot(tmp, skip=root)
    async with FileRaw(root) as store:
        valid = store.is_valid(uri)
        path = uri.removeprefix("file://")
        assert not valid or _inside(path, root), f"{uri!r} is accepted but lies outside the root"
        # A write is tried only where it cannot harm this machine should the store be wrong.
        await _every_method(store, uri, write=valid or _inside(path, tmp))
        listed = await _answer(lambda: _list(store, uri))
    assert _snapshot(tmp, skip=root) == before
    if isinstance(listed, list):
        assert all(_inside(u.removeprefix("file://"), root) for u in listed), listed


async def _list(store: Store, prefix: str) -> list[str]:
    return [uri async for uri in store.list(prefix)]


@given(suffix=suffixes)
@EXAMPLES
async def test_file_raw_without_a_root_keeps_dot_segments_from_leaving_the_folder(
    sandbox: tuple[Path, Path], suffix: str
) -> None:
    tmp, root = sandbox
    uri = f"{root}/{suffix}"
    before = _snapshot(tmp, skip=root)
    async with FileRaw() as store:
        if store.is_valid(uri):
            assert _inside(uri, root), f"{uri!r} is accepted but leaves {root}"
        await _every_method(store, uri, write=_inside(uri, tmp))
    assert _snapshot(tmp, skip=root) == before


@given(key=uris("", "sha1://", "SHA1://", "0" * 40, "../" + "0" * 37))
@EXAMPLES
async def test_keyed_stores_and_chains_only_ever_write_under_their_prefix(
    sandbox: tuple[Path, Path], key: str
) -> None:
    tmp, root = sandbox
    before = _snapshot(tmp, skip=root)
    memory = MemoryRaw()
    chain = Sha1Composite()
    chain.append_cache(Sha1Cache(memory, "mem://cache/k/"))
    chain.append_source(Sha1Store(FileRaw(), f"{root}/keyed/"), write=True)
    keyed = HashStore(MemoryRaw(), "mem://h/", algorithm="sha256")
    async with chain, keyed:
        for store in (chain, keyed, *(t.store for t in chain.tiers)):
            await _every_method(store, key, write=True)
        assert all(k.startswith("mem://cache/k/") for k in memory._blobs)
        assert all(k.startswith("mem://h/") for k in keyed.raw._blobs)  # type: ignore[attr-defined]
    assert _snapshot(tmp, skip=root) == before
    for parent, _, files in os.walk(root):
        assert files == [] or Path(parent) in (root, root / "keyed"), (parent, files)


@given(uri=uris("mem://a/", f"{os.sep}tmp/", "file:///"))
@EXAMPLES
async def test_a_plain_composite_answers_any_uri(uri: str, tmp_path: Path) -> None:
    chain = Composite()
    chain.append_cache(MemoryRaw())
    chain.append_source(FileRaw(tmp_path), write=True)
    async with chain:
        answers = await _every_method(chain, uri, write=True)
        assert (
            not isinstance(answers["get"], BitstoreError)
            or chain.is_valid(uri)
            or (isinstance(answers["get"], InvalidURI))
        )


# -- network stores: parsing, and round trips through real servers ------------------------------


@given(uri=uris("s3://", "s3://bucket/", "s3://b/", "S3://bucket/", "s3://bucket"))
@EXAMPLES
async def test_s3_uri_parsing_answers_any_uri_without_a_request_for_invalid_ones(uri: str) -> None:
    async with S3Raw(endpoint_url=DEAD, retry=ONCE, request_timeout=2) as store:
        await _every_method(store, uri, write=False)


@given(uri=uris("gs://", "gs://bucket/", "gs://b/", "gs://Bucket/", "gs://bucket"))
@EXAMPLES
async def test_gcs_uri_parsing_answers_any_uri_without_a_request_for_invalid_ones(uri: str) -> None:
    async with GSRaw(api_root=DEAD, retry=ONCE, read_timeout=2) as store:
        await _every_method(store, uri, write=False)


@given(uri=uris("http://", "https://", "http://127.0.0.1:9/", "http://[::1", "http://a:b@"))
@EXAMPLES
async def test_http_uri_parsing_answers_any_uri(uri: str) -> None:
    async with HTTPRaw(retry=ONCE, read_timeout=2) as store:
        answers = await _every_method(store, uri, write=False)
        for answer in answers.values():
            assert ":b@" not in str(answer)  # URL credentials are never shown


@pytest.fixture
async def moto_bucket(moto_server: Any) -> AsyncIterator[str]:
    async with fresh_bucket(moto_server.url) as (bucket, _):
        yield bucket


@pytest.mark.servers
@given(key=suffixes)
@NETWORK
async def test_any_key_s3_accepts_round_trips_through_moto(
    moto_server: Any, moto_bucket: str, key: str
) -> None:
    uri = f"s3://{moto_bucket}/{key}"
    async with S3Raw(endpoint_url=moto_server.url, retry=ONCE) as store:
        answers = await _every_method(store, uri, write=True)
        if store.is_valid(uri) and not isinstance(answers["put"], BitstoreError):
            await store.put(uri, b"kept")
            assert uri in await _list(store, f"s3://{moto_bucket}/")
            await store.delete(uri)


@pytest.mark.servers
@given(name=suffixes)
@NETWORK
async def test_any_name_gcs_accepts_round_trips_through_fake_gcs(
    gcs_server: Any, name: str
) -> None:
    bucket = "bad-input"
    with contextlib.suppress(RuntimeError):  # made by an earlier example
        gcs_server.create_bucket(bucket)
    uri = f"gs://{bucket}/{name}"
    async with GSRaw(api_root=gcs_server.url, retry=ONCE) as store:
        answers = await _every_method(store, uri, write=True)
        if store.is_valid(uri) and not isinstance(answers["put"], BitstoreError):
            await store.put(uri, b"kept")
            assert uri in await _list(store, f"gs://{bucket}/")
            await store.delete(uri)


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[tuple[str, Path]]:
    """A static server over ``tmp/root``; ``tmp/secret`` sits next to the root, not in it."""
    root = tmp_path / "root"
    root.mkdir()
    (root / "file").write_bytes(b"public")
    (tmp_path / "secret").write_bytes(b"never served " + uuid.uuid4().hex.encode())
    server = StaticServer(root)
    await server.start()
    yield server.url, tmp_path / "secret"
    await server.stop()


@pytest.mark.servers
@given(suffix=suffixes)
@NETWORK
async def test_an_http_path_never_reaches_a_file_beside_the_served_folder(
    served: tuple[str, Path], suffix: str
) -> None:
    base, secret = served
    async with HTTPRaw(retry=ONCE, listing=False) as store:
        for uri in (f"{base}/{suffix}", f"{base}/../{suffix}", f"{base}/%2e%2e/secret"):
            answers = await _every_method(store, uri, write=False)
            assert secret.read_bytes() not in [a for a in answers.values() if isinstance(a, bytes)]


# -- inputs that once slipped through ----------------------------------------------------------


async def test_file_raw_refuses_a_path_the_os_cannot_encode(tmp_path: Path) -> None:
    uri = f"{tmp_path}/\ud800"
    async with FileRaw() as store:
        with pytest.raises(InvalidURI):
            await store.get(uri)
        assert not store.is_valid(uri)


async def test_http_raw_refuses_a_host_name_that_does_not_encode() -> None:
    async with HTTPRaw(retry=ONCE) as store:
        with pytest.raises(InvalidURI):
            await store.get("http://../x")
        assert not store.is_valid("http://../x")


async def test_a_cache_put_with_an_invalid_key_raises_invalid_uri() -> None:
    async with Sha1Cache(MemoryRaw(), "mem://c/") as cache:
        with pytest.raises(InvalidURI):
            await cache.put("not a key", b"x")


async def test_s3_raw_refuses_a_key_that_is_not_utf8() -> None:
    async with S3Raw(endpoint_url=DEAD, retry=ONCE) as store:
        with pytest.raises(InvalidURI):
            await store.get("s3://bucket/\ud800")
        assert not store.is_valid("s3://bucket/\ud800")
