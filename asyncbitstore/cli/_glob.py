"""Wildcards in command arguments, matched against a store's listing, not the local shell.

``*`` matches any characters but ``/``, ``?`` one character but ``/``, ``[abc]`` / ``[a-z]`` /
``[!abc]`` one character of (or not of) a set, and ``**`` any characters, ``/`` included (so
``logs/**.gz`` reaches every level). A pattern is expanded by listing its longest literal
prefix (the text before the first wildcard) and keeping the URIs the whole pattern matches.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator

from ..store import Store

__all__ = ["has_magic", "literal_prefix", "matches", "pattern_regex"]

_MAGIC = re.compile(r"[*?\[]")


def has_magic(text: str) -> bool:
    """Whether ``text`` holds a wildcard."""
    return _MAGIC.search(text) is not None


def literal_prefix(pattern: str) -> str:
    """The text before the first wildcard: what to list."""
    found = _MAGIC.search(pattern)
    return pattern if found is None else pattern[: found.start()]


def _char_class(pattern: str, start: int) -> tuple[str, int]:
    """The regex for the ``[...]`` opening at ``start``, and the index after it; an unclosed
    ``[`` stands for itself."""
    index = start + 1
    if index < len(pattern) and pattern[index] in "!^":
        index += 1
    if index < len(pattern) and pattern[index] == "]":  # a leading ] is a member
        index += 1
    close = pattern.find("]", index)
    if close < 0:
        return re.escape("["), start + 1
    body = pattern[start + 1 : close]
    negate = body[:1] in ("!", "^")
    if negate:
        body = body[1:]
    members = "".join("\\" + c if c in "\\^[]" else c for c in body)
    # A set never matches "/", which separates levels (as "*" and "?" do not cross it).
    return (f"[^/{members}]" if negate else f"(?!/)[{members}]"), close + 1


def pattern_regex(pattern: str) -> re.Pattern[str]:
    """The compiled regex that matches whole URIs against ``pattern``."""
    parts: list[str] = []
    index = 0
    while index < len(pattern):
        char = pattern[index]
        if pattern.startswith("**", index):
            parts.append(".*")
            index += 2
        elif char == "*":
            parts.append("[^/]*")
            index += 1
        elif char == "?":
            parts.append("[^/]")
            index += 1
        elif char == "[":
            part, index = _char_class(pattern, index)
            parts.append(part)
        else:
            parts.append(re.escape(char))
            index += 1
    return re.compile("".join(parts), re.DOTALL)


async def matches(store: Store, pattern: str) -> AsyncIterator[str]:
    """The URIs of ``store`` that ``pattern`` matches, in the listing's order, streamed."""
    regex = pattern_regex(pattern)
    listing = store.list(literal_prefix(pattern))
    async with contextlib.aclosing(listing):  # type: ignore[type-var]  # an async generator
        async for uri in listing:
            if regex.fullmatch(uri):
                yield uri
