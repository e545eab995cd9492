"""The backend registry (`asyncbitstore.raw.BACKENDS`): the package, the configuration and its
messages agree with it; SFTP tiers are configurable; config/ and cli/ import without loops."""

from __future__ import annotations

import ast
import hashlib
import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

import asyncbitstore
from asyncbitstore import Sha1Composite, Store
from asyncbitstore.config import ConfigError, build_chain, load_config
from asyncbitstore.raw import BACKENDS, BY_CLASS, BY_SCHEME, backend_for, schemes_text
from tests.sshd import SSHServer, sshd_server

__all__ = ["sshd_server"]  # the fixture, imported for pytest

PACKAGE = Path(asyncbitstore.__file__).parent
SECRET = "sftp-pa55word-Zq81-do-not-show"
PHRASE = "key-phrase-Lm44-do-not-show"


def _sample_uri(scheme: str, folder: Path) -> str:
    """A URI of `scheme` that its backend builds (without touching any network)."""
    samples = {
        "file": f"file://{folder}/files/",
        "mem": "mem://hot/",
        "s3": "s3://bucket/files/",
        "gs": "gs://bucket/files/",
        "az": "az://container/files/",
        "http": "http://example.invalid/files/",
        "https": "https://example.invalid/files/",
        "redis": "redis://127.0.0.1:6379/0/blobs/",
        "rediss": "rediss://127.0.0.1:6379/0/blobs/",
        "sftp": "sftp://backup@files.invalid:2222/srv/blobs/",
        "sqlite": f"sqlite://{folder}/blobs.db/sha1/",
    }
    return samples[scheme]


# -- the registry and the package ----------------------------------------------------------------


def _exported_backend_classes() -> set[str]:
    names = set()
    for name in asyncbitstore.__all__:
        value = getattr(asyncbitstore, name)
        is_store = isinstance(value, type) and issubclass(value, Store)
        if is_store and value.__module__.startswith("asyncbitstore.raw."):
            names.add(name)
    return names


def test_the_registry_lists_every_backend_class_the_package_exports() -> None:
    assert {b.class_name for b in BACKENDS} == _exported_backend_classes()
    for backend in BACKENDS:
        cls = backend.load()
        assert cls is getattr(asyncbitstore, backend.class_name)
        assert cls.__module__ == backend.module
        assert BY_CLASS[backend.class_name] is backend


def test_schemes_are_unique_lower_case_and_each_names_its_backend() -> None:
    schemes = [s for b in BACKENDS for s in b.schemes]
    assert len(schemes) == len(set(schemes)) == len(BY_SCHEME)
    for backend in BACKENDS:
        assert backend.name == backend.schemes[0]
        for scheme in backend.schemes:
            assert scheme == scheme.lower() and "://" not in scheme
            assert backend_for(scheme.upper()) is backend
    assert backend_for("ftp") is None
    assert schemes_text() == ", ".join(f"{s}://" for s in BY_SCHEME)


def test_importing_the_registry_loads_no_backend_and_no_sdk() -> None:
    code = """
        import json, sys
        import asyncbitstore.raw
        lazy = [b.module for b in asyncbitstore.raw.BACKENDS if b.extra or b.name == "sqlite"]
        sdks = ("aiobotocore", "botocore", "aiohttp", "gcloud", "redis", "asyncssh")
        print(json.dumps({
            "backends": sorted(m for m in lazy if m in sys.modules),
            "sdks": sorted(m for m in sys.modules if m.split(".")[0] in sdks),
        }))
    """
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"backends": [], "sdks": []}


def test_a_missing_sdk_names_the_extra_from_the_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(sys.modules, "asyncbitstore.raw.sftp", raising=False)
    monkeypatch.delitem(sys.modules, "asyncbitstore.raw.sftp._link", raising=False)
    monkeypatch.setitem(sys.modules, "asyncssh", None)  # type: ignore[arg-type]
    with pytest.raises(ImportError, match=r"pip install 'asyncbitstore\[sftp\]'"):
        BY_SCHEME["sftp"].load()
    tier = {"role": "source", "uri": "sftp://me@host/srv/"}
    with pytest.raises(ConfigError, match=r"tier 1 .*pip install 'asyncbitstore\[sftp\]'"):
        build_chain({"tier": [tier]})


