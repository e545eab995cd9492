"""``cat --range``: byte ranges written as in an HTTP ``Range`` header.

``START-END`` is bytes START to END, both included; ``START-`` runs to the end of the blob;
``-N`` is the last N bytes. As in HTTP, an END past the blob's end is cut to it, and a START
past it is an error.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import click

__all__ = ["ByteRange", "parse_range"]

_FORM = re.compile(r"(\d*)-(\d*)")
_USAGE = "write START-END (both included), START- (to the end) or -N (the last N bytes)"


@dataclass(frozen=True)
class ByteRange:
    """A parsed range: ``start`` and the included ``end`` (None: to the end); with no
    ``start``, ``end`` is the count of last bytes (``-N``)."""

    start: int | None
    end: int | None

    def bounds(self, size: int) -> tuple[int, int] | None:
        """``[start, stop)`` within a blob of ``size`` bytes; None when START is past its end."""
        if self.start is None:  # -N: the last N bytes
            assert self.end is not None
            return max(0, size - self.end), size
        if self.start >= size:
            return None
        stop = size if self.end is None else min(size, self.end + 1)
        return self.start, stop

    def __str__(self) -> str:
        start = "" if self.start is None else str(self.start)
        return f"{start}-{'' if self.end is None else self.end}"


def parse_range(ctx: click.Context, param: click.Parameter, value: str | None) -> ByteRange | None:
    """The ``--range`` value, or a usage error saying which forms are valid."""
    if value is None:
        return None
    found = _FORM.fullmatch(value.strip())
    if found is None or found.group(1) == found.group(2) == "":
        raise click.BadParameter(f"{value!r} is not a byte range; {_USAGE}")
    start = int(found.group(1)) if found.group(1) else None
    end = int(found.group(2)) if found.group(2) else None
    if start is not None and end is not None and end < start:
        raise click.BadParameter(f"{value!r} ends before it starts; {_USAGE}")
    return ByteRange(start, end)
