"""Chains built from configurations, and the messages of configurations that are wrong."""

from __future__ import annotations

import pickle
import sys
from pathlib import Path
from typing import Any

import pytest

import asyncbitstore
from asyncbitstore import (
    BitstoreError,
    Composite,
    FileRaw,
    HashComposite,
    MemoryRaw,
    Sha1APISource,
    Sha1Composite,
    Small,
)
from asyncbitstore.config import (
    ConfigError,
    build_chain,
    default_config,
    find_config_file,
    load_config,
)

SECRET = "wJalrXUtnFEMI-K7MDENG-bPxRfiCY"


class FakeAPI(Sha1APISource):
    """An API source named by import path in the tests below."""

    def __init__(self, *, blobs: dict[str, str] | None = None, verify: bool = False) -> None:
        super().__init__(verify)
        self.blobs = {k: v.encode() for k, v in (blobs or {}).items()}

    async def api_get(self, key: str) -> bytes | None:
        return self.blobs.get(key)


def three_tiers(folder: Path) -> dict[str, Any]:
    return {
        "chain": {"kind": "sha1", "name": "blobs", "negative_ttl": 5},
        "tier": [
            {"role": "cache", "uri": "mem://hot/", "max_bytes": 1 << 20, "timeout": 0.5},
            {"role": "cache", "uri": f"file://{folder}/cache/", "max_bytes": 1 << 20},
            {"role": "source", "uri": f"{folder}/src/", "write": True, "cache_result": True},
        ],
    }


async def test_a_mapping_builds_the_tiers_in_order_with_their_options(tmp_path: Path) -> None:
    chain = Sha1Composite.from_config(three_tiers(tmp_path))
    assert isinstance(chain, Sha1Composite) and chain.name == "blobs"
    assert chain.negative_ttl == 5.0
    hot, disk, source = chain.tiers
    assert (hot.is_cache, disk.is_cache, source.is_cache) == (True, True, False)
    assert hot.timeout == 0.5 and disk.timeout is None
    assert isinstance(hot.store.raw, MemoryRaw) and hot.store.raw.max_bytes == 1 << 20  # type: ignore[attr-defined]
    assert "BoundedFileRaw" in disk.store.name
    assert source.write and source.cache_result
    async with chain:
        key = await chain.write(b"configured")
        assert await chain.get(key) == b"configured"
        await chain.flush()
    assert (tmp_path / "src" / key).read_bytes() == b"configured"


async def test_a_toml_file_builds_with_paths_relative_to_its_folder(tmp_path: Path) -> None:
    path = tmp_path / "conf" / "bitstore.toml"
    path.parent.mkdir()
    path.write_text('[[tier]]\nrole = "source"\nuri = "blobs/"\nwrite = true\n')
    chain = Composite.from_config(path)
    assert isinstance(chain, Sha1Composite)  # kind defaults to "sha1"
    async with chain:
        key = await chain.write(b"x")
    assert (tmp_path / "conf" / "blobs" / key).read_bytes() == b"x"


def test_the_kind_picks_the_class_and_the_algorithm_the_keys(tmp_path: Path) -> None:
    tiers = [{"role": "source", "uri": f"{tmp_path}/"}]
    chain = HashComposite.from_config({"chain": {"algorithm": "sha256"}, "tier": tiers})
    assert type(chain) is HashComposite and chain.algorithm == "sha256"
    plain = Composite.from_config({"chain": {"kind": "plain"}, "tier": tiers})
    assert type(plain) is Composite
    raw = plain.tiers[0].store
    assert isinstance(raw, FileRaw) and raw.root == str(tmp_path)


def test_a_class_that_cannot_hold_the_kind_is_refused(tmp_path: Path) -> None:
    config = {"chain": {"kind": "plain"}, "tier": [{"role": "source", "uri": f"{tmp_path}/"}]}
    with pytest.raises(ConfigError, match=r"Sha1Composite\.from_config cannot return"):
        Sha1Composite.from_config(config)


def test_max_size_wraps_the_tier_and_zero_circuit_threshold_means_never(tmp_path: Path) -> None:
    config = {
        "chain": {"circuit_threshold": 0},
        "tier": [{"role": "cache", "uri": f"{tmp_path}/c/", "max_size": 100}],
    }
    chain = build_chain(config)
    assert isinstance(chain.tiers[0].store, Small) and chain.tiers[0].store.max_size == 100
    assert chain.circuit_threshold is None


