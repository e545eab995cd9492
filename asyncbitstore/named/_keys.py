"""The rules for relative keys (``"img/1.png"``), the names `PrefixStore` answers for."""

from __future__ import annotations

__all__ = ["KEY_HINT", "MAX_KEY_BYTES", "key_problem"]

#: The longest key, in bytes of UTF-8.
MAX_KEY_BYTES = 1024

#: How messages describe a valid key.
KEY_HINT = (
    "a relative key such as 'img/1.png': non-empty '/'-separated segments, no '.' or '..' "
    f"segment, no leading '/', no NUL or control character, at most {MAX_KEY_BYTES} bytes "
    "of UTF-8"
)


def _is_control(char: str) -> bool:
    code = ord(char)
    return code < 0x20 or 0x7F <= code < 0xA0


def key_problem(key: str) -> str | None:
    """Which rule ``key`` breaks, in words, or None when it is a valid relative key."""
    if not key:
        return "it is empty"
    if key.startswith("/"):
        return "it starts with '/'"
    for char in key:
        if _is_control(char):
            return f"it holds the control character {char!r}"
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
