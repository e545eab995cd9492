"""Developer and CI tasks. `nox` runs lint, typecheck and tests; demo and bench on demand."""

from __future__ import annotations

import html
import re
from pathlib import Path

import nox

nox.needs_version = ">=2024.3.2"
nox.options.default_venv_backend = "virtualenv"
nox.options.sessions = ["lint", "typecheck", "tests"]

ROOT = Path(__file__).parent


@nox.session
def tests(session: nox.Session) -> None:
    """Run the test suite (real local servers included); extra arguments go to pytest."""
    session.install("-e", ".[test]")
    session.run("pytest", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """Check style and formatting with ruff, and the import rules in pyproject.toml."""
    session.install("ruff", "import-linter")
    session.install("-e", ".", "--no-deps")  # import-linter finds the package; nothing runs
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    session.run("lint-imports")


@nox.session
def typecheck(session: nox.Session) -> None:
    """Type-check the package with mypy in strict mode."""
    session.install("-e", ".[all]", "mypy")
    session.run("mypy", *session.posargs)


@nox.session
def docs(session: nox.Session) -> None:
    """Build the documentation site into build/site/; strict: a broken reference fails it."""
    session.install("-e", ".[all,docs]")
    session.run("mkdocs", "build", "--strict", *session.posargs)
    unrendered = _unrendered_markup(ROOT / "build" / "site")
    if unrendered:
        session.error("the site shows markup meant for Sphinx:\n" + "\n".join(unrendered))


#: Sphinx roles, and reST's ``text::`` literal-block marker (fsspec's ``filecache::`` is meant).
_SPHINX_MARKUP = re.compile(
    r":(?:class|func|meth|mod|attr|exc|data|obj):|\b(?!\w*cache::)\w+::(?=\s)"
)


def _unrendered_markup(site: Path) -> list[str]:
    """``page: text`` for each piece of Sphinx markup in the built pages' text."""
    found = []
    for page in sorted(site.rglob("*.html")):
        text = html.unescape(re.sub(r"<[^>]+>", "", page.read_text(encoding="utf-8")))
        found.extend(
            f"{page.relative_to(site)}: {text[max(0, m.start() - 30) : m.end() + 10]!r}"
            for m in _SPHINX_MARKUP.finditer(text)
        )
    return found
