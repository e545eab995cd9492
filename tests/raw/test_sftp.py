"""SFTPRaw against a real OpenSSH sshd: URLs, host keys, auth, atomic puts, reconnects, limits."""

from __future__ import annotations

import asyncio
import logging
import os
import pickle
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncssh
import pytest

from asyncbitstore import NotFoundInStore, Retry, StoreNotAvailable, StoreTimeout
from asyncbitstore.raw.sftp import SFTPRaw, _ops
from tests.servers import LOOPBACK
from tests.sshd import Relay, SSHServer, sshd_server

__all__ = ["sshd_server"]  # the fixture, imported for pytest

pytestmark = pytest.mark.servers

SECRET = "hunter2-correct-horse"
QUICK = Retry(attempts=3, base=0.01, cap=0.05)


def _store(server: SSHServer, folder: Path | str, port: int | None = None, **kw: Any) -> SFTPRaw:
    """A store on ``folder`` with the server's own keys and nothing from ``~/.ssh``."""
    url = server.sftp_url(str(folder))
    if port is not None:
        url = url.replace(f":{server.port}/", f":{port}/")
    options = {"agent_path": None, "config": [], **kw.pop("options", {})}
    kw.setdefault("known_hosts", str(server.known_hosts))
    kw.setdefault("client_keys", [str(server.client_key)])
    return SFTPRaw(url, options=options, **kw)


@pytest.fixture
async def store(sshd_server: SSHServer, tmp_path: Path) -> AsyncIterator[SFTPRaw]:
    async with _store(sshd_server, tmp_path) as raw:
        yield raw


async def _chunks(*parts: bytes, pause: asyncio.Event | None = None) -> AsyncIterator[bytes]:
    for index, part in enumerate(parts):
        if pause is not None and index == len(parts) - 1:
            await pause.wait()
        yield part


# -- URLs and options -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "base"),
    [
        ("sftp://me@Files.Example:22/srv/blobs/", "sftp://me@files.example/srv/blobs/"),
        ("sftp://me@host:2222", "sftp://me@host:2222/"),
        ("sftp://host/a", "sftp://host/a/"),
        ("sftp://me@[::1]:2200/x", "sftp://me@[::1]:2200/x/"),
    ],
)
def test_base_is_the_canonical_authority_and_folder(url: str, base: str) -> None:
    store = SFTPRaw(url)
    assert store.base == base
    assert store.is_valid(base + "k/v") and not store.is_valid(base)
    assert repr(store) == f"<SFTPRaw({base!r})>"


@pytest.mark.parametrize(
    "url",
    ["http://host/x", "sftp:///x", "sftp://host:99999/x", "sftp://host/a/../b", "sftp://host//x",
     "sftp://host/x?q=1"],
)  # fmt: skip
def test_malformed_urls_are_refused(url: str) -> None:
    with pytest.raises(ValueError):
        SFTPRaw(url)


def test_a_password_in_the_url_is_refused_without_being_shown() -> None:
    with pytest.raises(ValueError, match="password=") as caught:
        SFTPRaw(f"sftp://me:{SECRET}@host/x")
    assert SECRET not in str(caught.value)


def test_host_key_checking_cannot_be_turned_off() -> None:
    with pytest.raises(ValueError, match="host-key"):
        SFTPRaw("sftp://host/x", known_hosts=None)
    with pytest.raises(ValueError, match="host-key"):
        SFTPRaw("sftp://host/x", options={"known_hosts": None})


def test_only_paths_under_the_folder_are_accepted() -> None:
    store = SFTPRaw("sftp://me@host/srv/blobs")
    assert store.uri("/a/b") == "sftp://me@host/srv/blobs/a/b"
    assert not store.is_valid("sftp://me@host/srv/other/a")
    assert not store.is_valid("sftp://me@host/srv/blobsX/a")
    assert not store.is_valid("sftp://you@host/srv/blobs/a")
    assert not store.is_valid("sftp://me@host/srv/blobs/a/.abstmp-1")


# -- keys and secrets -----------------------------------------------------------------------------


