"""How the ``bitstore`` command runs: its settings, the event loop, exit codes and messages.

Exit codes: 0 success, 1 a blob not found, 2 a usage or configuration error, 3 a tier (or
the local disk) unavailable. An error is one line on stderr saying what went wrong and what to
do; the traceback is shown only with ``-v``.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import json
import logging
import os
import sys
import traceback
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, NoReturn

import click

from ..composite import Composite
from ..config import ChainConfig, ConfigError, load_config
from ..errors import (
    BitstoreError,
    InvalidRange,
    InvalidURI,
    NotFoundInStore,
    NotWritable,
    StoreFull,
    StoreNotAvailable,
)
from . import _limits, _stats

__all__ = ["NOT_FOUND", "OK", "UNAVAILABLE", "USAGE", "App", "Failure", "fail"]

OK, NOT_FOUND, USAGE, UNAVAILABLE = 0, 1, 2, 3

_SEE_CONFIG = "see `bitstore config show` for the tiers"
#: Error type -> (exit code, what to do). The first matching entry wins.
_ADVICE: list[tuple[type[BaseException], int, str]] = [
    (ConfigError, USAGE, ""),
    (NotFoundInStore, NOT_FOUND, f"check the key; {_SEE_CONFIG} that were asked"),
    (StoreFull, UNAVAILABLE, "free some space, or raise the tier's max_bytes"),
    (
        StoreNotAvailable,
        UNAVAILABLE,
        "check that tier's endpoint, network and credentials (-v shows more), or retry later",
    ),
    (InvalidURI, USAGE, f"give a key or URI of the expected form; {_SEE_CONFIG}"),
    (InvalidRange, USAGE, "give a range inside the blob"),
    (NotWritable, USAGE, "set write = true on a source tier of the configuration"),
]


class Failure(Exception):
    """An error the command reports as it is, with its exit code."""

    def __init__(self, message: str, code: int = USAGE) -> None:
        super().__init__(message)
        self.code = code


def fail(message: str, code: int = USAGE) -> NoReturn:
    """Stop with ``message`` (what went wrong; what to do) and exit ``code``."""
    raise Failure(message, code)


def explain(exc: BaseException) -> tuple[str, int]:
    """The one-line message and the exit code for ``exc``."""
    if isinstance(exc, Failure):
        return str(exc), exc.code
    for kind, code, todo in _ADVICE:
        if isinstance(exc, kind):
            return (f"{exc}; {todo}" if todo else str(exc)), code
    if isinstance(exc, BitstoreError):
        return f"{exc}; -v shows more", UNAVAILABLE
    if isinstance(exc, OSError):
        what = exc.strerror or str(exc)
        where = f"{exc.filename}: " if exc.filename else ""
        return f"{where}{what}; check the path, its permissions and free space", UNAVAILABLE
    return f"unexpected {type(exc).__name__}: {exc}; run with -v for the traceback", UNAVAILABLE


def _run_loop(main: Coroutine[Any, Any, int]) -> int:
    """Run ``main`` on uvloop when it is installed (only the command chooses the loop)."""
    try:
        run = getattr(importlib.import_module("uvloop"), "run", asyncio.run)  # uvloop >= 0.18
    except ImportError:
        run = asyncio.run
    result: int = run(main)
    return result


@dataclass
class App:
    """The command's global options, and the chain they lead to."""

    config_path: str | None = None
    concurrency: int = 64
    progress: bool = False
    json: bool = False
    verbose: int = 0
    retries: int | None = None
    timeout: float | None = None
    _config: ChainConfig | None = field(default=None, repr=False)

    def setup_logging(self) -> None:
        """``-v``: the library's log on stderr, each retry included (``-vv``: debug too); else
        nothing is logged (the package logger's ``NullHandler``, set at import, keeps it quiet).
        """
        if self.verbose:
            level = logging.DEBUG if self.verbose > 1 else logging.INFO
            logging.basicConfig(level=level, stream=sys.stderr, format="%(name)s: %(message)s")
            # The library logs retries at DEBUG; a command user asking for -v wants to see them.
            logging.getLogger("asyncbitstore.retry").setLevel(logging.DEBUG)

    @property
    def config(self) -> ChainConfig:
        """The configuration, read once."""
        if self._config is None:
            config = load_config(self.config_path)
            _limits.apply(config, retries=self.retries, timeout=self.timeout)
            self._config = config
        return self._config

    @contextlib.asynccontextmanager
    async def chain(self) -> AsyncIterator[Composite]:
        """The chain, closed (pending fills flushed) on exit; its figures go to the totals."""
        chain: Composite = self.config.build()
        try:
            async with chain:
                yield chain
        finally:
            await asyncio.to_thread(self._record, chain)

    def _record(self, chain: Composite) -> None:
        try:
            _stats.record(_stats.stats_file(self.config.origin), chain.stats)
        except (OSError, ImportError) as exc:  # the figures are a convenience: never fail
            logging.getLogger("asyncbitstore.cli").info("could not save figures: %s", exc)

    def run(self, work: Callable[[], Awaitable[int | None]]) -> NoReturn:
        """Run ``work`` and exit with its code (0 for None); errors become one line."""

        async def main() -> int:
            return await work() or OK

        self.setup_logging()  # here, once every option (before and after the command) is known
        try:
            code = _run_loop(main())
        except KeyboardInterrupt:
            click.echo("bitstore: interrupted", err=True)
            sys.exit(130)
        except BrokenPipeError:  # the reader went away (`bitstore get KEY | head`): stop quietly
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            sys.exit(141)
        except Exception as exc:
            code = self.report(exc)
        sys.exit(code)

    def report(self, exc: BaseException, where: str | None = None) -> int:
        """Print ``exc`` as one line (a JSON object with ``--json``); return its exit code.

        Args:
            exc: the error.
            where: the line of input it concerns (``keys.txt:17``), printed first.
        """
        message, code = explain(exc)
        if self.verbose:
            traceback.print_exception(type(exc), exc, exc.__traceback__, file=sys.stderr)
        if self.json:
            error = {"error": message, "type": type(exc).__name__, "exit_code": code}
            if where is not None:
                error["where"] = where
            click.echo(json.dumps(error), err=True)
        else:
            click.echo(f"{where or 'bitstore: error'}: {message}", err=True)
        return code

    def note(self, message: str) -> None:
        """Print a remark (not an error) on stderr: ``bitstore: MESSAGE``, or with ``--json``
        the object ``{"note": MESSAGE}``."""
        text = json.dumps({"note": message}) if self.json else f"bitstore: {message}"
        click.echo(text, err=True)

    def refuse_terminal(self, output: str | None, force: bool) -> None:
        """Refuse to write blobs to a terminal (no ``-o`` and stdout a tty) unless ``force``."""
        if not force and output in (None, "-") and sys.stdout.isatty():
            fail(
                "refusing to write binary data to the terminal; "
                "give -o FILE, pipe the output (| less), or add --force"
            )

    def emit(self, data: Any, text: str | None = None) -> None:
        """Print ``data`` as JSON with ``--json``, else ``text`` (nothing when None)."""
        if self.json:
            click.echo(json.dumps(data, indent=None if isinstance(data, list) else 2))
        elif text is not None:
            click.echo(text)
