"""Developer and CI tasks. `nox` runs lint, typecheck and tests; demo and bench on demand."""

from __future__ import annotations

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


@nox.session
def demo(session: nox.Session) -> None:
    """Run the quickstart example against a bare install (no extras)."""
    session.install("-e", ".")
    session.run("python", "examples/quickstart.py")


@nox.session
def bench(session: nox.Session) -> None:
    """Run every benchmark script in benchmarks/."""
    # Private helpers (_*.py) and the chart drawer (plot.py) are not benchmarks.
    scripts = [
        path
        for path in sorted((ROOT / "benchmarks").glob("*.py"))
        if not path.name.startswith("_") and path.name != "plot.py"
    ]
    if not scripts:
        session.skip("no benchmarks/*.py yet")
    session.install("-e", ".[test,bench]")
    for script in scripts:
        session.run("python", str(script.relative_to(ROOT)), *session.posargs)