async def test_an_unknown_host_key_fails_at_once(
    sshd_server: SSHServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.ssh/known_hosts: the default trusts none
    other = asyncssh.generate_private_key("ssh-ed25519")
    stranger = ([other.convert_to_public()], [], [])  # trusted, CA and revoked keys
    for known_hosts in ((), stranger):
        store = _store(sshd_server, tmp_path, known_hosts=known_hosts, retry=Retry(base=30))
        with pytest.raises(StoreNotAvailable, match=r"HostKeyNotVerifiable.*known_hosts="):
            await asyncio.wait_for(store.exists(store.uri("x")), 5)  # no retry: no 30 s wait
        await store.aclose()


async def test_refused_authentication_reveals_no_secret(
    sshd_server: SSHServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    wrong = tmp_path / "wrong_key"
    asyncssh.generate_private_key("ssh-ed25519").write_private_key(str(wrong))
    store = _store(
        sshd_server, tmp_path, client_keys=[str(wrong)], passphrase=SECRET, password=SECRET
    )
    caplog.set_level(logging.DEBUG)
    with pytest.raises(StoreNotAvailable, match="PermissionDenied") as caught:
        await store.get(store.uri("x"))
    for text in (str(caught.value), repr(store), store.name, caplog.text):
        assert SECRET not in text
    await store.aclose()


# -- atomic writes, listing, folders --------------------------------------------------------------


async def test_a_streaming_put_is_invisible_until_renamed_into_place(
    store: SFTPRaw, tmp_path: Path
) -> None:
    await store.put(store.uri("d/k"), b"old")
    release = asyncio.Event()
    new = _chunks(b"new ", b"blob", pause=release)
    writing = asyncio.create_task(store.put(store.uri("d/k"), new))
    await asyncio.sleep(0.1)
    temps = [n for n in os.listdir(tmp_path / "d") if n.startswith(".abstmp-")]
    assert len(temps) == 1  # the upload goes to a temporary name beside the file
    assert await store.get(store.uri("d/k")) == b"old"
    assert [u async for u in store.list(store.base)] == [store.uri("d/k")]
    release.set()
    await writing
    assert await store.get(store.uri("d/k")) == b"new blob"
    assert os.listdir(tmp_path / "d") == ["k"]


async def test_a_failed_streaming_put_removes_its_temporary_file(
    store: SFTPRaw, tmp_path: Path
) -> None:
    async def failing() -> AsyncIterator[bytes]:
        yield b"part"
        raise RuntimeError("producer failed")

    with pytest.raises(RuntimeError):
        await store.put(store.uri("d/k"), failing())
    assert os.listdir(tmp_path / "d") == []


async def test_replace_falls_back_to_remove_and_rename_without_posix_rename() -> None:
    calls: list[str] = []

    class PlainSFTP:
        async def posix_rename(self, old: str, new: str) -> None:
            raise asyncssh.SFTPOpUnsupported("not supported")

        async def remove(self, path: str) -> None:
            calls.append(f"remove {path}")

        async def rename(self, old: str, new: str) -> None:
            calls.append(f"rename {old} {new}")

    await _ops.replace(PlainSFTP(), "/d/.abstmp-1", "/d/k")  # type: ignore[arg-type]
    assert calls == ["remove /d/k", "rename /d/.abstmp-1 /d/k"]


async def test_listing_is_sorted_like_paths_and_follows_partial_names(
    store: SFTPRaw, tmp_path: Path
) -> None:
    for name in ("a.txt", "a/b", "a/c/d", "a0", "b", "ab"):
        await store.put(store.uri(name), b"x")
    (tmp_path / "a" / ".abstmp-left").write_bytes(b"x")
    everything = [u async for u in store.list("")]
    assert everything == sorted(everything) and len(everything) == 6
    assert [u async for u in store.list(store.uri("a"))] == [
        store.uri(n) for n in ("a.txt", "a/b", "a/c/d", "a0", "ab")
    ]
    assert [u async for u in store.list(store.uri("a/"))] == [store.uri("a/b"), store.uri("a/c/d")]
    assert [u async for u in store.list(store.uri("nothing/"))] == []


async def test_a_folder_is_not_a_blob(store: SFTPRaw, tmp_path: Path) -> None:
    await store.put(store.uri("folder/file"), b"x")
    assert not await store.exists(store.uri("folder"))
    with pytest.raises(NotFoundInStore):
        await store.get(store.uri("folder"))
    with pytest.raises(NotFoundInStore):
        await store.size(store.uri("folder"))
    await store.delete(store.uri("folder"))
    assert (tmp_path / "folder" / "file").read_bytes() == b"x"


async def test_large_blobs_stream_in_bounded_chunks(store: SFTPRaw) -> None:
    blob = os.urandom(3 << 20)
    await store.put(store.uri("big"), blob)
    chunks = [c async for c in store.stream(store.uri("big"), chunk_size=256 << 10)]
    assert b"".join(chunks) == blob and max(map(len, chunks)) <= 256 << 10
    assert await store.get_range(store.uri("big"), 1 << 20, (1 << 20) + 5) == blob[1 << 20 :][:5]


async def test_a_file_that_shrinks_while_streamed_fails_the_stream(
    store: SFTPRaw, tmp_path: Path
) -> None:
    await store.put(store.uri("big"), os.urandom(1 << 20))
    chunks = store.stream(store.uri("big"), chunk_size=256 << 10)
    first = await anext(chunks)
    os.truncate(tmp_path / "big", 300 << 10)
    with pytest.raises(StoreNotAvailable, match="shrank"):
        [chunk async for chunk in chunks]
    assert len(first) == 256 << 10


# -- one connection, bounded requests, reconnects -------------------------------------------------


async def test_one_connection_per_store_and_bounded_requests(
    sshd_server: SSHServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    in_flight = peak = 0
    read = _ops.read

    async def counting(*args: Any) -> Any:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        try:
            await asyncio.sleep(0.005)
            return await read(*args)
        finally:
            in_flight -= 1

    monkeypatch.setattr(_ops, "read", counting)
    before = set(sshd_server.session_pids())
    async with _store(sshd_server, tmp_path, max_requests=4) as store:
        uris = [store.uri(f"k{i}") for i in range(40)]
        await store.put_many((u, u.encode()) for u in uris)
        assert await store.get_many(uris, concurrency=40) == [u.encode() for u in uris]
        link = await store._link.get()
        assert link.connects == 1 and peak == 4
        assert len(set(sshd_server.session_pids()) - before) == 1  # one SSH connection


async def test_a_dropped_connection_is_replaced_and_the_call_retried(
    sshd_server: SSHServer, tmp_path: Path
) -> None:
    relay = await Relay(sshd_server.port).start()
    try:
        store = _store(sshd_server, tmp_path, port=relay.port, retry=QUICK)
        store._connect_options["known_hosts"] = _relay_known_hosts(sshd_server, relay, tmp_path)
        await store.put(store.uri("k"), b"before")
        relay.cut()
        assert await store.get(store.uri("k")) == b"before"
        await store.put(store.uri("k"), b"after")
        relay.cut()
        assert await store.exists(store.uri("k"))
        assert relay.accepted == 3 and (await store._link.get()).connects == 3
        await store.aclose()
    finally:
        await relay.close()


def _relay_known_hosts(server: SSHServer, relay: Relay, folder: Path) -> str:
    line = server.known_hosts.read_text().replace(f"]:{server.port} ", f"]:{relay.port} ")
    path = folder / "relay_known_hosts"
    path.write_text(line)
    return str(path)


async def test_a_server_that_is_gone_is_unavailable_after_the_retries(
    sshd_server: SSHServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    relay = await Relay(sshd_server.port).start()
    port = relay.port
    await relay.close()  # nothing listens there any more
    attempts = 0
    connect = asyncssh.connect

    async def counting(*args: Any, **kwargs: Any) -> Any:
        nonlocal attempts
        attempts += 1
        return await connect(*args, **kwargs)

    monkeypatch.setattr(asyncssh, "connect", counting)
    store = _store(sshd_server, tmp_path, port=port, retry=QUICK)
    with pytest.raises(StoreNotAvailable) as caught:
        await store.get(store.uri("k"))
    assert not isinstance(caught.value, NotFoundInStore) and attempts == 3
    await store.aclose()


async def test_a_silent_server_times_out(sshd_server: SSHServer, tmp_path: Path) -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # never answers the SSH banner
        writer.close()

    server = await asyncio.start_server(silent, LOOPBACK, 0)
    port = server.sockets[0].getsockname()[1]
    try:
        store = _store(
            sshd_server, tmp_path, port=port, request_timeout=0.3, retry=Retry(attempts=1)
        )
        with pytest.raises(StoreTimeout):
            await asyncio.wait_for(store.get(store.uri("k")), 5)
        await store.aclose()
    finally:
        server.close()
        await server.wait_closed()


def test_each_event_loop_gets_its_own_connection(sshd_server: SSHServer, tmp_path: Path) -> None:
    store = _store(sshd_server, tmp_path)

    async def use(round_: int) -> int:
        await store.put(store.uri(f"r{round_}"), b"%d" % round_)
        assert await store.get(store.uri("r0")) == b"0"
        connects = (await store._link.get()).connects
        await store.aclose()
        return connects

    assert [asyncio.run(use(r)) for r in range(2)] == [1, 1]
    clone = pickle.loads(pickle.dumps(store))

    async def read_back() -> bytes:
        async with clone:
            return await clone.get(store.uri("r1"))

    assert asyncio.run(read_back()) == b"1"
