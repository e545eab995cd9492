"""The documentation names what the code has: every backend, extra and output folder."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from asyncbitstore.raw import BACKENDS

ROOT = Path(__file__).resolve().parent.parent


def _text(name: str) -> str:
    return (ROOT / name).read_text(encoding="utf-8")


def _mkdocs() -> dict[str, object]:
    class Loader(yaml.SafeLoader):
        """Reads mkdocs.yml's `!!python/name:` tags as None; the keys read here are plain."""

    Loader.add_multi_constructor("tag:yaml.org,2002:python/", lambda *_: None)
    return yaml.load(_text("mkdocs.yml"), Loader=Loader)


def _nav_pages(node: object) -> list[str]:
    if isinstance(node, str):
        return [node]
    if isinstance(node, list):
        return [page for item in node for page in _nav_pages(item)]
    if isinstance(node, dict):
        return [page for value in node.values() for page in _nav_pages(value)]
    return []


def test_readme_names_the_folder_the_docs_are_built_into() -> None:
    site_dir = str(_mkdocs()["site_dir"]).rstrip("/")
    readme = _text("README.md")
    assert f"`{site_dir}/`" in readme
    assert "into `site/`" not in readme


@pytest.mark.parametrize("backend", BACKENDS, ids=lambda backend: backend.name)
def test_every_backend_has_a_page_a_reference_entry_and_a_changelog_line(backend) -> None:
    pages = _nav_pages(_mkdocs()["nav"])
    backend_pages = [page for page in pages if page.startswith("backends/")]
    module_name = backend.module.rsplit(".", 1)[-1]
    assert any(backend.class_name in (ROOT / "docs" / page).read_text() for page in backend_pages)
    reference = (ROOT / "docs/api/raw.md").read_text()
    assert re.search(rf"^::: asyncbitstore\.raw\.{module_name}\b", reference, re.M) or (
        f"asyncbitstore.raw.{backend.class_name}" in reference
    )
    assert f"`{backend.class_name}" in _text("CHANGELOG.md")
    configuration = (ROOT / "docs/configuration.md").read_text()
    for scheme in backend.schemes:
        assert f"`{scheme}://`" in configuration


@pytest.mark.parametrize("module", ["prometheus", "otel"])
def test_changelog_names_the_observability_modules(module: str) -> None:
    assert f"asyncbitstore.{module}" in _text("CHANGELOG.md")
