"""How `MirrorCache` spells a full URI of another store as a relative key, and back.

``s3://b/k`` becomes ``s3/b/k``, ``file:///x/y`` becomes ``file/x/y``: the scheme, then the
URI's segments. Any byte of a segment outside a small safe set (letters, digits, ``-_.=+,@``),
and a leading ``.``, is written ``~XX`` (its hex value), so ports (``host~3A8443``), query
strings, fragments, percent signs, control characters and ``..`` all become plain names that
cannot reach outside the cache's root, and no segment is hidden or a temporary file's name. An
empty segment is written ``~``; a segment longer than `PIECE` characters is cut into pieces,
each but the last ending in a lone ``~``. The spelling is reversible: `uri_of` gives back the
URI.
"""

from __future__ import annotations

import re

from ..raw import BY_SCHEME
from ._keys import MAX_KEY_BYTES

__all__ = ["PIECE", "key_of", "uri_of"]

#: The longest piece of a segment, in characters (file systems allow 255 bytes).
PIECE = 200

_URI = re.compile(r"([a-z][a-z0-9+.-]*)://(.*)", re.DOTALL)
_SAFE = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.=+,@")
_ESCAPE = re.compile(r"~([0-9A-F]{2})")


def _escaped(segment: str) -> list[str]:
    """The tokens of a segment: safe characters as they are, others as ``~XX`` per byte."""
    tokens: list[str] = []
    for index, char in enumerate(segment):
        if char in _SAFE and not (index == 0 and char == "."):
            tokens.append(char)
        else:
            # One token per character, so that no piece ends inside a character's bytes.
            tokens.append("".join(f"~{b:02X}" for b in char.encode("utf-8", "surrogatepass")))
    return tokens


def _pieces(segment: str) -> list[str]:
    if not segment:
        return ["~"]
    pieces: list[str] = []
    current = ""
    for token in _escaped(segment):
        if len(current) + len(token) > PIECE - 1:  # room for the continuation mark
            pieces.append(current + "~")
            current = ""
        current += token
    if current in (".", ".."):  # a last piece cut after a leading character
        current = "~2E" * len(current)
    pieces.append(current)
    return pieces


def key_of(uri: str) -> str | None:
    """The relative key that holds ``uri``, or None when it is no full URI of a known scheme,
    or its key would be longer than a key may be."""
    found = _URI.fullmatch(uri)
    if found is None or found.group(1) not in BY_SCHEME:
        return None
    scheme, rest = found.groups()
    if scheme == "file":
        if not rest.startswith("/"):  # a file URI names an absolute path
            return None
        rest = rest[1:]
    pieces = [scheme]
    for segment in rest.split("/"):
        pieces.extend(_pieces(segment))
    key = "/".join(pieces)
    return key if len(key) <= MAX_KEY_BYTES else None  # ASCII: characters are bytes


def _unescaped(piece: str) -> str:
    """``piece`` with its ``~XX`` escapes decoded (``ValueError`` for a stray ``~``)."""
    parts = _ESCAPE.split(piece)  # text, hex, text, hex, ..., text
    out = bytearray()
    for index, part in enumerate(parts):
        if index % 2:
            out.append(int(part, 16))
        elif "~" in part:
            raise ValueError(piece)
        else:
            out += part.encode("utf-8", "surrogatepass")
    return out.decode("utf-8", "surrogatepass")


def uri_of(key: str) -> str | None:
    """The URI that `key_of` spelled as ``key``, or None when ``key`` is no such spelling."""
    scheme, _, rest = key.partition("/")
    if scheme not in BY_SCHEME or not rest:
        return None
    segments: list[str] = []
    current = ""
    try:
        for piece in rest.split("/"):
            if piece == "~":
                segments.append(current)
                current = ""
            elif piece.endswith("~"):
                current += _unescaped(piece[:-1])
            else:
                segments.append(current + _unescaped(piece))
                current = ""
    except (ValueError, UnicodeDecodeError):
        return None
    if current:
        return None
    joined = "/".join(segments)
    return f"file:///{joined}" if scheme == "file" else f"{scheme}://{joined}"
