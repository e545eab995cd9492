"""Tier names: given with `name=` or in a tier table, else short defaults; used everywhere."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest

from asyncbitstore import (
    Composite,
    ConfigError,
    FileRaw,
    MemoryRaw,
    S3Raw,
    Sha1Cache,
    Sha1Composite,
    Sha1Store,
)
from asyncbitstore.testing import FaultyStore

ROOT = Path(__file__).resolve().parent.parent
BLOB = b"a named blob " * 10
KEY = hashlib.sha1(BLOB).hexdigest()


def test_default_names_are_the_class_and_its_backing_store() -> None:
    chain = Sha1Composite()
    chain.append_cache(Sha1Cache(MemoryRaw(max_bytes=1 << 20), "mem://c/"))
    chain.append_source(Sha1Store(S3Raw(endpoint_url="http://127.0.0.1:9"), "s3://bucket/p/"))
    chain.append_source(Sha1Store(FileRaw(root="/tmp"), "/tmp/blobs/"))
    chain.append_source(FaultyStore(MemoryRaw()))
    chain.append_source(MemoryRaw(max_bytes=10))
    assert [tier.name for tier in chain.tiers] == [
        "Sha1Cache(MemoryRaw)",
        "Sha1Store(S3Raw)",
        "Sha1Store(FileRaw)",
        "FaultyStore(MemoryRaw)",
        "MemoryRaw",
    ]
    assert repr(chain) == (
        "<Sha1Composite: Sha1Cache(MemoryRaw) → Sha1Store(S3Raw) → Sha1Store(FileRaw) → "
        "FaultyStore(MemoryRaw) → MemoryRaw>"
    )


def test_equal_default_names_get_a_number() -> None:
    chain = Sha1Composite()
    for prefix in ("mem://a/", "mem://b/", "mem://c/"):
        chain.append_source(Sha1Store(MemoryRaw(), prefix))
    assert [tier.name for tier in chain.tiers] == [
        "Sha1Store(MemoryRaw)",
        "Sha1Store(MemoryRaw)#2",
        "Sha1Store(MemoryRaw)#3",
    ]


async def test_a_given_name_is_used_in_stats_and_the_table() -> None:
    chain = Sha1Composite()
    chain.append_cache(Sha1Cache(MemoryRaw(), "mem://c/"), name="hot")
    source = Sha1Store(MemoryRaw(), "mem://s/")
    await source.put(KEY, BLOB)
    chain.append_source(source, name="origin", cache_result=True)
    assert [tier.name for tier in chain.tiers] == ["hot", "origin"]
    assert await chain.get(KEY) == BLOB
    await chain.aclose()
    assert chain.stats.tier("origin").hits == 1
    assert chain.stats.tier("hot").misses == 1
    table = chain.stats.table().splitlines()
    assert table[1].startswith("hot ") and table[2].startswith("origin ")
    assert repr(chain.tiers[0]).startswith("<Tier cache hot:")


def test_a_default_name_steps_aside_for_a_given_one() -> None:
    chain = Composite()
    chain.append_source(MemoryRaw(), name="MemoryRaw")
    chain.append_source(MemoryRaw())
    assert [tier.name for tier in chain.tiers] == ["MemoryRaw", "MemoryRaw#2"]


def test_bad_names_are_refused() -> None:
    chain = Composite()
    chain.append_source(MemoryRaw(), name="one")
    with pytest.raises(ValueError, match="'one' is already the name of tier 1"):
        chain.append_cache(MemoryRaw(), name="one")
    with pytest.raises(TypeError, match="a tier name must be a str, not int"):
        chain.append_source(MemoryRaw(), name=3)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="empty"):
        chain.append_source(MemoryRaw(), name="")
    assert len(chain.tiers) == 1


def test_prometheus_labels_carry_the_name() -> None:
    pytest.importorskip("prometheus_client")
    from prometheus_client import CollectorRegistry, generate_latest

    from asyncbitstore.prometheus import expose

    chain = Composite(name="named")
    chain.append_source(MemoryRaw(), name="primary")
    registry = CollectorRegistry()
    expose(chain, registry=registry)
    text = generate_latest(registry).decode()
    assert 'asyncbitstore_tier_hits_total{chain="named",tier="primary"} 0.0' in text


async def test_otel_attributes_carry_the_name(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("opentelemetry.sdk")
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from opentelemetry.util._once import Once

    from asyncbitstore.otel import instrument

    monkeypatch.setattr(trace, "_TRACER_PROVIDER_SET_ONCE", Once())
    monkeypatch.setattr(trace, "_TRACER_PROVIDER", None)
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    try:
        chain = Sha1Composite()
        source = Sha1Store(MemoryRaw(), "mem://otel/")
        await source.put(KEY, BLOB)
        chain.append_source(source, name="origin")
        instrument(chain)
        assert await chain.get(KEY) == BLOB
        tiers = [s for s in exporter.get_finished_spans() if s.name == "asyncbitstore.tier.get"]
        assert [(s.attributes or {}).get("asyncbitstore.tier") for s in tiers] == ["origin"]
    finally:
        provider.shutdown()


# -- configuration ---------------------------------------------------------------------------------


def _config(folder: Path, *names: Any) -> dict[str, Any]:
    tiers = []
    for n, name in enumerate(names):
        tier: dict[str, Any] = {"role": "source", "uri": f"{folder}/t{n}/"}
        if name is not None:
            tier["name"] = name
        tiers.append(tier)
    return {"chain": {"kind": "sha1"}, "tier": tiers}


def test_config_names_tiers(tmp_path: Path) -> None:
    chain = Sha1Composite.from_config(_config(tmp_path, "local", None, None))
    assert [tier.name for tier in chain.tiers] == [
        "local",
        "HashStore(FileRaw)",
        "HashStore(FileRaw)#2",
    ]


def test_config_refuses_a_name_that_is_not_a_string(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"tier 2 .*option 'name' must be a string, not 7"):
        Sha1Composite.from_config(_config(tmp_path, "a", 7))


def test_config_refuses_a_duplicate_name(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"tier 3 .*name 'a' is already the name of tier 1") as e:
        Sha1Composite.from_config(_config(tmp_path, "a", "b", "a"))
    assert e.value.option == "name"


def test_config_refuses_an_empty_name(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"tier 1 .*name must not be empty"):
        Sha1Composite.from_config(_config(tmp_path, ""))


async def _bitstore(home: Path, *args: str) -> tuple[int, str, str]:
    env = {k: v for k, v in os.environ.items() if k != "BITSTORE_CONFIG"}
    for name in ("CACHE", "CONFIG", "STATE"):
        env[f"XDG_{name}_HOME"] = str(home / "user" / name.lower())
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "asyncbitstore",
        "--no-progress",
        *args,
        cwd=home,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 100)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_the_command_shows_the_same_names_as_python(tmp_path: Path) -> None:
    config = tmp_path / "bitstore.toml"
    config.write_text(
        f'[[tier]]\nrole = "cache"\nuri = "{tmp_path}/cache/"\nname = "hot"\n\n'
        f'[[tier]]\nrole = "source"\nuri = "{tmp_path}/files/"\nwrite = true\n'
        "cache_result = true\n"
    )
    python_names = [tier.name for tier in Sha1Composite.from_config(config).tiers]
    assert python_names == ["hot", "HashStore(FileRaw)"]
    blob = tmp_path / "blob.bin"
    blob.write_bytes(BLOB)
    code, out, err = await _bitstore(tmp_path, "put", str(blob))
    assert code == 0, err
    code, out, err = await _bitstore(tmp_path, "get", KEY, "-o", str(tmp_path / "out.bin"))
    assert code == 0, err
    code, out, err = await _bitstore(tmp_path, "--json", "stats")
    assert code == 0, err
    assert [tier["name"] for tier in json.loads(out)["tiers"]] == python_names
    code, out, err = await _bitstore(tmp_path, "stats")
    assert code == 0, err
    assert out.splitlines()[1].startswith("hot ")
    assert out.splitlines()[2].startswith("HashStore(FileRaw) ")
    code, out, err = await _bitstore(tmp_path, "--json", "config", "show")
    assert code == 0, err
    assert [tier["name"] for tier in json.loads(out)["tiers"]] == python_names
    code, out, err = await _bitstore(tmp_path, "config", "show")
    assert code == 0, err
    assert 'name = "hot"' in out and 'name = "HashStore(FileRaw)"' in out
