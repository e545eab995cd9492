"""The rules for relative keys (``"img/1.png"``), the names `PrefixStore` answers for."""

from __future__ import annotations

import re

__all__ = ["KEY_HINT", "MAX_KEY_BYTES", "key_problem"]

#: The longest key, in bytes of UTF-8.
MAX_KEY_BYTES = 1024

#: How messages describe a valid key.
KEY_HINT = (
    "a relative key such as 'img/1.png': non-empty '/'-separated segments, no '.' or '..' "
    f"segment, no leading '/', no NUL or control character, at most {MAX_KEY_BYTES} bytes "
    "of UTF-8"
)


#: A control character: C0, DEL and C1 (one regex search is much faster than a loop in Python).
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")


def key_problem(key: str) -> str | None:
    """Which rule ``key`` breaks, in words, or None when it is a valid relative key."""
    if not key:
        return "it is empty"
    if key.startswith("/"):
        return "it starts with '/'"
    control = _CONTROL.search(key)
    if control is not None:
        return f"it holds the control character {control.group()!r}"
    try:
        size = len(key.encode("utf-8"))
    except UnicodeEncodeError:
        return "it is not valid UTF-8 (it holds a lone surrogate)"
    if size > MAX_KEY_BYTES:
        return f"it is {size} bytes of UTF-8, more than {MAX_KEY_BYTES}"
    for segment in key.split("/"):
        if not segment:
            return "it has an empty segment ('//' or a trailing '/')"
        if segment in (".", ".."):
            return f"it has a {segment!r} segment"
    return None