async def test_an_api_source_is_imported_and_given_its_options() -> None:
    key = "a9993e364706816aba3e25717850c26c9cd0d89d"
    config = {
        "tier": [
            {
                "role": "source",
                "api": "tests.test_config:FakeAPI",
                "options": {"blobs": {key: "abc"}},
                "timeout": 2,
            }
        ]
    }
    chain = Sha1Composite.from_config(config)
    assert isinstance(chain.tiers[0].store, FakeAPI) and chain.tiers[0].timeout == 2.0
    async with chain:
        assert await chain.get(key) == b"abc"


def test_s3_options_reach_the_store() -> None:
    config = {
        "tier": [
            {
                "role": "source",
                "uri": "s3://bucket/files/",
                "endpoint": "http://127.0.0.1:9",
                "region": "eu-west-3",
                "anonymous": True,
                "retry": {"attempts": 2},
            }
        ]
    }
    raw = build_chain(config).tiers[0].store.raw  # type: ignore[attr-defined]
    assert type(raw).__name__ == "S3Raw"
    assert raw.endpoint_url == "http://127.0.0.1:9" and raw.region == "eu-west-3"
    assert "anonymous" in raw.name and raw.retry.attempts == 2


async def test_a_sqlite_uri_names_the_database_file_then_the_key_prefix(tmp_path: Path) -> None:
    uri = f"sqlite://{tmp_path}/blobs.db/sha1/"
    chain = build_chain({"tier": [{"role": "source", "uri": uri, "write": True}]})
    store = chain.tiers[0].store
    assert store.prefix == uri and store.raw.path == str(tmp_path / "blobs.db")  # type: ignore[attr-defined]
    async with chain:
        assert await chain.get(await chain.write(b"small")) == b"small"
    with pytest.raises(ConfigError, match=r"tier 1 \(sqlite:///x/y/\): a sqlite URI is"):
        build_chain({"tier": [{"role": "source", "uri": "sqlite:///x/y/"}]})


def test_a_copy_store_takes_the_options_of_the_tier_it_falls_under() -> None:
    tier = {"role": "source", "uri": "s3://bucket/files/", "endpoint": "http://127.0.0.1:9"}
    config = load_config({"tier": [tier]})
    assert config.raw_store("s3://bucket/files/a/b").endpoint_url == "http://127.0.0.1:9"  # type: ignore[attr-defined]
    assert config.raw_store("s3://other/x").endpoint_url == "http://127.0.0.1:9"  # type: ignore[attr-defined]
    assert (
        load_config({"tier": [{"role": "source", "uri": "/s/"}]}).raw_store("s3://b/k").endpoint_url
        is None
    )  # type: ignore[attr-defined]
    assert isinstance(config.raw_store("/tmp/x"), FileRaw)