# -- the registry and the configuration ----------------------------------------------------------


@pytest.mark.parametrize("scheme", list(BY_SCHEME))
@pytest.mark.parametrize("kind", ["sha1", "plain"])
def test_every_registered_scheme_is_accepted_by_the_configuration(
    scheme: str, kind: str, tmp_path: Path
) -> None:
    tier = {"role": "source", "uri": _sample_uri(scheme, tmp_path)}
    chain = build_chain({"chain": {"kind": kind}, "tier": [tier]})
    store = chain.tiers[0].store
    raw = getattr(store, "raw", store)
    assert type(raw).__name__ == BY_SCHEME[scheme].class_name


def test_an_unknown_scheme_lists_exactly_the_registered_ones() -> None:
    with pytest.raises(ConfigError) as caught:
        build_chain({"tier": [{"role": "source", "uri": "ftp://host/x/"}]})
    message = str(caught.value)
    assert "unknown URI scheme 'ftp://'" in message
    listed = message.split("; use ", 1)[1].removesuffix(", or a path").split(", ")
    assert listed == [f"{scheme}://" for scheme in BY_SCHEME]
    with pytest.raises(ConfigError) as copy:
        load_config({"tier": [{"role": "source", "uri": "/s/"}]}).raw_store("ftp://h/x")
    assert "use " + ", ".join(listed) + ", or a path" in str(copy.value)


# -- SFTP tiers ----------------------------------------------------------------------------------


def _sftp_tier(**options: Any) -> dict[str, Any]:
    return {
        "role": "source",
        "uri": "sftp://backup@Files.Internal:2222/srv/blobs/",
        "known_hosts": "/etc/bitstore/known_hosts",
        "client_keys": ["/etc/bitstore/id_ed25519"],
        "passphrase": PHRASE,
        "password": "${SFTP_PASSWORD}",
        "max_requests": 8,
        "request_timeout": 15,
        "retry": {"attempts": 2},
        "connect_options": {"keepalive_interval": 30},
        **options,
    }


def test_an_sftp_tier_is_built_with_its_options_and_shows_no_secret() -> None:
    env = {"SFTP_PASSWORD": SECRET}
    config = load_config({"tier": [_sftp_tier()]}, env=env)
    chain = config.build()
    assert isinstance(chain, Sha1Composite)
    store = chain.tiers[0].store
    raw = store.raw  # type: ignore[attr-defined]
    assert type(raw).__name__ == "SFTPRaw"
    assert store.prefix == "sftp://backup@files.internal:2222/srv/blobs/"  # type: ignore[attr-defined]
    assert raw.base == "sftp://backup@files.internal:2222/"  # keyed: the whole server
    assert raw.max_requests == 8 and raw.request_timeout == 15 and raw.retry.attempts == 2
    assert raw._connect_options == {
        "known_hosts": "/etc/bitstore/known_hosts",
        "keepalive_interval": 30,
        "client_keys": ["/etc/bitstore/id_ed25519"],
    }
    assert (raw._password, raw._passphrase) == (SECRET, PHRASE)
    shown = " ".join([repr(raw), raw.name, repr(store), repr(chain), repr(config.describe())])
    assert SECRET not in shown and PHRASE not in shown
    described = config.describe()["tiers"][0]
    assert described["password"] == "${SFTP_PASSWORD}" and described["passphrase"] == "***"


def test_a_plain_chain_confines_an_sftp_tier_to_its_folder() -> None:
    chain = build_chain({"chain": {"kind": "plain"}, "tier": [_sftp_tier(password=SECRET)]})
    raw = chain.tiers[0].store
    assert raw.base == "sftp://backup@files.internal:2222/srv/blobs/"  # type: ignore[attr-defined]
    assert raw.is_valid("sftp://backup@files.internal:2222/srv/blobs/a/b")
    assert not raw.is_valid("sftp://backup@files.internal:2222/etc/passwd")


