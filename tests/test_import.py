"""The package surface: a light import, lazy cloud backends, ``__all__``, ``dir`` and docstrings."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import textwrap

import pytest

import asyncbitstore

HEAVY = ("botocore", "aiobotocore", "aiohttp", "gcloud", "redis", "tqdm")

#: Lazily exported backends and the SDK module each needs.
LAZY_SDKS = {
    "S3Raw": "aiobotocore",
    "GSRaw": "gcloud.aio.storage",
    "HTTPRaw": "aiohttp",
    "RedisRaw": "redis",
}


def _run(code: str) -> dict[str, object]:
    """Run ``code`` in a fresh interpreter; it prints one JSON document, which is returned."""
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:  # a parent package is missing
        return False


def test_import_loads_no_cloud_sdk_and_no_tqdm() -> None:
    result = _run(
        f"""
        import json, sys
        import asyncbitstore
        heavy = {HEAVY!r}
        loaded = sorted(m for m in sys.modules if m.split(".")[0] in heavy)
        print(json.dumps({{"loaded": loaded}}))
        """
    )
    assert result["loaded"] == []


@pytest.mark.skipif(not _installed("aiobotocore"), reason="aiobotocore is not installed")
def test_a_lazy_backend_loads_its_sdk_on_first_access_only() -> None:
    result = _run(
        """
        import json, sys
        import asyncbitstore
        before = "aiobotocore" in sys.modules
        cls = asyncbitstore.S3Raw
        print(json.dumps({
            "before": before,
            "after": "aiobotocore" in sys.modules,
            "name": cls.__name__,
            "cached": "S3Raw" in vars(asyncbitstore),
        }))
        """
    )
    assert result == {"before": False, "after": True, "name": "S3Raw", "cached": True}


def test_a_missing_sdk_raises_import_error_with_the_pip_extra() -> None:
    result = _run(
        """
        import json, sys
        sys.modules["redis"] = None  # as if the redis package were not installed
        import asyncbitstore
        try:
            asyncbitstore.RedisRaw
        except ImportError as exc:
            print(json.dumps({"type": type(exc).__name__, "message": str(exc)}))
        else:
            print(json.dumps({"type": None}))
        """
    )
    assert result["type"] == "ImportError"
    assert "pip install 'asyncbitstore[redis]'" in str(result["message"])


def test_an_unknown_attribute_raises_attribute_error() -> None:
    with pytest.raises(AttributeError, match="NoSuchThing"):
        asyncbitstore.NoSuchThing  # type: ignore[attr-defined]  # noqa: B018
    assert not hasattr(asyncbitstore, "no_such_thing")
    with pytest.raises(ImportError):
        from asyncbitstore import NoSuchThing  # type: ignore[attr-defined]  # noqa: F401


def test_all_is_sorted_and_dir_lists_the_public_names() -> None:
    names = asyncbitstore.__all__
    assert names == sorted(names)
    assert len(set(names)) == len(names)
    assert set(names) <= set(dir(asyncbitstore))
    assert set(LAZY_SDKS) <= set(names)
    for name in ("Store", "FileRaw", "MemoryRaw", "Sha1Composite", "Retry", "NotFoundInStore"):
        assert name in names


def test_eager_public_names_are_importable_without_any_sdk() -> None:
    for name in asyncbitstore.__all__:
        if name not in LAZY_SDKS:
            assert getattr(asyncbitstore, name) is not None


def test_every_public_name_has_a_docstring() -> None:
    missing = []
    for name in asyncbitstore.__all__:
        if name in LAZY_SDKS and not _installed(LAZY_SDKS[name]):
            continue
        doc = getattr(asyncbitstore, name).__doc__
        if not doc or not doc.strip():
            missing.append(name)
    assert missing == []
    assert asyncbitstore.__doc__


def test_star_import_works_without_any_extra_and_leaves_out_the_missing_backends() -> None:
    blocked = ["aiobotocore", "botocore", "aiohttp", "gcloud", "redis", "asyncssh", "httptools"]
    result = _run(
        f"""
        import json, sys
        for name in {blocked!r}:
            sys.modules[name] = None  # as if it were not installed
        namespace = {{}}
        exec("from asyncbitstore import *", namespace)
        import asyncbitstore
        try:
            asyncbitstore.S3Raw
        except ImportError as exc:
            hint = str(exc)
        print(json.dumps({{"names": sorted(n for n in namespace if not n.startswith("__")),
                          "hint": hint}}))
        """
    )
    names = result["names"]
    assert isinstance(names, list)
    assert {"Store", "FileRaw", "MemoryRaw", "SqliteRaw", "Sha1Composite", "memoize"} <= set(names)
    assert not {"S3Raw", "GSRaw", "HTTPRaw", "RedisRaw", "SFTPRaw"} & set(names)
    assert "pip install 'asyncbitstore[s3]'" in str(result["hint"])


def test_memoize_is_the_decorator_even_after_its_module_was_imported() -> None:
    result = _run(
        """
        import json
        import asyncbitstore.memoize
        from asyncbitstore import memoize
        import asyncbitstore
        same = memoize is asyncbitstore.memoize
        print(json.dumps({"kind": type(memoize).__name__, "same": same}))
        """
    )
    assert result == {"kind": "function", "same": True}


def test_the_version_comes_from_the_package_metadata() -> None:
    from importlib.metadata import version

    assert asyncbitstore.__version__ == version("asyncbitstore")


def test_public_classes_name_their_public_module() -> None:
    for name in asyncbitstore.__all__:
        value = getattr(asyncbitstore, name)
        module = getattr(value, "__module__", "")
        assert not any(part.startswith("_") for part in module.split(".")), (name, module)