def bad(tier: dict[str, Any], chain: dict[str, Any] | None = None) -> dict[str, Any]:
    first = {"role": "cache", "uri": "mem://hot/"}
    return {"chain": chain or {}, "tier": [first, tier]}


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        (
            bad({"role": "source", "uri": "s3://bucket/files/", "regoin": "x"}),
            "tier 2 (s3://bucket/files/): unknown option 'regoin' for s3:// tiers; "
            "did you mean 'region'?",
        ),
        (
            bad({"role": "source", "uri": "/srv/blobs/", "region": "x"}),
            "tier 2 (/srv/blobs/): unknown option 'region' for file:// tiers; "
            "it applies to s3:// tiers only",
        ),
        (bad({"kind": "source", "uri": "/srv/"}), "unknown option 'kind'"),
        (bad({"role": "source", "url": "/srv/"}), "did you mean 'uri'?"),
        (bad({"role": "store", "uri": "/srv/"}), "unknown role 'store'; set role = \"cache\""),
        (bad({"role": "source"}), "a tier needs a uri or an api, and not both"),
        (bad({"role": "source", "uri": "ftp://h/x/"}), "unknown URI scheme 'ftp://'; use file://"),
        (bad({"role": "source", "uri": "s3://bucket"}), "tier 2 (s3://bucket): invalid URI"),
        (bad({"role": "source", "uri": "/srv/", "read": False}), "'read' applies to caches"),
        (bad({"role": "cache", "uri": "/c/", "write": True}), "'write' applies to sources"),
        (bad({"role": "source", "uri": "/s/", "timeout": "1s"}), "'timeout' must be an integer"),
        (bad({"role": "source", "uri": "/s/", "write": 1}), "'write' must be true or false"),
        (bad({"role": "source", "uri": "/s/", "max_bytes": 9}), "max_bytes on a file:// tier"),
        (bad({"role": "source", "uri": "/s/", "timeout": -1}), "timeout must be a positive"),
        (bad({"role": "source", "uri": "s3://b/p/", "retry": {"tries": 2}}), "attempts, base, cap"),
        (bad({"role": "source", "api": "nowhere.at_all:API"}), "cannot import 'nowhere.at_all'"),
        (bad({"role": "source", "api": "tests.test_config:Nope"}), "has no 'Nope'"),
        (bad({"role": "source", "api": "tests.test_config:bad"}), "is not a Store class"),
        (
            bad({"role": "source", "api": "tests.test_config:FakeAPI", "options": {"x": 1}}),
            "FakeAPI(**options) failed",
        ),
        (bad({"role": "source", "uri": "/s/"}, {"kind": "md5"}), "[chain] kind 'md5' is unknown"),
        (
            bad({"role": "source", "uri": "/s/"}, {"kind": "sha1", "algorithm": "sha256"}),
            "algorithm = 'sha256' does not fit kind = 'sha1'",
        ),
        (
            bad({"role": "source", "uri": "/s/", "verify": True}, {"kind": "plain"}),
            "verify needs keyed blobs",
        ),
        ({"tiers": []}, "unknown option 'tiers' at the top level; did you mean 'tier'?"),
        ({"chain": {}}, "no tiers; add a [[tier]] table"),
    ],
)
def test_a_wrong_configuration_says_where_and_what_to_do(
    config: dict[str, Any], expected: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        build_chain(config)
    assert expected in str(caught.value)
    assert str(caught.value).startswith("configuration: ")


def test_the_error_carries_the_tier_and_option_and_pickles() -> None:
    with pytest.raises(ConfigError) as caught:
        build_chain(bad({"role": "source", "uri": "s3://b/p/", "regoin": "x"}))
    error = caught.value
    assert isinstance(error, BitstoreError) and isinstance(error, ValueError)
    assert (error.tier, error.option, error.origin) == (2, "regoin", "configuration")
    copy = pickle.loads(pickle.dumps(error))
    assert str(copy) == str(error) and copy.tier == 2


def test_a_missing_extra_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(asyncbitstore, "S3Raw", raising=False)  # drop the cached lazy import
    monkeypatch.delitem(sys.modules, "asyncbitstore.raw.s3", raising=False)
    monkeypatch.setitem(sys.modules, "aiobotocore", None)  # type: ignore[arg-type]
    with pytest.raises(ConfigError) as caught:
        build_chain(bad({"role": "source", "uri": "s3://bucket/files/"}))
    message = str(caught.value)
    assert "tier 2 (s3://bucket/files/)" in message
    assert "pip install 'asyncbitstore[s3]'" in message


def test_references_to_the_environment_are_replaced() -> None:
    tier = {"role": "cache", "uri": "mem://${NAME}/", "max_bytes": 10}
    tier2 = {"role": "source", "uri": "mem://${OTHER:-fallback}/"}
    chain = build_chain({"tier": [tier, tier2]}, env={"NAME": "hot"})
    assert [t.store.prefix for t in chain.tiers] == ["mem://hot/", "mem://fallback/"]  # type: ignore[attr-defined]


def test_an_unset_reference_names_the_variable_and_how_to_set_it() -> None:
    tier = {"role": "source", "uri": "s3://b/p/", "secret_access_key": "${ABS_NOT_SET_X}"}
    with pytest.raises(ConfigError) as caught:
        build_chain(bad(tier), env={})
    assert "option 'secret_access_key' refers to ${ABS_NOT_SET_X}, which is not set" in str(
        caught.value
    )
    assert "export ABS_NOT_SET_X" in str(caught.value)


def test_secrets_never_show_in_errors_or_descriptions() -> None:
    tier = {
        "role": "source",
        "uri": f"redis://:{SECRET}@127.0.0.1:6379/0/blobs/",
        "max_connections": 4,
    }
    s3 = {
        "role": "source",
        "uri": "s3://b/p/",
        "access_key_id": "AKIDEXAMPLE",
        "secret_access_key": SECRET,
        "session_token": "${TOKEN}",
    }
    http = {"role": "source", "uri": "https://h/x/", "headers": {"Authorization": SECRET}}
    config = load_config({"tier": [tier, s3, http]}, env={"TOKEN": SECRET})
    shown = repr(config.describe())
    assert SECRET not in shown
    assert "${TOKEN}" in shown and "***" in shown
    for wrong in ({**s3, "secret_access_key": 7}, {**s3, "regoin": SECRET}, {**tier, "ttl": -1}):
        with pytest.raises(ConfigError) as caught:
            build_chain({"tier": [wrong]}, env={"TOKEN": SECRET})
        assert SECRET not in str(caught.value)


def test_a_toml_syntax_error_names_the_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "bitstore.toml"
    path.write_text('[chain]\nkind = "sha1"\n[[tier]]\nrole = \n')
    with pytest.raises(ConfigError, match=r"bitstore\.toml: not valid TOML: .*line 4"):
        load_config(path)
    with pytest.raises(ConfigError, match="no such configuration file"):
        load_config(tmp_path / "missing.toml")


def test_the_file_is_looked_for_in_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.chdir(tmp_path)
    assert find_config_file({}) is None
    user = tmp_path / "xdg" / "asyncbitstore" / "bitstore.toml"
    user.parent.mkdir(parents=True)
    user.write_text("")
    assert find_config_file({}) == user
    (tmp_path / "bitstore.toml").write_text("")
    assert find_config_file({}) == Path("bitstore.toml")
    named = tmp_path / "named.toml"
    named.write_text("")
    assert find_config_file({"BITSTORE_CONFIG": str(named)}) == named
    with pytest.raises(ConfigError, match="BITSTORE_CONFIG names no file"):
        find_config_file({"BITSTORE_CONFIG": str(tmp_path / "gone.toml")})


async def test_with_no_file_the_default_is_a_writable_store_in_the_user_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.chdir(tmp_path)
    config = load_config(env={})
    assert config.origin == "default configuration"
    assert default_config()["tier"][0]["write"] is True
    async with config.build() as chain:
        key = await chain.write(b"fresh machine")
    assert (tmp_path / "cache" / "asyncbitstore" / "blobs" / key).is_file()


async def test_the_fastapi_helpers_build_a_chain_from_a_config_path(tmp_path: Path) -> None:
    pytest.importorskip("fastapi")
    from asyncbitstore.fastapi import build_store

    path = tmp_path / "bitstore.toml"
    path.write_text(f'[[tier]]\nrole = "source"\nuri = "{tmp_path}/blobs/"\nwrite = true\n')
    async with await build_store(str(path)) as store:
        assert isinstance(store, Sha1Composite)
        key = await store.write(b"served")
    assert (tmp_path / "blobs" / key).read_bytes() == b"served"


def test_every_option_is_in_the_configuration_reference() -> None:
    from asyncbitstore.config._backends import OPTIONS
    from asyncbitstore.config._check import CHAIN_OPTIONS, TIER_OPTIONS
    from asyncbitstore.config._spec import RETRY_OPTIONS

    reference = (Path(__file__).parent.parent / "docs" / "configuration.md").read_text()
    options = set(CHAIN_OPTIONS) | set(TIER_OPTIONS) | set(RETRY_OPTIONS)
    options |= {name for backend_options in OPTIONS.values() for name in backend_options}
    assert sorted(o for o in options if f"`{o}`" not in reference) == []


def test_each_backend_time_limit_has_its_own_name_and_the_old_spelling_warns() -> None:
    import warnings

    from asyncbitstore import HTTPRaw, S3Raw, SqliteRaw

    assert S3Raw(request_timeout=5).request_timeout == 5
    assert HTTPRaw(read_timeout=3).read_timeout == 3
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        http = HTTPRaw(timeout=4)
    assert http.read_timeout == 4
    assert [str(w.message) for w in caught] == [
        "timeout= is deprecated here: pass read_timeout= (it bounds the same thing)"
    ]
    with pytest.raises(TypeError, match="pass lock_timeout= only"):
        SqliteRaw("/tmp/never-created.db", lock_timeout=1, timeout=2)


def test_a_configured_time_limit_reaches_the_backend_under_its_name(tmp_path: Path) -> None:
    chain = Composite.from_config(
        {
            "tier": [
                {"role": "source", "uri": "https://example.invalid/", "read_timeout": 7},
                {"role": "source", "uri": f"sqlite://{tmp_path}/b.db/x/", "request_timeout": 9},
            ]
        }
    )
    http, sqlite = (getattr(tier.store, "raw", tier.store) for tier in chain.tiers)
    assert http.read_timeout == 7
    assert sqlite.lock_timeout == 9  # the old key still reads
