"""Keys for the bulk commands (``warm``, ``cat``, ``exists``, ``rm``) and the tally of their
outcomes.

A keys file has one key a line; blank lines and ``#`` comments are skipped. Each key keeps
where it came from (``keys.txt:17``, ``stdin:3``) so that a failure is reported against its
line and the command carries on. The exit code is the highest that applies: 1 a blob missing,
2 an invalid key (or an unreadable line), 3 a tier failed.
"""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import AsyncIterator, Iterable, Iterator
from dataclasses import dataclass, field
from typing import IO

import click

from ._run import NOT_FOUND, OK, UNAVAILABLE, USAGE, App, Failure

__all__ = [
    "Entry",
    "Keys",
    "Tally",
    "count_entries",
    "from_arguments",
    "gather",
    "read_entries",
]

#: The longest line taken as a key; a longer one is reported, never held whole in memory.
MAX_LINE = 8192
#: How many missing and failed keys a tally keeps for the summary (all are counted).
KEPT_KEYS = 1000


@dataclass(frozen=True)
class Entry:
    """One key and where it was read (``None`` for a command-line argument).

    Attributes:
        key: the key as written, without surrounding blanks.
        where: ``FILE:LINE`` of a keys file, or ``None``.
        problem: why the line is not a key (too long), or ``None``.
    """

    key: str
    where: str | None = None
    problem: str | None = None

    def checked(self) -> str:
        """The key.

        Raises:
            Failure: the line is no key (exit code 2).
        """
        if self.problem is not None:
            raise Failure(self.problem)
        return self.key


def from_arguments(keys: Iterable[str]) -> list[Entry]:
    """The keys given on the command line."""
    return [Entry(key) for key in keys]


def _label(file: IO[str]) -> str:
    name = getattr(file, "name", None)
    return "stdin" if not isinstance(name, str) or name in ("<stdin>", "-") else name


def read_entries(file: IO[str]) -> Iterator[Entry]:
    """The keys of a keys file, one at a time, each with its ``FILE:LINE``."""
    label = _label(file)
    number = 0
    while line := file.readline(MAX_LINE + 1):
        number += 1
        where = f"{label}:{number}"
        if len(line) > MAX_LINE and not line.endswith("\n"):
            while (rest := file.readline(MAX_LINE)) and not rest.endswith("\n"):
                pass  # skip the rest of the over-long line, a bounded piece at a time
            problem = f"a line longer than {MAX_LINE} characters is not a key; fix that line"
            yield Entry(line[:40] + "...", where, problem)
            continue
        key = line.strip()
        if key and not key.startswith("#"):
            yield Entry(key, where)


def count_entries(file: IO[str]) -> int | None:
    """How many keys a keys file holds, when it can be read twice (not a pipe); it is then
    rewound. ``None`` when it cannot."""
    try:
        if not file.seekable():
            return None
        start = file.tell()
        count = sum(1 for _ in read_entries(file))
        file.seek(start)
    except (OSError, io.UnsupportedOperation):
        return None
    return count


def _next(items: Iterator[Entry]) -> Entry | None:
    return next(items, None)


async def _taken(entries: Iterable[Entry], from_pipe: bool) -> AsyncIterator[Entry]:
    """``entries`` as an async iterator. Lines from a pipe are waited for on a worker thread,
    one at a time, so that a slow writer never holds up the fetches in flight."""
    items = iter(entries)
    if not from_pipe:  # a list, or a regular file: reading a line does not wait
        for entry in items:
            yield entry
        return
    while True:
        waited = await asyncio.to_thread(_next, items)
        if waited is None:
            return
        yield waited


@dataclass
class Keys:
    """The keys a bulk command works on.

    Attributes:
        source: the keys, in order (a keys file is read as they are taken).
        total: how many there are, when known in advance.
        from_file: whether they come from a keys file (the counts are then printed).
    """

    source: Iterable[Entry]
    total: int | None
    from_file: bool

    @property
    def entries(self) -> AsyncIterator[Entry]:
        """The keys, a keys file that is a pipe being read off the event loop."""
        return _taken(self.source, self.from_file and self.total is None)


def gather(keys: Iterable[str], keys_file: IO[str] | None) -> Keys:
    """The command-line ``keys`` or, instead, those of ``keys_file``.

    Raises:
        Failure: both or neither were given (exit code 2).
    """
    given = list(keys)
    if keys_file is None:
        if not given:
            raise Failure("give KEYS, or --keys-file FILE (- for stdin)")
        return Keys(from_arguments(given), len(given), from_file=False)
    if given:
        raise Failure("give KEYS or --keys-file, not both")
    return Keys(read_entries(keys_file), count_entries(keys_file), from_file=True)


@dataclass
class Tally:
    """Outcomes of a bulk command: done, missing, invalid, failed; reports each failure.

    Every outcome is counted; the first `KEPT_KEYS` missing and failed keys are kept by name.

    Attributes:
        app: the command's settings (for reporting).
        verb: what a done item is called in the counts ("warmed", "deleted", ...).
    """

    app: App
    verb: str
    done: int = 0
    missing: int = 0
    invalid: int = 0
    unavailable: int = 0
    missing_keys: list[str] = field(default_factory=list)
    failed_keys: list[str] = field(default_factory=list)

    def ok(self) -> None:
        """Count one item done."""
        self.done += 1

    def failed(self, entry: Entry, exc: BaseException) -> None:
        """Count one failed item and report it against its line."""
        code = self.app.report(exc, entry.where)
        if code == NOT_FOUND:
            self.absent(entry)
            return
        if code == USAGE:
            self.invalid += 1
        else:
            self.unavailable += 1
        if len(self.failed_keys) < KEPT_KEYS:
            self.failed_keys.append(entry.key)

    def absent(self, entry: Entry) -> None:
        """Count a blob found missing by a command for which that is an answer (``exists``)."""
        self.missing += 1
        if len(self.missing_keys) < KEPT_KEYS:
            self.missing_keys.append(entry.key)

    @property
    def failures(self) -> int:
        """Items that did not succeed, missing ones included."""
        return self.missing + self.invalid + self.unavailable

    def counts(self) -> str:
        """``998 warmed, 2 failed (1 missing, 1 invalid key)``."""
        parts = [
            (self.missing, "missing"),
            (self.invalid, "invalid key" if self.invalid == 1 else "invalid keys"),
            (self.unavailable, "tier error" if self.unavailable == 1 else "tier errors"),
        ]
        why = ", ".join(f"{count} {what}" for count, what in parts if count)
        return f"{self.done} {self.verb}, {self.failures} failed" + (f" ({why})" if why else "")

    def as_dict(self) -> dict[str, int]:
        """The counts by outcome."""
        return {
            self.verb: self.done,
            "failed": self.failures,
            "missing": self.missing,
            "invalid": self.invalid,
            "tier_errors": self.unavailable,
        }

    def finish(self, show: bool = True) -> int:
        """Print the counts on stderr (when ``show``; JSON with ``--json``); return the exit
        code."""
        if show:
            if self.app.json:
                click.echo(json.dumps({"counts": self.as_dict()}), err=True)
            else:
                self.app.note(self.counts())
        return self.exit_code()

    def exit_code(self) -> int:
        """3 if a tier failed, else 2 if a key was invalid, else 1 if a blob was missing."""
        if self.unavailable:
            return UNAVAILABLE
        if self.invalid:
            return USAGE
        return NOT_FOUND if self.missing else OK