def test_a_copy_store_for_an_sftp_uri_serves_the_whole_server() -> None:
    config = load_config({"tier": [_sftp_tier(password=SECRET)]})
    raw = config.raw_store("sftp://backup@files.internal:2222/srv/blobs/a/b")
    assert raw.is_valid("sftp://backup@files.internal:2222/srv/blobs/a/b")
    assert raw._password == SECRET  # type: ignore[attr-defined]  # the tier's options


@pytest.mark.parametrize(
    ("tier", "expected"),
    [
        (_sftp_tier(password=7), "option 'password' must be a string, not int"),
        (_sftp_tier(passphrase=["x"]), "option 'passphrase' must be a string, not list"),
        (_sftp_tier(client_keys=[SECRET, 3]), "client_keys must be a key file's path or a list"),
        (_sftp_tier(client_keys=3), "option 'client_keys' must be a string or a list, not int"),
        (_sftp_tier(max_connections=3), "unknown option 'max_connections' for sftp:// tiers"),
        (_sftp_tier(max_requests=0), "max_requests must be a positive int"),
        (_sftp_tier(uri=f"sftp://me:{SECRET}@host/srv/"), "pass the password as password="),
        (_sftp_tier(uri="sftp://host/a/../b/"), "must be absolute, without '.', '..'"),
    ],
)
def test_a_wrong_sftp_tier_says_what_is_wrong_and_shows_no_secret(
    tier: dict[str, Any], expected: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        build_chain({"tier": [tier]}, env={"SFTP_PASSWORD": SECRET})
    assert expected in str(caught.value)
    assert SECRET not in str(caught.value) and PHRASE not in str(caught.value)


@pytest.mark.servers
async def test_a_configured_chain_gets_a_blob_over_sftp(
    sshd_server: SSHServer, tmp_path: Path
) -> None:
    sshd = sshd_server
    data = b"blob on the ssh server"
    key = hashlib.sha1(data).hexdigest()
    (tmp_path / key).write_bytes(data)
    source = {
        "role": "source",
        "uri": sshd.sftp_url(str(tmp_path)) + "/",
        "cache_result": True,
        "known_hosts": str(sshd.known_hosts),
        "client_keys": str(sshd.client_key),
        "connect_options": {"agent_path": None, "config": []},
    }
    cache = {"role": "cache", "uri": "mem://hot/"}
    async with build_chain({"tier": [cache, source]}) as chain:
        assert await chain.get(key) == data
        await chain.flush()
        assert await chain.tiers[0].store.get(key) == data


# -- import structure ----------------------------------------------------------------------------


def _imports(path: Path, package: str) -> set[str]:
    """Modules of `asyncbitstore` that `path` imports anywhere (functions, TYPE_CHECKING too)."""
    found = set()
    parts = package.split(".")
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = parts[: len(parts) - node.level + 1] if node.level else []
            target = ".".join(base + ([node.module] if node.module else []))
            found.add(target)
            if not node.module:  # `from . import x`: x may be a module
                found |= {f"{target}.{alias.name}" for alias in node.names}
        elif isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
    return {name for name in found if name.startswith("asyncbitstore")}


def _graph(folder: str) -> dict[str, set[str]]:
    package = f"asyncbitstore.{folder}"
    modules = {
        package if p.stem == "__init__" else f"{package}.{p.stem}": p
        for p in (PACKAGE / folder).glob("*.py")
    }
    return {name: _imports(path, package) for name, path in modules.items()}


def test_the_configuration_modules_import_each_other_in_one_direction_only() -> None:
    graph = _graph("config")
    inside = {m: {t for t in targets if t in graph and t != m} for m, targets in graph.items()}
    assert inside["asyncbitstore.config._spec"] == set()
    assert inside["asyncbitstore.config._backends"] == {"asyncbitstore.config._spec"}
    assert "asyncbitstore.config" not in inside["asyncbitstore.config._check"]
    assert "asyncbitstore.config._check" not in inside["asyncbitstore.config._backends"]


def test_the_command_does_not_import_the_package_root() -> None:
    for module, targets in _graph("cli").items():
        assert "asyncbitstore" not in targets, module
