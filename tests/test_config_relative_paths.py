"""Relative local paths in a configuration file are taken from the file's folder.

Each entry point is run from a working folder other than the file's: ``from_config`` with a
relative file name, ``bitstore --config``, the auto-found ``./bitstore.toml``, and the FastAPI
lifespan. Remote URIs are left as written.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest
from starlette.applications import Starlette

from asyncbitstore import Sha1Composite
from asyncbitstore.config import load_config
from asyncbitstore.fastapi import store_lifespan

ROOT = Path(__file__).resolve().parent.parent
DATA = b"relative to the configuration file\n"
KEY = hashlib.sha1(DATA).hexdigest()

CONFIG = """
[[tier]]
role = "cache"
uri = "{cache}"
max_bytes = 1_000_000

[[tier]]
role = "source"
uri = "{source}"
write = true
cache_result = true
"""


def _layout(tmp_path: Path, cache: str = "cache/", source: str = "file://store/") -> Path:
    """``conf/bitstore.toml`` and an empty ``elsewhere/`` to run from; returns ``conf``."""
    conf = tmp_path / "conf"
    conf.mkdir()
    (tmp_path / "elsewhere").mkdir()
    (conf / "bitstore.toml").write_text(CONFIG.format(cache=cache, source=source))
    return conf


def _blobs(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*") if p.is_file() and len(p.name) == 40)


@pytest.mark.parametrize(
    ("cache", "source"),
    [("cache/", "file://store/"), ("./cache/", "store/"), ("file://./cache/", "sub/../store/")],
)
async def test_from_config_with_a_relative_file_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cache: str, source: str
) -> None:
    conf = _layout(tmp_path, cache, source)
    monkeypatch.chdir(tmp_path / "elsewhere")
    chain = Sha1Composite.from_config("../conf/bitstore.toml")
    async with chain:
        assert await chain.write(DATA) == KEY
        assert await chain.get(KEY) == DATA
        await chain.flush()
    assert _blobs(conf / "store") == [KEY]
    assert _blobs(conf / "cache") == [KEY]
    assert _blobs(tmp_path / "elsewhere") == []


async def test_paths_are_fixed_when_loaded_not_when_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    conf = _layout(tmp_path)
    monkeypatch.chdir(conf)
    chain = Sha1Composite.from_config("bitstore.toml")
    monkeypatch.chdir(tmp_path / "elsewhere")
    async with chain:
        await chain.write(DATA)
    assert _blobs(conf / "store") == [KEY]


def test_sqlite_and_key_file_paths_are_taken_from_the_file_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    conf = tmp_path / "conf"
    conf.mkdir()
    (tmp_path / "elsewhere").mkdir()
    (conf / "bitstore.toml").write_text(
        """
[[tier]]
role = "cache"
uri = "sqlite://db/blobs.db/sha1/"

[[tier]]
role = "source"
uri = "sftp://user@127.0.0.1:1/blobs/"
known_hosts = "ssh/known_hosts"
client_keys = ["ssh/id_ed25519", "/abs/key"]

[[tier]]
role = "source"
uri = "gs://bucket/blobs/"
credentials = "keys/service.json"

[[tier]]
role = "source"
uri = "s3://bucket/blobs/"
"""
    )
    monkeypatch.chdir(tmp_path / "elsewhere")
    tiers = load_config("../conf/bitstore.toml").tiers
    assert tiers[0].uri == f"sqlite://{conf}/db/blobs.db/sha1/"
    assert tiers[1].uri == "sftp://user@127.0.0.1:1/blobs/"
    assert tiers[1].options["known_hosts"] == str(conf / "ssh" / "known_hosts")
    assert tiers[1].options["client_keys"] == [str(conf / "ssh" / "id_ed25519"), "/abs/key"]
    assert tiers[2].options["credentials"] == str(conf / "keys" / "service.json")
    assert tiers[3].uri == "s3://bucket/blobs/"


async def test_a_mapping_resolves_against_the_working_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    config = {"tier": [{"role": "source", "uri": "file://blobs/", "write": True}]}
    async with Sha1Composite.from_config(config) as chain:
        await chain.write(DATA)
    assert _blobs(tmp_path / "blobs") == [KEY]


async def test_store_lifespan_with_a_relative_file_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    conf = _layout(tmp_path)
    monkeypatch.chdir(tmp_path / "elsewhere")
    app = Starlette(lifespan=store_lifespan("../conf/bitstore.toml"))
    async with app.router.lifespan_context(app):
        assert await app.state.store.write(DATA) == KEY
    assert _blobs(conf / "store") == [KEY]


def _bitstore(cwd: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    env = {k: v for k, v in os.environ.items() if k != "BITSTORE_CONFIG"}
    for name in ("CACHE", "CONFIG", "STATE"):
        env[f"XDG_{name}_HOME"] = str(cwd.parent / "user" / name.lower())
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    command = [sys.executable, "-m", "asyncbitstore", "--no-progress", *args]
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, timeout=100)


@pytest.mark.parametrize("how", ["--config", "auto-found"])
def test_the_command_takes_paths_from_the_file_folder(tmp_path: Path, how: str) -> None:
    conf = _layout(tmp_path)
    data = tmp_path / "data.bin"
    data.write_bytes(DATA)
    if how == "--config":
        config = ("--config", "../conf/bitstore.toml")
        result = _bitstore(tmp_path / "elsewhere", *config, "put", "../data.bin")
    else:  # ./bitstore.toml, found by its name
        result = _bitstore(conf, "put", "../data.bin")
    assert result.returncode == 0, result.stderr.decode()
    assert result.stdout.decode().split() == [KEY]
    assert _blobs(conf / "store") == [KEY]


async def test_store_lifespan_names_the_file_from_the_folder_it_was_called_in(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    conf = _layout(tmp_path)
    monkeypatch.chdir(conf)
    app = Starlette(lifespan=store_lifespan("bitstore.toml"))
    monkeypatch.chdir(tmp_path / "elsewhere")  # a server that changes folder before startup
    async with app.router.lifespan_context(app):
        assert await app.state.store.write(DATA) == KEY
    assert _blobs(conf / "store") == [KEY]


def test_file_uris_naming_the_local_host_or_an_absolute_path_are_kept(tmp_path: Path) -> None:
    tiers = load_config(
        {
            "tier": [
                {"role": "source", "uri": f"file://localhost{tmp_path}/a/"},
                {"role": "source", "uri": f"file://{tmp_path}/b/../c/"},
                {"role": "source", "uri": "https://example.test/blobs/"},
            ]
        }
    ).tiers
    assert [t.uri for t in tiers] == [
        f"file://{tmp_path}/a/",
        f"file://{tmp_path}/b/../c/",
        "https://example.test/blobs/",
    ]
